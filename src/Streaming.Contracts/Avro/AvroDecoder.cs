using System.Text.Json;

namespace Streaming.Contracts.Avro;

/// <summary>
/// Reads Avro binary through a (writer's) schema and re-emits it as JSON with the schema's field names: records as
/// objects, unions as their branch's value, enums as their symbol, <c>timestamp-millis</c> as an ISO 8601 string,
/// bytes and fixed as base64. <see cref="AvroCodec"/> hands that JSON to the System.Text.Json contract of the target
/// type, so fields are matched by name exactly as the JSON contract matches them. Never throws on bad input.
/// </summary>
internal static class AvroDecoder
{
    /// <summary>Deeper nesting only comes from corrupt input against a recursive schema.</summary>
    public const int MaxDepth = 64;

    /// <summary>Items in one block of a type that encodes to zero bytes (null, empty record); more is treated as corrupt.</summary>
    public const long MaxZeroSizeItems = 1 << 20;

    private static readonly long MinTimestampMs = DateTimeOffset.MinValue.ToUnixTimeMilliseconds();
    private static readonly long MaxTimestampMs = DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();

    public static bool TryDecode(ref AvroBinaryReader reader, AvroSchema schema, Utf8JsonWriter json) =>
        TryDecode(ref reader, schema, json, schema.DisplayName, 0);

    private static bool TryDecode(ref AvroBinaryReader reader, AvroSchema schema, Utf8JsonWriter json, string what, int depth)
    {
        if (depth > MaxDepth)
            return reader.Fail($"corrupt input: {what} nests deeper than {MaxDepth} levels");
        switch (schema)
        {
            case PrimitiveSchema primitive:
                return TryDecodePrimitive(ref reader, primitive, json, what);
            case RecordSchema record:
                json.WriteStartObject();
                foreach (var field in record.Fields)
                {
                    json.WritePropertyName(field.Name);
                    if (!TryDecode(ref reader, field.Schema, json, field.Path, depth + 1))
                        return false;
                }
                json.WriteEndObject();
                return true;
            case EnumSchema enumSchema:
                if (!reader.TryReadInt(what, out var symbol))
                    return false;
                if (symbol < 0 || symbol >= enumSchema.Symbols.Count)
                    return reader.Fail($"corrupt input: {what} enum index {symbol} is outside {enumSchema.FullName}'s {enumSchema.Symbols.Count} symbols");
                json.WriteStringValue(enumSchema.Symbols[symbol]);
                return true;
            case FixedSchema fixedSchema:
                if (!reader.TryReadFixed(what, fixedSchema.Size, out var fixedBytes))
                    return false;
                json.WriteBase64StringValue(fixedBytes);
                return true;
            case ArraySchema array:
                json.WriteStartArray();
                if (!TryDecodeBlocks(ref reader, array.Items, isMap: false, json, what, depth))
                    return false;
                json.WriteEndArray();
                return true;
            case MapSchema map:
                json.WriteStartObject();
                if (!TryDecodeBlocks(ref reader, map.Values, isMap: true, json, what, depth))
                    return false;
                json.WriteEndObject();
                return true;
            case UnionSchema union:
                if (!reader.TryReadLong(what, out var branch))
                    return false;
                if (branch < 0 || branch >= union.Branches.Count)
                    return reader.Fail($"corrupt input: {what} union branch {branch} is outside {union.DisplayName}");
                return TryDecode(ref reader, union.Branches[(int)branch], json, what, depth + 1);
            default:
                return reader.Fail($"unsupported schema {schema.DisplayName} for {what}");
        }
    }

    /// <summary>Arrays and maps: blocks of (count, items) ending with a zero count; a negative count is followed by the block's byte size.</summary>
    private static bool TryDecodeBlocks(ref AvroBinaryReader reader, AvroSchema items, bool isMap, Utf8JsonWriter json, string what, int depth)
    {
        var minItemSize = MinEncodedSize(items, 0) + (isMap ? 1 : 0);
        while (true)
        {
            if (!reader.TryReadLong(what, out var count))
                return false;
            if (count == 0)
                return true;
            if (count < 0)
            {
                if (count == long.MinValue)
                    return reader.Fail($"corrupt input: {what} block count {count}");
                count = -count;
                if (!reader.TryReadLong(what, out var blockBytes))
                    return false;
                if (blockBytes < 0 || blockBytes > reader.Remaining)
                    return reader.Fail($"corrupt input: {what} block size {blockBytes} is negative or exceeds the {reader.Remaining} bytes left");
            }
            if (minItemSize > 0 ? count > reader.Remaining / minItemSize : count > MaxZeroSizeItems)
                return reader.Fail($"truncated or corrupt input: {what} block of {count} items cannot fit in the {reader.Remaining} bytes left");
            for (long i = 0; i < count; i++)
            {
                if (isMap)
                {
                    if (!reader.TryReadString(what, out var key))
                        return false;
                    json.WritePropertyName(key);
                }
                if (!TryDecode(ref reader, items, json, what, depth + 1))
                    return false;
            }
        }
    }

    private static bool TryDecodePrimitive(ref AvroBinaryReader reader, PrimitiveSchema schema, Utf8JsonWriter json, string what)
    {
        switch (schema.Type)
        {
            case AvroType.Null:
                json.WriteNullValue();
                return true;
            case AvroType.Boolean:
                if (!reader.TryReadBoolean(what, out var b))
                    return false;
                json.WriteBooleanValue(b);
                return true;
            case AvroType.Int:
                if (!reader.TryReadInt(what, out var i))
                    return false;
                json.WriteNumberValue(i);
                return true;
            case AvroType.Long:
                if (!reader.TryReadLong(what, out var l))
                    return false;
                if (!schema.IsTimestampMillis)
                {
                    json.WriteNumberValue(l);
                    return true;
                }
                if (l < MinTimestampMs || l > MaxTimestampMs)
                    return reader.Fail($"corrupt input: {what} timestamp-millis {l} is outside the representable range");
                json.WriteStringValue(DateTimeOffset.FromUnixTimeMilliseconds(l));
                return true;
            case AvroType.Float:
                if (!reader.TryReadFloat(what, out var f))
                    return false;
                if (!float.IsFinite(f))
                    return reader.Fail($"corrupt input: {what} is the non-finite float {f}");
                json.WriteNumberValue(f);
                return true;
            case AvroType.Double:
                if (!reader.TryReadDouble(what, out var d))
                    return false;
                if (!double.IsFinite(d))
                    return reader.Fail($"corrupt input: {what} is the non-finite double {d}");
                json.WriteNumberValue(d);
                return true;
            case AvroType.Bytes:
                if (!reader.TryReadBytes(what, out var bytes))
                    return false;
                json.WriteBase64StringValue(bytes);
                return true;
            case AvroType.String:
                if (!reader.TryReadString(what, out var s))
                    return false;
                if (schema.IsUuid && !Guid.TryParse(s, out _))
                    return reader.Fail($"corrupt input: {what} '{s}' is not a UUID");
                json.WriteStringValue(s);
                return true;
            default:
                return reader.Fail($"unsupported schema {schema.DisplayName} for {what}");
        }
    }

    /// <summary>The fewest bytes a value of this schema can encode to; bounds block counts read from untrusted input.</summary>
    private static int MinEncodedSize(AvroSchema schema, int depth) => schema switch
    {
        _ when depth > MaxDepth => 0,
        PrimitiveSchema { Type: AvroType.Null } => 0,
        PrimitiveSchema { Type: AvroType.Float } => 4,
        PrimitiveSchema { Type: AvroType.Double } => 8,
        PrimitiveSchema => 1,
        FixedSchema f => f.Size,
        RecordSchema r => r.Fields.Sum(field => MinEncodedSize(field.Schema, depth + 1)),
        _ => 1,
    };
}
