namespace Streaming.Contracts;

/// <summary>One named metric reading.</summary>
public readonly record struct MetricValue(string Name, double Value);

/// <summary>A telemetry sample: one entity's metric readings at one event time.</summary>
public sealed class TelemetrySample
{
    private static readonly IReadOnlyDictionary<string, string> NoTags = new Dictionary<string, string>();

    public TelemetrySample(string entity, long timestampMs, MetricValue[] metrics, IReadOnlyDictionary<string, string>? tags = null)
    {
        Entity = entity;
        TimestampMs = timestampMs;
        Metrics = metrics;
        Tags = tags ?? NoTags;
    }

    public string Entity { get; }

    /// <summary>Event time, Unix epoch milliseconds (UTC).</summary>
    public long TimestampMs { get; }

    public DateTimeOffset Timestamp => DateTimeOffset.FromUnixTimeMilliseconds(TimestampMs);

    public MetricValue[] Metrics { get; }

    public IReadOnlyDictionary<string, string> Tags { get; }
}
