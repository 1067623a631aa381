using System.Buffers;
using System.Buffers.Binary;
using Avro.Generic;
using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry.Serdes;
using Streaming.Contracts.Avro;

namespace Streaming.Contracts;

public static partial class TelemetryParser
{
    private static readonly AvroRecordReader TelemetryReader = new(FixedIdSchemaRegistry.Instance);

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_avroJson;

    /// <summary>
    /// A telemetry value in the Confluent wire format with the fixed id of <c>telemetry-sample.avsc</c> (1): decoded by
    /// Confluent's deserializer, written as the generic JSON shape and validated by the same JSON parser, so both formats
    /// get the same verdicts and limits.
    /// </summary>
    private static bool TryParseAvro(ReadOnlySpan<byte> value, TelemetryLimits limits, DateTimeOffset now,
        out TelemetrySample? sample, out Rejection rejection)
    {
        sample = null;
        if (value.Length < 5)
            return Reject(out rejection, RejectionReason.MalformedAvro, $"Confluent wire format needs at least 5 bytes (magic byte and schema id), got {value.Length}");
        var id = BinaryPrimitives.ReadInt32BigEndian(value[1..5]);
        var contract = AvroContracts.TelemetrySample;
        if (id != contract.FixedId)
        {
            return Reject(out rejection, RejectionReason.MalformedAvro,
                $"schema id {id} is not the telemetry schema (fixed id {contract.FixedId}, telemetry-sample.avsc); telemetry from a Schema Registry is not accepted");
        }
        // The fixed-id registry answers without I/O, so the read completes synchronously.
        var read = TelemetryReader.ReadAsync(value.ToArray(), CancellationToken.None).AsTask().GetAwaiter().GetResult();
        if (!read.Success)
            return Reject(out rejection, RejectionReason.MalformedAvro, $"Avro {contract.FullName}: {read.Error}");
        var json = t_avroJson ??= new ArrayBufferWriter<byte>(1024);
        json.ResetWrittenCount();
        if (!AvroRecordReader.TryWriteJson(read.Record, json, out var error))
            return Reject(out rejection, RejectionReason.MalformedAvro, error);
        try
        {
            // The size limit was applied to the record as it arrived; its JSON rendering is checked for everything else.
            if (!TryParseCore(json.WrittenSpan, limits, now, out var entity, out var timestampMs, out var tags, out rejection))
                return false;
            sample = new TelemetrySample(entity, timestampMs, t_metrics!.ToArray(), tags);
            return true;
        }
        catch (System.Text.Json.JsonException ex)
        {
            return Reject(out rejection, RejectionReason.MalformedAvro, $"decoded Avro is not telemetry JSON: {ex.Message}");
        }
    }
}

/// <summary>Writes telemetry samples as Avro in the Confluent wire format (fixed id 1) with Confluent's serializer, for producers and tests.</summary>
internal static class TelemetryAvro
{
    private static readonly ISerializer<GenericRecord> Serializer =
        new AvroSerializer<GenericRecord>(FixedIdSchemaRegistry.Instance, new AvroSerializerConfig { AutoRegisterSchemas = true }).AsSyncOverAsync();

    private static readonly SerializationContext Context = new(MessageComponentType.Value, TopicNames.Telemetry);

    public static byte[] Serialize(TelemetrySample sample)
    {
        var record = new GenericRecord(AvroContracts.TelemetrySample.Schema);
        record.Add("entity", sample.Entity);
        record.Add("ts", DateTimeOffset.FromUnixTimeMilliseconds(sample.TimestampMs).UtcDateTime);
        record.Add("metrics", sample.Metrics.ToDictionary(m => m.Name, m => (object)m.Value, StringComparer.Ordinal));
        record.Add("tags", sample.Tags.ToDictionary(t => t.Key, t => (object)t.Value, StringComparer.Ordinal));
        return Serializer.Serialize(record, Context);
    }
}
