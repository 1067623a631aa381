namespace Streaming.Storage;

/// <summary>Defaults match the server-side policies of timescaledb/003_policies.sql.</summary>
internal sealed class MaintenanceOptions
{
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How far back each run recomputes fallback rollup buckets; later-arriving (late) samples older than this are not rolled up.</summary>
    public TimeSpan RefreshLookback { get; set; } = TimeSpan.FromHours(3);

    /// <summary>metrics, features, anomaly_scores, sink_batches.</summary>
    public TimeSpan RawRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>alerts, predictions, dead_letters.</summary>
    public TimeSpan EventRetention { get; set; } = TimeSpan.FromDays(90);

    public TimeSpan MinuteRollupRetention { get; set; } = TimeSpan.FromDays(90);

    public TimeSpan HourRollupRetention { get; set; } = TimeSpan.FromDays(730);

    internal void Validate()
    {
        Check(Interval, nameof(Interval), "00:01:00");
        Check(RefreshLookback, nameof(RefreshLookback), "03:00:00");
        Check(RawRetention, nameof(RawRetention), "30.00:00:00");
        Check(EventRetention, nameof(EventRetention), "90.00:00:00");
        Check(MinuteRollupRetention, nameof(MinuteRollupRetention), "90.00:00:00");
        Check(HourRollupRetention, nameof(HourRollupRetention), "730.00:00:00");
        if (RefreshLookback >= RawRetention)
        {
            throw new InvalidOperationException(
                $"Maintenance:RefreshLookback ({RefreshLookback}) must be shorter than Maintenance:RawRetention ({RawRetention}); " +
                "otherwise rollups would be recomputed from rows that retention already removed.");
        }
    }

    private static void Check(TimeSpan value, string name, string example)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"Maintenance:{name} is {value}; it must be positive (e.g. {example}).");
        }
    }
}
