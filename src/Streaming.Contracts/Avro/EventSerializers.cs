using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Avro.Generic;
using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;

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
/// The features topic's JSON through <see cref="FeatureVectorJson"/>: the same bytes as <see cref="JsonEventSerializer{T}"/>
/// over <see cref="ContractsJsonContext"/>, at less cost (the processor writes one per entity and window).
/// </summary>
internal sealed class FeatureVectorJsonSerializer : IEventSerializer<FeatureVectorEvent>
{
    public static FeatureVectorJsonSerializer Instance { get; } = new();

    public SerializationFormat Format => SerializationFormat.Json;

    public byte[] Serialize(FeatureVectorEvent value) => FeatureVectorJson.ToUtf8(value);
}

/// <summary>
/// Avro in the Confluent wire format, written by Confluent's <see cref="AvroSerializer{T}"/> from a
/// <see cref="GenericRecord"/> of the contract's schema. The schema is registered (or, with fixed ids, its id looked up)
/// once, in <see cref="CreateAsync"/>, under the subject the serializer itself uses, so <see cref="Serialize"/> finds the id
/// in the registry client's cache: it is synchronous and does no I/O.
/// </summary>
internal sealed class AvroEventSerializer<T> : IEventSerializer<T>
{
    private readonly AvroContract<T> _contract;
    private readonly ISerializer<GenericRecord> _serializer;
    private readonly SerializationContext _context;

    private AvroEventSerializer(AvroContract<T> contract, ISerializer<GenericRecord> serializer, string topic, int schemaId)
    {
        _contract = contract;
        _serializer = serializer;
        _context = new SerializationContext(MessageComponentType.Value, topic);
        SchemaId = schemaId;
    }

    public SerializationFormat Format => SerializationFormat.Avro;

    public int SchemaId { get; }

    /// <summary>
    /// Registers the schema; throws <see cref="SchemaRegistryException"/> naming the subject, the HTTP status and the
    /// registry's message when the registry refuses it, <see cref="HttpRequestException"/> when it cannot be reached.
    /// </summary>
    public static async Task<AvroEventSerializer<T>> CreateAsync(AvroContract<T> contract, string topic, ISchemaRegistryClient registry,
        SubjectNameStrategy subjects, CancellationToken cancellationToken)
    {
        // The serializer registers Schema.ToString() (Apache.Avro's rendering of the .avsc): the same text here fills the cache it reads.
        var schema = new Schema(contract.Schema.ToString(), SchemaType.Avro);
        var subject = SubjectFor(topic, contract, subjects);
        int id;
        try
        {
            id = await registry.RegisterSchemaAsync(subject, schema, normalize: false).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SchemaRegistryException ex)
        {
            throw new SchemaRegistryException(
                $"Schema Registry rejected the schema for subject '{subject}': HTTP {(int)ex.Status} {ex.Status}: {ex.Message}", ex.Status, ex.ErrorCode, ex);
        }
        var serializer = new AvroSerializer<GenericRecord>(registry, new AvroSerializerConfig
        {
            AutoRegisterSchemas = true,
            SubjectNameStrategy = subjects == SubjectNameStrategy.TopicRecordName
                ? Confluent.SchemaRegistry.SubjectNameStrategy.TopicRecord
                : Confluent.SchemaRegistry.SubjectNameStrategy.Topic,
        });
        return new AvroEventSerializer<T>(contract, serializer.AsSyncOverAsync(), topic, id);
    }

    /// <summary>The subject a contract's values on a topic are registered under (Confluent's subject name strategies).</summary>
    public static string SubjectFor(string topic, AvroContract contract, SubjectNameStrategy strategy) => strategy == SubjectNameStrategy.TopicRecordName
        ? $"{topic}-{contract.FullName}"
        : $"{topic}-value";

    /// <summary>Throws <see cref="AvroEncodingException"/> naming the field when the event does not fit its schema (an enum value outside the symbols, say).</summary>
    public byte[] Serialize(T value)
    {
        return _serializer.Serialize(AvroJsonMapping.ToRecord(value, _contract.TypeInfo, _contract.Schema), _context);
    }
}

internal static class EventSerializers
{
    /// <summary>The serializer <c>Serialization:Format</c> asks for; <paramref name="registry"/> is only used for Avro.</summary>
    public static async Task<IEventSerializer<T>> CreateAsync<T>(SerializationOptions options, AvroContract<T> contract, string topic,
        ISchemaRegistryClient registry, CancellationToken cancellationToken, SubjectNameStrategy subjects = SubjectNameStrategy.TopicName) =>
        options.Validated().Format switch
        {
            SerializationFormat.Avro => await AvroEventSerializer<T>.CreateAsync(contract, topic, registry, subjects, cancellationToken).ConfigureAwait(false),
            _ when FeatureVectorJsonSerializer.Instance is IEventSerializer<T> features => features,
            _ => new JsonEventSerializer<T>(contract.TypeInfo),
        };

    /// <summary>
    /// Confluent's <see cref="CachedSchemaRegistryClient"/> when <c>SchemaRegistry:Url</c> is set, the fixed ids
    /// (<see cref="FixedIdSchemaRegistry"/>) otherwise. Dispose the result when done.
    /// </summary>
    public static ISchemaRegistryClient CreateSchemaRegistry(SchemaRegistryOptions options)
    {
        if (!options.Validated().IsConfigured)
            return FixedIdSchemaRegistry.Instance;
        var config = new SchemaRegistryConfig
        {
            Url = options.Url,
            RequestTimeoutMs = (int)options.RequestTimeout.TotalMilliseconds,
        };
        if (options.HasBasicAuth)
        {
            config.BasicAuthCredentialsSource = AuthCredentialsSource.UserInfo;
            config.BasicAuthUserInfo = $"{options.BasicAuthUser}:{options.BasicAuthPassword}";
        }
        return new CachedSchemaRegistryClient(config);
    }
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
/// Reads a record value in either format, detected from its first byte: 0 is the Confluent wire format (Avro, read by
/// <see cref="AvroRecordReader"/>), <c>{</c> (after optional whitespace) is JSON. Bad input is a failed result with a
/// message, never an exception; only a registry that cannot be reached (when a schema id must be fetched) throws.
/// </summary>
internal sealed class EventDeserializer<T>(AvroContract<T> contract, ISchemaRegistryClient registry)
{
    private readonly AvroRecordReader _avro = new(registry);

    /// <summary>Like <see cref="ReadAsync"/>; completes without waiting once the writer schema is known (always, with fixed ids).</summary>
    public EventReadResult<T> Read(ReadOnlyMemory<byte> value)
    {
        var pending = ReadAsync(value, CancellationToken.None);
        return pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
    }

    public async ValueTask<EventReadResult<T>> ReadAsync(ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        if (!ValueFormat.TryDetect(value.Span, out var format, out var error))
            return EventReadResult<T>.Failed(error, SerializationFormat.Json);
        if (format == SerializationFormat.Json)
            return ReadJson(value.Span);
        var read = await _avro.ReadAsync(value, cancellationToken).ConfigureAwait(false);
        return read.Success
            ? FromRecord(read.Record, read.SchemaId)
            : EventReadResult<T>.Failed(read.Error, SerializationFormat.Avro);
    }

    /// <summary>An Avro record already decoded (by a reader that chose this type from its record name) as this event type.</summary>
    public EventReadResult<T> FromRecord(GenericRecord record, int schemaId)
    {
        if (record.Schema.Fullname != contract.FullName)
            return EventReadResult<T>.Failed($"schema id {schemaId} is {record.Schema.Fullname}, expected {contract.FullName}", SerializationFormat.Avro);
        return AvroRecordReader.TryMap(record, contract.TypeInfo, out var value, out var error)
            ? EventReadResult<T>.Ok(value, SerializationFormat.Avro)
            : EventReadResult<T>.Failed($"schema id {schemaId}: {error}", SerializationFormat.Avro);
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
}

/// <summary>Which format a record value is in, from its first byte.</summary>
internal static class ValueFormat
{
    /// <summary>The Confluent wire format's first byte.</summary>
    public const byte AvroMagicByte = 0;

    public static bool TryDetect(ReadOnlySpan<byte> value, out SerializationFormat format, [NotNullWhen(false)] out string? error)
    {
        format = SerializationFormat.Json;
        error = null;
        if (value.IsEmpty)
        {
            error = "empty value: neither the Avro wire format nor JSON";
            return false;
        }
        if (value[0] == AvroMagicByte)
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
}
