using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Kafka;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;

namespace Streaming.Host.Pipeline;

/// <summary>
/// The processor role: consumes the telemetry topic, runs each partition's <see cref="PartitionProcessor"/>, and publishes
/// features, alerts and dead letters. Exactly-once by default: a batch's outputs and its consumed offsets commit in one
/// Kafka transaction, so downstream readers using read_committed see each result once.
/// </summary>
public sealed partial class ProcessorWorker
{
    private readonly StreamingSettings _settings;
    private readonly KafkaCluster _kafka;
    private readonly PipelineCounters _counters;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly string _instanceId;
    private readonly Dictionary<int, PartitionState> _partitions = [];
    private readonly List<PendingMessage> _pending = [];
    private long _processed;

    public ProcessorWorker(StreamingSettings settings, KafkaCluster kafka, PipelineCounters counters, TimeProvider clock, ILogger logger, string? instanceId = null)
    {
        _settings = settings;
        _kafka = kafka;
        _counters = counters;
        _clock = clock;
        _logger = logger;
        _instanceId = instanceId ?? $"{Environment.MachineName}-{Environment.ProcessId}";
    }

    /// <summary>Records consumed and committed (accepted or dead-lettered).</summary>
    public long Processed => Interlocked.Read(ref _processed);

    public Task RunAsync(CancellationToken cancellationToken) =>
        Task.Factory.StartNew(() => Run(cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken cancellationToken)
    {
        var exactlyOnce = _settings.Processor.Delivery == DeliveryGuarantee.ExactlyOnce;
        var producerConfig = _kafka.ProducerConfig($"processor-{_instanceId}");
        if (exactlyOnce)
            producerConfig.TransactionalId = $"{_settings.Processor.GroupId}-{_instanceId}";
        producerConfig.QueueBufferingMaxMessages = 500_000;
        using var producer = new ProducerBuilder<string?, byte[]>(producerConfig)
            .SetErrorHandler((_, e) => LogKafkaError(_logger, "producer", e.Code.ToString(), e.Reason))
            .Build();
        if (exactlyOnce)
            producer.InitTransactions(TimeSpan.FromSeconds(30));

        var processorSettings = _settings.ToProcessorSettings().Validated();
        using var consumer = new ConsumerBuilder<string?, byte[]>(_kafka.ConsumerConfig(_settings.Processor.GroupId, $"processor-{_instanceId}"))
            .SetErrorHandler((_, e) => LogKafkaError(_logger, "consumer", e.Code.ToString(), e.Reason))
            .SetPartitionsAssignedHandler((_, assigned) =>
            {
                foreach (var tp in assigned)
                    _partitions[tp.Partition.Value] = new PartitionState(new PartitionProcessor(processorSettings, _clock), _clock.GetUtcNow());
                LogAssigned(_logger, string.Join(",", assigned.Select(p => p.Partition.Value)));
            })
            .SetPartitionsRevokedHandler((_, revoked) =>
            {
                foreach (var tp in revoked)
                    _partitions.Remove(tp.Partition.Value);
                LogRevoked(_logger, string.Join(",", revoked.Select(p => p.Partition.Value)));
            })
            .Build();
        consumer.Subscribe(_settings.Topics.Telemetry);
        _counters.SetActiveModel(RobustBaselineScorer.ModelName, RobustBaselineScorer.ModelVersion);

        var batch = new List<ConsumeResult<string?, byte[]>>(_settings.Processor.MaxBatch);
        var output = new KafkaOutput(this);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                CollectBatch(consumer, batch, cancellationToken);
                ProcessBatch(batch, output);
                Publish(producer, consumer, batch, exactlyOnce);
                _counters.UpdateLag("processor", consumer);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            if (exactlyOnce)
                TryAbortOpenTransaction(producer);
            consumer.Close();
        }
    }

    private void CollectBatch(IConsumer<string?, byte[]> consumer, List<ConsumeResult<string?, byte[]>> batch, CancellationToken cancellationToken)
    {
        batch.Clear();
        var deadline = _clock.GetUtcNow() + _settings.Processor.BatchLinger;
        while (batch.Count < _settings.Processor.MaxBatch)
        {
            var remaining = deadline - _clock.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
                break;
            var result = consumer.Consume(remaining);
            if (result is null)
                break;
            if (result.IsPartitionEOF)
                continue;
            batch.Add(result);
        }
        cancellationToken.ThrowIfCancellationRequested();
    }

    private void ProcessBatch(List<ConsumeResult<string?, byte[]>> batch, KafkaOutput output)
    {
        _pending.Clear();
        var now = _clock.GetUtcNow();
        foreach (var record in batch)
        {
            // A record of a partition revoked while the batch was collected belongs to its new owner now.
            if (!_partitions.TryGetValue(record.Partition.Value, out var state))
                continue;
            output.Current = record;
            if (state.Processor.Process(record.Message.Value, record.Message.Timestamp.UnixTimestampMs, output))
                _counters.AddAccepted(1);
            state.LastRecordAt = now;
            state.StreamTimeAtLastRecord = state.Processor.Windows.StreamTimeMs;
        }
        output.Current = null;
        foreach (var state in _partitions.Values)
        {
            ApplyIdlePolicy(state, now);
            var closed = state.Processor.EmitClosed(output);
            _counters.AddWindows(closed);
        }
    }

    private void ApplyIdlePolicy(PartitionState state, DateTimeOffset now)
    {
        var idleFor = now - state.LastRecordAt;
        if (idleFor < _settings.Processor.IdleTimeout || state.StreamTimeAtLastRecord == long.MinValue)
            return;
        var target = _settings.Processor.IdleMode == IdleMode.CloseAll
            ? long.MaxValue / 2
            : state.StreamTimeAtLastRecord + (long)idleFor.TotalMilliseconds;
        state.Processor.AdvanceStreamTime(target);
    }

    private void Publish(IProducer<string?, byte[]> producer, IConsumer<string?, byte[]> consumer, List<ConsumeResult<string?, byte[]>> batch, bool exactlyOnce)
    {
        var offsets = batch.Where(r => _partitions.ContainsKey(r.Partition.Value))
            .GroupBy(r => r.TopicPartition)
            .Select(g => new TopicPartitionOffset(g.Key, g.Max(r => r.Offset.Value) + 1))
            .ToList();
        if (_pending.Count == 0 && offsets.Count == 0)
            return;
        if (exactlyOnce)
        {
            producer.BeginTransaction();
            try
            {
                ProduceAll(producer);
                if (offsets.Count > 0)
                    producer.SendOffsetsToTransaction(offsets, consumer.ConsumerGroupMetadata, TimeSpan.FromSeconds(30));
                producer.CommitTransaction(TimeSpan.FromSeconds(30));
            }
            catch (KafkaException ex)
            {
                LogTransactionFailed(_logger, ex.Error.Reason);
                TryAbortOpenTransaction(producer);
                // Windows already absorbed this batch; continuing would publish them without their offsets. Stop and let a
                // restart rebuild state from the committed offsets.
                throw;
            }
        }
        else
        {
            ProduceAll(producer);
            producer.Flush(TimeSpan.FromSeconds(30));
            if (offsets.Count > 0)
                consumer.Commit(offsets);
        }
        var processed = batch.Count(r => _partitions.ContainsKey(r.Partition.Value));
        Interlocked.Add(ref _processed, processed);
        _counters.AddStageRecords("processor", processed);
    }

    private void ProduceAll(IProducer<string?, byte[]> producer)
    {
        foreach (var pending in _pending)
        {
            while (true)
            {
                try
                {
                    producer.Produce(pending.Topic, pending.Message);
                    break;
                }
                catch (ProduceException<string?, byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(50));
                }
            }
        }
        _pending.Clear();
    }

    private void TryAbortOpenTransaction(IProducer<string?, byte[]> producer)
    {
        try
        {
            producer.AbortTransaction(TimeSpan.FromSeconds(10));
        }
        catch (KafkaException ex) when (ex.Error.Code is ErrorCode.Local_State)
        {
            // No transaction was open: nothing to abort.
        }
    }

    private sealed class PartitionState(PartitionProcessor processor, DateTimeOffset now)
    {
        public PartitionProcessor Processor { get; } = processor;
        public DateTimeOffset LastRecordAt { get; set; } = now;
        public long StreamTimeAtLastRecord { get; set; } = long.MinValue;
    }

    private readonly record struct PendingMessage(string Topic, Message<string?, byte[]> Message);

    private sealed class KafkaOutput(ProcessorWorker worker) : IProcessorOutput
    {
        public ConsumeResult<string?, byte[]>? Current { get; set; }

        public void Rejected(Rejection rejection)
        {
            worker._counters.AddRejected(rejection.Reason);
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
            worker._pending.Add(new PendingMessage(worker._settings.Topics.DeadLetter,
                new Message<string?, byte[]> { Key = source.Message.Key, Value = source.Message.Value ?? [], Headers = headers }));
        }

        public void WindowClosed(ClosedWindow window) =>
            worker._pending.Add(new PendingMessage(worker._settings.Topics.Features, new Message<string?, byte[]>
            {
                Key = window.Entity,
                Value = JsonSerializer.SerializeToUtf8Bytes(window.ToEvent(), ContractsJsonContext.Default.FeatureVectorEvent),
            }));

        public void Scored(BaselineScore score)
        {
            worker._counters.RecordScore(RobustBaselineScorer.ModelName, score.Score, score.Threshold);
            worker._pending.Add(new PendingMessage(worker._settings.Topics.Scores, new Message<string?, byte[]>
            {
                Key = score.Window.Entity,
                Value = JsonSerializer.SerializeToUtf8Bytes(
                    new ScoreEvent(score.Window.Entity, score.Window.Bounds.Start, score.Window.Bounds.End, RobustBaselineScorer.ModelName,
                        RobustBaselineScorer.ModelVersion, score.Score, score.Threshold, score.IsAnomaly,
                        score.Contributors(worker._settings.Alerts.TopContributors)),
                    ContractsJsonContext.Default.ScoreEvent),
            }));
        }

        public void Alert(AnomalyEvent alert)
        {
            worker._counters.AddAlert(alert, worker._clock.GetUtcNow());
            worker._pending.Add(new PendingMessage(worker._settings.Topics.Alerts, new Message<string?, byte[]>
            {
                Key = alert.Entity,
                Value = JsonSerializer.SerializeToUtf8Bytes(alert, ContractsJsonContext.Default.AnomalyEvent),
            }));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka {Client} error {Code}: {Reason}")]
    private static partial void LogKafkaError(ILogger logger, string client, string code, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Processor assigned partitions {Partitions}")]
    private static partial void LogAssigned(ILogger logger, string partitions);

    [LoggerMessage(Level = LogLevel.Information, Message = "Processor revoked partitions {Partitions}")]
    private static partial void LogRevoked(ILogger logger, string partitions);

    [LoggerMessage(Level = LogLevel.Error, Message = "Processor transaction failed and was aborted: {Reason}")]
    private static partial void LogTransactionFailed(ILogger logger, string reason);
}
