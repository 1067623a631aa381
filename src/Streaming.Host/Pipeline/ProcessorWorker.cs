using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Host.Configuration;
using Streaming.Kafka;
using Streaming.Models.Pipeline;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;

namespace Streaming.Host.Pipeline;

/// <summary>
/// The processor role: consumes the telemetry topic, runs each partition's <see cref="PartitionProcessor"/>, and publishes
/// features (and, with <c>Processor:Scoring=Inline</c>, scores, alerts and predictions) and dead letters. Exactly-once by
/// default: a batch's outputs and its consumed offsets commit in one Kafka transaction, so downstream readers using
/// read_committed see each result once. Consume, back-pressure and publish are <see cref="PartitionWorker{TState}"/>'s.
/// </summary>
internal sealed class ProcessorWorker : PartitionWorker<ProcessorWorker.PartitionState>
{
    private readonly ProcessorSettings _processorSettings;

    /// <param name="models">The model versions to score with; null scores with the statistical baseline alone.</param>
    public ProcessorWorker(StreamingSettings settings, KafkaCluster kafka, PipelineCounters counters, TimeProvider clock, ILogger logger,
        string? instanceId = null, ModelSetProvider? models = null)
        : base(settings, kafka, counters, clock, logger, instanceId)
    {
        _processorSettings = (models is null ? settings.ToProcessorSettings() : settings.ToProcessorSettings(models)).Validated();
    }

    protected override string Role => "processor";

    protected override string InputTopic => Settings.Topics.Telemetry;

    protected override string GroupId => Settings.Processor.GroupId;

    protected override void OnStart()
    {
        if (_processorSettings.ScoreInline)
            Counters.SetActiveModel(Processing.Scoring.Detection.OnlineWindowScorer.ModelName, Processing.Scoring.Detection.OnlineWindowScorer.ModelVersion);
    }

    protected override bool CanSnapshot(PartitionState state) => state.Processor.CanSnapshot;

    // The processor's windows and (inline) scoring state; LastRecordAt and StreamTimeAtLastRecord are set by the restore itself, as after a replay.
    protected override void WriteSnapshot(PartitionState state, BinaryWriter writer) => state.Processor.WriteState(writer);

    protected override void ReadSnapshot(PartitionState state, BinaryReader reader) => state.Processor.ReadState(reader);

    protected override string StateSettings => _processorSettings.Fingerprint();

    protected override PartitionState CreateState() => new(new PartitionProcessor(_processorSettings, Clock), Clock.GetUtcNow());

    protected override void ProcessRecord(PartitionState state, ConsumeResult<string?, byte[]> record, IProcessorOutput output, DateTimeOffset now, bool replaying)
    {
        var accepted = state.Processor.Process(record.Message.Value, record.Message.Timestamp.UnixTimestampMs, output);
        if (replaying)
            return;
        if (accepted)
            Counters.AddAccepted(1);
        state.LastRecordAt = now;
        state.StreamTimeAtLastRecord = state.Processor.Windows.StreamTimeMs;
    }

    protected override void AfterBatch(PartitionState state, DateTimeOffset now, IProcessorOutput output, bool replaying)
    {
        if (replaying)
        {
            state.Processor.EmitClosed(output);
            state.StreamTimeAtLastRecord = state.Processor.Windows.StreamTimeMs;
            return;
        }
        ApplyIdlePolicy(state, now);
        Counters.AddWindows(state.Processor.EmitClosed(output));
        state.Processor.EmitUpdates(output);
    }

    // Time spent paused by back-pressure is not idleness: the input was there, this worker just did not read it.
    protected override void OnResumed(PartitionState state, DateTimeOffset now) => state.LastRecordAt = now;

    private void ApplyIdlePolicy(PartitionState state, DateTimeOffset now)
    {
        var idleFor = now - state.LastRecordAt;
        if (idleFor < Settings.Processor.IdleTimeout || state.StreamTimeAtLastRecord == long.MinValue)
            return;
        var target = Settings.Processor.IdleMode == IdleMode.CloseAll
            ? long.MaxValue / 2
            : state.StreamTimeAtLastRecord + (long)idleFor.TotalMilliseconds;
        state.Processor.AdvanceStreamTime(target);
    }

    internal sealed class PartitionState(PartitionProcessor processor, DateTimeOffset now) : PartitionWorkerState
    {
        public PartitionProcessor Processor { get; } = processor;
        public DateTimeOffset LastRecordAt { get; set; } = now;
        public long StreamTimeAtLastRecord { get; set; } = long.MinValue;
    }
}
