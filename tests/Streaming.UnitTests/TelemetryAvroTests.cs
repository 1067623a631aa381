using System.Buffers.Binary;
using Streaming.Contracts;

namespace Streaming.UnitTests;

/// <summary>Telemetry in Avro (Confluent wire format, telemetry-sample.avsc, fixed id 1) gets the same verdicts as JSON.</summary>
public sealed class TelemetryAvroTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    private static TelemetrySample Sample(string entity = "web-1", long? ts = null) => new(entity, ts ?? Now.AddSeconds(-30).ToUnixTimeMilliseconds() + 123,
        [new MetricValue("cpu_usage", 75.5), new MetricValue("memory_usage", 41.25)], new Dictionary<string, string> { ["region"] = "eu" });

    [Test]
    public void Avro_telemetry_parses_to_the_same_sample_as_its_json()
    {
        var sample = Sample();
        var avro = TelemetryAvro.Serialize(sample);

        Assert.That(TelemetryParser.TryParse(avro, TelemetryLimits.Default, Now, out var fromAvro, out var rejection), Is.True, rejection.ToString());
        Assert.That(TelemetryParser.TryParse(TelemetryJson.ToUtf8(sample), TelemetryLimits.Default, Now, out var fromJson, out _), Is.True);
        Assert.That((avro[0], BinaryPrimitives.ReadInt32BigEndian(avro.AsSpan(1))), Is.EqualTo(((byte)0, 1)));
        Assert.That((fromAvro!.Entity, fromAvro.TimestampMs, fromAvro.Metrics, fromAvro.Tags),
            Is.EqualTo((fromJson!.Entity, fromJson.TimestampMs, fromJson.Metrics, fromJson.Tags)));
        Assert.That(fromAvro.TimestampMs, Is.EqualTo(sample.TimestampMs), "milliseconds survive");
    }

    [Test]
    public void Avro_telemetry_is_held_to_the_same_limits_as_json()
    {
        var rejected = (Entity: Sample("web 1"), Old: Sample(ts: Now.AddDays(-30).ToUnixTimeMilliseconds()));

        Assert.That(TelemetryParser.TryParse(TelemetryAvro.Serialize(rejected.Entity), TelemetryLimits.Default, Now, out _, out var entity), Is.False);
        Assert.That(TelemetryParser.TryParse(TelemetryAvro.Serialize(rejected.Old), TelemetryLimits.Default, Now, out _, out var old), Is.False);
        Assert.That((entity.Reason, old.Reason), Is.EqualTo((RejectionReason.InvalidEntity, RejectionReason.TimestampOutOfRange)));
    }

    [Test]
    public void Avro_telemetry_with_another_schema_id_or_a_corrupt_payload_is_malformed_avro_with_a_reason()
    {
        var otherId = TelemetryAvro.Serialize(Sample());
        BinaryPrimitives.WriteInt32BigEndian(otherId.AsSpan(1), 4);
        var truncated = TelemetryAvro.Serialize(Sample())[..^4];

        Assert.That(TelemetryParser.TryParse(otherId, TelemetryLimits.Default, Now, out _, out var wrongId), Is.False);
        Assert.That(TelemetryParser.TryParse(truncated, TelemetryLimits.Default, Now, out _, out var corrupt), Is.False);
        Assert.That(TelemetryParser.TryParse(new byte[] { 0, 0, 0 }, TelemetryLimits.Default, Now, out _, out var shortHeader), Is.False);
        Assert.That((wrongId.Reason, corrupt.Reason, shortHeader.Reason), Is.EqualTo((RejectionReason.MalformedAvro, RejectionReason.MalformedAvro, RejectionReason.MalformedAvro)));
        Assert.That(wrongId.Detail, Does.Contain("schema id 4 is not the telemetry schema"));
        Assert.That(corrupt.Detail, Does.Contain("streaming.v1.TelemetrySample"));
        Assert.That(shortHeader.Detail, Does.Contain("at least 5 bytes"));
        Assert.That(RejectionReason.MalformedAvro.ToCode(), Is.EqualTo("malformed_avro"));
    }

    [Test]
    public void Avro_telemetry_with_bytes_after_its_record_is_malformed_avro_naming_how_many()
    {
        // Confluent's deserializer reads the record and ignores what follows: two values glued together, or a frame
        // that is longer than its record, would pass as the first record alone.
        var record = TelemetryAvro.Serialize(Sample());
        var glued = record.Concat(TelemetryAvro.Serialize(Sample("web-2"))[5..]).ToArray();

        Assert.That(TelemetryParser.TryParse(glued, TelemetryLimits.Default, Now, out _, out var rejection), Is.False);
        Assert.That(rejection.Reason, Is.EqualTo(RejectionReason.MalformedAvro));
        Assert.That(rejection.Detail, Does.Contain($"{glued.Length - record.Length} bytes follow the streaming.v1.TelemetrySample record"));
    }
}
