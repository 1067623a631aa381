using System.Buffers;
using System.Text.Json;

namespace Streaming.Contracts;

/// <summary>Writes samples in the generic shape (<c>{"entity","ts","metrics","tags"}</c>), timestamps as epoch milliseconds.</summary>
public static class TelemetryJson
{
    public static void Write(TelemetrySample sample, IBufferWriter<byte> output)
    {
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        writer.WriteString("entity"u8, sample.Entity);
        writer.WriteNumber("ts"u8, sample.TimestampMs);
        writer.WriteStartObject("metrics"u8);
        foreach (var metric in sample.Metrics)
            writer.WriteNumber(metric.Name, metric.Value);
        writer.WriteEndObject();
        if (sample.Tags.Count > 0)
        {
            writer.WriteStartObject("tags"u8);
            foreach (var (key, value) in sample.Tags)
                writer.WriteString(key, value);
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
    }

    public static byte[] ToUtf8(TelemetrySample sample)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Write(sample, buffer);
        return buffer.WrittenSpan.ToArray();
    }
}
