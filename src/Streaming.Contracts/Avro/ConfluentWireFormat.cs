using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace Streaming.Contracts.Avro;

/// <summary>
/// The Confluent wire format: magic byte 0, the schema id as a 4-byte big-endian integer, then the Avro binary value.
/// </summary>
internal static class ConfluentWireFormat
{
    public const byte MagicByte = 0;
    public const int HeaderLength = 5;

    public static void WriteHeader(IBufferWriter<byte> writer, int schemaId)
    {
        var span = writer.GetSpan(HeaderLength);
        span[0] = MagicByte;
        BinaryPrimitives.WriteInt32BigEndian(span[1..], schemaId);
        writer.Advance(HeaderLength);
    }

    /// <summary>Splits a record value into schema id and Avro payload; fails with a message on a short value or a wrong magic byte.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> data, out int schemaId, out ReadOnlySpan<byte> payload, [NotNullWhen(false)] out string? error)
    {
        schemaId = 0;
        payload = default;
        if (data.Length < HeaderLength)
        {
            error = $"Confluent wire format needs at least {HeaderLength} bytes (magic byte and schema id), got {data.Length}";
            return false;
        }
        if (data[0] != MagicByte)
        {
            error = $"Confluent wire format starts with magic byte 0, got 0x{data[0]:X2}";
            return false;
        }
        schemaId = BinaryPrimitives.ReadInt32BigEndian(data[1..]);
        payload = data[HeaderLength..];
        error = null;
        return true;
    }
}
