using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Streaming.Contracts.Avro;

/// <summary>Avro binary encoding and decoding of a typed value through a schema (schema-driven; no per-type code).</summary>
internal static class AvroCodec
{
    public static byte[] Encode<T>(AvroSchema schema, T value, JsonTypeInfo<T> typeInfo)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Encode(buffer, schema, value, typeInfo);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Throws <see cref="AvroEncodingException"/> naming the field when the value does not fit the schema.</summary>
    public static void Encode<T>(IBufferWriter<byte> writer, AvroSchema schema, T value, JsonTypeInfo<T> typeInfo) =>
        AvroEncoder.Write(writer, schema, value, typeInfo.Options);

    /// <summary>Decodes exactly one value occupying all of <paramref name="data"/>; on failure <paramref name="error"/> says what and where.</summary>
    public static bool TryDecode<T>(AvroSchema schema, ReadOnlySpan<byte> data, JsonTypeInfo<T> typeInfo,
        [NotNullWhen(true)] out T? value, [NotNullWhen(false)] out string? error)
    {
        value = default;
        if (!TryDecodeToScratchJson(schema, data, out var json, out error))
            return false;
        try
        {
            value = JsonSerializer.Deserialize(json, typeInfo);
        }
        catch (JsonException ex)
        {
            error = $"Avro {schema.DisplayName} does not map onto {typeof(T).Name}: {ex.Message}";
            return false;
        }
        if (value is null)
        {
            error = $"Avro {schema.DisplayName} decoded to null, expected {typeof(T).Name}";
            return false;
        }
        return true;
    }

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_json;

    [ThreadStatic]
    private static Utf8JsonWriter? t_jsonWriter;

    /// <summary>
    /// Like <see cref="TryDecodeToJson"/>, into a per-thread buffer (no allocation once warm): <paramref name="json"/> is
    /// valid until the next decode on this thread, so use it before decoding again.
    /// </summary>
    public static bool TryDecodeToScratchJson(AvroSchema schema, ReadOnlySpan<byte> data, out ReadOnlySpan<byte> json, [NotNullWhen(false)] out string? error)
    {
        json = default;
        var buffer = t_json;
        if (buffer is null || buffer.Capacity > 1 << 20)
            t_json = buffer = new ArrayBufferWriter<byte>(4096);
        else
            buffer.ResetWrittenCount();
        var writer = t_jsonWriter ??= new Utf8JsonWriter(buffer);
        writer.Reset(buffer);
        var reader = new AvroBinaryReader(data);
        if (!AvroDecoder.TryDecode(ref reader, schema, writer))
        {
            error = $"Avro {schema.DisplayName}: {reader.Error}";
            return false;
        }
        writer.Flush();
        if (reader.Remaining != 0)
        {
            error = $"Avro {schema.DisplayName}: corrupt input: {reader.Remaining} bytes left over after the value ended at byte {reader.Position}";
            return false;
        }
        json = buffer.WrittenSpan;
        error = null;
        return true;
    }

    /// <summary>Decodes to JSON text with the schema's field names (see <see cref="AvroDecoder"/>); trailing bytes are an error.</summary>
    public static bool TryDecodeToJson(AvroSchema schema, ReadOnlySpan<byte> data, [NotNullWhen(true)] out byte[]? json, [NotNullWhen(false)] out string? error)
    {
        json = null;
        var buffer = new ArrayBufferWriter<byte>(data.Length * 2 + 16);
        var reader = new AvroBinaryReader(data);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            if (!AvroDecoder.TryDecode(ref reader, schema, writer))
            {
                error = $"Avro {schema.DisplayName}: {reader.Error}";
                return false;
            }
        }
        if (reader.Remaining != 0)
        {
            error = $"Avro {schema.DisplayName}: corrupt input: {reader.Remaining} bytes left over after the value ended at byte {reader.Position}";
            return false;
        }
        json = buffer.WrittenSpan.ToArray();
        error = null;
        return true;
    }
}
