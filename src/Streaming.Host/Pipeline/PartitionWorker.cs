using System.Text;
using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Kafka;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;

namespace Streaming.Host.Pipeline;

/// <summary>What a <see cref="PartitionWorker{TState}"/> keeps per owned input partition.</summary>
internal abstract class PartitionWorkerState
{
    /// <summary>The offset after the last record this state has absorbed.</summary>
    public long NextOffset { get; set; }
}

/// <summary>
/// A consume → process → publish worker over one input topic with per-partition state, shared by the processor
/// (telemetry → windows) and the scorer (features → scores). Two stages joined by a bounded channel:
/// <list type="bullet">
/// <item>the consume loop collects a batch, runs each record through its partition's state, and hands the batch's outputs,
/// offsets and consumer-group metadata to the publisher;</item>
/// <item>the publisher owns the producer and commits each batch in one Kafka transaction (exactly-once) or produces and
/// then commits offsets (at-least-once).</item>
/// </list>
/// Back-pressure: with <c>Processor:MaxInFlightBatches</c> batches in flight the consume loop pauses its partitions and
/// keeps polling (so heartbeats and rebalances are served) until the publisher is down to half, then resumes them. On a
/// revoke every in-flight batch is committed before the partitions are given up, so the next owner starts from committed
/// state. A fatal producer error recreates the producer and resumes from the committed position (PartitionWorker.Recovery.cs);
/// any other publish error, a fenced producer, or a publisher call stuck past <c>PublisherStallLimit</c>, stops the worker.
/// </summary>
internal abstract partial class PartitionWorker<TState> where TState : PartitionWorkerState
{
    private readonly KafkaCluster _kafka;
    private readonly ILogger _logger;
    private readonly string _instanceId;
    private readonly Dictionary<int, TState> _partitions = [];
    private readonly Dictionary<int, TState> _parked = [];
    private readonly List<ConsumeResult<string?, byte[]>> _batch = [];
    private readonly bool _exactlyOnce;
    private readonly object _gate = new();
    private Channel<InFlightBatch> _channel = null!;
    private Task _publisher = Task.CompletedTask;
    private int _inFlight;
    private int _restoring;
    private int _assignedCount;
    private int _committedBatches;
    private volatile bool _crashed;
    private long _processed;
    // At-least-once commits through the consumer (librdkafka's commit is thread-safe); set at the first assignment.
    private Action<List<TopicPartitionOffset>>? _commitOffsets;

    protected PartitionWorker(StreamingSettings settings, KafkaCluster kafka, PipelineCounters counters, TimeProvider clock, ILogger logger,
        string? instanceId)
    {
        Settings = settings;
        _kafka = kafka;
        Counters = counters;
        Clock = clock;
        _logger = logger;
        _instanceId = instanceId ?? $"{Environment.MachineName}-{Environment.ProcessId}";
        _exactlyOnce = settings.Processor.Delivery == DeliveryGuarantee.ExactlyOnce;
    }

    protected StreamingSettings Settings { get; }

    protected PipelineCounters Counters { get; }

    protected TimeProvider Clock { get; }

    /// <summary>The role's name in client ids, logs and metrics (processor, scorer).</summary>
    protected abstract string Role { get; }

    protected abstract string InputTopic { get; }

    protected abstract string GroupId { get; }

    /// <summary>Fresh state for a newly owned partition.</summary>
    protected abstract TState CreateState();

    /// <summary>Runs one input record through its partition's state (live, or replayed into a discarding output).</summary>
    protected abstract void ProcessRecord(TState state, ConsumeResult<string?, byte[]> record, IProcessorOutput output, DateTimeOffset now, bool replaying);

    /// <summary>After each live batch (and every 1000 replayed records): emit what the batch completed.</summary>
    protected abstract void AfterBatch(TState state, DateTimeOffset now, IProcessorOutput output, bool replaying);

    /// <summary>The partitions were paused by back-pressure and now resume: that time must not look like idle input.</summary>
    protected virtual void OnResumed(TState state, DateTimeOffset now)
    {
    }

    protected virtual void OnStart()
    {
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

    /// <summary>Test hook: runs on the publisher before each batch is published (a slow publisher, to cause back-pressure).</summary>
    internal Action? BeforePublish { get; set; }

    /// <summary>
    /// The serializers for features, scores and alerts, created once at start-up (<see cref="EventSerializerSet.CreateAsync"/>,
    /// which registers the schemas when a Schema Registry is configured). Null: created from the settings when the worker
    /// starts (no network with JSON or fixed Avro ids).
    /// </summary>
    public EventSerializerSet? Serializers { get; init; }

    /// <summary>Partitions currently owned.</summary>
    public int AssignedPartitions => Volatile.Read(ref _assignedCount);

    /// <summary>Records consumed and committed (accepted or dead-lettered).</summary>
    public long Processed => Interlocked.Read(ref _processed);

    public Task RunAsync(CancellationToken cancellationToken) =>
        Task.Factory.StartNew(() => Run(cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(IProducer<string?, byte[]> producer, CancellationToken cancellationToken)
    {
        var maxInFlight = Settings.Processor.MaxInFlightBatches;
        // Before anything is read: a restarted instance fences its crashed predecessor and aborts its open transaction.
        if (_exactlyOnce)
        {
            try
            {
                producer.InitTransactions(TimeSpan.FromSeconds(30));
            }
            catch (KafkaException ex)
            {
                NoteProducerFailure(ex);
                throw;
            }
        }

        using var consumer = new ConsumerBuilder<string?, byte[]>(_kafka.ConsumerConfig(GroupId, $"{Role}-{_instanceId}"))
            .SetErrorHandler((_, e) => LogKafkaError(_logger, $"{Role} consumer", e.Code.ToString(), e.Reason))
            .SetPartitionsAssignedHandler((c, assigned) => (IEnumerable<TopicPartitionOffset>)OnAssigned(c, assigned))
            .SetPartitionsRevokedHandler((_, revoked) => OnRevoked(revoked.Select(p => p.TopicPartition), keepState: true))
            .SetPartitionsLostHandler((_, lost) => OnRevoked(lost.Select(p => p.TopicPartition), keepState: false))
            .Build();
        // Created before the publisher starts, so a failure here leaves no publisher waiting on a channel nobody completes.
        var output = new KafkaProcessorOutput(Settings.Topics, Counters, Clock,
            Serializers ?? EventSerializerSet.CreateAsync(Settings, CancellationToken.None).GetAwaiter().GetResult());
        // Bounded: the consume loop never has more than MaxInFlightBatches batches waiting for or in a transaction.
        _channel = Channel.CreateBounded<InFlightBatch>(new BoundedChannelOptions(maxInFlight)
        {
            SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait,
        });
        _publisher = Task.Factory.StartNew(() => PublishLoop(producer), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        consumer.Subscribe(InputTopic);
        OnStart();

        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                ThrowIfPublisherFailed();
                CollectBatch(consumer, cancellationToken);
                if (ProcessBatch(consumer, output) is { } batch)
                    Enqueue(consumer, batch, maxInFlight, cancellationToken);
                Counters.UpdateLag(Role, consumer);
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
                // Batches already processed are published before the group is left: their state has moved on.
                if (StopPublisher() && _exactlyOnce)
                    TryAbortOpenTransaction(producer);
                consumer.Close();
            }
        }
        if (_crashed)
            return;
        // A clean stop after the publisher failed is still a failure.
        ThrowIfPublisherFailed();
    }

    private void CollectBatch(IConsumer<string?, byte[]> consumer, CancellationToken cancellationToken)
    {
        // _batch may already hold records polled while the partitions were paused: they come first.
        var batch = _batch;
        var deadline = Clock.GetUtcNow() + Settings.Processor.BatchLinger;
        while (batch.Count < Settings.Processor.MaxBatch)
        {
            var remaining = deadline - Clock.GetUtcNow();
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

    private InFlightBatch? ProcessBatch(IConsumer<string?, byte[]> consumer, KafkaProcessorOutput output)
    {
        output.Pending.Clear();
        var now = Clock.GetUtcNow();
        var offsets = new Dictionary<int, long>();
        var records = 0;
        foreach (var record in _batch)
        {
            // A record of a partition revoked while the batch was collected belongs to its new owner now.
            if (!_partitions.TryGetValue(record.Partition.Value, out var state))
                continue;
            output.Current = record;
            ProcessRecord(state, record, output, now, replaying: false);
            state.NextOffset = record.Offset.Value + 1;
            offsets[record.Partition.Value] = record.Offset.Value + 1;
            records++;
        }
        _batch.Clear();
        output.Current = null;
        foreach (var state in _partitions.Values)
            AfterBatch(state, now, output, replaying: false);
        foreach (var partition in offsets.Keys)
            CountSnapshotBatch(partition);
        AddDueSnapshots(output.Pending, now);
        if (output.Pending.Count == 0 && offsets.Count == 0)
            return null;
        var messages = new List<PendingMessage>(output.Pending);
        output.Pending.Clear();
        return new InFlightBatch(messages,
            [.. offsets.Select(o => new TopicPartitionOffset(InputTopic, o.Key, o.Value))],
            _exactlyOnce ? consumer.ConsumerGroupMetadata : null, records);
    }

    /// <summary>
    /// Hands a batch to the publisher. With MaxInFlightBatches in flight, pauses every owned partition and keeps polling
    /// (records already fetched are kept for the next batch) until the publisher is down to half, then resumes.
    /// </summary>
    private void Enqueue(IConsumer<string?, byte[]> consumer, InFlightBatch batch, int maxInFlight, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _inFlight);
        Interlocked.Add(ref _inFlightRecords, batch.Records);
        Counters.AddInFlight(Role, 1, batch.Records);
        if (!_channel.Writer.TryWrite(batch))
            throw new InvalidOperationException($"The {Role} publish channel refused a batch with {Volatile.Read(ref _inFlight)} in flight (bound {maxInFlight}).");
        if (Volatile.Read(ref _inFlight) < maxInFlight)
            return;

        var lowWater = maxInFlight / 2;
        var paused = consumer.Assignment;
        consumer.Pause(paused);
        Counters.SetPaused(Role, paused.Count);
        LogPaused(_logger, Role, paused.Count, maxInFlight);
        var pausedAt = Clock.GetUtcNow();
        try
        {
            while (Volatile.Read(ref _inFlight) > lowWater && !cancellationToken.IsCancellationRequested)
            {
                ThrowIfPublisherFailed();
                // Serves heartbeats, rebalances (which may assign unpaused partitions) and errors.
                if (consumer.Consume(TimeSpan.FromMilliseconds(50)) is { IsPartitionEOF: false } record)
                {
                    _batch.Add(record);
                    consumer.Pause(consumer.Assignment);
                }
            }
        }
        finally
        {
            // After a revoke or a crash the assignment may be empty or gone; Resume of nothing is harmless.
            if (!_crashed)
                consumer.Resume(consumer.Assignment);
            Counters.SetPaused(Role, 0);
        }
        var now = Clock.GetUtcNow();
        foreach (var state in _partitions.Values)
            OnResumed(state, now);
        LogResumed(_logger, Role, (now - pausedAt).TotalMilliseconds);
    }

    /// <summary>
    /// State is per partition and rebuilt on assignment so that output equals an uninterrupted run's: a partition this
    /// instance just gave up and gets back unchanged keeps its state; any other starts from its newest state snapshot at or
    /// before the committed position (or, without a usable one, from the start of its log) and replays the records up to
    /// the committed position through the same code, its outputs discarded (the previous owner committed them).
    /// </summary>
    private List<TopicPartitionOffset> OnAssigned(IConsumer<string?, byte[]> consumer, List<TopicPartition> assigned)
    {
        _commitOffsets ??= offsets => consumer.Commit(offsets);
        var positions = new List<TopicPartitionOffset>(assigned.Count);
        var restoreStarted = System.Diagnostics.Stopwatch.GetTimestamp();
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
                    ScheduleSnapshots(partition, parked, Clock.GetUtcNow());
                    continue;
                }
                var state = CreateState();
                state.NextOffset = next;
                if (next > 0)
                {
                    (state, var from) = RestoreFromSnapshot(partition, next);
                    Replay(tp, from, next, state);
                }
                _partitions[partition] = state;
                ScheduleSnapshots(partition, state, Clock.GetUtcNow());
            }
            _parked.Clear();
        }
        finally
        {
            RestoreTime += System.Diagnostics.Stopwatch.GetElapsedTime(restoreStarted);
            Interlocked.Decrement(ref _restoring);
        }
        Volatile.Write(ref _assignedCount, _partitions.Count);
        LogAssigned(_logger, Role, string.Join(",", assigned.Select(p => p.Partition.Value)));
        return positions;
    }

    /// <summary>
    /// The position committed with the last transaction for an input partition: the newest committed record with this
    /// topic and partition's key in its partition of the positions topic (processor and scorer share that topic). Read
    /// from the end backwards, so the cost does not grow with the topic.
    /// </summary>
    private long ReadStoredPosition(int partition)
    {
        var config = _kafka.ConsumerConfig($"{GroupId}-positions", $"{Role}-positions-{_instanceId}");
        config.EnablePartitionEof = true;
        // Read to the end: a fetch at the end need not wait for more data (the default waits 500 ms per partition restored).
        config.FetchWaitMaxMs = 10;
        using var reader = new ConsumerBuilder<string?, byte[]>(config).Build();
        var tp = new TopicPartition(Settings.Topics.ProcessorOffsets, partition);
        var key = PositionKey(InputTopic, partition);
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
                if (record.Message.Key == key)
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
        // Batches already processed hold outputs and offsets of these partitions: commit them before giving the partitions
        // up, so the next owner (or this instance, if they come back) starts from the state this instance reached.
        DrainInFlight();
        foreach (var partition in partitions)
        {
            if (_partitions.Remove(partition, out var state) && keepState)
                _parked[partition] = state;
        }
        // Records collected but not yet processed will be delivered again from the committed offset to whoever owns
        // the partition next; keeping them would process them twice.
        _batch.RemoveAll(r => partitions.Contains(r.Partition.Value));
        Volatile.Write(ref _assignedCount, _partitions.Count);
        LogRevoked(_logger, Role, string.Join(",", partitions));
    }

    /// <summary>Runs the records in [<paramref name="fromOffset"/>, <paramref name="untilOffset"/>) through <paramref name="state"/>, outputs discarded.</summary>
    private void Replay(TopicPartition partition, long fromOffset, long untilOffset, TState state)
    {
        var config = _kafka.ConsumerConfig($"{GroupId}-restore", $"{Role}-restore-{_instanceId}");
        using var reader = new ConsumerBuilder<string?, byte[]>(config).Build();
        // From the start of the log: its first offset, asked for directly (resolving Offset.Beginning took ~0.5 s per partition on the mock).
        if (fromOffset == 0)
            fromOffset = Math.Max(0, reader.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(30)).Low.Value);
        reader.Assign(new TopicPartitionOffset(partition, new Offset(fromOffset)));
        var discard = new DiscardingOutput();
        var replayed = 0L;
        var lastOffset = fromOffset - 1;
        var now = Clock.GetUtcNow();
        while (lastOffset < untilOffset - 1)
        {
            var record = reader.Consume(TimeSpan.FromSeconds(30))
                ?? throw new InvalidOperationException($"Restoring {partition}: no record after offset {lastOffset} within 30 s (committed offset {untilOffset}).");
            if (record.IsPartitionEOF)
                continue;
            lastOffset = record.Offset.Value;
            if (lastOffset >= untilOffset)
                break;
            ProcessRecord(state, record, discard, now, replaying: true);
            if (++replayed % 1000 == 0)
                AfterBatch(state, now, discard, replaying: true);
        }
        AfterBatch(state, now, discard, replaying: true);
        reader.Close();
        Replayed += replayed;
        Counters.AddRestoreReplayed(Role, replayed);
        LogRestored(_logger, Role, partition.Partition.Value, replayed, fromOffset, untilOffset);
    }

    /// <summary>A processed batch on its way to the publisher: outputs, input positions, and the group generation it belongs to.</summary>
    private sealed record InFlightBatch(List<PendingMessage> Messages, List<TopicPartitionOffset> Offsets, IConsumerGroupMetadata? Group, int Records);

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

    [LoggerMessage(Level = LogLevel.Information, Message = "The {Role} was assigned partitions {Partitions}")]
    private static partial void LogAssigned(ILogger logger, string role, string partitions);

    [LoggerMessage(Level = LogLevel.Information, Message = "The {Role} gave up partitions {Partitions}")]
    private static partial void LogRevoked(ILogger logger, string role, string partitions);

    [LoggerMessage(Level = LogLevel.Information, Message = "The {Role} restored partition {Partition} by replaying {Records} records from offset {From} up to offset {Offset}")]
    private static partial void LogRestored(ILogger logger, string role, int partition, long records, long from, long offset);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The {Role} paused {Partitions} partitions: {InFlight} batches in flight")]
    private static partial void LogPaused(ILogger logger, string role, int partitions, int inFlight);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The {Role} resumed its partitions after {Milliseconds} ms")]
    private static partial void LogResumed(ILogger logger, string role, double milliseconds);
}
