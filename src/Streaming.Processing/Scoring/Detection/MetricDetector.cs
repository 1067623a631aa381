namespace Streaming.Processing.Scoring.Detection;

/// <summary>One metric's verdict in a window: the probability it is not ordinary (as its upper tail) and what was expected.</summary>
public readonly record struct MetricVerdict(string Metric, double Tail, double Expected, double Actual, double RawZ)
{
    /// <summary>Evidence in decimal digits of surprise, −log10(tail): comparable across metrics and detectors.</summary>
    public double Surprise => Detection.Surprise.Of(Tail);
}

/// <summary>A metric's tail probability in a window, with the expectation and standardised deviation it was judged by (null while warming up).</summary>
public readonly record struct MetricReading(double Tail, double? Expected, double? Z);

/// <summary>
/// The online detectors of one entity × metric: the robust baseline's z-score, read against its fixed threshold (the tail
/// is the alert tail at z = threshold and falls like a normal tail, log tail ∝ z²), alone and combined with the windows
/// before it (<see cref="SustainedDeviation"/>), and, with <see cref="BaselineCalibration.Likelihood"/>, also
/// against the stream's own z distribution; where the metric follows a regular cycle (<see cref="SeasonalModel"/>), the
/// cycle's expectation and residual z take the level baseline's place; a random cut forest over shingles of the window
/// means (of the residuals, with a cycle), made a probability by its own <see cref="AnomalyLikelihood"/>; and a check
/// against the range the metric showed before the baseline's history. Learns from every window it sees. A new entity is scored from its first
/// windows by the baseline while the likelihoods and the cycle learn.
/// </summary>
internal sealed partial class MetricDetector
{
    private readonly DetectionOptions _options;
    private readonly double _baselineThreshold;
    private RandomCutForest? _forest;
    private AnomalyLikelihood? _forestLikelihood;
    private readonly ulong _seed;
    // The cycle the forest's shingles were taken against: when it changes, the forest starts over on the new residuals.
    private int _forestPeriod;
    private readonly AnomalyLikelihood? _baselineLikelihood;
    // The seasonal residual's z has its own scale, so it is judged against its own history, not the level baseline's.
    private readonly AnomalyLikelihood? _seasonalLikelihood;
    private readonly SeasonalModel? _seasonal;
    private readonly SustainedDeviation? _sustained;
    private readonly double[] _shingle;
    private readonly double[] _point;
    private int _shingleNext;
    private int _shingleCount;
    private double _min = double.PositiveInfinity;
    private double _max = double.NegativeInfinity;
    private long _seen;
    // The window at which the range last grew by at least the tolerance: the range check waits until the range has settled.
    private long _rangeGrewAt;
    // The last baseline-history windows, not yet part of the range.
    private readonly double[] _rangeDelay;
    private int _rangeDelayNext;

    public MetricDetector(DetectionOptions options, double baselineThreshold, int baselineWindows, ulong seed)
    {
        _options = options;
        _baselineThreshold = baselineThreshold;
        var forest = options.Forest;
        _shingle = new double[forest.ShingleSize];
        _point = new double[forest.ShingleSize];
        _seed = seed;
        _rangeDelay = new double[Math.Max(1, baselineWindows)];
        if (forest.Enabled)
            StartForest();
        if (options.UseBaseline)
            _baselineLikelihood = new AnomalyLikelihood(options.Likelihood);
        if (options.SustainedWindows > 1)
            _sustained = new SustainedDeviation(options.SustainedWindows);
        if (options.Seasonal.Enabled)
        {
            _seasonal = new SeasonalModel(options.Seasonal, baselineWindows);
            if (options.UseBaseline)
                _seasonalLikelihood = new AnomalyLikelihood(options.Likelihood);
        }
    }

    /// <summary>The metric's cycle in windows while the seasonal model uses one; 0 otherwise.</summary>
    public int Period => _seasonal?.Period ?? 0;

    private bool IsWarm => _seen >= _options.Likelihood.LearningPeriod;

    /// <summary>
    /// Scores the window mean <paramref name="value"/> (with the baseline's z and expectation when the baseline had
    /// history) and learns it. Where the metric follows a regular cycle, the seasonal model's expectation and z replace the
    /// level baseline's, which would call every turn of the cycle unusual. Returns the metric's upper-tail probability
    /// (small when the window is unusual) with the expectation and z it was judged by.
    /// </summary>
    public MetricReading Update(double value, double? baselineZ, double? baselineExpected)
    {
        var z = baselineZ;
        var expected = baselineExpected;
        var likelihoodOfZ = _baselineLikelihood;
        // With a cycle, the forest looks for shapes in what the cycle does not explain, so its every turn is not news.
        var shape = value;
        if (_seasonal?.Update(value) is { } seasonal)
        {
            (expected, z, likelihoodOfZ) = (seasonal.Expected, seasonal.Z, _seasonalLikelihood);
            shape = value - seasonal.Expected;
        }
        if (_forest is not null && Period != _forestPeriod)
        {
            _forestPeriod = Period;
            StartForest();
        }
        var tails = 0;
        var smallest = 1.0;
        if (likelihoodOfZ is not null && z is { } robustZ)
        {
            // z / (z + threshold) is the baseline's raw score in [0, 1): 0.5 at its own alert threshold.
            var raw = robustZ / (robustZ + _baselineThreshold);
            var likelihood = likelihoodOfZ.Update(raw);
            // Like a normal tail, log(tail) falls with z²: at the baseline's threshold it is the alert tail, at half of it a fourth as surprising.
            var ratio = robustZ / _baselineThreshold;
            var fixedTail = Math.Min(0.5, Math.Pow(1 - _options.Threshold, ratio * ratio));
            if (_sustained is not null)
            {
                // The last windows' z on one side of the expectation, combined (Stouffer): two windows each moderately far
                // out are as much evidence as one √2 times as far. Šidák-corrected, since the window is now tested twice.
                var combinedRatio = _sustained.Add(value >= (expected ?? value) ? robustZ : -robustZ) / _baselineThreshold;
                var sustainedTail = Math.Pow(1 - _options.Threshold, combinedRatio * combinedRatio);
                fixedTail = Math.Min(0.5, Gaussian.SmallestOf(Math.Min(fixedTail, sustainedTail), 2));
            }
            // Likelihood: a large z must also be unusual for this stream's own z-scores (a cycle makes large z ordinary).
            var tail = _options.Baseline == BaselineCalibration.Likelihood && likelihoodOfZ.IsWarm ? Math.Max(likelihood, fixedTail) : fixedTail;
            smallest = Math.Min(smallest, tail);
            tails++;
        }
        if (_forest is not null && ScoreShape(shape) is { } displacement)
        {
            // CoDisp counts displaced points, at most the points the trees hold: as a share of them the raw score is in [0, 1].
            // A share of the full sample size instead would grow while the trees fill, and the likelihood, which learned the
            // small early scores, would call the later ordinary ones anomalous (on the simulator most of a day's false alerts).
            var tail = _forestLikelihood!.Update(Math.Min(1, displacement / Math.Max(1, _forest.Count)));
            if (_forestLikelihood.IsWarm)
            {
                smallest = Math.Min(smallest, tail);
                tails++;
            }
        }
        var combined = tails == 0 ? 0.5 : Gaussian.SmallestOf(smallest, tails);
        combined = Math.Min(combined, RangeTail(value));
        LearnRange(value);
        _seen++;
        return new MetricReading(combined, expected, z);
    }

    /// <summary>
    /// A mean beyond everything seen before the level baseline's history, by the tolerance share of that range, is anomalous at the threshold; only once
    /// the range has held for <see cref="DetectionOptions.RangeSettledWindows"/> windows, since a metric still showing its
    /// cycle (a first day of a daily cycle) sets new extremes that are not news.
    /// </summary>
    private double RangeTail(double value)
    {
        if (_options.RangeTolerance <= 0 || !IsWarm || _seen - _rangeGrewAt < _options.RangeSettledWindows)
            return 1;
        var excess = Excess(value);
        return excess >= _options.RangeTolerance ? (1 - _options.Threshold) * _options.RangeTolerance / excess : 1;
    }

    /// <summary>How far <paramref name="value"/> lies beyond the range seen, as a share of it (0 inside it or while the range is empty).</summary>
    private double Excess(double value)
    {
        var range = _max - _min;
        return range > 0 ? Math.Max(0, Math.Max(value - _max, _min - value)) / range : 0;
    }

    private void LearnRange(double value)
    {
        // The range learns a window only once the level baseline's memory has passed it, so a slow descent to new lows is
        // judged against the range before the descent began, not against the one its own last steps widened (on NAB the
        // machine-temperature failure's slide and the ambient-temperature fault were missed that way).
        var delayed = _rangeDelay[_rangeDelayNext];
        _rangeDelay[_rangeDelayNext] = value;
        _rangeDelayNext = (_rangeDelayNext + 1) % _rangeDelay.Length;
        if (_seen < _rangeDelay.Length)
            return;
        value = delayed;
        if (_max - _min > 0 && Excess(value) >= _options.RangeTolerance)
            _rangeGrewAt = _seen;
        _min = Math.Min(_min, value);
        _max = Math.Max(_max, value);
    }

    private void StartForest()
    {
        var forest = _options.Forest;
        _forest = new RandomCutForest(forest.ShingleSize, forest.Trees, forest.SampleSize, _seed);
        _forestLikelihood = new AnomalyLikelihood(_options.Likelihood);
        _shingleCount = 0;
        _shingleNext = 0;
    }

    private double? ScoreShape(double value)
    {
        _shingle[_shingleNext] = value;
        _shingleNext = (_shingleNext + 1) % _shingle.Length;
        if (_shingleCount < _shingle.Length)
            _shingleCount++;
        if (_shingleCount < _shingle.Length)
            return null;
        for (var i = 0; i < _shingle.Length; i++)
            _point[i] = _shingle[(_shingleNext + i) % _shingle.Length];
        return _forest!.ScoreAndInsert(_point);
    }
}
