using System.Text.Json;

namespace Streaming.Contracts;

/// <summary>
/// Per-thread interning of the strings telemetry repeats in every record — entity ids, metric and field names — so a
/// parsed sample reuses one string instance per name instead of allocating it again. Bounded: past the cap, new names are
/// returned uninterned.
/// </summary>
internal sealed class NameInterner
{
    private const int MaxNames = 100_000;
    private const int MaxChars = 256;

    [ThreadStatic]
    private static NameInterner? t_current;

    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    private NameInterner() => _lookup = _names.GetAlternateLookup<ReadOnlySpan<char>>();

    public static NameInterner Current => t_current ??= new NameInterner();

    /// <summary>The current string token or property name as an interned string.</summary>
    public string Get(ref Utf8JsonReader reader)
    {
        var length = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
        if (length > MaxChars)
            return reader.GetString()!;
        Span<char> buffer = stackalloc char[MaxChars];
        var written = reader.CopyString(buffer);
        var text = buffer[..written];
        if (_lookup.TryGetValue(text, out var existing))
            return existing;
        var created = new string(text);
        if (_names.Count < MaxNames)
            _names.Add(created);
        return created;
    }
}
