using System.Collections.Concurrent;
using System.Globalization;
using Confluent.Kafka;
using Prometheus;
using Streaming.Contracts;
using Streaming.Host.Operations;

namespace Streaming.Host.Pipeline;

/// <summary>
/// The pipeline's metrics in a prometheus-net registry of its own (several pipelines in one process, as tests run them, do
/// not mix), plus plain totals the progress line and the end-of-run summary read. Counters are Prometheus counters; gauges
/// whose series come and go (lag per owned partition, drift per feature) are filled from this instance's state just before
/// each collection.
/// </summary>
public sealed partial class PipelineCounters : IDisposable
{
    private readonly CollectorRegistry _registry = Metrics.NewCustomRegistry();
    private readonly Counter _produced;
    private readonly Counter _accepted;
    private readonly Counter _rejected;
    private readonly Counter _windows;
    private readonly Counter _alerts;
    private readonly Counter _rows;
    private readonly ConcurrentDictionary<string, long> _rejectedByReason = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _alertsByStatus = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _rowsByTable = new(StringComparer.Ordinal);
    private long _producedTotal;
    private long _acceptedTotal;
    private long _rejectedTotal;
    private long _windowsTotal;
    private long _alertsTotal;
    private long _rowsTotal;

    private static readonly double[] LatencyBuckets = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
    private static readonly double[] ScoreBuckets = [0.5, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 50, 100];
    private static readonly double[] BatchBuckets = [1, 10, 50, 100, 500, 1000, 2500, 5000, 10_000, 50_000, 100_000];
    private static readonly double[] DurationBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Counter _stageRecords;
    private readonly Histogram _endToEndLatency;
    private readonly Histogram _anomalyScore;
    private readonly Histogram _sinkBatchRecords;
    private readonly Histogram _sinkBatchDuration;
    private readonly Counter _httpRequests;
    private readonly ConcurrentDictionary<(string Role, string Topic, int Partition), long> _lag = new();
    private readonly ConcurrentDictionary<(string Model, string Version, string Feature), double> _drift = new();
    private readonly ConcurrentDictionary<string, string> _models = new(StringComparer.Ordinal);

    public PipelineCounters()
    {
        var metrics = Metrics.WithCustomRegistry(_registry);
        _produced = metrics.CreateCounter("streaming_samples_produced_total", "Samples the simulator or ingest published to the telemetry topic");
        _accepted = metrics.CreateCounter("streaming_samples_accepted_total", "Samples that entered a window");
        _rejected = metrics.CreateCounter("streaming_records_rejected_total", "Records sent to the dead-letter topic, by reason", "reason");
        _windows = metrics.CreateCounter("streaming_windows_closed_total", "Entity windows closed and published as features");
        _alerts = metrics.CreateCounter("streaming_alert_events_total", "Alert events published, by status", "status");
        _rows = metrics.CreateCounter("streaming_sink_rows_total", "Rows the sink committed to TimescaleDB, by table", "table");
        _stageRecords = metrics.CreateCounter("streaming_stage_records_total",
            "Records handled per stage (ingest, replay, simulator, processor, sink); rate() gives records/s", "stage");
        _endToEndLatency = metrics.CreateHistogram("streaming_end_to_end_latency_seconds",
            "From a window's end (event time) to its alert event being produced; includes the window grace period",
            new HistogramConfiguration { Buckets = LatencyBuckets });
        _anomalyScore = metrics.CreateHistogram("streaming_anomaly_score", "Anomaly score of every scored window, by model",
            new HistogramConfiguration { Buckets = ScoreBuckets, LabelNames = ["model"] });
        _sinkBatchRecords = metrics.CreateHistogram("streaming_sink_batch_records", "Records per batch the sink committed",
            new HistogramConfiguration { Buckets = BatchBuckets });
        _sinkBatchDuration = metrics.CreateHistogram("streaming_sink_batch_duration_seconds", "Time to write and commit one sink batch",
            new HistogramConfiguration { Buckets = DurationBuckets });
        _httpRequests = metrics.CreateCounter("streaming_http_requests_total", "HTTP API requests, by route and status code", "route", "status");
        (_restoreReplayed, _snapshotsWritten, _snapshotBytes, _snapshotsLoaded, _snapshotFallbacks) = CreateRestoreMetrics(metrics);
        _producerRecreations = CreateProducerMetrics(metrics);
        _pauses = metrics.CreateCounter("streaming_partition_pauses_total",
            "Times a worker paused its partitions because its publisher had MaxInFlightBatches batches in flight, by role", "role");
        ObservedGauge[] observed =
        [
            new(metrics.CreateGauge("streaming_consumer_lag", "Records behind the partition's high watermark, by role, topic and partition",
                "role", "topic", "partition"), ObserveLag),
            new(metrics.CreateGauge("streaming_model_drift",
                "Input drift per model version and feature: the drift monitor's statistic (PSI by default) of the newest live windows against the training reference",
                "model", "version", "feature"), ObserveDrift),
            new(metrics.CreateGauge("streaming_model_info", "The model and version in use (value 1)", "model", "version"), ObserveModels),
            new(metrics.CreateGauge("streaming_inflight_batches", "Processed batches waiting for or in their publish transaction, by role", "role"),
                () => ObserveBackPressure(b => b.Batches)),
            new(metrics.CreateGauge("streaming_inflight_records", "Input records of the batches in flight between processing and publishing, by role", "role"),
                () => ObserveBackPressure(b => b.Records)),
            new(metrics.CreateGauge("streaming_paused_partitions", "Partitions paused by back-pressure, by role", "role"),
                () => ObserveBackPressure(b => b.Paused)),
        ];
        _registry.AddBeforeCollectCallback(() =>
        {
            foreach (var gauge in observed)
                gauge.Observe();
        });
    }

    // Back-pressure (issue 3): per role, what is in flight between a worker's consume loop and its publisher.
    private sealed class BackPressure
    {
        public long Batches;
        public long Records;
        public long Paused;
    }

    private readonly Counter _pauses;
    private readonly ConcurrentDictionary<string, BackPressure> _backPressure = new(StringComparer.Ordinal);
    private long _pausesTotal;
    private long _maxInFlightRecords;
    private long _maxInFlightBatches;

    /// <summary>Times any worker paused its partitions.</summary>
    public long Pauses => Interlocked.Read(ref _pausesTotal);

    /// <summary>High-water mark of records in flight between processing and publishing (any role) since start.</summary>
    public long MaxInFlightRecords => Interlocked.Read(ref _maxInFlightRecords);

    /// <summary>High-water mark of batches in flight between processing and publishing (any role) since start.</summary>
    public long MaxInFlightBatches => Interlocked.Read(ref _maxInFlightBatches);

    /// <summary>A batch entered (positive) or left (negative, committed) the role's publish pipeline.</summary>
    public void AddInFlight(string role, int batches, long records)
    {
        var state = _backPressure.GetOrAdd(role, static _ => new BackPressure());
        var nowBatches = Interlocked.Add(ref state.Batches, batches);
        var nowRecords = Interlocked.Add(ref state.Records, records);
        RaiseTo(ref _maxInFlightBatches, nowBatches);
        RaiseTo(ref _maxInFlightRecords, nowRecords);

        static void RaiseTo(ref long highWater, long value)
        {
            var seen = Interlocked.Read(ref highWater);
            while (value > seen)
            {
                var was = Interlocked.CompareExchange(ref highWater, value, seen);
                if (was == seen)
                    return;
                seen = was;
            }
        }
    }

    /// <summary>The role paused <paramref name="partitions"/> partitions (counted as one pause) or, with 0, resumed them.</summary>
    public void SetPaused(string role, int partitions)
    {
        var state = _backPressure.GetOrAdd(role, static _ => new BackPressure());
        Interlocked.Exchange(ref state.Paused, partitions);
        if (partitions == 0)
            return;
        Interlocked.Increment(ref _pausesTotal);
        _pauses.WithLabels([role]).Inc();
    }

    private IEnumerable<(string[] Labels, double Value)> ObserveBackPressure(Func<BackPressure, long> value) =>
        _backPressure.Select(kv => (new[] { kv.Key }, (double)value(kv.Value)));

    /// <summary>This instance's metrics: the <c>/metrics</c> endpoint exports them.</summary>
    internal CollectorRegistry Registry => _registry;

    /// <summary>The exposition <c>/metrics</c> serves, as text (tests read it).</summary>
    internal async Task<string> ExpositionAsync(CancellationToken cancellationToken = default)
    {
        using var text = new MemoryStream();
        await _registry.CollectAndExportAsTextAsync(text, cancellationToken).ConfigureAwait(false);
        return System.Text.Encoding.UTF8.GetString(text.GetBuffer(), 0, (int)text.Length);
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
        _produced.Inc(count);
    }

    public void AddAccepted(long count)
    {
        Interlocked.Add(ref _acceptedTotal, count);
        _accepted.Inc(count);
    }

    public void AddRejected(RejectionReason reason)
    {
        var code = reason.ToCode();
        Interlocked.Increment(ref _rejectedTotal);
        _rejectedByReason.AddOrUpdate(code, 1, static (_, n) => n + 1);
        _rejected.WithLabels([code]).Inc();
    }

    public void AddWindows(long count)
    {
        Interlocked.Add(ref _windowsTotal, count);
        _windows.Inc(count);
    }

    /// <summary>An alert event about to be produced at <paramref name="now"/>: counted by status, its latency recorded.</summary>
    public void AddAlert(AnomalyEvent alert, DateTimeOffset now)
    {
        AddAlert(alert.Status);
        _endToEndLatency.Observe(Math.Max(0, (now - alert.WindowEnd).TotalSeconds));
    }

    public void AddAlert(string status)
    {
        Interlocked.Increment(ref _alertsTotal);
        _alertsByStatus.AddOrUpdate(status, 1, static (_, n) => n + 1);
        _alerts.WithLabels([status]).Inc();
    }

    public void AddRows(string table, long count)
    {
        if (count == 0)
            return;
        Interlocked.Add(ref _rowsTotal, count);
        _rowsByTable.AddOrUpdate(table, count, (_, n) => n + count);
        _rows.WithLabels([table]).Inc(count);
    }

    public void AddStageRecords(string stage, long count)
    {
        if (count > 0)
            _stageRecords.WithLabels([stage]).Inc(count);
    }

    public void AddHttpRequest(string route, int status) =>
        _httpRequests.WithLabels([route, status.ToString(CultureInfo.InvariantCulture)]).Inc();

    /// <summary>A scored window: its score into the distribution.</summary>
    public void RecordScore(string model, double score, double threshold) =>
        _anomalyScore.WithLabels([model]).Observe(score);

    /// <summary>The drift monitor's latest per-feature statistic for a model version; a new version replaces the model's old series.</summary>
    public void SetDrift(string model, string version, IReadOnlyList<string> features, ReadOnlySpan<double> values)
    {
        foreach (var key in _drift.Keys)
        {
            if (key.Model == model && key.Version != version)
                _drift.TryRemove(key, out _);
        }
        for (var i = 0; i < features.Count; i++)
            _drift[(model, version, features[i])] = values[i];
    }

    /// <summary>The drift monitor's latest value for one feature, or null before its first comparison.</summary>
    public double? Drift(string model, string version, string feature) =>
        _drift.TryGetValue((model, version, feature), out var value) ? value : null;

    public void SetActiveModel(string model, string version) => _models[model] = version;

    public void RecordSinkBatch(long records, TimeSpan duration)
    {
        _sinkBatchRecords.Observe(records);
        _sinkBatchDuration.Observe(duration.TotalSeconds);
    }

    /// <summary>Lag of every partition the consumer owns now, from its cached watermarks (no broker round trip).</summary>
    public void UpdateLag<TKey, TValue>(string role, IConsumer<TKey, TValue> consumer)
    {
        var lags = new List<(string Topic, int Partition, long Lag)>(consumer.Assignment.Count);
        foreach (var tp in consumer.Assignment)
        {
            var watermarks = consumer.GetWatermarkOffsets(tp);
            if (watermarks.High.Value < 0)
                continue;
            var position = consumer.Position(tp);
            var from = position.Value >= 0 ? position.Value : Math.Max(0, watermarks.Low.Value);
            lags.Add((tp.Topic, tp.Partition.Value, Math.Max(0, watermarks.High.Value - from)));
        }
        SetLag(role, lags);
    }

    /// <summary>Replaces the role's lag series: partitions no longer listed (revoked) disappear.</summary>
    internal void SetLag(string role, IReadOnlyCollection<(string Topic, int Partition, long Lag)> lags)
    {
        foreach (var key in _lag.Keys)
        {
            if (key.Role == role && !lags.Any(l => l.Partition == key.Partition && l.Topic == key.Topic))
                _lag.TryRemove(key, out _);
        }
        foreach (var (topic, partition, lag) in lags)
            _lag[(role, topic, partition)] = lag;
    }

    /// <summary>The role's lag summed over the partitions it owns now (the load command's back-log readout).</summary>
    internal long ConsumerLag(string role) => _lag.Where(kv => kv.Key.Role == role).Sum(kv => kv.Value);

    private IEnumerable<(string[] Labels, double Value)> ObserveLag() => _lag.Select(kv =>
        (new[] { kv.Key.Role, kv.Key.Topic, kv.Key.Partition.ToString(CultureInfo.InvariantCulture) }, (double)kv.Value));

    private IEnumerable<(string[] Labels, double Value)> ObserveDrift() =>
        _drift.Select(kv => (new[] { kv.Key.Model, kv.Key.Version, kv.Key.Feature }, kv.Value));

    private IEnumerable<(string[] Labels, double Value)> ObserveModels() => _models.Select(kv => (new[] { kv.Key, kv.Value }, 1.0));

    /// <summary>Nothing to release: the registry is garbage like any object; kept so owners scope a pipeline's metrics with <c>using</c>.</summary>
    public void Dispose()
    {
    }
}
