namespace Streaming.Processing.Scoring.Detection;

/// <summary>Settings of <see cref="AnomalyLikelihood"/>; the defaults follow Numenta's HTM anomaly likelihood, with a shorter average (3, chosen on NAB: 10 smeared each detection over ten windows).</summary>
public sealed record LikelihoodOptions
{
    /// <summary>Raw scores averaged into the short-term mean that is judged.</summary>
    public int AveragingWindow { get; init; } = 3;

    /// <summary>Recent short-term means that form the reference distribution (a ring; older ones are forgotten).</summary>
    public int HistoryWindow { get; init; } = 8640;

    /// <summary>Scores seen before the likelihood is reported; until then it is 0.5 (nothing is known).</summary>
    public int LearningPeriod { get; init; } = 300;

    /// <summary>Floor of the reference standard deviation, so a perfectly steady score stream does not make every wobble certain.</summary>
    public double MinimumStd { get; init; } = 0.05;

    /// <summary>
    /// Separate times (episodes) a raw score as high as the latest must already have occurred in the history window for it
    /// to count as this stream's routine (its probability is then at least its share of the history): a daily batch job's
    /// spike alerts the first few times, not every day. 0 turns this off.
    /// </summary>
    public int Recurrences { get; init; } = 8;

    public LikelihoodOptions Validated()
    {
        if (Recurrences is < 0 or > 1000)
            throw new ArgumentException($"Detection:Likelihood:Recurrences must be in [0, 1000], was {Recurrences}.");
        if (AveragingWindow is < 1 or > 1000)
            throw new ArgumentException($"Detection:Likelihood:AveragingWindow must be in [1, 1000], was {AveragingWindow}.");
        if (HistoryWindow < 10 || HistoryWindow > 1_000_000)
            throw new ArgumentException($"Detection:Likelihood:HistoryWindow must be in [10, 1000000], was {HistoryWindow}.");
        if (LearningPeriod < 10 || LearningPeriod > HistoryWindow)
            throw new ArgumentException($"Detection:Likelihood:LearningPeriod must be in [10, HistoryWindow], was {LearningPeriod}.");
        if (!(MinimumStd > 0))
            throw new ArgumentException($"Detection:Likelihood:MinimumStd must be positive, was {MinimumStd}.");
        return this;
    }
}

/// <summary>
/// Dynamic scoring of one raw score stream (Ahmad et al. 2017, "Unsupervised real-time anomaly detection for streaming
/// data", the HTM anomaly likelihood): the mean of the last few raw scores is compared with the distribution of such means
/// over a long recent window, modelled as a Gaussian; the result is the probability that the recent scores are not
/// ordinary for this stream. A stream whose raw scores are always large is not always anomalous: only a change in its own
/// score distribution is. Sliding sums keep the update O(1); memory is fixed (<see cref="BytesFor"/>).
/// </summary>
public sealed partial class AnomalyLikelihood
{
    // Only a tail this small could raise an alert; the recurrence scan is paid only then.
    private const double RecurrenceCheckBelow = 1e-3;

    private readonly LikelihoodOptions _options;
    private readonly double[] _recent;
    // Grows by doubling up to HistoryWindow, then is a ring: a stream that has seen little costs little.
    private float[] _history = [];
    private double _recentSum;
    private int _recentNext;
    private int _recentCount;
    private int _historyNext;
    private int _historyCount;
    private double _sum;
    private double _sumSquares;
    private long _seen;

    public AnomalyLikelihood(LikelihoodOptions options)
    {
        _options = options.Validated();
        _recent = new double[options.AveragingWindow];
    }

    /// <summary>The bound on what one likelihood holds, once its history is full.</summary>
    public static long BytesFor(LikelihoodOptions options) => options.AveragingWindow * sizeof(double) + options.HistoryWindow * sizeof(float);

    /// <summary>Whether enough scores have been seen for <see cref="Update"/> to mean something.</summary>
    public bool IsWarm => _seen >= _options.LearningPeriod;

    /// <summary>
    /// The tail probability of the latest short-term mean under the reference before it — small when the recent scores are
    /// unusually high — then learns it. 0.5 while learning.
    /// </summary>
    public double Update(double rawScore)
    {
        if (!double.IsFinite(rawScore))
            throw new ArgumentOutOfRangeException(nameof(rawScore), rawScore, "A raw anomaly score must be finite.");
        if (_recentCount == _recent.Length)
            _recentSum -= _recent[_recentNext];
        else
            _recentCount++;
        _recent[_recentNext] = rawScore;
        _recentSum += rawScore;
        _recentNext = (_recentNext + 1) % _recent.Length;
        var average = _recentSum / _recentCount;

        var tail = 0.5;
        if (IsWarm && _historyCount > 1)
        {
            var mean = _sum / _historyCount;
            var variance = Math.Max(0, (_sumSquares - _sum * mean) / (_historyCount - 1));
            var std = Math.Max(Math.Sqrt(variance), _options.MinimumStd);
            tail = Gaussian.UpperTail((average - mean) / std);
            if (tail < RecurrenceCheckBelow && _options.Recurrences > 0)
                tail = Math.Max(tail, RecurrenceTail(average));
        }
        Remember(average);
        _seen++;
        return tail;
    }

    /// <summary>
    /// The share of remembered short-term means at least <paramref name="average"/>, once they form the configured number
    /// of separate episodes (runs of consecutive means that high: one spike or one incident is one episode, however many
    /// updates it lasted); 0 while it is rarer than that.
    /// </summary>
    private double RecurrenceTail(double average)
    {
        var value = (float)average;
        var oldest = _historyCount < _options.HistoryWindow ? 0 : _historyNext;
        int atLeast = 0, episodes = 0;
        var inEpisode = false;
        for (var i = 0; i < _historyCount; i++)
        {
            var high = _history[(oldest + i) % _historyCount] >= value;
            if (high)
            {
                atLeast++;
                if (!inEpisode)
                    episodes++;
            }
            inEpisode = high;
        }
        return episodes >= _options.Recurrences ? (double)atLeast / _historyCount : 0;
    }

    private void Remember(double average)
    {
        var value = (float)average;
        if (_historyCount < _options.HistoryWindow)
        {
            if (_historyCount == _history.Length)
                Array.Resize(ref _history, Math.Min(_options.HistoryWindow, Math.Max(64, 2 * _history.Length)));
            _history[_historyCount++] = value;
            _sum += value;
            _sumSquares += (double)value * value;
            _historyNext = _historyCount % _options.HistoryWindow;
            return;
        }
        double old = _history[_historyNext];
        _sum -= old;
        _sumSquares -= old * old;
        _history[_historyNext] = value;
        _sum += value;
        _sumSquares += (double)value * value;
        _historyNext = (_historyNext + 1) % _history.Length;
        // Sliding sums drift by rounding; recompute them exactly once per lap of the ring.
        if (_historyNext == 0)
            Recompute();
    }

    private void Recompute()
    {
        double sum = 0, squares = 0;
        for (var i = 0; i < _historyCount; i++)
        {
            double v = _history[i];
            sum += v;
            squares += v * v;
        }
        _sum = sum;
        _sumSquares = squares;
    }
}

/// <summary>The standard normal's upper tail, Q(x) = P(Z &gt; x), accurate to ~1e-7 relative across the range that matters.</summary>
public static class Gaussian
{
    /// <summary>
    /// Šidák: the tail of the smallest of <paramref name="count"/> independent tails, 1 − (1 − p)^k — the chance that at least
    /// one of k ordinary streams looks this unusual — so watching more streams does not mean more false alarms.
    /// </summary>
    public static double SmallestOf(double smallestTail, int count)
    {
        if (count <= 1)
            return smallestTail;
        // 1 − (1 − p)^k loses every digit of a tiny p to rounding; its binomial expansion keeps them.
        var kp = count * smallestTail;
        return kp < 1e-4 ? kp * (1 - (count - 1) * smallestTail / 2) : 1 - Math.Pow(1 - smallestTail, count);
    }

    public static double UpperTail(double x) => 0.5 * Erfc(x / Math.Sqrt(2));

    /// <summary>Complementary error function (Numerical Recipes' erfcc: fractional error below 1.2e-7 everywhere).</summary>
    public static double Erfc(double x)
    {
        var z = Math.Abs(x);
        var t = 1 / (1 + 0.5 * z);
        var r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
            t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2 - r;
    }
}
