namespace Streaming.Storage;

/// <summary>
/// The oldest metric time the sink has written since maintenance last rolled up: rows older than the periodic lookback
/// (after a sink outage, a replay, late data, a demo's simulated past) are otherwise never rolled up. Thread-safe: the
/// sink observes, the maintenance pass takes.
/// </summary>
public sealed class RollupBackfill
{
    private long _oldestTicks = long.MaxValue;

    /// <summary>Rows as old as <paramref name="time"/> were committed.</summary>
    public void Observe(DateTimeOffset time)
    {
        var ticks = time.UtcTicks;
        var current = Volatile.Read(ref _oldestTicks);
        while (ticks < current)
        {
            var seen = Interlocked.CompareExchange(ref _oldestTicks, ticks, current);
            if (seen == current)
                return;
            current = seen;
        }
    }

    /// <summary>The oldest time observed since the last take, or null; clears it (observe it again if the pass fails).</summary>
    public DateTimeOffset? Take()
    {
        var ticks = Interlocked.Exchange(ref _oldestTicks, long.MaxValue);
        return ticks == long.MaxValue ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
    }
}
