using Streaming.Contracts;
using Streaming.Processing.Scoring;

namespace Streaming.Processing.Alerts;

public sealed record PredictionOptions
{
    /// <summary>The horizon whose probability opens and resolves a downtime prediction.</summary>
    public double HorizonMinutes { get; init; } = 30;

    /// <summary>P(down within the horizon) at which a prediction opens.</summary>
    public double OpenProbability { get; init; } = 0.5;

    /// <summary>Below this for <see cref="ResolveAfterWindows"/> windows, an open prediction resolves.</summary>
    public double ResolveProbability { get; init; } = 0.3;

    public int ResolveAfterWindows { get; init; } = 3;

    public PredictionOptions Validated()
    {
        if (!(HorizonMinutes > 0))
            throw new ArgumentException($"Predictions:HorizonMinutes must be positive, was {HorizonMinutes}.");
        if (OpenProbability is <= 0 or > 1 || double.IsNaN(OpenProbability))
            throw new ArgumentException($"Predictions:OpenProbability must be in (0, 1], was {OpenProbability}.");
        if (ResolveProbability < 0 || ResolveProbability > OpenProbability)
            throw new ArgumentException($"Predictions:ResolveProbability must be in [0, OpenProbability], was {ResolveProbability}.");
        if (ResolveAfterWindows < 1)
            throw new ArgumentException($"Predictions:ResolveAfterWindows must be at least 1, was {ResolveAfterWindows}.");
        return this;
    }
}

/// <summary>
/// The lifecycle of downtime predictions per entity, like <see cref="AlertTracker"/>: open when P(down within the horizon)
/// crosses the opening probability, update when it escalates (a shorter horizon crosses too), resolve after it stays low.
/// </summary>
public sealed partial class DowntimeTracker(PredictionOptions options, TimeProvider clock)
{
    private readonly PredictionOptions _options = options.Validated();
    private readonly Dictionary<string, State> _entities = new(StringComparer.Ordinal);

    public DowntimePredictionEvent? Observe(WindowAssessment assessment)
    {
        if (assessment.Downtime is not { } outlook || outlook.Horizons.Count == 0)
            return null;
        var entity = assessment.Window.Entity;
        var probability = ProbabilityAt(outlook, _options.HorizonMinutes);
        var shortest = outlook.Horizons.MinBy(h => h.Minutes)!;
        var severity = shortest.Probability >= _options.OpenProbability ? Severity.Critical : Severity.Warning;
        _entities.TryGetValue(entity, out var state);

        if (probability >= _options.OpenProbability)
        {
            if (state is { IsOpen: true })
            {
                state.LowStreak = 0;
                if (severity == state.Severity || state.Severity == Severity.Critical)
                    return null;
                state.Severity = severity;
                return Emit(assessment, outlook, state, AlertStatus.Update, probability);
            }
            state = new State
            {
                AlertId = AlertTracker.DeterministicGuid($"downtime|{entity}|{assessment.Window.Bounds.StartMs}"),
                IsOpen = true,
                Severity = severity,
            };
            _entities[entity] = state;
            return Emit(assessment, outlook, state, AlertStatus.Open, probability);
        }
        if (state is not { IsOpen: true })
            return null;
        if (probability >= _options.ResolveProbability || ++state.LowStreak < _options.ResolveAfterWindows)
            return null;
        _entities.Remove(entity);
        return Emit(assessment, outlook, state, AlertStatus.Resolved, probability);
    }

    /// <summary>The probability at the configured horizon, or at the nearest longer one the model predicts.</summary>
    private static double ProbabilityAt(DowntimeOutlook outlook, double minutes) =>
        (outlook.Horizons.Where(h => h.Minutes >= minutes).MinBy(h => h.Minutes) ?? outlook.Horizons.MaxBy(h => h.Minutes)!).Probability;

    private DowntimePredictionEvent Emit(WindowAssessment assessment, DowntimeOutlook outlook, State state, string status, double probability)
    {
        var window = assessment.Window;
        return new DowntimePredictionEvent(
            AlertTracker.DeterministicGuid($"downtime-event|{state.AlertId}|{status}|{window.Bounds.EndMs}"),
            state.AlertId,
            DowntimePredictionEvent.KindName,
            status,
            window.Entity,
            window.Bounds.Start,
            window.Bounds.End,
            clock.GetUtcNow(),
            outlook.TimeToDowntimeSeconds,
            outlook.TimeToDowntimeSeconds is { } seconds ? window.Bounds.End.AddSeconds(seconds) : null,
            probability,
            _options.HorizonMinutes,
            _options.OpenProbability,
            state.Severity,
            outlook.Model,
            outlook.ModelVersion,
            outlook.Horizons,
            assessment.Contributors);
    }

    private sealed class State
    {
        public Guid AlertId;
        public bool IsOpen;
        public string Severity = Contracts.Severity.Warning;
        public int LowStreak;
    }
}
