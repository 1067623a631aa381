using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Confluent.Kafka;
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

    private static readonly double[] LatencyBuckets = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
    private static readonly double[] ScoreBuckets = [0.5, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 50, 100];
    private static readonly long[] BatchBuckets = [1, 10, 50, 100, 500, 1000, 2500, 5000, 10_000, 50_000, 100_000];
    private static readonly double[] DurationBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Counter<long> _stageRecords;
    private readonly Histogram<double> _endToEndLatency;
    private readonly Histogram<double> _anomalyScore;
    private readonly Histogram<long> _sinkBatchRecords;
    private readonly Histogram<double> _sinkBatchDuration;
    private readonly Counter<long> _httpRequests;
    private readonly ConcurrentDictionary<(string Role, string Topic, int Partition), long> _lag = new();
    private readonly ConcurrentDictionary<(string Model, string Version, string Feature), double> _drift = new();
    private readonly ConcurrentDictionary<string, string> _models = new(StringComparer.Ordinal);

    public PipelineCounters()
    {
        _produced = _meter.CreateCounter<long>("streaming_samples_produced", description: "Samples the simulator or ingest published to the telemetry topic");
        _accepted = _meter.CreateCounter<long>("streaming_samples_accepted", description: "Samples that entered a window");
        _rejected = _meter.CreateCounter<long>("streaming_records_rejected", description: "Records sent to the dead-letter topic, by reason");
        _windows = _meter.CreateCounter<long>("streaming_windows_closed", description: "Entity windows closed and published as features");
        _alerts = _meter.CreateCounter<long>("streaming_alert_events", description: "Alert events published, by status");
        _rows = _meter.CreateCounter<long>("streaming_sink_rows", description: "Rows the sink committed to TimescaleDB, by table");
        _stageRecords = _meter.CreateCounter<long>("streaming_stage_records",
            description: "Records handled per stage (ingest, replay, simulator, processor, sink); rate() gives records/s");
        _endToEndLatency = _meter.CreateHistogram("streaming_end_to_end_latency_seconds", "s",
            "From a window's end (event time) to its alert event being produced; includes the window grace period",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _anomalyScore = _meter.CreateHistogram("streaming_anomaly_score", null, "Anomaly score of every scored window, by model",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = ScoreBuckets });
        _sinkBatchRecords = _meter.CreateHistogram("streaming_sink_batch_records", null, "Records per batch the sink committed",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = BatchBuckets });
        _sinkBatchDuration = _meter.CreateHistogram("streaming_sink_batch_duration_seconds", "s", "Time to write and commit one sink batch",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _httpRequests = _meter.CreateCounter<long>("streaming_http_requests", description: "HTTP API requests, by route and status code");
        _meter.CreateObservableGauge("streaming_consumer_lag", ObserveLag, description: "Records behind the partition's high watermark, by role, topic and partition");
        _meter.CreateObservableGauge("streaming_model_drift", ObserveDrift,
            description: "Input drift per model version and feature: the drift monitor's statistic (PSI by default) of the newest live windows against the training reference");
        _meter.CreateObservableGauge("streaming_model_info", ObserveModels, description: "The model and version in use (value 1)");
        _pauses = _meter.CreateCounter<long>("streaming_partition_pauses",
            description: "Times a worker paused its partitions because its publisher had MaxInFlightBatches batches in flight, by role");
        _meter.CreateObservableGauge("streaming_inflight_batches", () => ObserveBackPressure(b => b.Batches),
            description: "Processed batches waiting for or in their publish transaction, by role");
        _meter.CreateObservableGauge("streaming_inflight_records", () => ObserveBackPressure(b => b.Records),
            description: "Input records of the batches in flight between processing and publishing, by role");
        _meter.CreateObservableGauge("streaming_paused_partitions", () => ObserveBackPressure(b => b.Paused),
            description: "Partitions paused by back-pressure, by role");
    }

    // Back-pressure (issue 3): per role, what is in flight between a worker's consume loop and its publisher.
    private sealed class BackPressure
    {
        public long Batches;
        public long Records;
        public long Paused;
    }

    private readonly Counter<long> _pauses;
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
        _pauses.Add(1, new KeyValuePair<string, object?>("role", role));
    }

    private IEnumerable<Measurement<long>> ObserveBackPressure(Func<BackPressure, long> value) =>
        _backPressure.Select(kv => new Measurement<long>(value(kv.Value),
            new KeyValuePair<string, object?>("role", kv.Key)));

    /// <summary>This instance's meter: an exporter selects it so several pipelines in one process do not mix.</summary>
    internal Meter Meter => _meter;

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

    /// <summary>An alert event about to be produced at <paramref name="now"/>: counted by status, its latency recorded.</summary>
    public void AddAlert(AnomalyEvent alert, DateTimeOffset now)
    {
        AddAlert(alert.Status);
        _endToEndLatency.Record(Math.Max(0, (now - alert.WindowEnd).TotalSeconds));
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

    public void AddStageRecords(string stage, long count)
    {
        if (count > 0)
            _stageRecords.Add(count, new KeyValuePair<string, object?>("stage", stage));
    }

    public void AddHttpRequest(string route, int status) =>
        _httpRequests.Add(1, new KeyValuePair<string, object?>("route", route), new KeyValuePair<string, object?>("status", status));

    /// <summary>A scored window: its score into the distribution.</summary>
    public void RecordScore(string model, double score, double threshold) =>
        _anomalyScore.Record(score, new KeyValuePair<string, object?>("model", model));

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
        _sinkBatchRecords.Record(records);
        _sinkBatchDuration.Record(duration.TotalSeconds);
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

    private IEnumerable<Measurement<long>> ObserveLag() => _lag.Select(kv => new Measurement<long>(kv.Value,
        new KeyValuePair<string, object?>("role", kv.Key.Role),
        new KeyValuePair<string, object?>("topic", kv.Key.Topic),
        new KeyValuePair<string, object?>("partition", kv.Key.Partition)));

    private IEnumerable<Measurement<double>> ObserveDrift() =>
        _drift.Select(kv => new Measurement<double>(kv.Value, new KeyValuePair<string, object?>("model", kv.Key.Model),
            new KeyValuePair<string, object?>("version", kv.Key.Version), new KeyValuePair<string, object?>("feature", kv.Key.Feature)));

    private IEnumerable<Measurement<int>> ObserveModels() => _models.Select(kv => new Measurement<int>(1,
        new KeyValuePair<string, object?>("model", kv.Key), new KeyValuePair<string, object?>("version", kv.Value)));

    public void Dispose() => _meter.Dispose();
}
