using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Streaming.Contracts.Avro;

/// <summary>Avro binary encoding of primitive values (Avro 1.11 specification, "Binary Encoding").</summary>
internal static class AvroBinary
{
    public const int MaxLongBytes = 10;

    /// <summary><c>int</c> and <c>long</c>: zig-zag, then a little-endian base-128 varint.</summary>
    public static void WriteLong(IBufferWriter<byte> writer, long value)
    {
        var span = writer.GetSpan(MaxLongBytes);
        var zigZag = (ulong)((value << 1) ^ (value >> 63));
        var length = 0;
        while (zigZag >= 0x80)
        {
            span[length++] = (byte)(zigZag | 0x80);
            zigZag >>= 7;
        }
        span[length++] = (byte)zigZag;
        writer.Advance(length);
    }

    public static void WriteBoolean(IBufferWriter<byte> writer, bool value)
    {
        writer.GetSpan(1)[0] = value ? (byte)1 : (byte)0;
        writer.Advance(1);
    }

    public static void WriteFloat(IBufferWriter<byte> writer, float value)
    {
        BinaryPrimitives.WriteSingleLittleEndian(writer.GetSpan(4), value);
        writer.Advance(4);
    }

    public static void WriteDouble(IBufferWriter<byte> writer, double value)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(writer.GetSpan(8), value);
        writer.Advance(8);
    }

    public static void WriteBytes(IBufferWriter<byte> writer, ReadOnlySpan<byte> value)
    {
        WriteLong(writer, value.Length);
        WriteFixed(writer, value);
    }

    public static void WriteFixed(IBufferWriter<byte> writer, ReadOnlySpan<byte> value)
    {
        value.CopyTo(writer.GetSpan(value.Length));
        writer.Advance(value.Length);
    }

    public static void WriteString(IBufferWriter<byte> writer, string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        WriteLong(writer, length);
        var written = Encoding.UTF8.GetBytes(value, writer.GetSpan(length));
        writer.Advance(written);
    }
}

/// <summary>
/// Reads Avro binary primitives from a span. Every <c>Try</c> method returns false on truncated or malformed input and
/// leaves a message in <see cref="Error"/> naming what was being read and at which byte offset.
/// </summary>
internal ref struct AvroBinaryReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;

    public int Position { get; private set; }

    public readonly int Remaining => _data.Length - Position;

    public string? Error { get; private set; }

    public bool Fail(string message)
    {
        Error ??= $"{message} (at byte {Position})";
        return false;
    }

    public bool TryReadLong(string what, out long value)
    {
        value = 0;
        ulong raw = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            if (Position >= _data.Length)
                return Fail($"truncated input: {what} varint ends early");
            var b = _data[Position++];
            if (shift == 63 && b > 1)
                return Fail($"corrupt input: {what} varint overflows a long");
            raw |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                value = (long)(raw >> 1) ^ -(long)(raw & 1);
                return true;
            }
        }
        return Fail($"corrupt input: {what} varint is longer than {AvroBinary.MaxLongBytes} bytes");
    }

    public bool TryReadInt(string what, out int value)
    {
        value = 0;
        if (!TryReadLong(what, out var wide))
            return false;
        if (wide is < int.MinValue or > int.MaxValue)
            return Fail($"corrupt input: {what} value {wide} does not fit an int");
        value = (int)wide;
        return true;
    }

    public bool TryReadBoolean(string what, out bool value)
    {
        value = false;
        if (Position >= _data.Length)
            return Fail($"truncated input: {what} boolean missing");
        var b = _data[Position];
        if (b > 1)
            return Fail($"corrupt input: {what} boolean byte is {b}, not 0 or 1");
        Position++;
        value = b == 1;
        return true;
    }

    public bool TryReadFloat(string what, out float value)
    {
        value = 0;
        if (!TryReadFixed(what, 4, out var bytes))
            return false;
        value = BinaryPrimitives.ReadSingleLittleEndian(bytes);
        return true;
    }

    public bool TryReadDouble(string what, out double value)
    {
        value = 0;
        if (!TryReadFixed(what, 8, out var bytes))
            return false;
        value = BinaryPrimitives.ReadDoubleLittleEndian(bytes);
        return true;
    }

    public bool TryReadFixed(string what, int length, out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        if (Remaining < length)
            return Fail($"truncated input: {what} needs {length} bytes, {Remaining} left");
        bytes = _data.Slice(Position, length);
        Position += length;
        return true;
    }

    public bool TryReadBytes(string what, out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        if (!TryReadLong(what + " length", out var length))
            return false;
        if (length < 0)
            return Fail($"corrupt input: {what} has negative length {length}");
        if (length > Remaining)
            return Fail($"truncated input: {what} declares {length} bytes, {Remaining} left");
        return TryReadFixed(what, (int)length, out bytes);
    }

    public bool TryReadString(string what, out string value)
    {
        value = "";
        if (!TryReadBytes(what, out var bytes))
            return false;
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
            return Fail($"corrupt input: {what} is not valid UTF-8");
        value = Encoding.UTF8.GetString(bytes);
        return true;
    }
}
