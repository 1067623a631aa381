using System.Collections.Concurrent;
using Prometheus;

namespace Streaming.Host.Pipeline;

/// <summary>State restore and snapshot metrics: what a restore replayed, and snapshots written, loaded and unusable.</summary>
public sealed partial class PipelineCounters
{
    private readonly Counter _restoreReplayed;
    private readonly Counter _snapshotsWritten;
    private readonly Counter _snapshotBytes;
    private readonly Counter _snapshotsLoaded;
    private readonly Counter _snapshotFallbacks;
    private readonly ConcurrentDictionary<string, long> _fallbacksByReason = new(StringComparer.Ordinal);
    private long _restoreReplayedTotal;

    private static (Counter, Counter, Counter, Counter, Counter) CreateRestoreMetrics(MetricFactory metrics) =>
    (
        metrics.CreateCounter("streaming_restore_replayed_records_total",
            "Input records replayed to rebuild partition state after an assignment (from the newest snapshot, or from the beginning), by role", "role"),
        metrics.CreateCounter("streaming_state_snapshots_written_total", "Partition state snapshots written to the snapshot topic, by role", "role"),
        metrics.CreateCounter("streaming_state_snapshot_bytes_total", "Bytes of partition state snapshots written (before chunking), by role", "role"),
        metrics.CreateCounter("streaming_restore_snapshots_loaded_total", "Restores that started from a state snapshot, by role", "role"),
        metrics.CreateCounter("streaming_restore_snapshot_fallbacks_total",
            "Restores that found no usable state snapshot and replayed from the beginning, by role and reason (missing, version, settings, corrupt, unsupported, unreadable)",
            "role", "reason")
    );

    /// <summary>Records replayed by restores since start (any role).</summary>
    public long RestoreReplayedRecords => Interlocked.Read(ref _restoreReplayedTotal);

    /// <summary>Restores that fell back to a full replay for <paramref name="reason"/>.</summary>
    public long SnapshotFallbacks(string reason) => _fallbacksByReason.GetValueOrDefault(reason);

    public void AddRestoreReplayed(string role, long records)
    {
        Interlocked.Add(ref _restoreReplayedTotal, records);
        _restoreReplayed.WithLabels([role]).Inc(records);
    }

    public void AddSnapshotWritten(string role, long bytes)
    {
        _snapshotsWritten.WithLabels([role]).Inc();
        _snapshotBytes.WithLabels([role]).Inc(bytes);
    }

    public void AddSnapshotLoaded(string role) => _snapshotsLoaded.WithLabels([role]).Inc();

    public void AddSnapshotFallback(string role, string reason)
    {
        _fallbacksByReason.AddOrUpdate(reason, 1, (_, n) => n + 1);
        _snapshotFallbacks.WithLabels([role, reason]).Inc();
    }
}
