using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Avro;
using Avro.Generic;
using Avro.IO;
using Streaming.Contracts.Avro;

namespace Streaming.UnitTests;

/// <summary>
/// The pipeline's Avro path for one value without the wire-format header, for schemas that are not (yet) contracts:
/// the production JSON-to-record mapping, then Apache.Avro's binary encoder and decoder.
/// </summary>
internal static class AvroTestCodec
{
    public static byte[] Encode<T>(RecordSchema schema, T value, JsonTypeInfo<T> info)
    {
        var record = AvroJsonMapping.ToRecord(value, info, schema);
        using var stream = new MemoryStream();
        new GenericDatumWriter<GenericRecord>(schema).Write(record, new BinaryEncoder(stream));
        return stream.ToArray();
    }

    public static T Decode<T>(RecordSchema schema, byte[] body, JsonTypeInfo<T> info)
    {
        using var stream = new MemoryStream(body);
        var record = new GenericDatumReader<GenericRecord>(schema, schema).Read(null!, new BinaryDecoder(stream));
        Assert.That(AvroRecordReader.TryMap(record, info, out var value, out var error), Is.True, error);
        return value!;
    }

    /// <summary>The Confluent wire format with a fixed id: magic byte 0, the big-endian id, the body.</summary>
    public static byte[] WithFixedIdHeader(int id, byte[] body) => [0, (byte)(id >> 24), (byte)(id >> 16), (byte)(id >> 8), (byte)id, .. body];
}
