using System.Text;
using Streaming.Contracts;

namespace Streaming.UnitTests;

public sealed class TelemetryParserTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
    private static readonly long NowMs = Now.ToUnixTimeMilliseconds();
    private const string Iso = "2026-11-22T10:00:00Z";

    // Every case also goes through the overload without a sample object (the partition processor's): same verdict, same readings.
    private static Rejection Rejected(string json, TelemetryLimits? limits = null)
    {
        var ok = TelemetryParser.TryParse(Encoding.UTF8.GetBytes(json), limits ?? TelemetryLimits.Default, Now, out var sample, out var rejection);
        Assert.That(ok, Is.False, $"expected a rejection of {json}");
        Assert.That(sample, Is.Null);
        var spanOk = TelemetryParser.TryParse(Encoding.UTF8.GetBytes(json), limits ?? TelemetryLimits.Default, Now, out _, out _, out _, out var spanRejection);
        Assert.That((spanOk, spanRejection), Is.EqualTo((false, rejection)));
        return rejection;
    }

    private static TelemetrySample Accepted(string json, TelemetryLimits? limits = null)
    {
        var ok = TelemetryParser.TryParse(Encoding.UTF8.GetBytes(json), limits ?? TelemetryLimits.Default, Now, out var sample, out var rejection);
        Assert.That(ok, Is.True, rejection.ToString());
        Assert.That(rejection.Reason, Is.EqualTo(RejectionReason.None));
        var spanOk = TelemetryParser.TryParse(Encoding.UTF8.GetBytes(json), limits ?? TelemetryLimits.Default, Now,
            out var entity, out var timestampMs, out var metrics, out var spanRejection);
        Assert.That((spanOk, spanRejection, entity, timestampMs), Is.EqualTo((true, rejection, sample!.Entity, sample.TimestampMs)));
        Assert.That(metrics.ToArray(), Is.EqualTo(sample.Metrics));
        return sample!;
    }

    private static void AssertRejection(Rejection rejection, RejectionReason reason, string detailMentions)
    {
        Assert.That(rejection.Reason, Is.EqualTo(reason), rejection.ToString());
        Assert.That(rejection.Detail, Does.Contain(detailMentions));
        Assert.That(rejection.Code, Is.EqualTo(reason.ToCode()));
    }

    // ---- rejections ----

    [Test]
    public void Malformed_json_is_rejected_as_malformed_json() =>
        AssertRejection(Rejected("""{"host":"web-1","timestamp":"2026-11-22T10:00:00Z","cpu_usage":75.5"""), RejectionReason.MalformedJson, "invalid JSON");

    [Test]
    public void Empty_record_is_rejected_as_malformed_json() =>
        AssertRejection(Rejected(""), RejectionReason.MalformedJson, "invalid JSON");

    [Test]
    public void Bare_NaN_token_is_rejected_as_malformed_json() =>
        AssertRejection(Rejected($$$"""{"host":"web-1","timestamp":"{{{Iso}}}","cpu_usage":NaN}"""), RejectionReason.MalformedJson, "invalid JSON");

    [Test]
    public void Trailing_content_after_the_object_is_rejected_as_malformed_json() =>
        AssertRejection(Rejected($$$"""{"host":"web-1","timestamp":"{{{Iso}}}","cpu_usage":1} {"host":"web-2"}"""), RejectionReason.MalformedJson, "invalid JSON");

    [Test]
    public void Invalid_utf8_inside_a_string_is_rejected_as_malformed_json_instead_of_throwing()
    {
        byte[] json = [.. Encoding.UTF8.GetBytes("{\"host\":\"web-1\",\"timestamp\":\"" + Iso + "\",\"cpu_usage\":1,\"site\":\""), 0xC3, 0x28, .. "\"}"u8];
        var ok = TelemetryParser.TryParse(json, TelemetryLimits.Default, Now, out _, out var rejection);
        Assert.That(ok, Is.False);
        AssertRejection(rejection, RejectionReason.MalformedJson, "invalid UTF-8");
    }

    [Test]
    public void Trailing_whitespace_after_the_object_is_accepted() =>
        Assert.That(Accepted($$$"""{"host":"web-1","timestamp":"{{{Iso}}}","cpu_usage":1}""" + " \r\n").Entity, Is.EqualTo("web-1"));

    [TestCase("NaN")]
    [TestCase("Infinity")]
    [TestCase("-Infinity")]
    public void Non_finite_string_in_a_flat_field_is_rejected_as_non_finite_metric(string literal) =>
        AssertRejection(Rejected($$$"""{"host":"web-1","timestamp":"{{{Iso}}}","cpu_usage":"{{{literal}}}"}"""), RejectionReason.NonFiniteMetric, "'cpu_usage'");

    [Test]
    public void Infinity_string_in_generic_metrics_is_rejected_as_non_finite_metric() =>
        AssertRejection(Rejected($$$"""{"entity":"web-1","ts":{{{NowMs}}},"metrics":{"cpu_usage":"Infinity"}}"""), RejectionReason.NonFiniteMetric, "'cpu_usage'");

    [Test]
    public void String_metric_in_generic_metrics_is_rejected_as_non_numeric_metric() =>
        AssertRejection(Rejected($$$"""{"entity":"web-1","ts":{{{NowMs}}},"metrics":{"cpu_usage":"high"}}"""), RejectionReason.NonNumericMetric, "'cpu_usage'");

    [Test]
    public void Boolean_metric_in_generic_metrics_is_rejected_as_non_numeric_metric() =>
        AssertRejection(Rejected($$$"""{"entity":"web-1","ts":{{{NowMs}}},"metrics":{"up":true}}"""), RejectionReason.NonNumericMetric, "'up'");

    [Test]
    public void Numeric_entity_is_rejected_as_invalid_entity() =>
        AssertRejection(Rejected($$$"""{"host":17,"timestamp":"{{{Iso}}}","cpu_usage":1}"""), RejectionReason.InvalidEntity, "'host'");

    [Test]
    public void Boolean_timestamp_is_rejected_as_invalid_timestamp() =>
        AssertRejection(Rejected("""{"host":"web-1","timestamp":true,"cpu_usage":1}"""), RejectionReason.InvalidTimestamp, "'timestamp'");

    [Test]
    public void Null_metric_in_a_flat_sample_is_rejected_as_non_numeric_metric() =>
        AssertRejection(Rejected($$$"""{"host":"web-1","timestamp":"{{{Iso}}}","cpu_usage":null}"""), RejectionReason.NonNumericMetric, "'cpu_usage'");

    [Test]
    public void Null_metric_in_generic_metrics_is_rejected_as_non_numeric_metric() =>
        AssertRejection(Rejected($$$"""{"entity":"web-1","ts":{{{NowMs}}},"metrics":{"cpu_usage":null}}"""), RejectionReason.NonNumericMetric, "'cpu_usage'");

    [Test]
    public void Value_that_overflows_a_double_is_rejected_as_metric_out_of_range() =>
        AssertRejection(Rejected($$$"""{"host":"web-1","timestamp":"{{{Iso}}}","cpu_usage":1e309}"""), RejectionReason.MetricOutOfRange, "'cpu_usage'");

    [Test]
    public void Value_above_MaxAbsValue_is_rejected_as_metric_out_of_range() =>
        AssertRejection(Rejected($$$"""{"host":"web-1","timestamp":"{{{Iso}}}","cpu_usage":-2e15}"""), RejectionReason.MetricOutOfRange, "'cpu_usage'");

    [Test]
    public void Value_at_MaxAbsValue_is_accepted() =>
        Assert.That(Accepted($$$"""{"host":"web-1","timestamp":"{{{Iso}}}","cpu_usage":1e15}""").Metrics[0].Value, Is.EqualTo(1e15));

    [Test]
    public void Missing_entity_is_rejected_as_missing_entity() =>
        AssertRejection(Rejected($$$"""{"timestamp":"{{{Iso}}}","cpu_usage":1}"""), RejectionReason.MissingEntity, "'entity'");

    [Test]
    public void Missing_timestamp_is_rejected_as_missing_timestamp() =>
        AssertRejection(Rejected("""{"host":"web-1","cpu_usage":1}"""), RejectionReason.MissingTimestamp, "'timestamp'");

    [Test]
    public void Timestamp_beyond_the_allowed_clock_skew_is_rejected_as_out_of_range() =>
        AssertRejection(Rejected("""{"host":"web-1","timestamp":"2026-11-22T10:05:01Z","cpu_usage":1}"""), RejectionReason.TimestampOutOfRange, "ahead of the clock");

    [Test]
    public void Timestamp_within_the_allowed_clock_skew_is_accepted() =>
        Assert.That(Accepted("""{"host":"web-1","timestamp":"2026-11-22T10:05:00Z","cpu_usage":1}""").TimestampMs, Is.EqualTo(NowMs + 300_000));

    [Test]
    public void Timestamp_older_than_MaxAge_is_rejected_as_out_of_range() =>
        AssertRejection(Rejected("""{"host":"web-1","timestamp":"2026-11-14T10:00:00Z","cpu_usage":1}"""), RejectionReason.TimestampOutOfRange, "before the earliest accepted 2026-11-15T10:00:00.000Z");

    [Test]
    public void Old_timestamp_is_accepted_when_MaxAge_is_off() =>
        Assert.That(Accepted("""{"host":"web-1","timestamp":"2026-01-01T00:00:00Z","cpu_usage":1}""", TelemetryLimits.Default with { MaxAge = null }).Timestamp,
            Is.EqualTo(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)));

    [Test]
    public void Ancient_timestamp_is_rejected_even_when_MaxAge_is_off() =>
        AssertRejection(Rejected("""{"host":"web-1","ts":5000,"cpu_usage":1}""", TelemetryLimits.Default with { MaxAge = null }),
            RejectionReason.TimestampOutOfRange, "before the earliest accepted 2000-01-01T00:00:00.000Z");

    [Test]
    public void Unparseable_timestamp_is_rejected_as_invalid_timestamp() =>
        AssertRejection(Rejected("""{"host":"web-1","timestamp":"yesterday at noon","cpu_usage":1}"""), RejectionReason.InvalidTimestamp, "'timestamp'");

    [Test]
    public void Empty_entity_is_rejected_as_invalid_entity() =>
        AssertRejection(Rejected($$$"""{"host":"","timestamp":"{{{Iso}}}","cpu_usage":1}"""), RejectionReason.InvalidEntity, "'host'");

    [Test]
    public void Whitespace_in_entity_is_rejected_as_invalid_entity() =>
        AssertRejection(Rejected($$$"""{"entity":"web 1","ts":{{{NowMs}}},"metrics":{"cpu_usage":1}}"""), RejectionReason.InvalidEntity, "'entity'");

    [Test]
    public void Entity_longer_than_the_limit_is_rejected_as_invalid_entity() =>
        AssertRejection(Rejected($$$"""{"host":"{{{new string('a', 129)}}}","timestamp":"{{{Iso}}}","cpu_usage":1}"""), RejectionReason.InvalidEntity, "found 129");

    [Test]
    public void More_metrics_than_the_limit_are_rejected_as_too_many_metrics() =>
        AssertRejection(Rejected($$$"""{"host":"web-1","timestamp":"{{{Iso}}}","a":1,"b":2,"c":3}""", TelemetryLimits.Default with { MaxMetrics = 2 }),
            RejectionReason.TooManyMetrics, "more than 2 metrics");

    [Test]
    public void Duplicate_flat_metric_is_rejected_as_duplicate_metric() =>
        AssertRejection(Rejected($$$"""{"host":"web-1","timestamp":"{{{Iso}}}","cpu_usage":1,"cpu_usage":2}"""), RejectionReason.DuplicateMetric, "'cpu_usage'");

    [Test]
    public void Duplicate_generic_metric_is_rejected_as_duplicate_metric() =>
        AssertRejection(Rejected($$$"""{"entity":"web-1","ts":{{{NowMs}}},"metrics":{"cpu_usage":1,"cpu_usage":2}}"""), RejectionReason.DuplicateMetric, "'cpu_usage'");

    [Test]
    public void Metric_name_with_a_space_is_rejected_as_invalid_metric_name() =>
        AssertRejection(Rejected($$$"""{"host":"web-1","timestamp":"{{{Iso}}}","cpu usage":1}"""), RejectionReason.InvalidMetricName, "'cpu usage'");

    [Test]
    public void Nested_object_in_a_flat_field_is_rejected_as_unexpected_field() =>
        AssertRejection(Rejected($$$"""{"host":"web-1","timestamp":"{{{Iso}}}","cpu":{"avg":1}}"""), RejectionReason.UnexpectedField, "'cpu'");

    [Test]
    public void Array_in_a_flat_field_is_rejected_as_unexpected_field() =>
        AssertRejection(Rejected($$$"""{"host":"web-1","timestamp":"{{{Iso}}}","cpu":[1,2]}"""), RejectionReason.UnexpectedField, "'cpu'");

    [Test]
    public void Nested_object_as_a_tag_is_rejected_as_unexpected_field() =>
        AssertRejection(Rejected($$$$"""{"entity":"web-1","ts":{{{{NowMs}}}},"metrics":{"cpu":1},"tags":{"site":{"dc":1}}}"""), RejectionReason.UnexpectedField, "'site'");

    [Test]
    public void Array_at_top_level_is_rejected_as_not_an_object() =>
        AssertRejection(Rejected($$$"""[{"host":"web-1","timestamp":"{{{Iso}}}","cpu":1}]"""), RejectionReason.NotAnObject, "an array");

    [Test]
    public void Record_without_numeric_metrics_is_rejected_as_no_metrics() =>
        AssertRejection(Rejected($$$"""{"host":"web-1","timestamp":"{{{Iso}}}","region":"eu"}"""), RejectionReason.NoMetrics, "no numeric metrics");

    [Test]
    public void Record_larger_than_MaxBytes_is_rejected_as_too_large()
    {
        var json = $$$"""{"host":"web-1","timestamp":"{{{Iso}}}","note":"{{{new string('x', 200)}}}","cpu":1}""";
        AssertRejection(Rejected(json, TelemetryLimits.Default with { MaxBytes = 128 }), RejectionReason.TooLarge, $"{Encoding.UTF8.GetByteCount(json)} bytes; the limit is 128");
    }

    // ---- acceptance ----

    [Test]
    public void Flat_sample_with_iso_timestamp_is_accepted()
    {
        var sample = Accepted($$$"""{"host":"web-1","timestamp":"{{{Iso}}}","cpu_usage":75.5,"memory_usage":41}""");

        Assert.That(sample.Entity, Is.EqualTo("web-1"));
        Assert.That(sample.TimestampMs, Is.EqualTo(NowMs));
        Assert.That(sample.Metrics, Is.EqualTo(new[] { new MetricValue("cpu_usage", 75.5), new MetricValue("memory_usage", 41) }));
        Assert.That(sample.Tags, Is.Empty);
    }

    [Test]
    public void Flat_sample_with_epoch_millisecond_timestamp_is_accepted()
    {
        var sample = Accepted($$$"""{"device":"pump-7","ts":{{{NowMs - 1234}}},"pressure":3.25}""");

        Assert.That(sample.Entity, Is.EqualTo("pump-7"));
        Assert.That(sample.TimestampMs, Is.EqualTo(NowMs - 1234));
        Assert.That(sample.Metrics, Is.EqualTo(new[] { new MetricValue("pressure", 3.25) }));
    }

    [Test]
    public void Iso_timestamp_with_an_offset_is_converted_to_utc() =>
        Assert.That(Accepted("""{"host":"web-1","time":"2026-11-22T10:30:00.250+01:00","cpu":1}""").TimestampMs, Is.EqualTo(NowMs - 30 * 60_000 + 250));

    [Test]
    public void Flat_string_and_boolean_fields_become_tags()
    {
        var sample = Accepted($$$"""{"host":"web-1","timestamp":"{{{Iso}}}","region":"eu-west","cpu_usage":75.5,"canary":true}""");

        Assert.That(sample.Metrics, Is.EqualTo(new[] { new MetricValue("cpu_usage", 75.5) }));
        Assert.That(sample.Tags, Is.EquivalentTo(new Dictionary<string, string> { ["region"] = "eu-west", ["canary"] = "true" }));
    }

    [Test]
    public void Generic_sample_with_metrics_and_tags_is_accepted()
    {
        var sample = Accepted($$$"""{"entity":"web-1","ts":{{{NowMs}}},"metrics":{"cpu_usage":75.5,"error_rate":0.002,"disk.used:bytes":-3},"tags":{"region":"eu","rack":12}}""");

        Assert.That(sample.Entity, Is.EqualTo("web-1"));
        Assert.That(sample.TimestampMs, Is.EqualTo(NowMs));
        Assert.That(sample.Metrics, Is.EqualTo(new[] { new MetricValue("cpu_usage", 75.5), new MetricValue("error_rate", 0.002), new MetricValue("disk.used:bytes", -3) }));
        Assert.That(sample.Tags, Is.EquivalentTo(new Dictionary<string, string> { ["region"] = "eu", ["rack"] = "12" }));
    }

    [Test]
    public void Generic_sample_with_iso_ts_is_accepted() =>
        Assert.That(Accepted($$$"""{"entity":"web-1","ts":"{{{Iso}}}","metrics":{"cpu":1}}""").TimestampMs, Is.EqualTo(NowMs));

    [Test]
    public void Fractional_epoch_milliseconds_are_floored() =>
        Assert.That(Accepted($$$"""{"entity":"web-1","ts":{{{NowMs}}}.9,"metrics":{"cpu":1}}""").TimestampMs, Is.EqualTo(NowMs));
}
