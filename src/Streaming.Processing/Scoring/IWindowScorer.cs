using Streaming.Contracts;
using Streaming.Processing.Windows;

namespace Streaming.Processing.Scoring;

/// <summary>One ensemble member's view of a window, recorded next to the combined score.</summary>
public readonly record struct MemberScore(string Model, string Version, double Score, double Threshold);

/// <summary>Where an entity is heading: estimated time to downtime and P(down within each horizon).</summary>
public sealed record DowntimeOutlook(double? TimeToDowntimeSeconds, IReadOnlyList<HorizonProbability> Horizons, string Model, string ModelVersion);

/// <summary>A scorer's verdict on one closed window: score against threshold, why, and (when a predictor runs) the outlook.</summary>
public sealed record WindowAssessment(
    ClosedWindow Window,
    double Score,
    double Threshold,
    string Model,
    string ModelVersion,
    IReadOnlyList<Contributor> Contributors,
    IReadOnlyList<MemberScore> Members,
    DowntimeOutlook? Downtime = null)
{
    public bool IsAnomaly => Score >= Threshold;
}

/// <summary>
/// Scores closed windows in order, per partition; stateful per entity (history, sequences, adaptive thresholds), so one
/// instance per partition and never shared between threads.
/// </summary>
public interface IWindowScorer
{
    /// <summary>The verdict on <paramref name="window"/>, or null while the entity is still warming up.</summary>
    WindowAssessment? Assess(ClosedWindow window);
}

/// <summary>The statistical baseline alone: what runs when no neural model is active, and for entities still warming up.</summary>
public sealed partial class BaselineWindowScorer(BaselineOptions options, int topContributors) : IWindowScorer
{
    private readonly RobustBaselineScorer _baseline = new(options);

    public WindowAssessment? Assess(ClosedWindow window)
    {
        if (_baseline.ScoreAndLearn(window) is not { } score)
            return null;
        return new WindowAssessment(window, score.Score, score.Threshold, RobustBaselineScorer.ModelName, RobustBaselineScorer.ModelVersion,
            score.Contributors(topContributors), [new MemberScore(RobustBaselineScorer.ModelName, RobustBaselineScorer.ModelVersion, score.Score, score.Threshold)]);
    }
}
