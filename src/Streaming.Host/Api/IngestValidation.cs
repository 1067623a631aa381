using System.Text.Json;
using Streaming.Contracts;

namespace Streaming.Host.Api;

/// <summary>One bad sample of a request: its position, the rejection code, the field it names and why.</summary>
internal readonly record struct SampleError(int Index, string Reason, string? Field, string Detail);

/// <summary>
/// Splits an ingest body (one sample object, or an array of them) and validates every sample with the same
/// <see cref="TelemetryParser"/> and limits the processor uses, against the request time. All or nothing: a caller
/// learns about every bad sample at once and nothing is published unless all are good.
/// </summary>
internal static class IngestValidation
{
    public sealed record Outcome(IReadOnlyList<TelemetrySample> Samples, IReadOnlyList<SampleError> Errors, string? RequestError, bool TooManySamples);

    public static Outcome Validate(ReadOnlyMemory<byte> body, TelemetryLimits limits, DateTimeOffset now, int maxSamples)
    {
        var span = body.Span;
        var start = 0;
        while (start < span.Length && span[start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
            start++;
        if (start == span.Length)
            return Fail("the request body is empty; send one sample object or an array of samples");
        if (span[start] != (byte)'[')
            return Check([body], limits, now);

        var elements = new List<ReadOnlyMemory<byte>>();
        try
        {
            var reader = new Utf8JsonReader(span, new JsonReaderOptions { MaxDepth = 16 });
            reader.Read();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                var from = (int)reader.TokenStartIndex;
                reader.Skip();
                elements.Add(body[from..(int)reader.BytesConsumed]);
                if (elements.Count > maxSamples)
                    return new Outcome([], [], $"the batch holds more than {maxSamples} samples (Http:MaxBatchSamples); split it", TooManySamples: true);
            }
            if (reader.Read())
                return Fail($"unexpected {reader.TokenType} after the array; send one JSON array of sample objects");
        }
        catch (JsonException ex)
        {
            return Fail($"the body is not valid JSON at byte {ex.BytePositionInLine}: {ex.Message.Split(". ")[0]}");
        }
        if (elements.Count == 0)
            return Fail("the array holds no samples");
        return Check(elements, limits, now);
    }

    private static Outcome Check(IReadOnlyList<ReadOnlyMemory<byte>> elements, TelemetryLimits limits, DateTimeOffset now)
    {
        var samples = new List<TelemetrySample>(elements.Count);
        var errors = new List<SampleError>();
        for (var i = 0; i < elements.Count; i++)
        {
            if (TelemetryParser.TryParse(elements[i].Span, limits, now, out var sample, out var rejection))
                samples.Add(sample!);
            else
                errors.Add(new SampleError(i, rejection.Code, FieldOf(rejection.Detail), rejection.Detail));
        }
        return new Outcome(errors.Count == 0 ? samples : [], errors, null, false);
    }

    /// <summary>The parser quotes the field a rejection is about ('cpu_usage'); the first quoted name is that field.</summary>
    internal static string? FieldOf(string detail)
    {
        var open = detail.IndexOf('\'', StringComparison.Ordinal);
        if (open < 0)
            return null;
        var close = detail.IndexOf('\'', open + 1);
        return close > open + 1 ? detail[(open + 1)..close] : null;
    }

    private static Outcome Fail(string message) => new([], [], message, false);
}
