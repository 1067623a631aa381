using System.Security.Cryptography;
using System.Text;
using Streaming.Processing.Snapshots;

namespace Streaming.Host.Pipeline;

/// <summary>What a snapshot says about itself: whose state it is, the input offset it corresponds to, and its format.</summary>
internal sealed record SnapshotChunk(
    string Role, string Topic, int Partition, long Offset, Guid Id, int Index, int Count, int TotalLength, byte[] Sha256, string Fingerprint,
    ArraySegment<byte> Data);

/// <summary>
/// The records of the snapshot topic. A partition's state is written as one or more chunk records (a state larger than
/// <c>Processor:Snapshots:ChunkBytes</c> is split), each keyed <c>role:input-topic:partition:slot:chunk</c>, so that under
/// compaction the two newest snapshots of every partition survive (slots alternate), and each starting with a header:
/// magic, format version, role, input topic and partition, the input offset the state corresponds to, the snapshot's id,
/// the chunk's index and count, the payload's length and SHA-256, and a fingerprint of the settings that shape the state.
/// A reader that meets another format version, a bad checksum or other settings does not use the snapshot.
/// </summary>
internal static class SnapshotRecords
{
    private const uint Magic = 0x50414E53; // "SNAP" little-endian

    /// <summary>Version of this layout and of the state codecs under it; a reader ignores (and reports) any other.</summary>
    public const ushort FormatVersion = 1;

    public static string KeyPrefix(string role, string topic, int partition) => $"{role}:{topic}:{partition}:";

    public static string Key(string role, string topic, int partition, long sequence, int chunk) =>
        $"{KeyPrefix(role, topic, partition)}{sequence % 2}:{chunk}";

    /// <summary>The chunk records of one snapshot of <paramref name="payload"/>.</summary>
    public static List<byte[]> Encode(string role, string topic, int partition, long offset, string fingerprint, ReadOnlySpan<byte> payload, int chunkBytes)
    {
        var sha = SHA256.HashData(payload);
        var id = Guid.NewGuid();
        var count = Math.Max(1, (payload.Length + chunkBytes - 1) / chunkBytes);
        var chunks = new List<byte[]>(count);
        for (var i = 0; i < count; i++)
        {
            var data = payload.Slice(i * chunkBytes, Math.Min(chunkBytes, payload.Length - i * chunkBytes));
            using var stream = new MemoryStream(data.Length + 256);
            using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(Magic);
                writer.Write(FormatVersion);
                writer.Write(role);
                writer.Write(topic);
                writer.Write(partition);
                writer.Write(offset);
                writer.Write(id.ToByteArray());
                writer.Write(i);
                writer.Write(count);
                writer.Write(payload.Length);
                writer.Write(sha);
                writer.Write(fingerprint);
                writer.Write(data.Length);
                writer.Write(data);
            }
            chunks.Add(stream.ToArray());
        }
        return chunks;
    }

    /// <summary>Reads one chunk record's header; false with the reason (naming an unknown format version) when it cannot be used.</summary>
    public static bool TryDecode(byte[] value, out SnapshotChunk? chunk, out string? problem, out bool unknownVersion)
    {
        chunk = null;
        unknownVersion = false;
        try
        {
            using var reader = new BinaryReader(new MemoryStream(value, writable: false), Encoding.UTF8);
            if (reader.ReadUInt32() != Magic)
            {
                problem = "not a snapshot record (bad magic)";
                return false;
            }
            var version = reader.ReadUInt16();
            if (version != FormatVersion)
            {
                unknownVersion = true;
                problem = $"format version {version}, this build reads version {FormatVersion}";
                return false;
            }
            var role = reader.ReadString();
            var topic = reader.ReadString();
            var partition = reader.ReadInt32();
            var offset = reader.ReadInt64();
            var id = new Guid(reader.ReadBytes(16));
            var index = reader.ReadInt32();
            var count = reader.ReadInt32();
            var total = reader.ReadInt32();
            var sha = reader.ReadBytes(32);
            var fingerprint = reader.ReadString();
            var length = reader.ReadInt32();
            var start = (int)reader.BaseStream.Position;
            if (count < 1 || index < 0 || index >= count || total < 0 || length < 0 || start + length != value.Length || sha.Length != 32 || offset < 0)
            {
                problem = "a corrupt snapshot header";
                return false;
            }
            chunk = new SnapshotChunk(role, topic, partition, offset, id, index, count, total, sha, fingerprint, new ArraySegment<byte>(value, start, length));
            problem = null;
            return true;
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException or ArgumentException)
        {
            problem = $"a corrupt snapshot header ({ex.Message})";
            return false;
        }
    }

    /// <summary>The payload of a complete set of chunks, or null with the reason when the pieces do not add up or the checksum fails.</summary>
    public static byte[]? Assemble(IReadOnlyList<SnapshotChunk> chunks, out string? problem)
    {
        var first = chunks[0];
        var ordered = chunks.OrderBy(c => c.Index).ToArray();
        if (ordered.Length != first.Count || ordered.Select((c, i) => c.Index == i).Contains(false) || ordered.Sum(c => (long)c.Data.Count) != first.TotalLength)
        {
            problem = "its chunks do not add up";
            return null;
        }
        var payload = new byte[first.TotalLength];
        var at = 0;
        foreach (var chunk in ordered)
        {
            chunk.Data.AsSpan().CopyTo(payload.AsSpan(at));
            at += chunk.Data.Count;
        }
        if (!SHA256.HashData(payload).AsSpan().SequenceEqual(first.Sha256))
        {
            problem = "its checksum does not match its contents";
            return null;
        }
        problem = null;
        return payload;
    }

    /// <summary>A short, stable fingerprint of the settings text: a snapshot written with other settings is not used.</summary>
    public static string Fingerprint(string settings) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(settings)))[..16];

    /// <summary>Writes a state through its codec.</summary>
    public static byte[] Serialize(Action<BinaryWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            write(writer);
        return stream.ToArray();
    }

    /// <summary>Reads a state through its codec, which must consume the payload exactly.</summary>
    public static void Deserialize(byte[] payload, Action<BinaryReader> read)
    {
        using var reader = new BinaryReader(new MemoryStream(payload, writable: false), Encoding.UTF8);
        read(reader);
        if (reader.BaseStream.Position != payload.Length)
            throw new SnapshotFormatException($"The state ends {payload.Length - reader.BaseStream.Position} bytes before the snapshot does.");
    }
}
