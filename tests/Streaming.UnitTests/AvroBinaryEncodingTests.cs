using System.Buffers;
using System.Text;
using Streaming.Contracts;
using Streaming.Contracts.Avro;

namespace Streaming.UnitTests;

/// <summary>Examples from the Avro 1.11 specification, "Binary Encoding", plus the reader's handling of bad input.</summary>
public sealed class AvroBinaryEncodingTests
{
    private static byte[] Encode(string schemaJson, object? value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        AvroEncoder.Write(buffer, AvroSchemaParser.Parse(schemaJson), value, ContractsJsonContext.Default.Options);
        return buffer.WrittenSpan.ToArray();
    }

    private static string DecodeToJson(string schemaJson, byte[] data)
    {
        Assert.That(AvroCodec.TryDecodeToJson(AvroSchemaParser.Parse(schemaJson), data, out var json, out var error), Is.True, error);
        return Encoding.UTF8.GetString(json!);
    }

    private static string DecodeError(string schemaJson, byte[] data)
    {
        Assert.That(AvroCodec.TryDecodeToJson(AvroSchemaParser.Parse(schemaJson), data, out _, out var error), Is.False);
        return error!;
    }

    [TestCase(0L, new byte[] { 0x00 })]
    [TestCase(-1L, new byte[] { 0x01 })]
    [TestCase(1L, new byte[] { 0x02 })]
    [TestCase(-2L, new byte[] { 0x03 })]
    [TestCase(2L, new byte[] { 0x04 })]
    [TestCase(-64L, new byte[] { 0x7f })]
    [TestCase(64L, new byte[] { 0x80, 0x01 })]
    [TestCase(long.MaxValue, new byte[] { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 })]
    [TestCase(long.MinValue, new byte[] { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 })]
    public void Longs_are_zig_zag_varints_as_in_the_specification(long value, byte[] expected)
    {
        Assert.That(Encode("\"long\"", value), Is.EqualTo(expected));
        Assert.That(DecodeToJson("\"long\"", expected), Is.EqualTo(value.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    public void Ints_use_the_same_varint_and_reject_values_beyond_32_bits()
    {
        Assert.That(Encode("\"int\"", 64), Is.EqualTo(new byte[] { 0x80, 0x01 }));
        Assert.That(DecodeToJson("\"int\"", Encode("\"int\"", int.MinValue)), Is.EqualTo("-2147483648"));
        Assert.That(DecodeError("\"int\"", Encode("\"long\"", 1L << 40)), Does.Contain("does not fit an int"));
    }

    [Test]
    public void A_string_is_its_utf8_length_then_its_bytes()
    {
        Assert.That(Encode("\"string\"", "foo"), Is.EqualTo(new byte[] { 0x06, 0x66, 0x6f, 0x6f }));
        Assert.That(DecodeToJson("\"string\"", [0x06, 0x66, 0x6f, 0x6f]), Is.EqualTo("\"foo\""));
        Assert.That(Encode("\"string\"", "é"), Is.EqualTo(new byte[] { 0x04, 0xc3, 0xa9 }));
    }

    [Test]
    public void Null_takes_no_bytes_and_booleans_take_one()
    {
        Assert.That(Encode("\"null\"", null), Is.Empty);
        Assert.That(Encode("\"boolean\"", true), Is.EqualTo(new byte[] { 0x01 }));
        Assert.That(Encode("\"boolean\"", false), Is.EqualTo(new byte[] { 0x00 }));
        Assert.That(DecodeError("\"boolean\"", [0x02]), Does.Contain("not 0 or 1"));
    }

    [Test]
    public void Floats_and_doubles_are_little_endian_ieee_754()
    {
        Assert.That(Encode("\"double\"", 1.0), Is.EqualTo(new byte[] { 0, 0, 0, 0, 0, 0, 0xf0, 0x3f }));
        Assert.That(Encode("\"float\"", 1.0f), Is.EqualTo(new byte[] { 0, 0, 0x80, 0x3f }));
        Assert.That(DecodeToJson("\"double\"", [0, 0, 0, 0, 0, 0, 0xf0, 0xbf]), Is.EqualTo("-1"));
    }

    [Test]
    public void The_specifications_array_example_is_one_block_of_two_longs_and_a_zero()
    {
        Assert.That(Encode("""{"type":"array","items":"long"}""", new long[] { 3, 27 }), Is.EqualTo(new byte[] { 0x04, 0x06, 0x36, 0x00 }));
        Assert.That(Encode("""{"type":"array","items":"long"}""", Array.Empty<long>()), Is.EqualTo(new byte[] { 0x00 }));
        Assert.That(DecodeToJson("""{"type":"array","items":"long"}""", [0x04, 0x06, 0x36, 0x00]), Is.EqualTo("[3,27]"));
    }

    [Test]
    public void Array_blocks_with_a_negative_count_carry_their_byte_size_and_may_be_several()
    {
        // Block of -2 items (zig-zag 0x03) of 2 bytes, then a plain block of 1 item, then the terminator.
        byte[] data = [0x03, 0x04, 0x06, 0x36, 0x02, 0x08, 0x00];
        Assert.That(DecodeToJson("""{"type":"array","items":"long"}""", data), Is.EqualTo("[3,27,4]"));
    }

    [Test]
    public void The_specifications_union_example_writes_the_branch_index_then_the_value()
    {
        const string union = """["null","string"]""";
        Assert.That(Encode(union, null), Is.EqualTo(new byte[] { 0x00 }));
        Assert.That(Encode(union, "a"), Is.EqualTo(new byte[] { 0x02, 0x02, 0x61 }));
        Assert.That(DecodeToJson(union, [0x02, 0x02, 0x61]), Is.EqualTo("\"a\""));
        Assert.That(DecodeToJson(union, [0x00]), Is.EqualTo("null"));
        Assert.That(DecodeError(union, [0x04]), Does.Contain("union branch 2"));
    }

    [Test]
    public void The_specifications_record_example_is_its_fields_in_order()
    {
        const string schema = """{"type":"record","name":"test","fields":[{"name":"a","type":"long"},{"name":"b","type":"string"}]}""";
        var record = new Dictionary<string, object?> { ["a"] = 27L, ["b"] = "foo" };
        Assert.That(Encode(schema, record), Is.EqualTo(new byte[] { 0x36, 0x06, 0x66, 0x6f, 0x6f }));
        Assert.That(DecodeToJson(schema, [0x36, 0x06, 0x66, 0x6f, 0x6f]), Is.EqualTo("""{"a":27,"b":"foo"}"""));
    }

    [Test]
    public void Maps_are_blocks_of_key_value_pairs_and_enums_their_symbol_index()
    {
        const string map = """{"type":"map","values":"double"}""";
        var bytes = Encode(map, new Dictionary<string, double> { ["cpu"] = 1.0 });
        Assert.That(bytes, Is.EqualTo(new byte[] { 0x02, 0x06, 0x63, 0x70, 0x75, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x00 }));
        Assert.That(DecodeToJson(map, bytes), Is.EqualTo("""{"cpu":1}"""));

        const string enumSchema = """{"type":"enum","name":"Suit","symbols":["SPADES","HEARTS"]}""";
        Assert.That(Encode(enumSchema, "HEARTS"), Is.EqualTo(new byte[] { 0x02 }));
        Assert.That(DecodeError(enumSchema, [0x04]), Does.Contain("enum index 2"));
    }

    [Test]
    public void Logical_types_map_timestamps_to_epoch_millis_and_uuids_to_strings()
    {
        var time = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
        var bytes = Encode("""{"type":"long","logicalType":"timestamp-millis"}""", time);
        Assert.That(bytes, Is.EqualTo(Encode("\"long\"", time.ToUnixTimeMilliseconds())));
        Assert.That(DecodeToJson("""{"type":"long","logicalType":"timestamp-millis"}""", bytes), Is.EqualTo("\"2026-11-22T10:00:00+00:00\""));

        var id = Guid.Parse("3f2504e0-4f89-41d3-9a0c-0305e82c3301");
        Assert.That(Encode("""{"type":"string","logicalType":"uuid"}""", id), Is.EqualTo(Encode("\"string\"", "3f2504e0-4f89-41d3-9a0c-0305e82c3301")));
        Assert.That(DecodeError("""{"type":"string","logicalType":"uuid"}""", Encode("\"string\"", "nope")), Does.Contain("not a UUID"));
    }

    [Test]
    public void Nullable_timestamps_and_uuids_pick_their_logical_branch_of_a_union()
    {
        const string schema = """
            {"type":"record","name":"R","fields":[
              {"name":"at","type":["null",{"type":"long","logicalType":"timestamp-millis"}]},
              {"name":"id","type":["null",{"type":"string","logicalType":"uuid"}]}
            ]}
            """;
        var at = DateTimeOffset.FromUnixTimeMilliseconds(64);
        var id = Guid.Parse("7c9e6679-7425-40de-944b-e07fc1f90ae7");

        var bytes = Encode(schema, new Dictionary<string, object?> { ["at"] = at, ["id"] = id });

        Assert.That(bytes[..3], Is.EqualTo(new byte[] { 0x02, 0x80, 0x01 }));
        Assert.That(DecodeToJson(schema, bytes), Is.EqualTo("""{"at":"1970-01-01T00:00:00.064+00:00","id":"7c9e6679-7425-40de-944b-e07fc1f90ae7"}"""));
        Assert.That(Encode(schema, new Dictionary<string, object?> { ["at"] = null, ["id"] = null }), Is.EqualTo(new byte[] { 0x00, 0x00 }));
    }

    [Test]
    public void Truncated_varints_strings_and_doubles_are_rejected_with_the_offset()
    {
        Assert.That(DecodeError("\"long\"", [0x80]), Does.Contain("truncated input").And.Contain("at byte 1"));
        Assert.That(DecodeError("\"string\"", [0x06, 0x66]), Does.Contain("declares 3 bytes, 1 left"));
        Assert.That(DecodeError("\"double\"", [0, 0, 0]), Does.Contain("needs 8 bytes, 3 left"));
        Assert.That(DecodeError("\"long\"", []), Does.Contain("truncated input"));
    }

    [Test]
    public void Corrupt_input_is_rejected_with_a_reason()
    {
        Assert.That(DecodeError("\"long\"", [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), Does.Contain("overflows a long"));
        Assert.That(DecodeError("\"string\"", [0x03]), Does.Contain("negative length"));
        Assert.That(DecodeError("\"string\"", [0x02, 0xff]), Does.Contain("not valid UTF-8"));
        Assert.That(DecodeError("\"long\"", [0x02, 0x02]), Does.Contain("1 bytes left over"));
        Assert.That(DecodeError("\"double\"", [0, 0, 0, 0, 0, 0, 0xf8, 0x7f]), Does.Contain("non-finite"));
        // 2^40 items of 8 bytes each cannot be in a 3-byte input: rejected before any item is read.
        Assert.That(DecodeError("""{"type":"array","items":"double"}""", [0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0, 0, 0]), Does.Contain("cannot fit"));
    }

    [Test]
    public void Values_that_do_not_fit_the_schema_are_refused_when_writing()
    {
        Assert.That(() => Encode("""{"type":"enum","name":"Suit","symbols":["SPADES"]}""", "CLUBS"),
            Throws.TypeOf<AvroEncodingException>().With.Message.Contains("'CLUBS' is not a symbol of enum Suit"));
        Assert.That(() => Encode("\"double\"", double.NaN), Throws.TypeOf<AvroEncodingException>().With.Message.Contains("non-finite"));
        Assert.That(() => Encode("\"string\"", null), Throws.TypeOf<AvroEncodingException>().With.Message.Contains("cannot write null as string"));
    }
}
