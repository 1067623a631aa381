using System.Buffers;
using System.Collections;
using System.Collections.Concurrent;
using System.Text.Json;

namespace Streaming.Contracts.Avro;

/// <summary>A value that does not fit the schema it is written with; the message names the field and the problem.</summary>
internal sealed class AvroEncodingException(string message) : Exception(message);

/// <summary>
/// Writes CLR values through a parsed schema. Records are read through their System.Text.Json metadata: an Avro field
/// takes the property whose JSON name (snake_case under <see cref="ContractsJsonContext"/>) equals the field name, so the
/// Avro and JSON contracts cannot drift apart and a new event type needs no hand-written encoding. Conversions:
/// <see cref="DateTimeOffset"/> to <c>timestamp-millis</c>, <see cref="Guid"/> to a <c>uuid</c> string, enum symbols
/// from strings, null to the <c>null</c> branch of a union. Also accepts <c>IReadOnlyDictionary&lt;string, object?&gt;</c>
/// for records, so generic data can be written.
/// </summary>
internal static class AvroEncoder
{
    private static readonly ConcurrentDictionary<(RecordSchema, Type), Func<object, object?>?[]> Plans = new();

    public static void Write(IBufferWriter<byte> writer, AvroSchema schema, object? value, JsonSerializerOptions options) =>
        Write(writer, schema, value, options, schema.DisplayName);

    private static AvroEncodingException Mismatch(string path, AvroSchema schema, object? value) =>
        new($"{path}: cannot write {Describe(value)} as {schema.DisplayName}");

    private static string Describe(object? value) => value switch
    {
        null => "null",
        string s => $"string '{s}'",
        _ => $"{value.GetType().Name} {value}",
    };

    private static void Write(IBufferWriter<byte> writer, AvroSchema schema, object? value, JsonSerializerOptions options, string path)
    {
        switch (schema)
        {
            case PrimitiveSchema primitive:
                WritePrimitive(writer, primitive, value, path);
                break;
            case RecordSchema record:
                WriteRecord(writer, record, value ?? throw Mismatch(path, schema, value), options);
                break;
            case EnumSchema enumSchema:
                var symbol = value switch
                {
                    string s => s,
                    Enum e => e.ToString(),
                    _ => throw Mismatch(path, schema, value),
                };
                var index = IndexOf(enumSchema.Symbols, symbol);
                if (index < 0)
                    throw new AvroEncodingException($"{path}: '{symbol}' is not a symbol of enum {enumSchema.FullName} ({string.Join(", ", enumSchema.Symbols)})");
                AvroBinary.WriteLong(writer, index);
                break;
            case FixedSchema fixedSchema:
                var bytes = value is byte[] array ? array : throw Mismatch(path, schema, value);
                if (bytes.Length != fixedSchema.Size)
                    throw new AvroEncodingException($"{path}: fixed {fixedSchema.FullName} needs {fixedSchema.Size} bytes, got {bytes.Length}");
                AvroBinary.WriteFixed(writer, bytes);
                break;
            case ArraySchema arraySchema:
                if (value is string or null or not IEnumerable)
                    throw Mismatch(path, schema, value);
                var items = value as ICollection ?? ((IEnumerable)value).Cast<object?>().ToList();
                // One block holding every item, then the zero terminator; readers also accept other block layouts.
                if (items.Count > 0)
                {
                    AvroBinary.WriteLong(writer, items.Count);
                    foreach (var item in items)
                        Write(writer, arraySchema.Items, item, options, path);
                }
                AvroBinary.WriteLong(writer, 0);
                break;
            case MapSchema mapSchema:
                if (value is not IDictionary map)
                    throw Mismatch(path, schema, value);
                if (map.Count > 0)
                {
                    AvroBinary.WriteLong(writer, map.Count);
                    foreach (DictionaryEntry entry in map)
                    {
                        AvroBinary.WriteString(writer, entry.Key as string ?? throw new AvroEncodingException($"{path}: map keys must be strings, got {Describe(entry.Key)}"));
                        Write(writer, mapSchema.Values, entry.Value, options, path);
                    }
                }
                AvroBinary.WriteLong(writer, 0);
                break;
            case UnionSchema union:
                var branch = SelectBranch(union, value);
                if (branch < 0)
                    throw Mismatch(path, schema, value);
                AvroBinary.WriteLong(writer, branch);
                Write(writer, union.Branches[branch], value, options, path);
                break;
            default:
                throw new AvroEncodingException($"{path}: unsupported schema {schema.DisplayName}");
        }
    }

    private static void WritePrimitive(IBufferWriter<byte> writer, PrimitiveSchema schema, object? value, string path)
    {
        switch (schema.Type, value)
        {
            case (AvroType.Null, null):
                return;
            case (AvroType.Boolean, bool b):
                AvroBinary.WriteBoolean(writer, b);
                return;
            case (AvroType.Int, int or short or byte):
                AvroBinary.WriteLong(writer, Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture));
                return;
            case (AvroType.Int, long l) when l is >= int.MinValue and <= int.MaxValue:
                AvroBinary.WriteLong(writer, l);
                return;
            case (AvroType.Long, DateTimeOffset time) when schema.IsTimestampMillis:
                AvroBinary.WriteLong(writer, time.ToUnixTimeMilliseconds());
                return;
            case (AvroType.Long, long or int or short or byte):
                AvroBinary.WriteLong(writer, Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
                return;
            case (AvroType.Float, float f):
                AvroBinary.WriteFloat(writer, RequireFinite(f, path));
                return;
            case (AvroType.Double, double or float or int or long):
                AvroBinary.WriteDouble(writer, RequireFinite(Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture), path));
                return;
            case (AvroType.Bytes, byte[] bytes):
                AvroBinary.WriteBytes(writer, bytes);
                return;
            case (AvroType.String, Guid guid) when schema.IsUuid:
                AvroBinary.WriteString(writer, guid.ToString("D"));
                return;
            case (AvroType.String, string s):
                if (schema.IsUuid && !Guid.TryParse(s, out _))
                    throw new AvroEncodingException($"{path}: '{s}' is not a UUID");
                AvroBinary.WriteString(writer, s);
                return;
            default:
                throw Mismatch(path, schema, value);
        }
    }

    // The JSON contract cannot carry NaN or infinities either; refusing them here keeps every Avro record readable.
    private static T RequireFinite<T>(T value, string path) where T : System.Numerics.IFloatingPoint<T> =>
        T.IsFinite(value) ? value : throw new AvroEncodingException($"{path}: non-finite number {value} is not allowed");

    private static int IndexOf(IReadOnlyList<string> symbols, string symbol)
    {
        for (var i = 0; i < symbols.Count; i++)
        {
            if (symbols[i] == symbol)
                return i;
        }
        return -1;
    }

    private static int SelectBranch(UnionSchema union, object? value)
    {
        for (var i = 0; i < union.Branches.Count; i++)
        {
            if (Accepts(union.Branches[i], value))
                return i;
        }
        return -1;
    }

    private static bool Accepts(AvroSchema schema, object? value) => schema switch
    {
        PrimitiveSchema p => (p.Type, value) switch
        {
            (AvroType.Null, null) => true,
            (AvroType.Boolean, bool) => true,
            (AvroType.Int, int or short or byte) => true,
            (AvroType.Long, long or int or short or byte) => true,
            (AvroType.Long, DateTimeOffset) => p.IsTimestampMillis,
            (AvroType.Float, float) => true,
            (AvroType.Double, double or float or int or long) => true,
            (AvroType.Bytes, byte[]) => true,
            (AvroType.String, string) => true,
            (AvroType.String, Guid) => p.IsUuid,
            _ => false,
        },
        EnumSchema e => value is string s && IndexOf(e.Symbols, s) >= 0,
        FixedSchema f => value is byte[] b && b.Length == f.Size,
        MapSchema => value is IDictionary,
        ArraySchema => value is IEnumerable and not string and not IDictionary,
        RecordSchema => value is IReadOnlyDictionary<string, object?> || value is not (null or string or IEnumerable or ValueType),
        _ => false,
    };

    private static void WriteRecord(IBufferWriter<byte> writer, RecordSchema record, object value, JsonSerializerOptions options)
    {
        if (value is IReadOnlyDictionary<string, object?> generic)
        {
            foreach (var field in record.Fields)
            {
                if (generic.TryGetValue(field.Name, out var fieldValue))
                    Write(writer, field.Schema, fieldValue, options, field.Path);
                else
                    WriteDefault(writer, field, options);
            }
            return;
        }
        var getters = Plans.GetOrAdd((record, value.GetType()), static (key, options) => Plan(key.Item1, key.Item2, options), options);
        for (var i = 0; i < getters.Length; i++)
        {
            var field = record.Fields[i];
            if (getters[i] is { } get)
                Write(writer, field.Schema, get(value), options, field.Path);
            else
                WriteDefault(writer, field, options);
        }
    }

    private static Func<object, object?>?[] Plan(RecordSchema record, Type type, JsonSerializerOptions options)
    {
        var info = options.GetTypeInfo(type);
        var getters = new Func<object, object?>?[record.Fields.Count];
        for (var i = 0; i < getters.Length; i++)
        {
            var field = record.Fields[i];
            var property = info.Properties.FirstOrDefault(p => p.Name == field.Name);
            if (property?.Get is null && !field.HasDefault)
                throw new AvroEncodingException($"{field.Path}: {type.Name} has no readable property with JSON name '{field.Name}' and the field has no default");
            getters[i] = property?.Get;
        }
        return getters;
    }

    private static void WriteDefault(IBufferWriter<byte> writer, AvroField field, JsonSerializerOptions options)
    {
        if (!field.HasDefault || field.Default is not { } json)
            throw new AvroEncodingException($"{field.Path}: no value and no default");
        // A union's default belongs to its first branch (specification, "Complex Types: Records").
        if (field.Schema is UnionSchema union)
        {
            AvroBinary.WriteLong(writer, 0);
            Write(writer, union.Branches[0], FromJson(json), options, field.Path);
        }
        else
        {
            Write(writer, field.Schema, FromJson(json), options, field.Path);
        }
    }

    private static object? FromJson(JsonElement json) => json.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => json.GetString(),
        JsonValueKind.Number => json.TryGetInt64(out var l) ? (l is >= int.MinValue and <= int.MaxValue ? (int)l : l) : json.GetDouble(),
        JsonValueKind.Array => json.EnumerateArray().Select(FromJson).ToList(),
        _ => json.EnumerateObject().ToDictionary(p => p.Name, p => FromJson(p.Value)),
    };
}
