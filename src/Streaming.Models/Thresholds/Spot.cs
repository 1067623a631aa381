namespace Streaming.Models.Thresholds;

internal enum SpotDecision
{
    Normal,

    /// <summary>Above the initial threshold t: a new excess, the tail is refitted.</summary>
    Peak,

    /// <summary>Above the risk-q threshold z_q: reported, and kept out of the model.</summary>
    Anomaly,
}

/// <summary>
/// SPOT (Siffer et al., KDD 2017): streaming peaks-over-threshold on the upper tail. The threshold z_q is exceeded by
/// a normal value with probability q; one instance per entity, not thread-safe.
/// </summary>
internal sealed class Spot
{
    private readonly List<double> peaks = [];
    private GeneralizedPareto tail;

    public Spot(double risk, double initialQuantile = 0.98)
    {
        if (risk is <= 0 or >= 1 || initialQuantile is <= 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(risk), "Risk and initial quantile must be in (0, 1).");
        }

        Risk = risk;
        InitialQuantile = initialQuantile;
    }

    public double Risk { get; }

    public double InitialQuantile { get; }

    /// <summary>t, the initial (peaks-over) threshold.</summary>
    public double InitialThreshold { get; private set; }

    /// <summary>z_q, the anomaly threshold.</summary>
    public double Threshold { get; private set; } = double.PositiveInfinity;

    public GeneralizedPareto Tail => tail;

    public int Observations { get; private set; }

    public int PeakCount => peaks.Count;

    /// <summary>Calibrates on a batch of normal data (Siffer recommend at least ~1,000 values).</summary>
    public void Initialize(ReadOnlySpan<double> calibration)
    {
        if (calibration.Length < 10)
        {
            throw new ArgumentException("SPOT needs at least 10 calibration values.", nameof(calibration));
        }

        InitialThreshold = Percentile.Of(calibration, InitialQuantile * 100);
        peaks.Clear();
        foreach (var x in calibration)
        {
            if (x > InitialThreshold)
            {
                peaks.Add(x - InitialThreshold);
            }
        }

        Observations = calibration.Length;
        Refit();
    }

    public SpotDecision Step(double x)
    {
        if (x > Threshold)
        {
            return SpotDecision.Anomaly;
        }

        Observations++;
        if (x > InitialThreshold)
        {
            peaks.Add(x - InitialThreshold);
            Refit();
            return SpotDecision.Peak;
        }

        return SpotDecision.Normal;
    }

    private void Refit()
    {
        if (peaks.Count == 0)
        {
            // No excess at all: nothing above t has been seen, so t is the best available bound.
            Threshold = InitialThreshold;
            return;
        }

        tail = GeneralizedPareto.FitGrimshaw(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(peaks));
        Threshold = tail.Quantile(InitialThreshold, Risk, Observations, peaks.Count);
    }
}

/// <summary>
/// DSPOT: SPOT on the deviation from a moving average of the last <c>depth</c> normal values, so the threshold follows
/// a drifting level. <see cref="Threshold"/> is expressed on the original scale for the next value.
/// </summary>
internal sealed class DSpot
{
    private readonly Spot spot;
    private readonly double[] window;
    private int next;
    private double sum;

    public DSpot(double risk, int depth, double initialQuantile = 0.98)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        spot = new Spot(risk, initialQuantile);
        window = new double[depth];
    }

    public double Threshold => spot.Threshold + (sum / window.Length);

    public Spot Inner => spot;

    public void Initialize(ReadOnlySpan<double> calibration)
    {
        var depth = window.Length;
        if (calibration.Length < depth + 10)
        {
            throw new ArgumentException($"DSPOT needs at least depth + 10 = {depth + 10} calibration values.", nameof(calibration));
        }

        calibration[..depth].CopyTo(window);
        sum = 0;
        foreach (var x in window)
        {
            sum += x;
        }

        next = 0;
        var deviations = new double[calibration.Length - depth];
        for (var i = depth; i < calibration.Length; i++)
        {
            deviations[i - depth] = calibration[i] - (sum / depth);
            Push(calibration[i]);
        }

        spot.Initialize(deviations);
    }

    public SpotDecision Step(double x)
    {
        var decision = spot.Step(x - (sum / window.Length));
        if (decision != SpotDecision.Anomaly)
        {
            Push(x);
        }

        return decision;
    }

    private void Push(double x)
    {
        sum += x - window[next];
        window[next] = x;
        next = (next + 1) % window.Length;
    }
}
