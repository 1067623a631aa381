using Streaming.Contracts;
using Streaming.Processing.Alerts;
using Streaming.Processing.Scoring;
using Streaming.Processing.Scoring.Detection;
using Streaming.Processing.Windows;

namespace Streaming.Processing.Pipeline;

/// <summary>Everything one partition's processor needs to know, validated once at start-up.</summary>
public sealed record ProcessorSettings
{
    public required WindowOptions Windows { get; init; }
    public BaselineOptions Baseline { get; init; } = new();
    public DetectionOptions Detection { get; init; } = new();
    public AlertOptions Alerts { get; init; } = new();
    public PredictionOptions Predictions { get; init; } = new();

    /// <summary>Builds each partition's scorer; null means the statistical baseline alone.</summary>
    public Func<IWindowScorer>? ScorerFactory { get; init; }
    public TelemetryLimits Limits { get; init; } = TelemetryLimits.Default;

    /// <summary>
    /// True (the default): each partition processor scores its closed windows itself. False: it emits windows (features)
    /// only, and a separate scorer (<see cref="ScoringStage"/> over the features topic) scores them.
    /// </summary>
    public bool ScoreInline { get; init; } = true;

    public ProcessorSettings Validated()
    {
        Windows.Validated();
        Baseline.Validated();
        Detection.Validated();
        Alerts.Validated();
        Predictions.Validated();
        return this;
    }
}

/// <summary>Where a partition processor's results go: the Kafka worker publishes them, tests and the evaluator collect them.</summary>
public interface IProcessorOutput
{
    void Rejected(Rejection rejection);

    void WindowClosed(ClosedWindow window);

    /// <summary>A provisional result of a window still open (early results on); outputs that do not publish them ignore it.</summary>
    void WindowUpdated(ClosedWindow window)
    {
    }

    void Scored(WindowAssessment assessment);

    void Alert(AnomalyEvent alert);

    void Prediction(DowntimePredictionEvent prediction);
}

/// <summary>
/// The processing path for one partition: parse → event-time windows → features → score → alert lifecycle.
/// Kafka-free, so the evaluator and tests run exactly the code production runs. Not thread-safe: one per partition.
/// </summary>
public sealed partial class PartitionProcessor
{
    private readonly ProcessorSettings _settings;
    private readonly WindowAggregator _windows;
    private readonly ScoringStage? _scoring;
    private readonly List<ClosedWindow> _closed = [];

    public PartitionProcessor(ProcessorSettings settings, TimeProvider clock)
    {
        _settings = settings.Validated();
        _windows = new WindowAggregator(settings.Windows);
        _scoring = settings.ScoreInline ? new ScoringStage(settings, clock) : null;
    }

    public WindowAggregator Windows => _windows;

    /// <summary>
    /// Handles one record. Time-range checks are made against <paramref name="referenceTimeMs"/> — the record's Kafka
    /// timestamp — rather than the wall clock, so every stage and every replay reaches the same verdict on the same record.
    /// </summary>
    public bool Process(ReadOnlySpan<byte> value, long referenceTimeMs, IProcessorOutput output)
    {
        // The readings stay in the parser's per-thread buffer: no sample object per record.
        if (!TelemetryParser.TryParse(value, _settings.Limits, DateTimeOffset.FromUnixTimeMilliseconds(referenceTimeMs),
                out var entity, out var timestampMs, out var metrics, out var rejection))
        {
            output.Rejected(rejection);
            return false;
        }
        return Process(entity, timestampMs, metrics, output);
    }

    public bool Process(TelemetrySample sample, IProcessorOutput output) => Process(sample.Entity, sample.TimestampMs, sample.Metrics, output);

    private bool Process(string entity, long timestampMs, ReadOnlySpan<MetricValue> metrics, IProcessorOutput output)
    {
        switch (_windows.Add(entity, timestampMs, metrics))
        {
            case AddOutcome.Accepted:
                return true;
            case AddOutcome.Late:
                output.Rejected(new Rejection(RejectionReason.Late,
                    $"event time {DateTimeOffset.FromUnixTimeMilliseconds(timestampMs):O} of '{entity}' is after its window closed (stream time {FormatStreamTime(_windows.StreamTimeMs)}, grace {_settings.Windows.Grace})"));
                return false;
            default:
                output.Rejected(new Rejection(RejectionReason.DuplicateSample,
                    $"'{entity}' already sent a sample at {DateTimeOffset.FromUnixTimeMilliseconds(timestampMs):O}"));
                return false;
        }
    }

    // The idle policy may push stream time past any representable date ("close everything"); say so rather than throw.
    private static string FormatStreamTime(long ms) =>
        ms > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds() ? "end of input (idle partition closed all windows)" : DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("O");

    /// <summary>Moves stream time forward (idle policy or end of input) so the windows it passes close.</summary>
    public void AdvanceStreamTime(long timestampMs) => _windows.AdvanceStreamTime(timestampMs);

    /// <summary>Emits early (provisional) results of open windows when they are due; they are not scored.</summary>
    public int EmitUpdates(IProcessorOutput output)
    {
        _closed.Clear();
        var count = _windows.CollectUpdates(_closed);
        foreach (var window in _closed)
            output.WindowUpdated(window);
        return count;
    }

    /// <summary>Emits every window that has closed, with its score and any alert change when scoring inline.</summary>
    public int EmitClosed(IProcessorOutput output)
    {
        _closed.Clear();
        var count = _windows.CollectClosed(_closed);
        foreach (var window in _closed)
        {
            output.WindowClosed(window);
            _scoring?.Score(window, output);
        }
        return count;
    }
}
