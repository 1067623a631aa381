using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Streaming.Host.Pipeline;

/// <summary>
/// State snapshots (<c>Processor:Snapshots</c>), so that a restore replays what came after the newest snapshot instead of
/// the whole input. After a batch, each owned partition that has absorbed new records and is due (every
/// <c>Interval</c> of wall time, or <c>EveryBatches</c> batches) has its complete state serialized and added to that
/// batch's outputs for the snapshot topic, tagged with the input offset it corresponds to (the batch's position): it
/// commits in the same transaction as the outputs and the position, or, at-least-once, is produced before the position is
/// committed. On assignment the newest snapshot whose offset is at most the committed position is loaded, and the records
/// from its offset to the committed position are replayed as before. No snapshot, another format version or other
/// settings, a bad checksum or a state that does not decode: the reason is logged and counted, and the partition is
/// replayed from the beginning with fresh state — never restored from a state that may be wrong.
/// </summary>
internal abstract partial class PartitionWorker<TState>
{
    private readonly Dictionary<int, SnapshotSchedule> _snapshotSchedules = [];
    private string? _stateFingerprint;
    private bool _snapshotsUnsupportedLogged;

    /// <summary>Whether this partition state's complete state can be written and read back (false: restores replay from the start).</summary>
    protected virtual bool CanSnapshot(TState state) => false;

    protected virtual void WriteSnapshot(TState state, BinaryWriter writer) => throw new NotSupportedException();

    protected virtual void ReadSnapshot(TState state, BinaryReader reader) => throw new NotSupportedException();

    /// <summary>Every setting that shapes the state, as text; a snapshot written under other settings is not used.</summary>
    protected virtual string StateSettings => "";

    /// <summary>Time spent rebuilding state in assignments (snapshot loads and replays), since start.</summary>
    public TimeSpan RestoreTime { get; private set; }

    /// <summary>Of <see cref="RestoreTime"/>, the part spent finding, reading and decoding snapshots.</summary>
    public TimeSpan SnapshotLoadTime { get; private set; }

    /// <summary>Bytes of the snapshots loaded (payload, all chunks).</summary>
    public long SnapshotBytesLoaded { get; private set; }

    /// <summary>Snapshots this worker has loaded on assignment.</summary>
    public long SnapshotsLoaded { get; private set; }

    /// <summary>Snapshots this worker has handed to its publisher.</summary>
    public long SnapshotsWritten { get; private set; }

    /// <summary>Restores that found no usable snapshot and replayed from the beginning.</summary>
    public long SnapshotFallbacks { get; private set; }

    /// <summary>Per partition, the input offset of the snapshot its last restore started from (tests and the benchmark read it).</summary>
    internal Dictionary<int, long> RestoredFrom { get; } = [];

    /// <summary>Bytes of the last snapshot written (all chunks' payload).</summary>
    public long LastSnapshotBytes { get; private set; }

    private bool SnapshotsEnabled => Settings.Processor.Snapshots.Enabled;

    private string StateFingerprint => _stateFingerprint ??= SnapshotRecords.Fingerprint($"{Role}|{InputTopic}|{StateSettings}");

    /// <summary>Starts a partition's snapshot schedule on assignment: its first snapshot is due one interval (or EveryBatches batches) from now.</summary>
    private void ScheduleSnapshots(int partition, TState state, DateTimeOffset now) =>
        _snapshotSchedules[partition] = new SnapshotSchedule { DueAt = now + Settings.Processor.Snapshots.Interval, LastOffset = state.NextOffset };

    /// <summary>Counts a batch that brought a partition new records (for <c>EveryBatches</c>).</summary>
    private void CountSnapshotBatch(int partition)
    {
        if (_snapshotSchedules.TryGetValue(partition, out var schedule))
            schedule.Batches++;
    }

    /// <summary>Adds the due partitions' snapshots to the batch's outputs, after the batch's AfterBatch (nothing closed is left unemitted).</summary>
    private void AddDueSnapshots(List<PendingMessage> pending, DateTimeOffset now)
    {
        if (!SnapshotsEnabled)
            return;
        var options = Settings.Processor.Snapshots;
        foreach (var (partition, state) in _partitions)
        {
            if (!_snapshotSchedules.TryGetValue(partition, out var schedule) || state.NextOffset == schedule.LastOffset)
                continue;
            if (now < schedule.DueAt && !(options.EveryBatches is { } every && schedule.Batches >= every))
                continue;
            if (!CanSnapshot(state))
            {
                if (!_snapshotsUnsupportedLogged)
                    LogSnapshotsUnsupported(_logger, Role);
                _snapshotsUnsupportedLogged = true;
                continue;
            }
            var started = Stopwatch.GetTimestamp();
            var payload = SnapshotRecords.Serialize(writer => WriteSnapshot(state, writer));
            var chunks = SnapshotRecords.Encode(Role, InputTopic, partition, state.NextOffset, StateFingerprint, payload, options.ChunkBytes);
            for (var i = 0; i < chunks.Count; i++)
            {
                pending.Add(new PendingMessage(Settings.Topics.ProcessorState, new Message<string?, byte[]>
                {
                    Key = SnapshotRecords.Key(Role, InputTopic, partition, schedule.Sequence, i),
                    Value = chunks[i],
                }, partition));
            }
            schedule.Sequence++;
            schedule.Batches = 0;
            schedule.DueAt = now + options.Interval;
            schedule.LastOffset = state.NextOffset;
            SnapshotsWritten++;
            LastSnapshotBytes = payload.Length;
            Counters.AddSnapshotWritten(Role, payload.Length);
            LogSnapshotWritten(_logger, Role, partition, state.NextOffset, payload.Length, chunks.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    /// <summary>
    /// Loads the newest usable snapshot of <paramref name="partition"/> at or before <paramref name="committed"/> into a
    /// fresh state. Returns the state and the offset to replay from, or the fresh state and 0 (replay everything).
    /// </summary>
    private (TState State, long From) RestoreFromSnapshot(int partition, long committed)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            return LoadSnapshot(partition, committed);
        }
        finally
        {
            SnapshotLoadTime += Stopwatch.GetElapsedTime(started);
        }
    }

    private (TState State, long From) LoadSnapshot(int partition, long committed)
    {
        var fresh = CreateState();
        fresh.NextOffset = committed;
        if (!SnapshotsEnabled)
            return (fresh, 0);
        if (!CanSnapshot(fresh))
            return Fallback(fresh, "unsupported", "this scorer's state cannot be snapshotted");
        // The reason reported is the newest snapshot's: why the state most worth having could not be used.
        string? problem = null;
        var reason = "missing";
        void Reject(string why, string detail)
        {
            if (problem is null)
                (reason, problem) = (why, detail);
            LogSnapshotRejected(_logger, Role, partition, detail);
        }
        try
        {
            foreach (var (chunks, payloadProblem) in SnapshotCandidates(partition, committed))
            {
                if (payloadProblem is not null)
                {
                    Reject(payloadProblem.Contains("format version", StringComparison.Ordinal) ? "version" : "corrupt", payloadProblem);
                    continue;
                }
                var first = chunks![0];
                if (first.Fingerprint != StateFingerprint)
                {
                    Reject("settings", $"the snapshot at offset {first.Offset} was written with other settings (fingerprint {first.Fingerprint}, now {StateFingerprint})");
                    continue;
                }
                var started = Stopwatch.GetTimestamp();
                var payload = SnapshotRecords.Assemble(chunks, out var assembleProblem);
                if (payload is null)
                {
                    Reject("corrupt", $"the snapshot at offset {first.Offset}: {assembleProblem}");
                    continue;
                }
                var state = CreateState();
                try
                {
                    SnapshotRecords.Deserialize(payload, reader => ReadSnapshot(state, reader));
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    Reject("corrupt", $"the snapshot at offset {first.Offset} does not decode: {ex.Message}");
                    continue;
                }
                state.NextOffset = committed;
                SnapshotsLoaded++;
                SnapshotBytesLoaded += payload.Length;
                RestoredFrom[partition] = first.Offset;
                Counters.AddSnapshotLoaded(Role);
                LogSnapshotLoaded(_logger, Role, partition, first.Offset, payload.Length, Stopwatch.GetElapsedTime(started).TotalMilliseconds, committed - first.Offset);
                return (state, first.Offset);
            }
        }
        catch (KafkaException ex)
        {
            Reject("unreadable", $"the snapshot topic could not be read: {ex.Error.Reason}");
        }
        return Fallback(fresh, reason, problem ?? $"no snapshot of this partition at or before offset {committed} in '{Settings.Topics.ProcessorState}'");

        (TState, long) Fallback(TState state, string why, string detail)
        {
            SnapshotFallbacks++;
            Counters.AddSnapshotFallback(Role, why);
            LogSnapshotFallback(_logger, Role, partition, detail, committed);
            return (state, 0);
        }
    }

    /// <summary>
    /// The snapshots of this role's input partition in the snapshot topic, newest offset first, each as its complete chunks
    /// (or the reason it cannot be used). Read from the end backwards in growing steps, so the cost does not grow with the topic.
    /// </summary>
    private IEnumerable<(List<SnapshotChunk>? Chunks, string? Problem)> SnapshotCandidates(int partition, long committed)
    {
        var config = _kafka.ConsumerConfig($"{GroupId}-snapshots", $"{Role}-snapshots-{_instanceId}");
        config.EnablePartitionEof = true;
        // Read to the end of a partition: a fetch at the end need not wait for more data (the default waits 500 ms).
        config.FetchWaitMaxMs = 10;
        using var reader = new ConsumerBuilder<string?, byte[]>(config).Build();
        var tp = new TopicPartition(Settings.Topics.ProcessorState, partition);
        var prefix = SnapshotRecords.KeyPrefix(Role, InputTopic, partition);
        var watermarks = reader.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(30));
        var tried = new HashSet<Guid>();
        var reported = new HashSet<long>();
        for (var back = 64L; ; back *= 8)
        {
            var from = Math.Max(watermarks.Low.Value, watermarks.High.Value - back);
            var snapshots = new Dictionary<Guid, List<SnapshotChunk>>();
            var problems = new List<(long At, string Problem)>();
            if (watermarks.High.Value > from)
            {
                reader.Assign(new TopicPartitionOffset(tp, new Offset(from)));
                while (reader.Consume(TimeSpan.FromSeconds(30)) is { IsPartitionEOF: false } record)
                {
                    if (record.Message.Key is not { } key || !key.StartsWith(prefix, StringComparison.Ordinal))
                        continue;
                    if (!SnapshotRecords.TryDecode(record.Message.Value, out var chunk, out var problem, out _))
                    {
                        problems.Add((record.Offset.Value, problem!));
                        continue;
                    }
                    if (chunk!.Offset > committed || tried.Contains(chunk.Id))
                        continue;
                    if (!snapshots.TryGetValue(chunk.Id, out var list))
                        snapshots[chunk.Id] = list = [];
                    list.Add(chunk);
                }
            }
            // Newest first: the highest input offset, then the latest written.
            foreach (var complete in snapshots.Values.Where(c => c.Select(x => x.Index).Distinct().Count() == c[0].Count)
                         .OrderByDescending(c => c[0].Offset))
            {
                tried.Add(complete[0].Id);
                yield return (complete, null);
            }
            foreach (var (at, problem) in problems.Where(p => reported.Add(p.At)).OrderByDescending(p => p.At))
                yield return (null, $"record {at} of '{tp.Topic}' [{partition}]: {problem}");
            if (from <= watermarks.Low.Value)
            {
                reader.Close();
                yield break;
            }
        }
    }

    private sealed class SnapshotSchedule
    {
        public DateTimeOffset DueAt;
        public long LastOffset;
        public int Batches;
        public long Sequence;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "The {Role} wrote a state snapshot of partition {Partition} at offset {Offset}: {Bytes} bytes in {Chunks} chunks, serialized in {Milliseconds:0.0} ms")]
    private static partial void LogSnapshotWritten(ILogger logger, string role, int partition, long offset, long bytes, int chunks, double milliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "The {Role} loaded the state snapshot of partition {Partition} at offset {Offset} ({Bytes} bytes, decoded in {Milliseconds:0.0} ms); {Tail} records remain to replay")]
    private static partial void LogSnapshotLoaded(ILogger logger, string role, int partition, long offset, long bytes, double milliseconds, long tail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Role} cannot use a state snapshot of partition {Partition}: {Problem}")]
    private static partial void LogSnapshotRejected(ILogger logger, string role, int partition, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Role} found no usable state snapshot of partition {Partition} ({Problem}): replaying it from the beginning up to offset {Offset}")]
    private static partial void LogSnapshotFallback(ILogger logger, string role, int partition, string problem, long offset);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Role}'s scorer cannot snapshot its state: Processor:Snapshots is ignored and restores replay from the beginning")]
    private static partial void LogSnapshotsUnsupported(ILogger logger, string role);
}
