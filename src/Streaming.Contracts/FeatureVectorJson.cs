using System.Buffers;
using System.Text.Json;

namespace Streaming.Contracts;

/// <summary>
/// Writes a <see cref="FeatureVectorEvent"/> as the features topic's JSON, byte for byte what
/// <c>JsonSerializer.SerializeToUtf8Bytes(e, ContractsJsonContext.Default.FeatureVectorEvent)</c> writes (same property
/// names and order, the same <see cref="Utf8JsonWriter"/> number and date formatting, the same string escaping, and the same
/// <see cref="ArgumentException"/> for a non-finite number), without the serializer's per-call metadata walk: property names
/// are encoded once and the writer and its buffer are reused per thread. The one allocation per event is the result.
/// </summary>
public static class FeatureVectorJson
{
    private static readonly JsonEncodedText Entity = JsonEncodedText.Encode("entity"u8);
    private static readonly JsonEncodedText WindowStart = JsonEncodedText.Encode("window_start"u8);
    private static readonly JsonEncodedText WindowEnd = JsonEncodedText.Encode("window_end"u8);
    private static readonly JsonEncodedText SampleCount = JsonEncodedText.Encode("sample_count"u8);
    private static readonly JsonEncodedText Features = JsonEncodedText.Encode("features"u8);
    private static readonly JsonEncodedText Metric = JsonEncodedText.Encode("metric"u8);
    private static readonly JsonEncodedText Count = JsonEncodedText.Encode("count"u8);
    private static readonly JsonEncodedText Mean = JsonEncodedText.Encode("mean"u8);
    private static readonly JsonEncodedText Std = JsonEncodedText.Encode("std"u8);
    private static readonly JsonEncodedText Min = JsonEncodedText.Encode("min"u8);
    private static readonly JsonEncodedText Max = JsonEncodedText.Encode("max"u8);
    private static readonly JsonEncodedText First = JsonEncodedText.Encode("first"u8);
    private static readonly JsonEncodedText Last = JsonEncodedText.Encode("last"u8);
    private static readonly JsonEncodedText Slope = JsonEncodedText.Encode("slope"u8);
    private static readonly JsonEncodedText Ewma = JsonEncodedText.Encode("ewma"u8);
    private static readonly JsonEncodedText P50 = JsonEncodedText.Encode("p50"u8);
    private static readonly JsonEncodedText P95 = JsonEncodedText.Encode("p95"u8);
    private static readonly JsonEncodedText RateOfChange = JsonEncodedText.Encode("rate_of_change"u8);
    private static readonly JsonEncodedText MissingRatio = JsonEncodedText.Encode("missing_ratio"u8);

    // A buffer grown to the largest event seen is kept; one that grew past this (a huge vector) is let go afterwards.
    private const int KeptBufferBytes = 64 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>The event's UTF-8 JSON in a new array of exactly its length.</summary>
    public static byte[] ToUtf8(FeatureVectorEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(2048);
        var writer = t_writer ??= new Utf8JsonWriter(buffer);
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        try
        {
            Write(writer, e);
            writer.Flush();
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            // A write that threw (a non-finite number) leaves the writer mid-document; Reset above starts the next one clean.
            if (buffer.Capacity > KeptBufferBytes)
                (t_buffer, t_writer) = (null, null);
        }
    }

    /// <summary>Writes the event as one JSON object to <paramref name="writer"/>.</summary>
    public static void Write(Utf8JsonWriter writer, FeatureVectorEvent e)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(e);
        writer.WriteStartObject();
        WriteStringOrNull(writer, Entity, e.Entity);
        writer.WriteString(WindowStart, e.WindowStart);
        writer.WriteString(WindowEnd, e.WindowEnd);
        writer.WriteNumber(SampleCount, e.SampleCount);
        writer.WritePropertyName(Features);
        if (e.Features is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            writer.WriteStartArray();
            foreach (var f in e.Features)
                WriteMetric(writer, f);
            writer.WriteEndArray();
        }
        writer.WriteEndObject();
    }

    private static void WriteMetric(Utf8JsonWriter writer, MetricFeatures? f)
    {
        if (f is null)
        {
            writer.WriteNullValue();
            return;
        }
        writer.WriteStartObject();
        WriteStringOrNull(writer, Metric, f.Metric);
        writer.WriteNumber(Count, f.Count);
        WriteDouble(writer, Mean, f.Mean);
        WriteDouble(writer, Std, f.Std);
        WriteDouble(writer, Min, f.Min);
        WriteDouble(writer, Max, f.Max);
        WriteDouble(writer, First, f.First);
        WriteDouble(writer, Last, f.Last);
        WriteDouble(writer, Slope, f.Slope);
        WriteDouble(writer, Ewma, f.Ewma);
        WriteNumberOrNull(writer, P50, f.P50);
        WriteNumberOrNull(writer, P95, f.P95);
        WriteNumberOrNull(writer, RateOfChange, f.RateOfChange);
        WriteNumberOrNull(writer, MissingRatio, f.MissingRatio);
        writer.WriteEndObject();
    }

    private static void WriteStringOrNull(Utf8JsonWriter writer, JsonEncodedText name, string? value)
    {
        if (value is null)
            writer.WriteNull(name);
        else
            writer.WriteString(name, value);
    }

    private static void WriteNumberOrNull(Utf8JsonWriter writer, JsonEncodedText name, double? value)
    {
        if (value is { } v)
            WriteDouble(writer, name, v);
        else
            writer.WriteNull(name);
    }

    // Most readings are short decimals (a sensor's 47.1234); those are written by ShortDecimal, far cheaper than the
    // shortest round-trip search, and every other number by the writer itself.
    private static void WriteDouble(Utf8JsonWriter writer, JsonEncodedText name, double value)
    {
        Span<byte> digits = stackalloc byte[ShortDecimal.MaxLength];
        if (ShortDecimal.TryFormat(value, digits, out var written))
        {
            writer.WritePropertyName(name);
            writer.WriteRawValue(digits[..written], skipInputValidation: true);
        }
        else
        {
            writer.WriteNumber(name, value);
        }
    }
}
