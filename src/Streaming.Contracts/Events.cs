using System.Text.Json.Serialization;

namespace Streaming.Contracts;

/// <summary>Features of one metric over one window. Optional fields are null when the window cannot define them.</summary>
public sealed record MetricFeatures(
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

/// <summary>The <c>features</c> topic: one record per entity and closed window, keyed by entity.</summary>
public sealed record FeatureVectorEvent(
    string Entity,
    DateTimeOffset WindowStart,
    DateTimeOffset WindowEnd,
    int SampleCount,
    IReadOnlyList<MetricFeatures> Features);

/// <summary>A metric's part in an anomaly: its share of the score and what was expected against what was seen.</summary>
public sealed record Contributor(string Metric, double Share, double Expected, double Actual);

/// <summary>The <c>alerts</c> topic, kind <c>anomaly</c>: keyed by entity.</summary>
public sealed record AnomalyEvent(
    Guid EventId,
    Guid AlertId,
    string Kind,
    string Status,
    string Entity,
    DateTimeOffset WindowStart,
    DateTimeOffset WindowEnd,
    DateTimeOffset DetectedAt,
    double Score,
    double Threshold,
    string Severity,
    string Model,
    string ModelVersion,
    IReadOnlyList<Contributor> Contributors)
{
    public const string KindName = "anomaly";
}

/// <summary>P(downtime within a horizon).</summary>
public sealed record HorizonProbability(double Minutes, double Probability);

/// <summary>
/// The <c>alerts</c> topic, kind <c>downtime_prediction</c>: the probability that an entity goes down within each horizon,
/// the estimated time to downtime (the lead time an operator has), and the metrics driving it. Keyed by entity.
/// </summary>
public sealed record DowntimePredictionEvent(
    Guid EventId,
    Guid AlertId,
    string Kind,
    string Status,
    string Entity,
    DateTimeOffset WindowStart,
    DateTimeOffset WindowEnd,
    DateTimeOffset DetectedAt,
    double? TimeToDowntimeSeconds,
    DateTimeOffset? PredictedDowntimeAt,
    double Probability,
    double HorizonMinutes,
    double Threshold,
    string Severity,
    string Model,
    string ModelVersion,
    IReadOnlyList<HorizonProbability> Horizons,
    IReadOnlyList<Contributor> Contributors)
{
    public const string KindName = "downtime_prediction";
}

/// <summary>The <c>scores</c> topic: every scored window, anomalous or not, keyed by entity.</summary>
public sealed record ScoreEvent(
    string Entity,
    DateTimeOffset WindowStart,
    DateTimeOffset WindowEnd,
    string Model,
    string ModelVersion,
    double Score,
    double Threshold,
    bool IsAnomaly,
    IReadOnlyList<Contributor> Contributors);

/// <summary>How far one model input feature's live distribution has moved from its training reference.</summary>
public sealed record FeatureDrift(string Feature, double Psi, double Ks);

/// <summary>
/// The alerts topic, kind <c>drift</c>: the live feature distribution of the whole fleet has moved away from the active
/// model's training reference (open), or come back (resolved). Keyed by the model name. Shares the anomaly event's
/// fields, so consumers and the sink that read alerts handle it as one more kind; <see cref="Score"/> is the largest
/// per-feature statistic, <see cref="Threshold"/> the configured one, <see cref="Contributors"/> the most drifted features
/// (share of the summed statistic, training mean → live mean), <see cref="Features"/> every feature's PSI and KS.
/// </summary>
public sealed record DriftEvent(
    Guid EventId,
    Guid AlertId,
    string Kind,
    string Status,
    string Entity,
    DateTimeOffset WindowStart,
    DateTimeOffset WindowEnd,
    DateTimeOffset DetectedAt,
    double Score,
    double Threshold,
    string Severity,
    string Model,
    string ModelVersion,
    IReadOnlyList<Contributor> Contributors,
    string Statistic,
    int Windows,
    IReadOnlyList<FeatureDrift> Features)
{
    public const string KindName = "drift";

    /// <summary>The entity a fleet-wide drift event names.</summary>
    public const string FleetEntity = "fleet";
}

public static class AlertStatus
{
    public const string Open = "open";
    public const string Update = "update";
    public const string Resolved = "resolved";
}

public static class Severity
{
    public const string Warning = "warning";
    public const string Critical = "critical";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(FeatureVectorEvent))]
[JsonSerializable(typeof(AnomalyEvent))]
[JsonSerializable(typeof(ScoreEvent))]
[JsonSerializable(typeof(DowntimePredictionEvent))]
[JsonSerializable(typeof(DriftEvent))]
public sealed partial class ContractsJsonContext : JsonSerializerContext;
