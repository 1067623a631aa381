using System.Text.Json;
using Avro;
using Streaming.Contracts;
using Streaming.Contracts.Avro;

namespace Streaming.UnitTests;

/// <summary>Events through the production serializer and deserializer (Confluent's Avro serdes, fixed ids).</summary>
public sealed class AvroEventCodecTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    internal static FeatureVectorEvent SampleFeatures(bool withNulls) => new(
        "web-1", Now, Now.AddMinutes(1), 6,
        [
            new MetricFeatures("cpu_usage", 6, 50.5, 2.1, 47, 54, 48, 53, 0.05, 51.2,
                withNulls ? null : 50, withNulls ? null : 53.75, withNulls ? null : 0.1, withNulls ? null : 0),
            new MetricFeatures("memory_usage", 6, 40, 0, 40, 40, 40, 40, 0, 40, 40, 40, 0, 0.5),
        ]);

    internal static ScoreEvent SampleScore() => new("web-1", Now, Now.AddMinutes(1), "robust-baseline", "1", 2.5, 6, false,
        [new Contributor("cpu_usage", 1, 40, 45)]);

    internal static AnomalyEvent SampleAnomaly(string status = AlertStatus.Open) => new(
        Guid.Parse("3f2504e0-4f89-41d3-9a0c-0305e82c3301"), Guid.Parse("7c9e6679-7425-40de-944b-e07fc1f90ae7"),
        AnomalyEvent.KindName, status, "web-1", Now, Now.AddMinutes(1), Now.AddMinutes(1).AddMilliseconds(2345),
        9.5, 6, Severity.Critical, "robust-baseline", "1",
        [new Contributor("cpu_usage", 0.8, 40, 95), new Contributor("network_latency", 0.2, 60, 80)]);

    internal static byte[] Serialize<T>(AvroContract<T> contract, T value) =>
        AvroEventSerializer<T>.CreateAsync(contract, "topic", FixedIdSchemaRegistry.Instance, SubjectNameStrategy.TopicName, CancellationToken.None)
            .GetAwaiter().GetResult().Serialize(value);

    private static EventReadResult<T> Read<T>(AvroContract<T> contract, byte[] value) =>
        new EventDeserializer<T>(contract, FixedIdSchemaRegistry.Instance).Read(value);

    private static T RoundTrip<T>(AvroContract<T> contract, T value)
    {
        var read = Read(contract, Serialize(contract, value));
        Assert.That(read.Success, Is.True, read.Error);
        return read.Value!;
    }

    // Records holding lists compare lists by reference, so compare their JSON contract instead.
    private static string Json<T>(AvroContract<T> contract, T value) => JsonSerializer.Serialize(value, contract.TypeInfo);

    [Test]
    public void Feature_vectors_with_and_without_null_features_round_trip()
    {
        foreach (var withNulls in new[] { false, true })
        {
            var original = SampleFeatures(withNulls);
            Assert.That(Json(AvroContracts.FeatureVector, RoundTrip(AvroContracts.FeatureVector, original)),
                Is.EqualTo(Json(AvroContracts.FeatureVector, original)));
        }
    }

    [Test]
    public void Score_events_round_trip()
    {
        var original = SampleScore();
        Assert.That(Json(AvroContracts.Score, RoundTrip(AvroContracts.Score, original)), Is.EqualTo(Json(AvroContracts.Score, original)));
    }

    [TestCase(AlertStatus.Open)]
    [TestCase(AlertStatus.Update)]
    [TestCase(AlertStatus.Resolved)]
    public void Anomaly_events_round_trip_in_every_status(string status)
    {
        var original = SampleAnomaly(status);
        var decoded = RoundTrip(AvroContracts.Anomaly, original);
        Assert.That(Json(AvroContracts.Anomaly, decoded), Is.EqualTo(Json(AvroContracts.Anomaly, original)));
        Assert.That(decoded.EventId, Is.EqualTo(original.EventId));
        Assert.That(decoded.DetectedAt, Is.EqualTo(original.DetectedAt));
    }

    [Test]
    public void Nullable_doubles_are_the_null_branch_or_the_double_branch_of_their_union()
    {
        var withNull = Serialize(AvroContracts.FeatureVector, SampleFeatures(withNulls: true));
        var withValues = Serialize(AvroContracts.FeatureVector, SampleFeatures(withNulls: false));

        // Four nullable features of the first metric: each null is one byte (branch 0), each value 1 + 8 bytes (branch 1).
        Assert.That(withValues.Length - withNull.Length, Is.EqualTo(4 * 8));
    }

    [Test]
    public void Times_lose_only_sub_millisecond_precision_and_come_back_in_utc()
    {
        var local = SampleAnomaly() with { DetectedAt = new DateTimeOffset(2026, 11, 22, 11, 0, 0, 123, TimeSpan.FromHours(1)).AddTicks(4567) };
        var decoded = RoundTrip(AvroContracts.Anomaly, local);
        Assert.That(decoded.DetectedAt, Is.EqualTo(new DateTimeOffset(2026, 11, 22, 10, 0, 0, 123, TimeSpan.Zero)));
        Assert.That(decoded.DetectedAt.Offset, Is.EqualTo(TimeSpan.Zero));
    }

    [Test]
    public void A_new_event_type_needs_only_its_schema_downtime_predictions_round_trip_through_a_draft_avsc()
    {
        // A draft of downtime-prediction.avsc: no code is written for the type, only the schema.
        var schema = (RecordSchema)global::Avro.Schema.Parse("""
            {"type":"record","name":"DowntimePredictionEvent","namespace":"streaming.v1","fields":[
              {"name":"event_id","type":{"type":"string","logicalType":"uuid"}},
              {"name":"alert_id","type":{"type":"string","logicalType":"uuid"}},
              {"name":"kind","type":"string"},
              {"name":"status","type":{"type":"enum","name":"AlertStatus","symbols":["open","update","resolved"]}},
              {"name":"entity","type":"string"},
              {"name":"window_start","type":{"type":"long","logicalType":"timestamp-millis"}},
              {"name":"window_end","type":{"type":"long","logicalType":"timestamp-millis"}},
              {"name":"detected_at","type":{"type":"long","logicalType":"timestamp-millis"}},
              {"name":"time_to_downtime_seconds","type":["null","double"],"default":null},
              {"name":"predicted_downtime_at","type":["null",{"type":"long","logicalType":"timestamp-millis"}],"default":null},
              {"name":"probability","type":"double"},
              {"name":"horizon_minutes","type":"double"},
              {"name":"threshold","type":"double"},
              {"name":"severity","type":{"type":"enum","name":"Severity","symbols":["warning","critical"]}},
              {"name":"model","type":"string"},
              {"name":"model_version","type":"string"},
              {"name":"horizons","type":{"type":"array","items":{"type":"record","name":"HorizonProbability","fields":[
                {"name":"minutes","type":"double"},{"name":"probability","type":"double"}]}}},
              {"name":"contributors","type":{"type":"array","items":{"type":"record","name":"Contributor","fields":[
                {"name":"metric","type":"string"},{"name":"share","type":"double"},{"name":"expected","type":"double"},{"name":"actual","type":"double"}]}}}
            ]}
            """);
        var info = ContractsJsonContext.Default.DowntimePredictionEvent;
        foreach (var predicted in new DateTimeOffset?[] { Now.AddMinutes(20), null })
        {
            var original = new DowntimePredictionEvent(Guid.NewGuid(), Guid.NewGuid(), DowntimePredictionEvent.KindName, AlertStatus.Open, "pump-7",
                Now, Now.AddMinutes(1), Now.AddMinutes(1), predicted is null ? null : 1140, predicted, 0.82, 30, 0.5, Severity.Warning,
                "ensemble", "3", [new HorizonProbability(5, 0.1), new HorizonProbability(30, 0.82)], [new Contributor("vibration", 1, 2, 7)]);

            var decoded = AvroTestCodec.Decode(schema, AvroTestCodec.Encode(schema, original, info), info);

            Assert.That(JsonSerializer.Serialize(decoded, info), Is.EqualTo(JsonSerializer.Serialize(original, info)));
        }
    }

    [Test]
    public void Every_truncation_of_every_event_is_rejected_with_a_message_and_never_throws()
    {
        Check(AvroContracts.FeatureVector, SampleFeatures(withNulls: false));
        Check(AvroContracts.Score, SampleScore());
        Check(AvroContracts.Anomaly, SampleAnomaly());

        static void Check<T>(AvroContract<T> contract, T value)
        {
            var bytes = Serialize(contract, value);
            for (var length = 1; length < bytes.Length; length++)
            {
                var read = Read(contract, bytes[..length]);
                Assert.That(read.Success, Is.False, $"{typeof(T).Name} truncated to {length} of {bytes.Length} bytes was accepted");
                Assert.That(read.Error, Does.Contain(length < 5 ? "at least 5 bytes" : "truncated"), $"length {length}");
            }
        }
    }

    [Test]
    public void Every_single_byte_corruption_of_an_anomaly_is_either_rejected_with_a_message_or_decodes()
    {
        var contract = AvroContracts.Anomaly;
        var bytes = Serialize(contract, SampleAnomaly());
        var rejected = 0;
        for (var i = 5; i < bytes.Length; i++)
        {
            foreach (var replacement in new byte[] { 0x00, 0x7f, 0x80, 0xff })
            {
                var corrupt = (byte[])bytes.Clone();
                corrupt[i] = replacement;
                var read = Read(contract, corrupt);
                if (!read.Success)
                {
                    rejected++;
                    Assert.That(read.Error, Is.Not.Empty);
                }
            }
        }
        Assert.That(rejected, Is.GreaterThan(bytes.Length - 5), "most corruptions of lengths, enum indexes and UUIDs must be caught");
    }

    [Test]
    public void A_corrupt_enum_index_names_the_field()
    {
        var contract = AvroContracts.Anomaly;
        var bytes = Serialize(contract, SampleAnomaly());
        // After the 5-byte header, event_id and alert_id are 36-character strings (1 length byte each), kind is "anomaly" (1 + 7): status follows.
        var statusOffset = 5 + 2 * 37 + 8;
        Assert.That(bytes[statusOffset], Is.EqualTo(0x00), "status 'open' is enum index 0");
        bytes[statusOffset] = 0x06;

        var read = Read(contract, bytes);
        Assert.That(read.Success, Is.False);
        Assert.That(read.Error, Does.Contain("schema id 4").And.Contain("is 3 in field status"), "names the schema, the bad index and the field");
    }

    [Test]
    public void An_event_that_breaks_its_schema_is_refused_naming_the_field()
    {
        var bad = SampleAnomaly() with { Severity = "catastrophic" };
        Assert.That(() => Serialize(AvroContracts.Anomaly, bad),
            Throws.TypeOf<AvroEncodingException>().With.Message.Contains("AnomalyEvent.severity").And.Message.Contains("catastrophic"));
    }

    [Test]
    public void Non_finite_numbers_are_refused_naming_the_field_as_the_json_contract_refuses_them()
    {
        Assert.That(() => Serialize(AvroContracts.Score, SampleScore() with { Score = double.NaN }),
            Throws.TypeOf<AvroEncodingException>().With.Message.Contains("ScoreEvent.score").And.Message.Contains("not a finite number"));
        Assert.That(() => JsonSerializer.Serialize(SampleScore() with { Score = double.NaN }, ContractsJsonContext.Default.ScoreEvent), Throws.ArgumentException);
    }

    [Test]
    public void A_field_missing_from_the_type_is_written_from_its_schema_default()
    {
        // Contributor has no p50; the field's default (null) is written, and a reader of this schema sees null.
        var schema = (RecordSchema)global::Avro.Schema.Parse("""
            {"type":"record","name":"C","fields":[{"name":"metric","type":"string"},{"name":"p50","type":["null","double"],"default":null}]}
            """);
        var bytes = AvroTestCodec.Encode(schema, new Contributor("cpu", 1, 2, 3), ContractsJsonContext.Default.Contributor);
        Assert.That(bytes, Is.EqualTo(new byte[] { 0x06, 0x63, 0x70, 0x75, 0x00 }));
    }
}
