using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Streaming.Contracts;

namespace Streaming.Host.Pipeline;

/// <summary>
/// The pipeline's counters: System.Diagnostics.Metrics instruments for exporters, plus plain totals the progress line and
/// the end-of-run summary read.
/// </summary>
public sealed class PipelineCounters : IDisposable
{
    public const string MeterName = "Streaming";

    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _produced;
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _windows;
    private readonly Counter<long> _alerts;
    private readonly Counter<long> _rows;
    private readonly ConcurrentDictionary<string, long> _rejectedByReason = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _alertsByStatus = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _rowsByTable = new(StringComparer.Ordinal);
    private long _producedTotal;
    private long _acceptedTotal;
    private long _rejectedTotal;
    private long _windowsTotal;
    private long _alertsTotal;
    private long _rowsTotal;

    public PipelineCounters()
    {
        _produced = _meter.CreateCounter<long>("streaming_samples_produced", description: "Samples the simulator or ingest published to the telemetry topic");
        _accepted = _meter.CreateCounter<long>("streaming_samples_accepted", description: "Samples that entered a window");
        _rejected = _meter.CreateCounter<long>("streaming_records_rejected", description: "Records sent to the dead-letter topic, by reason");
        _windows = _meter.CreateCounter<long>("streaming_windows_closed", description: "Entity windows closed and published as features");
        _alerts = _meter.CreateCounter<long>("streaming_alert_events", description: "Alert events published, by status");
        _rows = _meter.CreateCounter<long>("streaming_sink_rows", description: "Rows the sink committed to TimescaleDB, by table");
    }

    public long Produced => Interlocked.Read(ref _producedTotal);
    public long Accepted => Interlocked.Read(ref _acceptedTotal);
    public long Rejected => Interlocked.Read(ref _rejectedTotal);
    public long Windows => Interlocked.Read(ref _windowsTotal);
    public long Alerts => Interlocked.Read(ref _alertsTotal);
    public long Rows => Interlocked.Read(ref _rowsTotal);

    public IReadOnlyDictionary<string, long> RejectedByReason => _rejectedByReason;
    public IReadOnlyDictionary<string, long> AlertsByStatus => _alertsByStatus;
    public IReadOnlyDictionary<string, long> RowsByTable => _rowsByTable;

    public void AddProduced(long count)
    {
        Interlocked.Add(ref _producedTotal, count);
        _produced.Add(count);
    }

    public void AddAccepted(long count)
    {
        Interlocked.Add(ref _acceptedTotal, count);
        _accepted.Add(count);
    }

    public void AddRejected(RejectionReason reason)
    {
        var code = reason.ToCode();
        Interlocked.Increment(ref _rejectedTotal);
        _rejectedByReason.AddOrUpdate(code, 1, static (_, n) => n + 1);
        _rejected.Add(1, new KeyValuePair<string, object?>("reason", code));
    }

    public void AddWindows(long count)
    {
        Interlocked.Add(ref _windowsTotal, count);
        _windows.Add(count);
    }

    public void AddAlert(string status)
    {
        Interlocked.Increment(ref _alertsTotal);
        _alertsByStatus.AddOrUpdate(status, 1, static (_, n) => n + 1);
        _alerts.Add(1, new KeyValuePair<string, object?>("status", status));
    }

    public void AddRows(string table, long count)
    {
        if (count == 0)
            return;
        Interlocked.Add(ref _rowsTotal, count);
        _rowsByTable.AddOrUpdate(table, count, (_, n) => n + count);
        _rows.Add(count, new KeyValuePair<string, object?>("table", table));
    }

    public void Dispose() => _meter.Dispose();
}
