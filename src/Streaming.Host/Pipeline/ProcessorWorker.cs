using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Kafka;
using Streaming.Models.Pipeline;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;

namespace Streaming.Host.Pipeline;

/// <summary>
/// The processor role: consumes the telemetry topic, runs each partition's <see cref="PartitionProcessor"/>, and publishes
/// features, alerts and dead letters. Exactly-once by default: a batch's outputs and its consumed offsets commit in one
/// Kafka transaction, so downstream readers using read_committed see each result once.
/// </summary>
internal sealed partial class ProcessorWorker
{
    private readonly StreamingSettings _settings;
    private readonly KafkaCluster _kafka;
    private readonly PipelineCounters _counters;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly string _instanceId;
    private readonly Dictionary<int, PartitionState> _partitions = [];
    private readonly Dictionary<int, PartitionState> _parked = [];
    private readonly List<ConsumeResult<string?, byte[]>> _batch = [];
    private readonly bool _exactlyOnce;
    private int _restoring;
    private int _assignedCount;
    private int _committedBatches;
    private bool _crashed;
    private long _processed;

    private readonly ModelSetProvider? _models;

    /// <param name="models">The model versions to score with; null scores with the statistical baseline alone.</param>
    public ProcessorWorker(StreamingSettings settings, KafkaCluster kafka, PipelineCounters counters, TimeProvider clock, ILogger logger,
        string? instanceId = null, ModelSetProvider? models = null)
    {
        _models = models;
        _settings = settings;
        _kafka = kafka;
        _counters = counters;
        _clock = clock;
        _logger = logger;
        _instanceId = instanceId ?? $"{Environment.MachineName}-{Environment.ProcessId}";
        _exactlyOnce = settings.Processor.Delivery == DeliveryGuarantee.ExactlyOnce;
    }

    /// <summary>True while a partition's state is being rebuilt from its history (not ready for traffic).</summary>
    public bool IsRestoring => Volatile.Read(ref _restoring) > 0;

    /// <summary>Records replayed to rebuild state after assignments (not counted as processed).</summary>
    public long Replayed { get; private set; }

    /// <summary>
    /// Test hook: after this many committed batches, the next batch is processed (state moves on) and then the worker stops
    /// dead inside its open transaction — no produce, no commit, no abort, no group leave — as a crash would.
    /// </summary>
    internal int? CrashAfterBatches { get; set; }

    /// <summary>Partitions currently owned.</summary>
    public int AssignedPartitions => Volatile.Read(ref _assignedCount);

    /// <summary>Records consumed and committed (accepted or dead-lettered).</summary>
    public long Processed => Interlocked.Read(ref _processed);

    public Task RunAsync(CancellationToken cancellationToken) =>
        Task.Factory.StartNew(() => Run(cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken cancellationToken)
    {
        var exactlyOnce = _exactlyOnce;
        var producerConfig = _kafka.ProducerConfig($"processor-{_instanceId}");
        if (exactlyOnce)
            producerConfig.TransactionalId = $"{_settings.Processor.GroupId}-{_instanceId}";
        producerConfig.QueueBufferingMaxMessages = 500_000;
        using var producer = new ProducerBuilder<string?, byte[]>(producerConfig)
            .SetErrorHandler((_, e) => LogKafkaError(_logger, "producer", e.Code.ToString(), e.Reason))
            .Build();
        if (exactlyOnce)
            producer.InitTransactions(TimeSpan.FromSeconds(30));

        var processorSettings = (_models is null ? _settings.ToProcessorSettings() : _settings.ToProcessorSettings(_models)).Validated();
        using var consumer = new ConsumerBuilder<string?, byte[]>(_kafka.ConsumerConfig(_settings.Processor.GroupId, $"processor-{_instanceId}"))
            .SetErrorHandler((_, e) => LogKafkaError(_logger, "consumer", e.Code.ToString(), e.Reason))
            .SetPartitionsAssignedHandler((c, assigned) => (IEnumerable<TopicPartitionOffset>)OnAssigned(c, assigned, processorSettings))
            .SetPartitionsRevokedHandler((_, revoked) => OnRevoked(revoked.Select(p => p.TopicPartition), keepState: true))
            .SetPartitionsLostHandler((_, lost) => OnRevoked(lost.Select(p => p.TopicPartition), keepState: false))
            .Build();
        consumer.Subscribe(_settings.Topics.Telemetry);
        _counters.SetActiveModel(RobustBaselineScorer.ModelName, RobustBaselineScorer.ModelVersion);

        var batch = _batch;
        var output = new KafkaProcessorOutput(_settings.Topics, _counters, _clock, SerializersOrCreate());
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                CollectBatch(consumer, batch, cancellationToken);
                ProcessBatch(batch, output);
                Publish(producer, consumer, batch, output.Pending, exactlyOnce);
                _counters.UpdateLag("processor", consumer);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (SimulatedCrashException)
        {
            // A crash: no abort, no commit, no clean leave of the group. The next producer with this transactional id
            // fences this one and aborts its open transaction.
            return;
        }
        finally
        {
            if (!_crashed)
            {
                if (exactlyOnce)
                    TryAbortOpenTransaction(producer);
                consumer.Close();
            }
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

    private void ProcessBatch(List<ConsumeResult<string?, byte[]>> batch, KafkaProcessorOutput output)
    {
        output.Pending.Clear();
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
            state.NextOffset = record.Offset.Value + 1;
        }
        output.Current = null;
        foreach (var state in _partitions.Values)
        {
            ApplyIdlePolicy(state, now);
            var closed = state.Processor.EmitClosed(output);
            _counters.AddWindows(closed);
            state.Processor.EmitUpdates(output);
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

    private void Publish(IProducer<string?, byte[]> producer, IConsumer<string?, byte[]> consumer, List<ConsumeResult<string?, byte[]>> batch,
        List<PendingMessage> pending, bool exactlyOnce)
    {
        var offsets = batch.Where(r => _partitions.ContainsKey(r.Partition.Value))
            .GroupBy(r => r.TopicPartition)
            .Select(g => new TopicPartitionOffset(g.Key, g.Max(r => r.Offset.Value) + 1))
            .ToList();
        if (pending.Count == 0 && offsets.Count == 0)
            return;
        if (exactlyOnce)
        {
            producer.BeginTransaction();
            try
            {
                if (CrashAfterBatches is { } crashAfter && _committedBatches >= crashAfter)
                {
                    _crashed = true;
                    throw new SimulatedCrashException();
                }
                ProduceAll(producer, pending);
                // On a real broker the transaction makes outputs and position atomic. librdkafka's mock cluster neither
                // hides aborted records from read_committed readers nor stores transactional offset commits, so the
                // position also goes to a topic, and only after the outputs are durable: there a crash can repeat a
                // batch's outputs but never lose them.
                producer.Flush(TimeSpan.FromSeconds(30));
                foreach (var offset in offsets)
                {
                    producer.Produce(new TopicPartition(_settings.Topics.ProcessorOffsets, offset.Partition), new Message<string?, byte[]>
                    {
                        Key = $"{offset.Topic}:{offset.Partition.Value}",
                        Value = Encoding.UTF8.GetBytes(offset.Offset.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    });
                }
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
            ProduceAll(producer, pending);
            producer.Flush(TimeSpan.FromSeconds(30));
            if (offsets.Count > 0)
                consumer.Commit(offsets);
        }
        var processed = batch.Count(r => _partitions.ContainsKey(r.Partition.Value));
        Interlocked.Add(ref _processed, processed);
        _counters.AddStageRecords("processor", processed);
        _committedBatches++;
    }

    private static void ProduceAll(IProducer<string?, byte[]> producer, List<PendingMessage> messages)
    {
        foreach (var pending in messages)
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
        messages.Clear();
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

        /// <summary>The offset after the last record this state has absorbed.</summary>
        public long NextOffset { get; set; }
    }

    /// <summary>
    /// State is per partition and rebuilt on assignment so that output equals an uninterrupted run's: a partition this
    /// instance just gave up and gets back unchanged keeps its state; any other is replayed from the start of its log up to
    /// the group's committed offset through the same processor, its outputs discarded (the previous owner committed them).
    /// </summary>
    private List<TopicPartitionOffset> OnAssigned(IConsumer<string?, byte[]> consumer, List<TopicPartition> assigned, ProcessorSettings processorSettings)
    {
        var positions = new List<TopicPartitionOffset>(assigned.Count);
        Interlocked.Increment(ref _restoring);
        try
        {
            var groupCommitted = _exactlyOnce ? null : consumer.Committed(assigned, TimeSpan.FromSeconds(30));
            foreach (var tp in assigned)
            {
                var partition = tp.Partition.Value;
                var next = _exactlyOnce
                    ? ReadStoredPosition(partition)
                    : Math.Max(0, groupCommitted!.First(c => c.Partition == tp.Partition).Offset.Value);
                positions.Add(new TopicPartitionOffset(tp, next > 0 ? new Offset(next) : Offset.Beginning));
                if (_parked.Remove(partition, out var parked) && parked.NextOffset == next)
                {
                    _partitions[partition] = parked;
                    continue;
                }
                var state = new PartitionState(new PartitionProcessor(processorSettings, _clock), _clock.GetUtcNow()) { NextOffset = next };
                if (next > 0)
                    Replay(tp, next, state);
                _partitions[partition] = state;
            }
            _parked.Clear();
        }
        finally
        {
            Interlocked.Decrement(ref _restoring);
        }
        Volatile.Write(ref _assignedCount, _partitions.Count);
        LogAssigned(_logger, string.Join(",", assigned.Select(p => p.Partition.Value)));
        return positions;
    }

    /// <summary>
    /// The position committed with the last transaction for a telemetry partition: the newest committed record in its
    /// partition of the positions topic. Read from the end backwards, so the cost does not grow with the topic.
    /// </summary>
    private long ReadStoredPosition(int partition)
    {
        var config = _kafka.ConsumerConfig($"{_settings.Processor.GroupId}-positions", $"processor-positions-{_instanceId}");
        config.EnablePartitionEof = true;
        using var reader = new ConsumerBuilder<string?, byte[]>(config).Build();
        var tp = new TopicPartition(_settings.Topics.ProcessorOffsets, partition);
        var watermarks = reader.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(30));
        for (var back = 64L; ; back *= 8)
        {
            var from = Math.Max(watermarks.Low.Value, watermarks.High.Value - back);
            reader.Assign(new TopicPartitionOffset(tp, new Offset(from)));
            long? latest = null;
            while (reader.Consume(TimeSpan.FromSeconds(30)) is { } record)
            {
                if (record.IsPartitionEOF)
                    break;
                latest = long.Parse(Encoding.UTF8.GetString(record.Message.Value), System.Globalization.CultureInfo.InvariantCulture);
            }
            if (latest is not null || from <= watermarks.Low.Value)
            {
                reader.Close();
                return latest ?? 0;
            }
        }
    }

    private void OnRevoked(IEnumerable<TopicPartition> revoked, bool keepState)
    {
        var partitions = revoked.Select(tp => tp.Partition.Value).ToHashSet();
        foreach (var partition in partitions)
        {
            if (_partitions.Remove(partition, out var state) && keepState)
                _parked[partition] = state;
        }
        // Records collected but not yet processed will be delivered again from the committed offset to whoever owns
        // the partition next; keeping them would process them twice.
        _batch.RemoveAll(r => partitions.Contains(r.Partition.Value));
        Volatile.Write(ref _assignedCount, _partitions.Count);
        LogRevoked(_logger, string.Join(",", partitions));
    }

    private void Replay(TopicPartition partition, long untilOffset, PartitionState state)
    {
        var config = _kafka.ConsumerConfig($"{_settings.Processor.GroupId}-restore", $"processor-restore-{_instanceId}");
        using var reader = new ConsumerBuilder<string?, byte[]>(config).Build();
        reader.Assign(new TopicPartitionOffset(partition, Offset.Beginning));
        var discard = new DiscardingOutput();
        var replayed = 0L;
        var lastOffset = -1L;
        while (lastOffset < untilOffset - 1)
        {
            var record = reader.Consume(TimeSpan.FromSeconds(30))
                ?? throw new InvalidOperationException($"Restoring {partition}: no record after offset {lastOffset} within 30 s (committed offset {untilOffset}).");
            if (record.IsPartitionEOF)
                continue;
            lastOffset = record.Offset.Value;
            if (lastOffset >= untilOffset)
                break;
            state.Processor.Process(record.Message.Value, record.Message.Timestamp.UnixTimestampMs, discard);
            if (++replayed % 1000 == 0)
                state.Processor.EmitClosed(discard);
        }
        state.Processor.EmitClosed(discard);
        state.StreamTimeAtLastRecord = state.Processor.Windows.StreamTimeMs;
        reader.Close();
        Replayed += replayed;
        LogRestored(_logger, partition.Partition.Value, replayed, untilOffset);
    }

    private sealed class DiscardingOutput : IProcessorOutput
    {
        public void Rejected(Rejection rejection)
        {
        }

        public void WindowClosed(ClosedWindow window)
        {
        }

        public void Scored(WindowAssessment assessment)
        {
        }

        public void Alert(AnomalyEvent alert)
        {
        }

        public void Prediction(DowntimePredictionEvent prediction)
        {
        }
    }

    private sealed class SimulatedCrashException : Exception;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka {Client} error {Code}: {Reason}")]
    private static partial void LogKafkaError(ILogger logger, string client, string code, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Processor assigned partitions {Partitions}")]
    private static partial void LogAssigned(ILogger logger, string partitions);

    [LoggerMessage(Level = LogLevel.Information, Message = "Processor revoked partitions {Partitions}")]
    private static partial void LogRevoked(ILogger logger, string partitions);

    [LoggerMessage(Level = LogLevel.Information, Message = "Processor restored partition {Partition} by replaying {Records} records up to offset {Offset}")]
    private static partial void LogRestored(ILogger logger, int partition, long records, long offset);

    [LoggerMessage(Level = LogLevel.Error, Message = "Processor transaction failed and was aborted: {Reason}")]
    private static partial void LogTransactionFailed(ILogger logger, string reason);
}
