using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Streaming.Contracts;

/// <summary>Limits a sample must respect; the defaults suit live telemetry. Replays of old data set <see cref="MaxAge"/> to null.</summary>
public sealed record TelemetryLimits
{
    public static TelemetryLimits Default { get; } = new();

    public int MaxBytes { get; init; } = 64 * 1024;
    public int MaxMetrics { get; init; } = 256;
    public int MaxEntityLength { get; init; } = 128;
    public int MaxMetricNameLength { get; init; } = 64;
    public double MaxAbsValue { get; init; } = 1e15;

    /// <summary>How far behind the clock an event time may be; null accepts any time after <see cref="Earliest"/>.</summary>
    public TimeSpan? MaxAge { get; init; } = TimeSpan.FromDays(7);

    /// <summary>How far ahead of the clock an event time may be (producer clock skew).</summary>
    public TimeSpan MaxFutureSkew { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Event times before this are rejected whatever <see cref="MaxAge"/> says: they are unset clocks, not data.</summary>
    public DateTimeOffset Earliest { get; init; } = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
}

/// <summary>
/// Parses telemetry JSON in two shapes: flat (<c>{"host":"web-1","timestamp":"...","cpu_usage":75.5}</c>) and generic
/// (<c>{"entity":"...","ts":...,"metrics":{...},"tags":{...}}</c>). Never throws on bad input: returns a <see cref="Rejection"/>
/// that names the field and the reason. A value starting with byte 0 is Avro in the Confluent wire format
/// (<c>telemetry-sample.avsc</c>, fixed id 1), decoded and then validated exactly as JSON.
/// </summary>
public static partial class TelemetryParser
{
    private static readonly string[] EntityKeys = ["entity", "entity_id", "host", "machine", "device"];
    private static readonly string[] TimestampKeys = ["ts", "timestamp", "time"];

    // Reused per thread: the sample gets an exact-size copy, the scratch list never escapes.
    [ThreadStatic]
    private static List<MetricValue>? t_metrics;

    public static bool TryParse(ReadOnlySpan<byte> utf8Json, TelemetryLimits limits, DateTimeOffset now,
        out TelemetrySample? sample, out Rejection rejection)
    {
        sample = null;
        if (utf8Json.Length > limits.MaxBytes)
            return Reject(out rejection, RejectionReason.TooLarge, $"record is {utf8Json.Length} bytes; the limit is {limits.MaxBytes}");
        if (!utf8Json.IsEmpty && utf8Json[0] == 0)
            return TryParseAvro(utf8Json, limits, now, out sample, out rejection);
        if (!TryParseJson(utf8Json, limits, now, out var entity, out var timestampMs, out var tags, out rejection))
            return false;
        sample = new TelemetrySample(entity, timestampMs, t_metrics!.ToArray(), tags);
        return true;
    }

    /// <summary>
    /// <see cref="TryParse(ReadOnlySpan{byte}, TelemetryLimits, DateTimeOffset, out TelemetrySample?, out Rejection)"/>
    /// without a sample object, for a caller that uses the readings at once (the partition processor): the same verdict
    /// and rejection, with <paramref name="metrics"/> in a per-thread buffer that the next parse on this thread overwrites.
    /// Tags are checked but not returned.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8Json, TelemetryLimits limits, DateTimeOffset now,
        out string entity, out long timestampMs, out ReadOnlySpan<MetricValue> metrics, out Rejection rejection)
    {
        (entity, timestampMs) = ("", 0);
        metrics = default;
        if (utf8Json.Length > limits.MaxBytes || (!utf8Json.IsEmpty && utf8Json[0] == 0))
        {
            if (!TryParse(utf8Json, limits, now, out TelemetrySample? sample, out rejection))
                return false;
            (entity, timestampMs) = (sample!.Entity, sample.TimestampMs);
            metrics = sample.Metrics;
            return true;
        }
        if (!TryParseJson(utf8Json, limits, now, out entity, out timestampMs, out _, out rejection))
            return false;
        metrics = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(t_metrics);
        return true;
    }

    private static bool TryParseJson(ReadOnlySpan<byte> utf8Json, TelemetryLimits limits, DateTimeOffset now,
        out string entity, out long timestampMs, out Dictionary<string, string>? tags, out Rejection rejection)
    {
        (entity, timestampMs, tags) = ("", 0, null);
        try
        {
            return TryParseCore(utf8Json, limits, now, out entity, out timestampMs, out tags, out rejection);
        }
        catch (JsonException ex)
        {
            // Utf8JsonReader reports syntax errors only by throwing; this is the one place a parse failure becomes a result.
            return Reject(out rejection, RejectionReason.MalformedJson, $"invalid JSON at byte {ex.BytePositionInLine}: {FirstSentence(ex.Message)}");
        }
        catch (InvalidOperationException ex) when (ex.InnerException is System.Text.DecoderFallbackException)
        {
            // The reader checks structure, not the bytes inside strings: invalid UTF-8 only surfaces when a string is
            // decoded. Without this a single such record stopped the processor (found by the bad-input corpus).
            return Reject(out rejection, RejectionReason.MalformedJson, "invalid UTF-8 inside a string value");
        }
    }

    // The readings are left in t_metrics.
    private static bool TryParseCore(ReadOnlySpan<byte> json, TelemetryLimits limits, DateTimeOffset now,
        out string entityOut, out long timestampOut, out Dictionary<string, string>? tagsOut, out Rejection rejection)
    {
        (entityOut, timestampOut, tagsOut) = ("", 0, null);
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 8 });
        if (!reader.Read())
            return Reject(out rejection, RejectionReason.MalformedJson, "empty record");
        if (reader.TokenType != JsonTokenType.StartObject)
            return Reject(out rejection, RejectionReason.NotAnObject, $"expected a JSON object, found {Describe(reader.TokenType)}");

        string? entity = null;
        long? timestamp = null;
        var names = NameInterner.Current;
        var metrics = t_metrics ??= new List<MetricValue>(16);
        metrics.Clear();
        Dictionary<string, string>? tags = null;

        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var name = names.Get(ref reader);
            reader.Read();
            if (Array.IndexOf(EntityKeys, name) >= 0 && entity is null)
            {
                if (reader.TokenType != JsonTokenType.String)
                    return Reject(out rejection, RejectionReason.InvalidEntity, $"'{name}' must be a string, found {Describe(reader.TokenType)}");
                entity = names.Get(ref reader);
                if (!IsValidEntity(entity, limits, out var why))
                    return Reject(out rejection, RejectionReason.InvalidEntity, $"'{name}' {why}");
            }
            else if (Array.IndexOf(TimestampKeys, name) >= 0 && timestamp is null)
            {
                if (!TryReadTimestamp(ref reader, name, out var ms, out rejection))
                    return false;
                timestamp = ms;
            }
            else if (name == "metrics" && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var metric = names.Get(ref reader);
                    reader.Read();
                    if (!TryAddMetric(ref reader, metric, metrics, limits, out rejection))
                        return false;
                }
            }
            else if (name == "tags" && reader.TokenType == JsonTokenType.StartObject)
            {
                tags ??= new Dictionary<string, string>(StringComparer.Ordinal);
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var key = reader.GetString()!;
                    reader.Read();
                    if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                        return Reject(out rejection, RejectionReason.UnexpectedField, $"tag '{key}' must be a scalar, found {Describe(reader.TokenType)}");
                    tags[key] = ScalarText(ref reader);
                }
            }
            else
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.Number:
                        if (!TryAddMetric(ref reader, name, metrics, limits, out rejection))
                            return false;
                        break;
                    case JsonTokenType.String when IsNonFiniteLiteral(reader.ValueSpan):
                        return Reject(out rejection, RejectionReason.NonFiniteMetric, $"metric '{name}' is {reader.GetString()}; only finite numbers are accepted");
                    case JsonTokenType.String when double.TryParse(reader.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out _):
                        // A quoted number is a metric sent with the wrong type, not a label: say so rather than lose it.
                        return Reject(out rejection, RejectionReason.NonNumericMetric, $"metric '{name}' is a quoted number (\"{reader.GetString()}\"); send numbers unquoted");
                    case JsonTokenType.String or JsonTokenType.True or JsonTokenType.False:
                        // Flat producers put labels such as region or role next to their metrics.
                        tags ??= new Dictionary<string, string>(StringComparer.Ordinal);
                        tags[name] = ScalarText(ref reader);
                        break;
                    case JsonTokenType.Null:
                        return Reject(out rejection, RejectionReason.NonNumericMetric, $"field '{name}' is null; omit a metric that has no value");
                    default:
                        return Reject(out rejection, RejectionReason.UnexpectedField, $"field '{name}' is {Describe(reader.TokenType)}; flat samples hold only numbers and string labels");
                }
            }
        }

        // Anything after the object (a second record, garbage) makes the record malformed: Read throws for it, false at the end.
        if (reader.Read())
            return Reject(out rejection, RejectionReason.MalformedJson, $"unexpected {Describe(reader.TokenType)} after the JSON object");

        if (entity is null)
            return Reject(out rejection, RejectionReason.MissingEntity, "no entity: set one of 'entity', 'entity_id', 'host', 'machine', 'device'");
        if (timestamp is null)
            return Reject(out rejection, RejectionReason.MissingTimestamp, "no event time: set 'ts', 'timestamp' or 'time' (ISO 8601 or epoch milliseconds)");
        if (!IsInRange(timestamp.Value, limits, now, out var rangeWhy))
            return Reject(out rejection, RejectionReason.TimestampOutOfRange, rangeWhy);
        if (metrics.Count == 0)
            return Reject(out rejection, RejectionReason.NoMetrics, "the sample has no numeric metrics");

        (entityOut, timestampOut, tagsOut) = (entity, timestamp.Value, tags);
        rejection = default;
        return true;
    }

    private static bool TryAddMetric(ref Utf8JsonReader reader, string name, List<MetricValue> metrics, TelemetryLimits limits, out Rejection rejection)
    {
        if (!IsValidMetricName(name, limits))
            return Reject(out rejection, RejectionReason.InvalidMetricName,
                $"metric name '{Truncate(name)}' must be 1-{limits.MaxMetricNameLength} characters of letters, digits, '_', '.', '-' or ':'");
        double value;
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (!reader.TryGetDouble(out value) || !double.IsFinite(value))
                return Reject(out rejection, RejectionReason.MetricOutOfRange, $"metric '{name}' does not fit a 64-bit float");
        }
        else if (reader.TokenType == JsonTokenType.String && IsNonFiniteLiteral(reader.ValueSpan))
        {
            return Reject(out rejection, RejectionReason.NonFiniteMetric, $"metric '{name}' is {reader.GetString()}; only finite numbers are accepted");
        }
        else
        {
            return Reject(out rejection, RejectionReason.NonNumericMetric, $"metric '{name}' must be a number, found {Describe(reader.TokenType)}");
        }
        if (Math.Abs(value) > limits.MaxAbsValue)
            return Reject(out rejection, RejectionReason.MetricOutOfRange, $"metric '{name}' = {value:R} exceeds the limit of ±{limits.MaxAbsValue:R}");
        if (metrics.Count >= limits.MaxMetrics)
            return Reject(out rejection, RejectionReason.TooManyMetrics, $"more than {limits.MaxMetrics} metrics in one sample");
        foreach (var existing in metrics)
        {
            if (existing.Name == name)
                return Reject(out rejection, RejectionReason.DuplicateMetric, $"metric '{name}' appears twice");
        }
        metrics.Add(new MetricValue(name, value));
        rejection = default;
        return true;
    }

    private static bool TryReadTimestamp(ref Utf8JsonReader reader, string field, out long ms, out Rejection rejection)
    {
        ms = 0;
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (reader.TryGetInt64(out ms))
            {
                rejection = default;
                return true;
            }
            if (reader.TryGetDouble(out var d) && double.IsFinite(d) && Math.Abs(d) < 1e17)
            {
                ms = (long)Math.Floor(d);
                rejection = default;
                return true;
            }
            return Reject(out rejection, RejectionReason.InvalidTimestamp, $"'{field}' is not a valid epoch-milliseconds number");
        }
        if (reader.TokenType == JsonTokenType.String)
        {
            var text = reader.GetString()!;
            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AllowWhiteSpaces, out var parsed))
            {
                ms = parsed.ToUnixTimeMilliseconds();
                rejection = default;
                return true;
            }
            return Reject(out rejection, RejectionReason.InvalidTimestamp, $"'{field}' = '{Truncate(text)}' is not an ISO 8601 time (e.g. 2026-11-22T10:00:00Z)");
        }
        return Reject(out rejection, RejectionReason.InvalidTimestamp, $"'{field}' must be an ISO 8601 string or epoch milliseconds, found {Describe(reader.TokenType)}");
    }

    private static bool IsInRange(long ms, TelemetryLimits limits, DateTimeOffset now, out string why)
    {
        var nowMs = now.ToUnixTimeMilliseconds();
        var earliest = limits.Earliest.ToUnixTimeMilliseconds();
        if (limits.MaxAge is { } age)
            earliest = Math.Max(earliest, nowMs - (long)age.TotalMilliseconds);
        var latest = nowMs + (long)limits.MaxFutureSkew.TotalMilliseconds;
        if (ms < earliest)
        {
            why = $"event time {FormatMs(ms)} is before the earliest accepted {FormatMs(earliest)}";
            return false;
        }
        if (ms > latest)
        {
            why = $"event time {FormatMs(ms)} is more than {limits.MaxFutureSkew.TotalMinutes:0.#} min ahead of the clock ({FormatMs(nowMs)})";
            return false;
        }
        why = "";
        return true;
    }

    private static string FormatMs(long ms) =>
        ms is >= -62135596800000 and <= 253402300799999
            ? DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)
            : ms.ToString(CultureInfo.InvariantCulture) + " ms";

    private static bool IsValidEntity(string entity, TelemetryLimits limits, out string why)
    {
        if (entity.Length == 0 || entity.Length > limits.MaxEntityLength)
        {
            why = $"must be 1-{limits.MaxEntityLength} characters, found {entity.Length}";
            return false;
        }
        foreach (var c in entity)
        {
            if (char.IsControl(c) || char.IsWhiteSpace(c))
            {
                why = "must not contain whitespace or control characters";
                return false;
            }
        }
        why = "";
        return true;
    }

    private static bool IsValidMetricName(string name, TelemetryLimits limits)
    {
        if (name.Length == 0 || name.Length > limits.MaxMetricNameLength)
            return false;
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-' or ':'))
                return false;
        }
        return true;
    }

    private static bool IsNonFiniteLiteral(ReadOnlySpan<byte> value) =>
        value.SequenceEqual("NaN"u8) || value.SequenceEqual("Infinity"u8) || value.SequenceEqual("-Infinity"u8)
        || value.SequenceEqual("inf"u8) || value.SequenceEqual("-inf"u8) || value.SequenceEqual("nan"u8);

    private static string ScalarText(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString()!,
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => "",
        _ => Encoding.UTF8.GetString(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan),
    };

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "…";

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }

    private static bool Reject(out Rejection rejection, RejectionReason reason, string detail)
    {
        rejection = new Rejection(reason, detail);
        return false;
    }
}
