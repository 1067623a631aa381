namespace Streaming.Storage;

// Row types are readonly structs: a batch is a few List<T> buffers that are cleared and reused,
// so steady-state writing allocates nothing per row.

/// <summary>One raw sample. Narrow layout: producers send heterogeneous, changing metric sets.</summary>
internal readonly record struct MetricRow(DateTimeOffset Time, string Entity, string Metric, double Value);

internal readonly record struct FeatureRow(
    DateTimeOffset WindowStart,
    DateTimeOffset WindowEnd,
    string Entity,
    string Metric,
    int Count,
    double Mean,
    double Std,
    double Min,
    double Max,
    double First,
    double Last,
    double Slope,
    double Ewma,
    double? P50,
    double? P95,
    double? RateOfChange,
    double? MissingRatio);

internal readonly record struct ScoreRow(
    DateTimeOffset Time, string Entity, string Model, string ModelVersion, double Score, double Threshold, bool IsAnomaly);

/// <param name="Kind">anomaly | downtime</param>
/// <param name="Status">open | update | resolved</param>
/// <param name="PayloadJson">The whole alert event as JSON (stored as jsonb).</param>
internal readonly record struct AlertRow(
    Guid AlertId,
    DateTimeOffset Time,
    string Entity,
    string Kind,
    string Status,
    string Severity,
    double Score,
    double Threshold,
    string Model,
    string ModelVersion,
    string? TopMetric,
    string PayloadJson);

internal readonly record struct PredictionRow(
    DateTimeOffset Time,
    string Entity,
    string Model,
    string ModelVersion,
    double? TimeToDowntimeSeconds,
    double P5m,
    double P15m,
    double P30m,
    string? TopMetric,
    string PayloadJson);

internal readonly record struct DeadLetterRow(
    DateTimeOffset Time, string SourceTopic, int Partition, long Offset, string Reason, string Detail, byte[] Payload);

/// <summary>The next offset to consume for a partition once the batch is committed (last consumed + 1).</summary>
internal readonly record struct SourceOffset(string Topic, int Partition, long NextOffset);

/// <summary>Rows of one sink transaction. Reuse an instance: <see cref="Clear"/> keeps the list capacity.</summary>
internal sealed class SinkBatch
{
    public List<MetricRow> Metrics { get; } = [];
    public List<FeatureRow> Features { get; } = [];
    public List<ScoreRow> Scores { get; } = [];
    public List<AlertRow> Alerts { get; } = [];
    public List<PredictionRow> Predictions { get; } = [];
    public List<DeadLetterRow> DeadLetters { get; } = [];

    public int RowCount => Metrics.Count + Features.Count + Scores.Count + Alerts.Count + Predictions.Count + DeadLetters.Count;

    public void Clear()
    {
        Metrics.Clear();
        Features.Clear();
        Scores.Clear();
        Alerts.Clear();
        Predictions.Clear();
        DeadLetters.Clear();
    }
}

internal enum BatchOutcome
{
    /// <summary>Rows and offsets were committed by this call.</summary>
    Written,

    /// <summary>
    /// The stored offsets already cover this batch (e.g. a retry after a commit whose acknowledgement was
    /// lost): nothing was written, the caller should treat the batch as done.
    /// </summary>
    AlreadyCommitted,
}
