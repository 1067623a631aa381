namespace Streaming.Host.Cli;

/// <summary>
/// Where the demo places its simulated time. A run of known length ends at about the wall clock, so Grafana's default
/// "last 6 hours" shows it (it used to start a day back and end hours before now, and the dashboards showed nothing). The
/// fleet publishes <c>rate</c> samples per wall second, one per entity per <c>sampleInterval</c>, so a run covers
/// duration × rate × sampleInterval / entities of simulated time. A run until Ctrl-C starts a day back, as before.
/// </summary>
internal static class DemoTimeline
{
    public static DateTimeOffset SimulatedStart(DateTimeOffset now, TimeSpan? duration, int rate, int entities, TimeSpan sampleInterval)
    {
        var span = duration is { } d
            ? TimeSpan.FromTicks((long)(d.Ticks * (double)rate * sampleInterval.Ticks / entities / TimeSpan.TicksPerSecond))
            : TimeSpan.FromDays(1);
        var start = now - span;
        // Whole minutes: windows line up with the wall clock's.
        return new DateTimeOffset(start.UtcTicks - start.UtcTicks % TimeSpan.TicksPerMinute, TimeSpan.Zero);
    }
}
