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
public sealed partial class ContractsJsonContext : JsonSerializerContext;
