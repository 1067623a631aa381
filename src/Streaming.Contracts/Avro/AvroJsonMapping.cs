using System.Collections;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Avro;
using Avro.Generic;

namespace Streaming.Contracts.Avro;

/// <summary>
/// An event does not fit its Avro schema, or a decoded value has no JSON form; the message names the field. The path is
/// built only on this failure path, as the exception passes up through each record, array and map.
/// </summary>
internal sealed class AvroEncodingException(string path, string problem) : Exception(path.Length == 0 ? problem : $"{path}: {problem}")
{
    public AvroEncodingException(string message)
        : this("", message)
    {
    }

    public string Path { get; } = path;

    public string Problem { get; } = problem;

    /// <summary>The same problem seen one level up; <paramref name="segment"/> is a field or record name, or <c>[index]</c>.</summary>
    public AvroEncodingException Within(string segment) =>
        new(Path.Length == 0 ? segment : Path[0] == '[' ? segment + Path : $"{segment}.{Path}", Problem);
}

/// <summary>
/// Maps an event onto an Apache.Avro <see cref="GenericRecord"/> and back through its JSON contract, driven by the schema,
/// so no event type needs code of its own: an Avro field takes the property with the same JSON (snake_case) name, read
/// through the source-generated <see cref="JsonTypeInfo"/> (no JSON text is written). <see cref="DateTimeOffset"/> becomes
/// <c>timestamp-millis</c>, <see cref="Guid"/> <c>uuid</c>, strings enum symbols; NaN and infinities are refused, as the
/// JSON contract refuses them; a field the type lacks takes its schema default. Reading writes the datum as the JSON shape
/// (times as ISO 8601 in UTC), which the contract's deserializer turns into the event.
/// </summary>
internal static class AvroJsonMapping
{
    private static readonly ConcurrentDictionary<JsonTypeInfo, Dictionary<string, JsonPropertyInfo>> PropertiesByType = new();

    /// <summary>Throws <see cref="AvroEncodingException"/> naming the field when the value does not fit the schema.</summary>
    public static GenericRecord ToRecord<T>(T value, JsonTypeInfo<T> typeInfo, RecordSchema schema)
    {
        try
        {
            return ToRecordCore(value!, typeInfo, schema);
        }
        catch (AvroEncodingException ex)
        {
            throw ex.Within(schema.Name);
        }
    }

    private static GenericRecord ToRecordCore(object value, JsonTypeInfo typeInfo, RecordSchema schema)
    {
        var properties = PropertiesByType.GetOrAdd(typeInfo,
            info => info.Properties.Where(p => p.Get is not null).ToDictionary(p => p.Name, StringComparer.Ordinal));
        var record = new GenericRecord(schema);
        foreach (var field in schema.Fields)
        {
            try
            {
                if (properties.TryGetValue(field.Name, out var property))
                    record.Add(field.Pos, ToDatum(property.Get!(value), field.Schema, typeInfo.Options));
                else if (field.DefaultValue is not null)
                    record.Add(field.Pos, ToDatum(ParseDefault(field), field.Schema, "default"));
                else
                    throw new AvroEncodingException($"{typeInfo.Type.Name} has no such property, and the schema gives no default");
            }
            catch (AvroEncodingException ex)
            {
                throw ex.Within(field.Name);
            }
        }
        return record;
    }

    private static object? ToDatum(object? value, Schema schema, JsonSerializerOptions options)
    {
        switch (schema)
        {
            case UnionSchema union:
                if (value is null)
                {
                    return union.Schemas.Any(s => s.Tag == Schema.Type.Null)
                        ? null
                        : throw new AvroEncodingException($"null fits no branch of {union}");
                }
                var branch = union.Schemas.FirstOrDefault(s => s.Tag != Schema.Type.Null)
                    ?? throw new AvroEncodingException($"only null fits {union}");
                return ToDatum(value, branch, options);
            case not null when value is null:
                throw new AvroEncodingException($"null, but Avro {schema.Tag} is not nullable");
            case RecordSchema record:
                return ToRecordCore(value, options.GetTypeInfo(value.GetType()), record);
            case EnumSchema enumSchema:
                return value is string symbol && enumSchema.Contains(symbol)
                    ? new GenericEnum(enumSchema, symbol)
                    : throw new AvroEncodingException($"'{value}' is not a symbol of enum {enumSchema.Name} ({string.Join(", ", enumSchema.Symbols)})");
            case ArraySchema array when value is IEnumerable items and not string:
                var list = new List<object?>();
                foreach (var item in items)
                {
                    try
                    {
                        list.Add(ToDatum(item, array.ItemSchema, options));
                    }
                    catch (AvroEncodingException ex)
                    {
                        throw ex.Within($"[{list.Count}]");
                    }
                }
                return list.ToArray();
            case MapSchema map when value is IEnumerable entries:
                var dictionary = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var entry in entries)
                {
                    var (key, item) = entry switch
                    {
                        KeyValuePair<string, string> p => (p.Key, (object?)p.Value),
                        KeyValuePair<string, double> p => (p.Key, p.Value),
                        DictionaryEntry p => ((string)p.Key, p.Value),
                        _ => throw new AvroEncodingException($"a {entry?.GetType().Name} is not a map entry"),
                    };
                    try
                    {
                        dictionary[key] = ToDatum(item, map.ValueSchema, options);
                    }
                    catch (AvroEncodingException ex)
                    {
                        throw ex.Within(key);
                    }
                }
                return dictionary;
            case LogicalSchema { LogicalTypeName: "timestamp-millis" }:
                return value switch
                {
                    DateTimeOffset time => time.UtcDateTime,
                    DateTime time => time.ToUniversalTime(),
                    _ => throw new AvroEncodingException($"a {value.GetType().Name} is not a time for timestamp-millis"),
                };
            case LogicalSchema { LogicalTypeName: "uuid" }:
                return value is Guid guid ? guid : throw new AvroEncodingException($"a {value.GetType().Name} is not a uuid");
            default:
                return ToPrimitiveDatum(value!, schema!);
        }
    }

    private static object ToPrimitiveDatum(object value, Schema schema) => (schema.Tag, value) switch
    {
        (Schema.Type.Boolean, bool flag) => flag,
        (Schema.Type.Int, int number) => number,
        (Schema.Type.Long, long number) => number,
        (Schema.Type.Long, int number) => (long)number,
        (Schema.Type.Double, double number) when double.IsFinite(number) => number,
        (Schema.Type.Float, float number) when float.IsFinite(number) => number,
        (Schema.Type.Double or Schema.Type.Float, double or float) =>
            throw new AvroEncodingException($"{Convert.ToString(value, CultureInfo.InvariantCulture)} is not a finite number, which the JSON contract refuses"),
        (Schema.Type.Double, int number) => (double)number,
        (Schema.Type.String, string text) => text,
        _ => throw new AvroEncodingException($"a {value.GetType().Name} cannot be written as Avro {schema.Tag}"),
    };

    private static object? ToDatum(JsonElement json, Schema schema, string path)
    {
        switch (schema)
        {
            case RecordSchema record:
                Expect(json, JsonValueKind.Object, schema, path);
                var result = new GenericRecord(record);
                foreach (var field in record.Fields)
                {
                    var fieldPath = $"{path}.{field.Name}";
                    if (json.TryGetProperty(field.Name, out var value))
                        result.Add(field.Pos, ToDatum(value, field.Schema, fieldPath));
                    else if (field.DefaultValue is not null)
                        result.Add(field.Pos, ToDatum(ParseDefault(field), field.Schema, fieldPath));
                    else
                        throw new AvroEncodingException($"{fieldPath}: missing, and the schema gives no default");
                }
                return result;
            case UnionSchema union:
                return ToUnionDatum(json, union, path);
            case EnumSchema enumSchema:
                Expect(json, JsonValueKind.String, schema, path);
                var symbol = json.GetString()!;
                return enumSchema.Contains(symbol)
                    ? new GenericEnum(enumSchema, symbol)
                    : throw new AvroEncodingException($"{path}: '{symbol}' is not a symbol of enum {enumSchema.Name} ({string.Join(", ", enumSchema.Symbols)})");
            case ArraySchema array:
                Expect(json, JsonValueKind.Array, schema, path);
                var items = new object?[json.GetArrayLength()];
                var i = 0;
                foreach (var item in json.EnumerateArray())
                {
                    items[i] = ToDatum(item, array.ItemSchema, $"{path}[{i}]");
                    i++;
                }
                return items;
            case MapSchema map:
                Expect(json, JsonValueKind.Object, schema, path);
                var entries = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var property in json.EnumerateObject())
                    entries[property.Name] = ToDatum(property.Value, map.ValueSchema, $"{path}.{property.Name}");
                return entries;
            case LogicalSchema logical:
                return ToLogicalDatum(json, logical, path);
            default:
                return ToPrimitiveDatum(json, schema, path);
        }
    }

    private static object? ToUnionDatum(JsonElement json, UnionSchema union, string path)
    {
        if (json.ValueKind == JsonValueKind.Null && union.Schemas.Any(s => s.Tag == Schema.Type.Null))
            return null;
        foreach (var branch in union.Schemas)
        {
            if (branch.Tag != Schema.Type.Null && Accepts(branch, json.ValueKind))
                return ToDatum(json, branch, path);
        }
        throw new AvroEncodingException($"{path}: a JSON {json.ValueKind} fits no branch of {union}");
    }

    private static bool Accepts(Schema schema, JsonValueKind kind) => (schema.Tag, kind) switch
    {
        (Schema.Type.Boolean, JsonValueKind.True or JsonValueKind.False) => true,
        (Schema.Type.Int or Schema.Type.Long or Schema.Type.Float or Schema.Type.Double, JsonValueKind.Number) => true,
        (Schema.Type.String or Schema.Type.Enumeration, JsonValueKind.String) => true,
        (Schema.Type.Record or Schema.Type.Map, JsonValueKind.Object) => true,
        (Schema.Type.Array, JsonValueKind.Array) => true,
        (Schema.Type.Logical, _) => Accepts(((LogicalSchema)schema).BaseSchema, kind) || kind == JsonValueKind.String,
        _ => false,
    };

    private static object ToLogicalDatum(JsonElement json, LogicalSchema schema, string path)
    {
        switch (schema.LogicalTypeName)
        {
            case "timestamp-millis" when json.ValueKind == JsonValueKind.String:
                return DateTimeOffset.TryParse(json.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var time)
                    ? time.UtcDateTime
                    : throw new AvroEncodingException($"{path}: '{json.GetString()}' is not an ISO 8601 time for timestamp-millis");
            case "timestamp-millis" when json.ValueKind == JsonValueKind.Number && json.TryGetInt64(out var epochMs):
                return DateTimeOffset.FromUnixTimeMilliseconds(epochMs).UtcDateTime;
            case "uuid" when json.ValueKind == JsonValueKind.String:
                return Guid.TryParse(json.GetString(), out var guid)
                    ? guid
                    : throw new AvroEncodingException($"{path}: '{json.GetString()}' is not a uuid");
            default:
                throw new AvroEncodingException($"{path}: a JSON {json.ValueKind} cannot be written as logical type {schema.LogicalTypeName}");
        }
    }

    private static object ToPrimitiveDatum(JsonElement json, Schema schema, string path)
    {
        try
        {
            return schema.Tag switch
            {
                Schema.Type.Boolean when json.ValueKind is JsonValueKind.True or JsonValueKind.False => json.GetBoolean(),
                Schema.Type.Int when json.ValueKind == JsonValueKind.Number => json.GetInt32(),
                Schema.Type.Long when json.ValueKind == JsonValueKind.Number => json.GetInt64(),
                Schema.Type.Float when json.ValueKind == JsonValueKind.Number => json.GetSingle(),
                Schema.Type.Double when json.ValueKind == JsonValueKind.Number => json.GetDouble(),
                Schema.Type.String when json.ValueKind == JsonValueKind.String => json.GetString()!,
                _ => throw new AvroEncodingException($"{path}: a JSON {json.ValueKind} cannot be written as Avro {schema.Tag}"),
            };
        }
        catch (FormatException ex)
        {
            throw new AvroEncodingException($"{path}: {json.GetRawText()} does not fit Avro {schema.Tag}: {ex.Message}");
        }
    }

    private static void Expect(JsonElement json, JsonValueKind kind, Schema schema, string path)
    {
        if (json.ValueKind != kind)
            throw new AvroEncodingException($"{path}: a JSON {json.ValueKind} cannot be written as Avro {schema.Tag} (expected a JSON {kind})");
    }

    private static JsonElement ParseDefault(Field field)
    {
        using var document = JsonDocument.Parse(field.DefaultValue.ToString(Newtonsoft.Json.Formatting.None));
        return document.RootElement.Clone();
    }

    /// <summary>Writes a decoded datum as JSON. Throws <see cref="AvroEncodingException"/> for a value JSON cannot hold (NaN, infinities).</summary>
    public static void WriteJson(Utf8JsonWriter writer, object? datum)
    {
        switch (datum)
        {
            case null:
                writer.WriteNullValue();
                break;
            case GenericRecord record:
                writer.WriteStartObject();
                foreach (var field in record.Schema.Fields)
                {
                    writer.WritePropertyName(field.Name);
                    try
                    {
                        WriteJson(writer, record.GetValue(field.Pos));
                    }
                    catch (AvroEncodingException ex)
                    {
                        throw ex.Within(field.Name);
                    }
                }
                writer.WriteEndObject();
                break;
            case GenericEnum symbol:
                writer.WriteStringValue(symbol.Value);
                break;
            case string text:
                writer.WriteStringValue(text);
                break;
            case bool flag:
                writer.WriteBooleanValue(flag);
                break;
            case int number:
                writer.WriteNumberValue(number);
                break;
            case long number:
                writer.WriteNumberValue(number);
                break;
            case float number:
                WriteFinite(writer, number);
                break;
            case double number:
                WriteFinite(writer, number);
                break;
            case DateTime time:
                writer.WriteStringValue(new DateTimeOffset(DateTime.SpecifyKind(time, DateTimeKind.Utc)));
                break;
            case Guid guid:
                writer.WriteStringValue(guid);
                break;
            case IDictionary map:
                writer.WriteStartObject();
                foreach (DictionaryEntry entry in map)
                {
                    writer.WritePropertyName((string)entry.Key);
                    WriteJson(writer, entry.Value);
                }
                writer.WriteEndObject();
                break;
            case IEnumerable items:
                writer.WriteStartArray();
                var i = 0;
                foreach (var item in items)
                {
                    try
                    {
                        WriteJson(writer, item);
                    }
                    catch (AvroEncodingException ex)
                    {
                        throw ex.Within($"[{i}]");
                    }
                    i++;
                }
                writer.WriteEndArray();
                break;
            default:
                throw new AvroEncodingException($"a decoded {datum.GetType().Name} has no JSON form here");
        }
    }

    private static void WriteFinite(Utf8JsonWriter writer, double number)
    {
        if (!double.IsFinite(number))
            throw new AvroEncodingException($"{number.ToString(CultureInfo.InvariantCulture)} is not a finite number, which the JSON contract refuses");
        writer.WriteNumberValue(number);
    }
}
