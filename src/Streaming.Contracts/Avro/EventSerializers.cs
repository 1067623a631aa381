using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Streaming.Contracts.Avro;

/// <summary>Turns an event into a Kafka record value.</summary>
internal interface IEventSerializer<in T>
{
    SerializationFormat Format { get; }

    byte[] Serialize(T value);
}

/// <summary>UTF-8 JSON through <see cref="ContractsJsonContext"/>: byte for byte what the pipeline has always written.</summary>
internal sealed class JsonEventSerializer<T>(JsonTypeInfo<T> typeInfo) : IEventSerializer<T>
{
    public SerializationFormat Format => SerializationFormat.Json;

    public byte[] Serialize(T value) => JsonSerializer.SerializeToUtf8Bytes(value, typeInfo);
}

/// <summary>
/// Avro binary in the Confluent wire format. The schema id is resolved once, in <see cref="CreateAsync"/> (registering
/// the schema if the provider is a registry), so <see cref="Serialize"/> is synchronous and does no I/O.
/// </summary>
internal sealed class AvroEventSerializer<T> : IEventSerializer<T>
{
    private readonly AvroContract<T> _contract;

    private AvroEventSerializer(AvroContract<T> contract, int schemaId)
    {
        _contract = contract;
        SchemaId = schemaId;
    }

    public SerializationFormat Format => SerializationFormat.Avro;

    public int SchemaId { get; }

    public static async Task<AvroEventSerializer<T>> CreateAsync(AvroContract<T> contract, string topic, ISchemaIdProvider ids, CancellationToken cancellationToken) =>
        new(contract, await ids.GetIdAsync(topic, contract, cancellationToken).ConfigureAwait(false));

    /// <summary>Throws <see cref="AvroEncodingException"/> naming the field when the event does not fit its schema (an enum value outside the symbols, say).</summary>
    public byte[] Serialize(T value)
    {
        // One scratch buffer per thread, reused: the only allocation per record is the value handed to Kafka.
        var buffer = SerializerScratch.Rent();
        ConfluentWireFormat.WriteHeader(buffer, SchemaId);
        AvroCodec.Encode(buffer, _contract.Schema, value, _contract.TypeInfo);
        return buffer.WrittenSpan.ToArray();
    }
}

/// <summary>A per-thread buffer for serializers that copy their output out before returning.</summary>
internal static class SerializerScratch
{
    /// <summary>Buffers that grew beyond this (an unusually large event) are dropped rather than kept per thread.</summary>
    private const int MaxRetainedBytes = 1 << 20;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    public static ArrayBufferWriter<byte> Rent()
    {
        var buffer = t_buffer;
        if (buffer is null || buffer.Capacity > MaxRetainedBytes)
            t_buffer = buffer = new ArrayBufferWriter<byte>(1024);
        else
            buffer.ResetWrittenCount();
        return buffer;
    }
}

internal static class EventSerializers
{
    /// <summary>The serializer <c>Serialization:Format</c> asks for; <paramref name="ids"/> is only used for Avro.</summary>
    public static async Task<IEventSerializer<T>> CreateAsync<T>(SerializationOptions options, AvroContract<T> contract, string topic,
        ISchemaIdProvider ids, CancellationToken cancellationToken) => options.Validated().Format switch
        {
            SerializationFormat.Avro => await AvroEventSerializer<T>.CreateAsync(contract, topic, ids, cancellationToken).ConfigureAwait(false),
            _ => new JsonEventSerializer<T>(contract.TypeInfo),
        };

    /// <summary>The Schema Registry client when <c>SchemaRegistry:Url</c> is set, the fixed ids otherwise. Dispose the result if it is disposable.</summary>
    public static ISchemaIdProvider CreateSchemaIds(SchemaRegistryOptions options) =>
        options.Validated().IsConfigured ? new SchemaRegistryClient(options) : FixedSchemaIds.Instance;
}

/// <summary>A decoded event, or why the value could not be read.</summary>
internal readonly record struct EventReadResult<T>(T? Value, string? Error, SerializationFormat Format)
{
    [MemberNotNullWhen(true, nameof(Value))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool Success => Error is null;

    public static EventReadResult<T> Ok(T value, SerializationFormat format) => new(value, null, format);

    public static EventReadResult<T> Failed(string error, SerializationFormat format) => new(default, error, format);
}

/// <summary>
/// Reads a record value in either format, detected from its first byte: 0 is the Confluent wire format (Avro), <c>{</c>
/// (after optional whitespace) is JSON. Bad input is a failed result with a message, never an exception.
/// </summary>
internal sealed class EventDeserializer<T>(AvroContract<T> contract, ISchemaIdProvider ids)
{
    /// <summary>
    /// Synchronous read. An Avro value whose schema id is not yet known to the provider (a registry id never seen by this
    /// process) fails with a message saying so; <see cref="ReadAsync"/> fetches such schemas.
    /// </summary>
    public EventReadResult<T> Read(ReadOnlySpan<byte> value)
    {
        if (!TryDetect(value, out var format, out var error))
            return EventReadResult<T>.Failed(error, SerializationFormat.Json);
        if (format == SerializationFormat.Json)
            return ReadJson(value);
        if (!ConfluentWireFormat.TryReadHeader(value, out var id, out var payload, out error))
            return EventReadResult<T>.Failed(error, SerializationFormat.Avro);
        return ids.TryGetKnownSchema(id, out var schema)
            ? ReadAvro(id, schema, payload)
            : EventReadResult<T>.Failed($"unknown schema id {id} (not a fixed id and not fetched from the Schema Registry yet)", SerializationFormat.Avro);
    }

    /// <summary>Like <see cref="Read"/>, but fetches an unknown schema id from the provider first (the registry, when configured).</summary>
    public async ValueTask<EventReadResult<T>> ReadAsync(ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        if (!ConfluentWireFormat.TryReadHeader(value.Span, out var id, out _, out _) || ids.TryGetKnownSchema(id, out _))
            return Read(value.Span);
        var lookup = await ids.LookupAsync(id, cancellationToken).ConfigureAwait(false);
        return lookup.Found
            ? ReadAvro(id, lookup.Schema, value.Span[ConfluentWireFormat.HeaderLength..])
            : EventReadResult<T>.Failed(lookup.Error, SerializationFormat.Avro);
    }

    private static bool TryDetect(ReadOnlySpan<byte> value, out SerializationFormat format, [NotNullWhen(false)] out string? error)
    {
        format = SerializationFormat.Json;
        error = null;
        if (value.IsEmpty)
        {
            error = "empty value: neither the Avro wire format nor JSON";
            return false;
        }
        if (value[0] == ConfluentWireFormat.MagicByte)
        {
            format = SerializationFormat.Avro;
            return true;
        }
        var text = value.StartsWith("\uFEFF"u8) ? value[3..] : value;
        var first = text.IndexOfAnyExcept(" \t\r\n"u8);
        if (first >= 0 && text[first] == (byte)'{')
            return true;
        error = $"value starts with byte 0x{value[0]:X2}: neither the Avro wire format (magic byte 0) nor a JSON object";
        return false;
    }

    private EventReadResult<T> ReadJson(ReadOnlySpan<byte> value)
    {
        // Detection accepts a UTF-8 byte order mark; the span deserializer does not.
        if (value.StartsWith("\uFEFF"u8))
            value = value[3..];
        try
        {
            return JsonSerializer.Deserialize(value, contract.TypeInfo) is { } result
                ? EventReadResult<T>.Ok(result, SerializationFormat.Json)
                : EventReadResult<T>.Failed($"JSON value is null, expected {typeof(T).Name}", SerializationFormat.Json);
        }
        catch (JsonException ex)
        {
            return EventReadResult<T>.Failed($"JSON {typeof(T).Name} is invalid: {ex.Message}", SerializationFormat.Json);
        }
    }

    private EventReadResult<T> ReadAvro(int id, AvroSchema writerSchema, ReadOnlySpan<byte> payload)
    {
        if (writerSchema is not RecordSchema record || record.FullName != contract.FullName)
            return EventReadResult<T>.Failed($"schema id {id} is {writerSchema.DisplayName}, expected {contract.FullName}", SerializationFormat.Avro);
        return AvroCodec.TryDecode(writerSchema, payload, contract.TypeInfo, out var value, out var error)
            ? EventReadResult<T>.Ok(value, SerializationFormat.Avro)
            : EventReadResult<T>.Failed($"schema id {id}: {error}", SerializationFormat.Avro);
    }
}

/// <summary>For topics that carry several record types (<c>alerts</c>): which type an Avro value holds, from its schema id.</summary>
internal static class AvroRecordNames
{
    /// <summary>
    /// The writer schema's record full name (e.g. <c>streaming.v1.DowntimePredictionEvent</c>) when the value is in the
    /// Avro wire format; null for JSON or unreadable values, or an id the provider does not know (fixed ids) or cannot
    /// find (registry). Completes synchronously unless a registry id must be fetched.
    /// </summary>
    public static async ValueTask<string?> GetAsync(ReadOnlyMemory<byte> value, ISchemaIdProvider ids, CancellationToken cancellationToken)
    {
        if (!ConfluentWireFormat.TryReadHeader(value.Span, out var id, out _, out _))
            return null;
        if (ids.TryGetKnownSchema(id, out var known))
            return (known as NamedSchema)?.FullName;
        var lookup = await ids.LookupAsync(id, cancellationToken).ConfigureAwait(false);
        return (lookup.Schema as NamedSchema)?.FullName;
    }
}
