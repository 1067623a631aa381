using Streaming.Contracts;
using Streaming.Processing.Windows;

namespace Streaming.Processing.Scoring.Detection;

/// <summary>
/// The production statistical scorer: per entity × metric online detectors (<see cref="MetricDetector"/>), each metric's
/// tail probability combined over the entity's metrics (Šidák), so the window's score is one calibrated anomaly
/// probability and the threshold means the same for every entity. Contributions are each metric's share of the evidence
/// (−log10 of its tail), so a metric far from what was expected outweighs one that moved within its usual spread, and
/// "expected" is the baseline's expectation for that window. Per partition, like the windows it scores.
/// </summary>
public sealed partial class OnlineWindowScorer : IWindowScorer
{
    public const string ModelName = "online-detectors";
    public const string ModelVersion = "7";

    private readonly DetectionOptions _options;
    private readonly RobustBaselineScorer _baseline;
    private readonly int _topContributors;
    private readonly int _baselineWindows;
    private readonly Dictionary<string, Dictionary<string, MetricDetector>> _entities = new(StringComparer.Ordinal);

    public OnlineWindowScorer(BaselineOptions baseline, DetectionOptions options, int topContributors)
    {
        _options = options.Validated();
        _baseline = new RobustBaselineScorer(baseline);
        _baselineWindows = baseline.HistoryWindows;
        _topContributors = topContributors;
    }

    public WindowAssessment? Assess(ClosedWindow window) =>
        Score(window) is { } scored ? ToAssessment(scored, _topContributors) : null;

    /// <summary>The window's per-metric verdicts and combined probability, learning from it; null while warming up.</summary>
    public ScoredWindow? Score(ClosedWindow window)
    {
        var baseline = _baseline.ScoreAndLearn(window);
        if (!_entities.TryGetValue(window.Entity, out var metrics))
        {
            metrics = new Dictionary<string, MetricDetector>(StringComparer.Ordinal);
            _entities[window.Entity] = metrics;
        }
        var verdicts = new List<MetricVerdict>(window.Features.Length);
        foreach (var feature in window.Features)
        {
            if (!metrics.TryGetValue(feature.Metric, out var detector))
            {
                detector = new MetricDetector(_options, _baseline.Threshold, _baselineWindows, SeedOf(window.Entity, feature.Metric));
                metrics[feature.Metric] = detector;
            }
            var level = BaselineOf(baseline, feature.Metric);
            var reading = detector.Update(feature.Mean, level?.Z, level?.Expected);
            if (reading is { Expected: { } expected, Z: { } z })
                verdicts.Add(new MetricVerdict(feature.Metric, reading.Tail, expected, feature.Mean, z));
        }
        if (verdicts.Count == 0)
            return null;
        return new ScoredWindow(window, Combine(verdicts, _options.Metrics), _options.SurpriseThreshold, verdicts);
    }

    private static MetricScore? BaselineOf(BaselineScore? baseline, string metric)
    {
        if (baseline is null)
            return null;
        foreach (var m in baseline.Metrics)
        {
            if (string.Equals(m.Metric, metric, StringComparison.Ordinal))
                return m;
        }
        return null;
    }

    /// <summary>The window's surprise from its metrics' tails: the strongest metric's, or (Šidák) the chance that any of them looks this unusual.</summary>
    public static double Combine(IReadOnlyList<MetricVerdict> verdicts, MetricCombination combination)
    {
        var smallest = 1.0;
        foreach (var v in verdicts)
            smallest = Math.Min(smallest, v.Tail);
        return Surprise.Of(combination == MetricCombination.Sidak ? Gaussian.SmallestOf(smallest, verdicts.Count) : smallest);
    }

    public static WindowAssessment ToAssessment(ScoredWindow scored, int topContributors) =>
        new(scored.Window, scored.Score, scored.Threshold, ModelName, ModelVersion, Contributors(scored.Metrics, topContributors),
            [new MemberScore(ModelName, ModelVersion, scored.Score, scored.Threshold)]);

    /// <summary>Each metric's share of the window's evidence (its surprise over the sum), largest first.</summary>
    public static IReadOnlyList<Contributor> Contributors(IReadOnlyList<MetricVerdict> verdicts, int top)
    {
        // The order a stable sort by surprise (descending) then metric (ordinal) gives, found by selecting the first `top`
        // in turn (ties to the earlier verdict), without LINQ's buffers: this runs for every scored window.
        var count = verdicts.Count;
        var rented = count > 256 ? System.Buffers.ArrayPool<double>.Shared.Rent(count) : null;
        var surprises = rented is null ? stackalloc double[count] : rented.AsSpan(0, count);
        var total = 0.0;
        for (var i = 0; i < count; i++)
        {
            surprises[i] = verdicts[i].Surprise;
            total += surprises[i];
        }
        var result = new Contributor[Math.Clamp(top, 0, count)];
        Span<bool> taken = count <= 256 ? stackalloc bool[count] : new bool[count];
        for (var rank = 0; rank < result.Length; rank++)
        {
            var best = -1;
            for (var i = 0; i < count; i++)
            {
                if (taken[i])
                    continue;
                if (best < 0 || surprises[i].CompareTo(surprises[best]) > 0
                    || (surprises[i].CompareTo(surprises[best]) == 0 && string.CompareOrdinal(verdicts[i].Metric, verdicts[best].Metric) < 0))
                    best = i;
            }
            taken[best] = true;
            var v = verdicts[best];
            result[rank] = new Contributor(v.Metric, total > 0 ? surprises[best] / total : 0, v.Expected, v.Actual);
        }
        if (rented is not null)
            System.Buffers.ArrayPool<double>.Shared.Return(rented);
        return result;
    }

    // Each entity × metric gets its own stream of cuts, the same in every run and on every instance.
    private ulong SeedOf(string entity, string metric)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in entity)
            hash = (hash ^ c) * 1099511628211UL;
        hash = (hash ^ '|') * 1099511628211UL;
        foreach (var c in metric)
            hash = (hash ^ c) * 1099511628211UL;
        return hash ^ _options.Forest.Seed;
    }
}

/// <summary>A window scored by the online detectors: the combined surprise, its threshold and every metric's verdict.</summary>
public sealed record ScoredWindow(ClosedWindow Window, double Score, double Threshold, IReadOnlyList<MetricVerdict> Metrics)
{
    public bool IsAnomaly => Score >= Threshold;

    /// <summary>The probability that the window is not ordinary: 1 − 10^−score.</summary>
    public double Probability => Surprise.ToProbability(Score);
}

/// <summary>Surprise: a tail probability as decimal digits, −log10(tail), so 1e−4 is 4 and each further digit is ten times rarer.</summary>
public static class Surprise
{
    // Tails below this are indistinguishable in practice (and in double arithmetic downstream).
    private const double SmallestTail = 1e-300;

    public static double Of(double tail) => -Math.Log10(Math.Clamp(tail, SmallestTail, 1));

    public static double ToProbability(double surprise) => 1 - Math.Pow(10, -surprise);
}
