namespace Streaming.Processing.Windows;

/// <summary>
/// Event-time window settings. Tumbling when <see cref="Advance"/> is null (or equals <see cref="Size"/>), hopping otherwise.
/// The grace period has no default on purpose: how late data may arrive is a decision, not an accident.
/// </summary>
public sealed record WindowOptions
{
    public required TimeSpan Size { get; init; }

    public TimeSpan? Advance { get; init; }

    public required TimeSpan Grace { get; init; }

    /// <summary>Smoothing factor of the per-window exponentially weighted mean, in (0, 1].</summary>
    public double EwmaAlpha { get; init; } = 0.3;

    /// <summary>The producers' sampling interval, if known; enables the missing-ratio feature.</summary>
    public TimeSpan? ExpectedSampleInterval { get; init; }

    /// <summary>
    /// Early (updating) results: every this much stream time, each open window that received data since its last update is
    /// emitted as a provisional result. Null (the default) emits only the one final result per window.
    /// </summary>
    public TimeSpan? EarlyResults { get; init; }

    public long SizeMs => (long)Size.TotalMilliseconds;

    public long AdvanceMs => (long)(Advance ?? Size).TotalMilliseconds;

    public long GraceMs => (long)Grace.TotalMilliseconds;

    public long? EarlyResultsMs => EarlyResults is { } early ? (long)early.TotalMilliseconds : null;

    /// <summary>Throws with a message naming the setting when the options cannot work.</summary>
    public WindowOptions Validated()
    {
        if (Size <= TimeSpan.Zero || Size.TotalMilliseconds % 1 != 0)
            throw new ArgumentException($"Windows:Size must be a positive whole number of milliseconds, was {Size}.");
        if (Advance is { } advance && (advance <= TimeSpan.Zero || advance > Size || Size.Ticks % advance.Ticks != 0 || advance.TotalMilliseconds % 1 != 0))
            throw new ArgumentException($"Windows:Advance must be a positive whole number of milliseconds, at most Windows:Size and divide it evenly; was {advance} with size {Size}.");
        if (Grace < TimeSpan.Zero)
            throw new ArgumentException($"Windows:Grace must be zero or positive, was {Grace}.");
        if (EwmaAlpha is <= 0 or > 1 || double.IsNaN(EwmaAlpha))
            throw new ArgumentException($"Windows:EwmaAlpha must be in (0, 1], was {EwmaAlpha}.");
        if (ExpectedSampleInterval is { } interval && interval <= TimeSpan.Zero)
            throw new ArgumentException($"Windows:ExpectedSampleInterval must be positive when set, was {interval}.");
        if (EarlyResults is { } every && (every <= TimeSpan.Zero || every.TotalMilliseconds % 1 != 0))
            throw new ArgumentException($"Windows:EarlyResults must be a positive whole number of milliseconds when set (or unset for final results only), was {every}.");
        return this;
    }
}

/// <summary>A window's bounds in epoch milliseconds: [Start, End).</summary>
public readonly record struct WindowBounds(long StartMs, long EndMs)
{
    public DateTimeOffset Start => DateTimeOffset.FromUnixTimeMilliseconds(StartMs);

    public DateTimeOffset End => DateTimeOffset.FromUnixTimeMilliseconds(EndMs);
}
