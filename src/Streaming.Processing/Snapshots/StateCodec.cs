using System.Runtime.InteropServices;

namespace Streaming.Processing.Snapshots;

/// <summary>
/// A part of a partition's processing state that writes itself exactly and reads itself back into an instance built with
/// the same settings, so that after <see cref="ReadState"/> it gives the same outputs for the same further inputs as the
/// instance that wrote it. Settings are not written: a snapshot is only read with the settings it was written with
/// (the caller checks a fingerprint of them).
/// </summary>
public interface IStateSnapshot
{
    void WriteState(BinaryWriter writer);

    /// <summary>Replaces this instance's state with what <see cref="WriteState"/> wrote; throws <see cref="SnapshotFormatException"/> on anything unexpected.</summary>
    void ReadState(BinaryReader reader);
}

/// <summary>A snapshot that does not decode into this version's state: the caller falls back to rebuilding state by replay.</summary>
public sealed class SnapshotFormatException(string message) : Exception(message);

/// <summary>
/// Little helpers over <see cref="BinaryWriter"/>/<see cref="BinaryReader"/> for the state codecs: section tags that catch a
/// misaligned read early, length-prefixed arrays with bounds, and doubles and floats written bit for bit.
/// </summary>
public static class StateCodec
{
    /// <summary>Longest array or collection a snapshot may declare: far beyond any state, short of a corrupt length.</summary>
    public const int MaxLength = 64 * 1024 * 1024;

    public static void WriteTag(this BinaryWriter writer, uint tag) => writer.Write(tag);

    public static void ExpectTag(this BinaryReader reader, uint tag, string what)
    {
        var read = reader.ReadUInt32();
        if (read != tag)
            throw new SnapshotFormatException($"Expected the {what} section (tag 0x{tag:X8}), found 0x{read:X8}.");
    }

    public static int ReadLength(this BinaryReader reader, string what, int max = MaxLength)
    {
        var length = reader.ReadInt32();
        if (length < 0 || length > max)
            throw new SnapshotFormatException($"The {what} length {length} is outside [0, {max}].");
        return length;
    }

    public static void Check(bool condition, string message)
    {
        if (!condition)
            throw new SnapshotFormatException(message);
    }

    public static void WriteSpan<T>(this BinaryWriter writer, ReadOnlySpan<T> values) where T : unmanaged
    {
        writer.Write(values.Length);
        writer.Write(MemoryMarshal.AsBytes(values));
    }

    public static T[] ReadArray<T>(this BinaryReader reader, string what, int max = MaxLength) where T : unmanaged
    {
        var values = new T[reader.ReadLength(what, max)];
        reader.ReadInto(values.AsSpan(), what);
        return values;
    }

    /// <summary>Reads an array written by <see cref="WriteSpan{T}"/> whose length must be exactly <paramref name="destination"/>'s.</summary>
    public static void ReadExactly<T>(this BinaryReader reader, Span<T> destination, string what) where T : unmanaged
    {
        var length = reader.ReadLength(what);
        Check(length == destination.Length, $"The {what} holds {length} values where this state has room for {destination.Length}: the settings differ.");
        reader.ReadInto(destination, what);
    }

    /// <summary>Writes per entity × metric state (the shape every per-metric scorer keeps), each part by <paramref name="write"/>.</summary>
    public static void WritePerMetric<T>(this BinaryWriter writer, Dictionary<string, Dictionary<string, T>> entities, Action<T> write)
    {
        writer.Write(entities.Count);
        foreach (var (entity, metrics) in entities)
        {
            writer.Write(entity);
            writer.Write(metrics.Count);
            foreach (var (metric, part) in metrics)
            {
                writer.Write(metric);
                write(part);
            }
        }
    }

    /// <summary>Reads what <see cref="WritePerMetric{T}"/> wrote into <paramref name="entities"/> (cleared first); <paramref name="read"/> builds each part from its entity and metric.</summary>
    public static void ReadPerMetric<T>(this BinaryReader reader, Dictionary<string, Dictionary<string, T>> entities, string what, Func<string, string, T> read)
    {
        entities.Clear();
        var count = reader.ReadLength($"{what} entities");
        for (var e = 0; e < count; e++)
        {
            var entity = reader.ReadString();
            var metrics = new Dictionary<string, T>(StringComparer.Ordinal);
            var metricCount = reader.ReadLength($"{what} metrics");
            for (var m = 0; m < metricCount; m++)
            {
                var metric = reader.ReadString();
                metrics[metric] = read(entity, metric);
            }
            entities[entity] = metrics;
        }
    }

    private static void ReadInto<T>(this BinaryReader reader, Span<T> destination, string what) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(destination);
        var read = reader.Read(bytes);
        if (read != bytes.Length)
            throw new SnapshotFormatException($"The {what} ends after {read} of {bytes.Length} bytes.");
    }
}
