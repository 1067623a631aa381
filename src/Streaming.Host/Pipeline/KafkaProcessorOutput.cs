using System.Text;
using Confluent.Kafka;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;

namespace Streaming.Host.Pipeline;

/// <summary>A message waiting for the batch's transaction: produced together with the batch's consumed offsets.</summary>
/// <summary>A record to publish with the batch; <paramref name="Partition"/> set: to that partition (state snapshots), else by key.</summary>
internal readonly record struct PendingMessage(string Topic, Message<string?, byte[]> Message, int? Partition = null);

/// <summary>
/// Turns a <see cref="PartitionProcessor"/>'s outputs into Kafka messages (features, scores, alerts, predictions, dead
/// letters) collected in <see cref="Pending"/> until the worker publishes the batch, and counts them. Values are written by
/// <paramref name="serializers"/> (JSON unless given: <c>Serialization:Format</c> is applied where they are created, at
/// start-up); dead letters keep the original record's bytes.
/// </summary>
internal sealed class KafkaProcessorOutput(TopicSettings topics, PipelineCounters counters, TimeProvider clock, EventSerializerSet? serializers = null)
    : IProcessorOutput
{
    private readonly EventSerializerSet _serializers = serializers ?? EventSerializerSet.Json;

    /// <summary>The record being processed; dead letters point back at it.</summary>
    public ConsumeResult<string?, byte[]>? Current { get; set; }

    public List<PendingMessage> Pending { get; } = [];

    public void Rejected(Rejection rejection)
    {
        counters.AddRejected(rejection.Reason);
        var source = Current ?? throw new InvalidOperationException("A rejection outside a record cannot be dead-lettered.");
        var headers = new Headers
        {
            { DeadLetterHeaders.Reason, Encoding.UTF8.GetBytes(rejection.Code) },
            { DeadLetterHeaders.Detail, Encoding.UTF8.GetBytes(rejection.Detail) },
            { DeadLetterHeaders.SourceTopic, Encoding.UTF8.GetBytes(source.Topic) },
            { DeadLetterHeaders.SourcePartition, Encoding.UTF8.GetBytes(source.Partition.Value.ToString()) },
            { DeadLetterHeaders.SourceOffset, Encoding.UTF8.GetBytes(source.Offset.Value.ToString()) },
            { DeadLetterHeaders.Stage, rejection.Reason is RejectionReason.Late or RejectionReason.DuplicateSample ? "window"u8.ToArray() : "parse"u8.ToArray() },
        };
        Pending.Add(new PendingMessage(topics.DeadLetter,
            new Message<string?, byte[]> { Key = source.Message.Key, Value = source.Message.Value ?? [], Headers = headers }));
    }

    public void WindowClosed(ClosedWindow window) =>
        Pending.Add(new PendingMessage(topics.Features, new Message<string?, byte[]>
        {
            Key = window.Entity,
            Value = _serializers.Features.Serialize(window.ToEvent()),
        }));

    // Same schema (and, with Avro, the features subject's id) as the final results.
    public void WindowUpdated(ClosedWindow window) =>
        Pending.Add(new PendingMessage(topics.FeatureUpdates, new Message<string?, byte[]>
        {
            Key = window.Entity,
            Value = _serializers.Features.Serialize(window.ToEvent()),
        }));

    public void Scored(WindowAssessment assessment)
    {
        var window = assessment.Window;
        counters.RecordScore(assessment.Model, assessment.Score, assessment.Threshold);
        counters.SetActiveModel(assessment.Model, assessment.ModelVersion);
        Add(new ScoreEvent(window.Entity, window.Bounds.Start, window.Bounds.End, assessment.Model, assessment.ModelVersion,
            assessment.Score, assessment.Threshold, assessment.IsAnomaly, assessment.Contributors));
        // Ensemble members (and a shadow candidate) are recorded too, so their scores can be compared in the database.
        if (assessment.Members.Count < 2)
            return;
        foreach (var member in assessment.Members)
        {
            Add(new ScoreEvent(window.Entity, window.Bounds.Start, window.Bounds.End, member.Model, member.Version,
                member.Score, member.Threshold, member.Score >= member.Threshold, []));
        }

        void Add(ScoreEvent score) =>
            Pending.Add(new PendingMessage(topics.Scores, new Message<string?, byte[]>
            {
                Key = score.Entity,
                Value = _serializers.Scores.Serialize(score),
            }));
    }

    public void Prediction(DowntimePredictionEvent prediction)
    {
        counters.AddAlert($"prediction_{prediction.Status}");
        Pending.Add(new PendingMessage(topics.Alerts, new Message<string?, byte[]>
        {
            Key = prediction.Entity,
            Value = _serializers.Predictions.Serialize(prediction),
        }));
    }

    public void Alert(AnomalyEvent alert)
    {
        counters.AddAlert(alert, clock.GetUtcNow());
        Pending.Add(new PendingMessage(topics.Alerts, new Message<string?, byte[]>
        {
            Key = alert.Entity,
            Value = _serializers.Anomalies.Serialize(alert),
        }));
    }
}
