using Streaming.Processing.Alerts;
using Streaming.Processing.Scoring;
using Streaming.Processing.Scoring.Detection;
using Streaming.Processing.Windows;

namespace Streaming.Processing.Pipeline;

/// <summary>
/// The scoring part of the pipeline for one partition: a closed window → its score (<see cref="IWindowScorer"/>) → alert
/// lifecycle (<see cref="AlertTracker"/>) → downtime prediction (<see cref="DowntimeTracker"/>). Runs inline in a
/// <see cref="PartitionProcessor"/> or on its own over the features topic (the scorer role); both give the same events for
/// the same windows in the same order. Keeps per-entity state, so not thread-safe: one per partition.
/// </summary>
public sealed partial class ScoringStage
{
    private readonly IWindowScorer _scorer;
    private readonly AlertTracker _alerts;
    private readonly DowntimeTracker _predictions;

    public ScoringStage(ProcessorSettings settings, TimeProvider clock)
    {
        settings.Validated();
        _scorer = settings.ScorerFactory?.Invoke() ?? new OnlineWindowScorer(settings.Baseline, settings.Detection, settings.Alerts.TopContributors);
        _alerts = new AlertTracker(settings.Alerts, clock);
        _predictions = new DowntimeTracker(settings.Predictions, clock);
    }

    /// <summary>Scores one closed window and emits its score and any alert or prediction change.</summary>
    public void Score(ClosedWindow window, IProcessorOutput output)
    {
        if (_scorer.Assess(window) is not { } assessment)
            return;
        output.Scored(assessment);
        var verdict = new WindowVerdict(window.Entity, window.Bounds.Start, window.Bounds.End, assessment.Score, assessment.Threshold,
            assessment.Model, assessment.ModelVersion, assessment.Contributors);
        if (_alerts.Observe(verdict) is { } alert)
            output.Alert(alert);
        if (_predictions.Observe(assessment) is { } prediction)
            output.Prediction(prediction);
    }
}
