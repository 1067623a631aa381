namespace Streaming.Processing.Windows;

/// <summary>
/// Running statistics of one metric in one window, updated in O(1) without allocation. Mean and variance use Welford's
/// update; the slope is a least-squares fit of value against time (per second) from running co-moments, which stays
/// exact under out-of-order arrival. First and last are by event time, not by arrival.
/// </summary>
internal struct MetricAccumulator
{
    public int Count;
    public double Mean;
    public double M2;
    public double Min;
    public double Max;
    public double FirstT;
    public double First;
    public double LastT;
    public double Last;
    public double MeanT;
    public double M2T;
    public double CoMoment;
    public double Ewma;

    public void Add(double t, double value, double alpha)
    {
        Count++;
        if (Count == 1)
        {
            Mean = value;
            Min = Max = value;
            FirstT = LastT = t;
            First = Last = value;
            MeanT = t;
            Ewma = value;
            return;
        }
        var dv = value - Mean;
        Mean += dv / Count;
        M2 += dv * (value - Mean);
        var dt = t - MeanT;
        MeanT += dt / Count;
        M2T += dt * (t - MeanT);
        CoMoment += dt * (value - Mean);
        if (value < Min) Min = value;
        if (value > Max) Max = value;
        if (t < FirstT) { FirstT = t; First = value; }
        if (t >= LastT) { LastT = t; Last = value; }
        Ewma = alpha * value + (1 - alpha) * Ewma;
    }

    public readonly double Std => Count > 1 ? Math.Sqrt(M2 / (Count - 1)) : 0;

    public readonly double Slope => M2T > 0 ? CoMoment / M2T : 0;

    public readonly double? RateOfChange => LastT > FirstT ? (Last - First) / (LastT - FirstT) : null;
}
