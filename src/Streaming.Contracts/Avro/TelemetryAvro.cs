using System.Buffers;
using Streaming.Contracts.Avro;

namespace Streaming.Contracts;

public static partial class TelemetryParser
{
    /// <summary>
    /// A telemetry value in the Confluent wire format with the fixed id of <c>telemetry-sample.avsc</c> (1): decoded to the
    /// generic JSON shape and validated by the same JSON parser, so both formats get the same verdicts and limits.
    /// </summary>
    private static bool TryParseAvro(ReadOnlySpan<byte> value, TelemetryLimits limits, DateTimeOffset now,
        out TelemetrySample? sample, out Rejection rejection)
    {
        sample = null;
        if (!ConfluentWireFormat.TryReadHeader(value, out var id, out var payload, out var error))
            return Reject(out rejection, RejectionReason.MalformedAvro, error);
        if (id != AvroContracts.TelemetrySample.FixedId)
        {
            return Reject(out rejection, RejectionReason.MalformedAvro,
                $"schema id {id} is not the telemetry schema (fixed id {AvroContracts.TelemetrySample.FixedId}, telemetry-sample.avsc); telemetry from a Schema Registry is not accepted");
        }
        if (!AvroCodec.TryDecodeToScratchJson(AvroContracts.TelemetrySample.Schema, payload, out var json, out error))
            return Reject(out rejection, RejectionReason.MalformedAvro, error);
        try
        {
            // The size limit was applied to the record as it arrived; its JSON rendering is checked for everything else.
            return TryParseCore(json, limits, now, out sample, out rejection);
        }
        catch (System.Text.Json.JsonException ex)
        {
            return Reject(out rejection, RejectionReason.MalformedAvro, $"decoded Avro is not telemetry JSON: {ex.Message}");
        }
    }
}

/// <summary>Writes telemetry samples as Avro in the Confluent wire format (fixed id 1), for producers and tests.</summary>
internal static class TelemetryAvro
{
    public static byte[] Serialize(TelemetrySample sample)
    {
        var record = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["entity"] = sample.Entity,
            ["ts"] = sample.TimestampMs,
            ["metrics"] = sample.Metrics.ToDictionary(m => m.Name, m => m.Value, StringComparer.Ordinal),
            ["tags"] = sample.Tags.ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal),
        };
        var buffer = new ArrayBufferWriter<byte>(64 + sample.Metrics.Length * 24);
        ConfluentWireFormat.WriteHeader(buffer, AvroContracts.TelemetrySample.FixedId);
        AvroEncoder.Write(buffer, AvroContracts.TelemetrySample.Schema, record, ContractsJsonContext.Default.Options);
        return buffer.WrittenSpan.ToArray();
    }
}
