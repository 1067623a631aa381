using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Confluent.SchemaRegistry;
using Streaming.Contracts;
using Streaming.Contracts.Avro;
using Streaming.Host.Configuration;
using Streaming.Kafka;
using Streaming.Models.Pipeline;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;

namespace Streaming.Host.Pipeline;

/// <summary>
/// The scorer role (<c>Processor:Scoring=Separate</c>): consumes the features topic (read_committed, JSON or Avro), turns each
/// record back into its <see cref="ClosedWindow"/>, and runs the partition's <see cref="ScoringStage"/> (scorer → alert lifecycle →
/// downtime prediction), publishing scores, alerts and predictions. Features are keyed by entity, so one entity's windows
/// arrive in one partition in the order the processor closed them, and the per-entity scoring state matches an inline
/// run's. Exactly-once and state restore by replay, as the processor (<see cref="PartitionWorker{TState}"/>).
/// </summary>
internal sealed class ScorerWorker : PartitionWorker<ScorerWorker.PartitionState>
{
    private readonly ProcessorSettings _processorSettings;
    private readonly EventDeserializer<FeatureVectorEvent> _features;

    /// <param name="models">The model versions to score with; null scores with the statistical baseline alone.</param>
    public ScorerWorker(StreamingSettings settings, KafkaCluster kafka, PipelineCounters counters, TimeProvider clock, ILogger logger,
        string? instanceId = null, ModelSetProvider? models = null)
        : base(settings, kafka, counters, clock, logger, instanceId)
    {
        _processorSettings = (models is null ? settings.ToProcessorSettings() : settings.ToProcessorSettings(models)).Validated();
        _features = new EventDeserializer<FeatureVectorEvent>(AvroContracts.FeatureVector, EventSerializers.CreateSchemaRegistry(settings.SchemaRegistry));
    }

    protected override string Role => "scorer";

    protected override string InputTopic => Settings.Topics.Features;

    protected override string GroupId => Settings.Processor.ScorerGroupId;

    protected override void OnStart() => Counters.SetActiveModel(Processing.Scoring.Detection.OnlineWindowScorer.ModelName, Processing.Scoring.Detection.OnlineWindowScorer.ModelVersion);

    protected override bool CanSnapshot(PartitionState state) => state.Stage.CanSnapshot;

    protected override void WriteSnapshot(PartitionState state, BinaryWriter writer) => state.Stage.WriteState(writer);

    protected override void ReadSnapshot(PartitionState state, BinaryReader reader) => state.Stage.ReadState(reader);

    protected override string StateSettings => _processorSettings.Fingerprint();

    protected override PartitionState CreateState() => new(new ScoringStage(_processorSettings, Clock));

    protected override void ProcessRecord(PartitionState state, ConsumeResult<string?, byte[]> record, IProcessorOutput output, DateTimeOffset now, bool replaying)
    {
        // JSON or Avro (Confluent wire format), detected per record, as the processor's Serialization:Format wrote it. An
        // Avro schema id this process has not seen is fetched from the registry; if that fails the worker stops (fatal).
        var read = _features.ReadAsync(record.Message.Value ?? [], CancellationToken.None).AsTask().GetAwaiter().GetResult();
        if (!read.Success)
        {
            // Not a feature vector this version understands: dead-lettered with the reason, never skipped silently.
            output.Rejected(new Rejection(RejectionReason.UndecodableEvent, $"features record is not a feature vector: {read.Error}"));
            return;
        }
        state.Stage.Score(ClosedWindow.FromEvent(read.Value), output);
    }

    protected override void AfterBatch(PartitionState state, DateTimeOffset now, IProcessorOutput output, bool replaying)
    {
        // Scoring emits as each window arrives; nothing waits for the end of a batch.
    }

    internal sealed class PartitionState(ScoringStage stage) : PartitionWorkerState
    {
        public ScoringStage Stage { get; } = stage;
    }
}
