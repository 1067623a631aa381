using System.Buffers;

namespace Streaming.Processing.Scoring.Detection;

/// <summary>Settings of the seasonal model: how long a cycle it looks for and how regular a cycle must be to be used.</summary>
public sealed record SeasonalOptions
{
    /// <summary>On by default: a metric without a regular cycle is scored by the level baseline exactly as before.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Longest cycle looked for, in windows (1,440 = a day of one-minute windows); memory is 3 × this many floats.</summary>
    public int MaxPeriod { get; init; } = 1440;

    /// <summary>Shortest cycle, in windows: shorter lags are the series' smoothness, not a cycle.</summary>
    public int MinPeriod { get; init; } = 8;

    /// <summary>Autocorrelation at the cycle's lag needed before the cycle replaces the level baseline.</summary>
    public double MinCorrelation { get; init; } = 0.4;

    /// <summary>
    /// How much of the level baseline's error the cycle may leave: at 0.5 the last cycle must predict each window at least
    /// twice as well as the mean of the recent windows (a daily cycle seen through one-minute windows usually does not).
    /// </summary>
    public double MaxErrorRatio { get; init; } = 0.5;

    public SeasonalOptions Validated()
    {
        if (!(MaxErrorRatio is > 0 and <= 1))
            throw new ArgumentException($"Detection:Seasonal:MaxErrorRatio must be in (0, 1], was {MaxErrorRatio}.");
        if (MinPeriod < 2 || MaxPeriod < 2 * MinPeriod || MaxPeriod > 100_000)
            throw new ArgumentException($"Detection:Seasonal needs 2 <= MinPeriod and 2 × MinPeriod <= MaxPeriod <= 100000, was {MinPeriod} and {MaxPeriod}.");
        if (!(MinCorrelation is > 0 and < 1))
            throw new ArgumentException($"Detection:Seasonal:MinCorrelation must be in (0, 1), was {MinCorrelation}.");
        return this;
    }
}

/// <summary>
/// One metric's cycle: finds the dominant period of its window means by autocorrelation (the first peak after the first
/// zero crossing that is about as high as the highest, so neither a smooth series' short lags nor a cycle's multiples
/// count; used only if it predicts better than the level baseline) and, while one holds, expects each window to repeat the
/// same phase of the last cycles (the median of up to three, so one unusual day does not become the expectation). The
/// residual is scaled by its own mean absolute size, learned with outliers clipped. A square wave's edges and a daily
/// peak are then ordinary, while a peak that does not come, or a weekday that looks like a holiday, is not. Memory is
/// fixed at 3 × <see cref="SeasonalOptions.MaxPeriod"/> floats.
/// </summary>
internal sealed partial class SeasonalModel
{
    // sqrt(pi/2): mean absolute deviation to sigma for normal residuals.
    private const double MeanAbsoluteToSigma = 1.2533;
    private const int Cycles = 3;
    private const double CorrelationTolerance = 0.02;
    // Windows between estimates of the cycle (or one cycle, if longer): an estimate costs O(history × CoarseLags). 128 rather
    // than 256: a cycle is used at most 128 windows after its second turn, before the third day's rise of NAB's art_daily files.
    private const int EstimateEvery = 128;
    // Lags searched at block resolution before the peak is refined at full resolution.
    private const int CoarseLags = 128;
    // Estimates that found the cycle in use again before it counts as established.
    private const int ConfirmationsToEstablish = 2;

    private readonly SeasonalOptions _options;
    // Grows by doubling up to its bound, then is a ring, so a metric that has seen little costs little.
    private float[] _values = [];
    private readonly int _capacity;
    private int _next;
    private int _count;
    private long _seen;
    private long _nextEstimate;
    private double _meanAbsoluteResidual;
    private int _confirmations;

    private readonly int _levelWindows;

    /// <param name="levelWindows">Windows the level baseline averages over, which a cycle must predict better than.</param>
    public SeasonalModel(SeasonalOptions options, int levelWindows)
    {
        _options = options.Validated();
        _levelWindows = Math.Max(1, levelWindows);
        _capacity = Cycles * options.MaxPeriod;
        _nextEstimate = EstimateEvery;
    }

    public static long BytesFor(SeasonalOptions options) => options.Enabled ? (long)Cycles * options.MaxPeriod * sizeof(float) : 0;

    /// <summary>The cycle in use, in windows; 0 while none is regular enough.</summary>
    public int Period { get; private set; }

    /// <summary>
    /// The seasonal expectation of <paramref name="value"/> and its standardised residual when a cycle holds (null
    /// otherwise), then learns the value.
    /// </summary>
    public (double Expected, double Z)? Update(double value)
    {
        (double, double)? verdict = null;
        if (Period > 0 && Expectation(Period, 0) is { } expected)
        {
            var residual = Math.Abs(value - expected);
            // The scale is how well the cycle predicts its own phase; the verdict forgives a turn that comes one window
            // early or late (an hourly job whose spike crosses a window boundary), so only the expectation nearest the
            // value is judged. On NAB's cpu_utilization_asg most false positives were such a spike, a window off.
            var sigma = Math.Max(MeanAbsoluteToSigma * _meanAbsoluteResidual, 1e-3 * Math.Max(1.0, Math.Abs(expected)));
            var (judged, judgedResidual) = (expected, residual);
            foreach (var shift in (ReadOnlySpan<int>)[-1, 1])
            {
                if (Expectation(Period, shift) is { } shifted && Math.Abs(value - shifted) < judgedResidual)
                    (judged, judgedResidual) = (shifted, Math.Abs(value - shifted));
            }
            // A cycle that repeats exactly has no residual spread at all; a floor relative to the level keeps z finite.
            verdict = (judged, judgedResidual / sigma);
            LearnResidual(residual);
        }
        Remember(value);
        if (++_seen >= _nextEstimate)
        {
            var period = EstimatePeriod(out var found);
            // An established cycle stays while the search finds one of its multiples (which correlates whenever the
            // cycle does): an incident inside the remembered turns spoils more one-turn pairs than multi-turn ones, and
            // the multiple, failing the acceptance test, would otherwise drop the cycle and make its every turn an alert.
            // It yields to a multiple only where that predicts better than the cycle has lately (its learned, clipped error;
            // the one-turn error of the history, which the incident inflates, would not do): nyc_taxi's daily cycle gives
            // way to the weekly one.
            if (period != Period && Period > 0 && _confirmations >= ConfirmationsToEstablish && found > 0 && found % Period == 0
                && (period == 0 || MeanAbsoluteResidualOver(period) >= _meanAbsoluteResidual))
                period = Period;
            if (period != Period)
            {
                Period = period;
                _confirmations = 0;
                _meanAbsoluteResidual = period > 0 ? MeanAbsoluteResidualOver(period) : 0;
            }
            else if (period > 0)
                _confirmations++;
            _nextEstimate = _seen + Math.Max(EstimateEvery, Period);
        }
        return verdict;
    }

    // An exponential mean with a memory of a few cycles; a residual beyond 5× the current mean is clipped, so an incident does not teach it that incidents are ordinary.
    private void LearnResidual(double residual)
    {
        var clipped = _meanAbsoluteResidual > 0 ? Math.Min(residual, 5 * _meanAbsoluteResidual) : residual;
        _meanAbsoluteResidual += (clipped - _meanAbsoluteResidual) / (3.0 * Period);
    }

    // How far each remembered window was from the mean of the level windows before it: the level baseline's error.
    private double MeanAbsoluteDeviationFromRecentLevel()
    {
        var window = _levelWindows;
        // Too little history to know the level baseline's error: no cycle can be shown to beat it.
        if (_count <= window)
            return 0;
        var sum = 0.0;
        for (var lag = _count; lag > _count - window; lag--)
            sum += Back(lag);
        var total = 0.0;
        for (var lag = _count - window; lag >= 1; lag--)
        {
            total += Math.Abs(Back(lag) - sum / window);
            sum += Back(lag) - Back(lag + window);
        }
        return total / (_count - window);
    }

    // How far each remembered window was from the same phase one cycle earlier: the residual scale a new cycle starts with.
    private double MeanAbsoluteResidualOver(int period)
    {
        var pairs = Math.Min(_count - period, Cycles * period);
        var sum = 0.0;
        for (var lag = 1; lag <= pairs; lag++)
            sum += Math.Abs(Back(lag) - Back(lag + period));
        return pairs > 0 ? sum / pairs : 0;
    }

    /// <summary>The median of the same phase (<paramref name="shift"/> windows earlier) in the last (up to three) cycles.</summary>
    private double? Expectation(int period, int shift)
    {
        var available = Math.Min(Cycles, (_count - Math.Max(0, shift)) / period);
        if (available == 0)
            return null;
        Span<double> phases = stackalloc double[Cycles];
        for (var k = 1; k <= available; k++)
            phases[k - 1] = Back(k * period + shift);
        var used = phases[..available];
        used.Sort();
        return available == 2 ? (used[0] + used[1]) / 2 : used[available / 2];
    }

    // The value that many windows before the next one (1 = the latest).
    private double Back(int lag) => _values[(_next - lag + _values.Length * 2) % _values.Length];

    private void Remember(double value)
    {
        if (_count < _capacity)
        {
            if (_count == _values.Length)
            {
                var grown = new float[Math.Min(_capacity, Math.Max(64, 2 * _values.Length))];
                _values.AsSpan(0, _count).CopyTo(grown);
                _values = grown;
            }
            _values[_count++] = (float)value;
            _next = _count % _values.Length;
            return;
        }
        _values[_next] = (float)value;
        _next = (_next + 1) % _values.Length;
    }

    /// <summary>
    /// The lag of the first autocorrelation peak after the first zero crossing that is about as high as the highest, if it
    /// reaches the minimum and the cycle predicts better than the level; else 0. The search runs on block means (at most
    /// ~128 lags), then refines around the peak at full resolution, so an estimate costs O(history × 128), not
    /// O(history × MaxPeriod).
    /// </summary>
    private int EstimatePeriod(out int found)
    {
        found = 0;
        var n = _count;
        // A cycle counts once it has turned twice, the least that shows a repeat; two turns of noise may correlate by chance,
        // which the acceptance test (the last turn must predict twice as well as the recent level) is there to catch. Waiting
        // for a third turn made NAB's art_daily files flag their third day's rise, a cycle already seen twice.
        var maxLag = Math.Min(_options.MaxPeriod, n / 2);
        if (maxLag < _options.MinPeriod)
            return 0;
        var buffer = ArrayPool<double>.Shared.Rent(n);
        try
        {
            var series = buffer.AsSpan(0, n);
            for (var i = 0; i < n; i++)
                series[i] = Back(n - i);
            var block = Math.Max(1, maxLag / CoarseLags);
            var coarseLag = CoarsePeak(series, block, maxLag / block, (_options.MinPeriod + block - 1) / block);
            if (coarseLag == 0)
                return 0;
            Center(series);
            var variance = Correlation(series, 0);
            if (!(variance > 0))
                return 0;
            var (lag, correlation) = (0, double.NegativeInfinity);
            for (var candidate = Math.Max(_options.MinPeriod, (coarseLag - 1) * block); candidate <= Math.Min(maxLag, (coarseLag + 1) * block); candidate++)
            {
                var c = Correlation(series, candidate) / variance;
                if (c > correlation)
                    (lag, correlation) = (candidate, c);
            }
            found = lag;
            // The cycle is used only where it is regular at full resolution and predicts the metric clearly better than its recent level does.
            if (correlation < _options.MinCorrelation || lag >= maxLag)
                return 0;
            // The cycle in use, found again: an incident inside the last cycles inflates the one-cycle-back error that
            // the first acceptance needs, and dropping the cycle then would call its every turn anomalous after the incident.
            if (Period > 0 && Math.Abs(lag - Period) <= 1)
                return Period;
            return MeanAbsoluteResidualOver(lag) <= _options.MaxErrorRatio * MeanAbsoluteDeviationFromRecentLevel() ? lag : 0;
        }
        finally
        {
            ArrayPool<double>.Shared.Return(buffer);
        }
    }

    /// <summary>The peak lag (in blocks) of the block means' autocorrelation, or 0 when there is none.</summary>
    private int CoarsePeak(ReadOnlySpan<double> series, int block, int maxLag, int minLag)
    {
        var m = series.Length / block;
        var buffer = ArrayPool<double>.Shared.Rent(m + maxLag + 1);
        try
        {
            var means = buffer.AsSpan(0, m);
            for (var j = 0; j < m; j++)
            {
                var sum = 0.0;
                for (var k = 0; k < block; k++)
                    sum += series[j * block + k];
                means[j] = sum / block;
            }
            Center(means);
            var variance = Correlation(means, 0);
            if (!(variance > 0))
                return 0;
            var correlations = buffer.AsSpan(m, maxLag + 1);
            var crossedAt = 0;
            var best = 0.0;
            for (var lag = 1; lag <= maxLag; lag++)
            {
                correlations[lag] = Correlation(means, lag) / variance;
                if (crossedAt == 0 && correlations[lag] <= 0)
                    crossedAt = lag;
                else if (crossedAt > 0 && lag >= minLag)
                    best = Math.Max(best, correlations[lag]);
            }
            if (crossedAt == 0 || best < _options.MinCorrelation)
                return 0;
            // Multiples of a cycle correlate as well as the cycle itself: take the first peak as good as the best.
            for (var lag = Math.Max(crossedAt, minLag); lag <= maxLag; lag++)
            {
                if (correlations[lag] < best - CorrelationTolerance)
                    continue;
                while (lag < maxLag && correlations[lag + 1] >= correlations[lag])
                    lag++;
                // Still rising at the longest lag the history allows: a longer cycle seen in part, not this one.
                return lag == maxLag ? 0 : lag;
            }
            return 0;
        }
        finally
        {
            ArrayPool<double>.Shared.Return(buffer);
        }
    }

    private static void Center(Span<double> values)
    {
        var mean = 0.0;
        foreach (var v in values)
            mean += v;
        mean /= values.Length;
        for (var i = 0; i < values.Length; i++)
            values[i] -= mean;
    }

    /// <summary>The mean product of the centred series with itself <paramref name="lag"/> steps on (the variance at lag 0).</summary>
    private static double Correlation(ReadOnlySpan<double> centred, int lag)
    {
        var sum = 0.0;
        for (var i = 0; i + lag < centred.Length; i++)
            sum += centred[i] * centred[i + lag];
        return sum / (centred.Length - lag);
    }
}
