using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Avro;
using Avro.Generic;
using Avro.IO;
using Confluent.Kafka;
using Confluent.SchemaRegistry;

namespace Streaming.Contracts.Avro;

/// <summary>A decoded Avro record (with its writer schema), or why the value could not be read.</summary>
internal readonly record struct AvroRead(GenericRecord? Record, int SchemaId, string? Error)
{
    [MemberNotNullWhen(true, nameof(Record))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool Success => Error is null;
}

/// <summary>
/// Reads Avro values in the Confluent wire format into a <see cref="GenericRecord"/> of the writer schema, fetched from the
/// registry by id (and cached by the registry client), with Apache.Avro's <see cref="GenericReader{T}"/> — what
/// Confluent's <c>AvroDeserializer</c> does — over the value's own bytes, so that bytes left after the record are seen:
/// Confluent's deserializer ignores them, and a value longer than its record is a corrupt or mis-framed value.
/// Bad input — a short value, a corrupt payload, trailing bytes, an id the registry does not know — is a failed result
/// naming the id; a registry that cannot be reached or answers with a server error throws, so callers can wait and retry.
/// </summary>
internal sealed class AvroRecordReader(ISchemaRegistryClient registry)
{
    // Readers are built once per writer schema id and shared: reading keeps no state in the reader.
    private readonly ConcurrentDictionary<int, GenericReader<GenericRecord>> _readers = new();

    public async ValueTask<AvroRead> ReadAsync(ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        if (value.Length < 5)
            return new AvroRead(null, 0, $"Confluent wire format needs at least 5 bytes (magic byte and schema id), got {value.Length}");
        var id = BinaryPrimitives.ReadInt32BigEndian(value.Span[1..5]);
        if (value.Span[0] != 0)
            return new AvroRead(null, id, $"Confluent wire format starts with magic byte 0, got 0x{value.Span[0]:X2}");
        try
        {
            if (!_readers.TryGetValue(id, out var reader))
            {
                var registered = await registry.GetSchemaAsync(id).WaitAsync(cancellationToken).ConfigureAwait(false);
                var schema = global::Avro.Schema.Parse(registered.SchemaString);
                reader = _readers.GetOrAdd(id, new GenericReader<GenericRecord>(schema, schema));
            }
            using var stream = AsStream(value[5..]);
            var record = reader.Read(default!, new BinaryDecoder(stream));
            var left = stream.Length - stream.Position;
            return left == 0
                ? new AvroRead(record, id, null)
                : new AvroRead(null, id, $"schema id {id}: {left} bytes follow the {record.Schema.Fullname} record (a value holds exactly one record)");
        }
        catch (SchemaRegistryException ex) when (ex.Status == HttpStatusCode.NotFound)
        {
            return new AvroRead(null, id, registry is FixedIdSchemaRegistry
                ? ex.Message
                : $"Schema Registry has no schema with id {id} (HTTP 404: {ex.Message})");
        }
        catch (Exception ex) when (IsCorruptPayload(ex))
        {
            return new AvroRead(null, id, $"schema id {id}: the Avro value is truncated or corrupt: {ex.Message}");
        }
    }

    private static MemoryStream AsStream(ReadOnlyMemory<byte> body) =>
        MemoryMarshal.TryGetArray(body, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(body.ToArray(), writable: false);

    /// <summary>What Apache.Avro and the deserializer throw for bytes that do not decode with the writer schema.</summary>
    private static bool IsCorruptPayload(Exception ex) => ex is AvroException or InvalidDataException or EndOfStreamException
        or IndexOutOfRangeException or ArgumentOutOfRangeException or OverflowException or FormatException;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_json;

    [ThreadStatic]
    private static Utf8JsonWriter? t_jsonWriter;

    /// <summary>The record as <typeparamref name="T"/>, through its JSON contract (field names are the JSON names).</summary>
    public static bool TryMap<T>(GenericRecord record, JsonTypeInfo<T> typeInfo, [NotNullWhen(true)] out T? value, [NotNullWhen(false)] out string? error)
    {
        value = default;
        // A per-thread scratch buffer and writer, reset for each record: the JSON never outlives this call.
        var buffer = t_json is { Capacity: <= 1 << 20 } kept ? kept : t_json = new ArrayBufferWriter<byte>(4096);
        buffer.ResetWrittenCount();
        var writer = t_jsonWriter ??= new Utf8JsonWriter(buffer);
        writer.Reset(buffer);
        try
        {
            AvroJsonMapping.WriteJson(writer, record);
            writer.Flush();
            value = JsonSerializer.Deserialize(buffer.WrittenSpan, typeInfo);
        }
        catch (AvroEncodingException ex)
        {
            error = $"Avro {record.Schema.Fullname}: {ex.Message}";
            return false;
        }
        catch (JsonException ex)
        {
            error = $"Avro {record.Schema.Fullname} does not map onto {typeof(T).Name}: {ex.Message}";
            return false;
        }
        error = value is null ? $"Avro {record.Schema.Fullname} decoded to null, expected {typeof(T).Name}" : null;
        return value is not null;
    }

    /// <summary>The record as JSON text with the schema's field names (times as ISO 8601), for parsers that read JSON.</summary>
    public static bool TryWriteJson(GenericRecord record, IBufferWriter<byte> buffer, [NotNullWhen(false)] out string? error)
    {
        try
        {
            using var writer = new Utf8JsonWriter(buffer);
            AvroJsonMapping.WriteJson(writer, record);
            error = null;
            return true;
        }
        catch (AvroEncodingException ex)
        {
            error = $"Avro {record.Schema.Fullname}: {ex.Message}";
            return false;
        }
    }
}

/// <summary>For topics that carry several record types (<c>alerts</c>): which type an Avro value holds, from its writer schema.</summary>
internal static class AvroRecordNames
{
    /// <summary>
    /// The writer schema's record full name (e.g. <c>streaming.v1.DowntimePredictionEvent</c>) when the value is in the
    /// Avro wire format and readable; null for JSON or unreadable values and ids the registry does not know.
    /// </summary>
    public static async ValueTask<string?> GetAsync(ReadOnlyMemory<byte> value, ISchemaRegistryClient registry, CancellationToken cancellationToken)
    {
        if (!ValueFormat.TryDetect(value.Span, out var format, out _) || format != SerializationFormat.Avro)
            return null;
        var read = await new AvroRecordReader(registry).ReadAsync(value, cancellationToken).ConfigureAwait(false);
        return read.Record?.Schema.Fullname;
    }
}
