using System.Text;
using System.Text.Json;
using Streaming.Contracts;
using Streaming.Contracts.Avro;

namespace Streaming.UnitTests;

public sealed class AvroWireFormatTests
{
    private static async Task<AvroEventSerializer<T>> AvroSerializer<T>(AvroContract<T> contract, string topic) =>
        await AvroEventSerializer<T>.CreateAsync(contract, topic, FixedIdSchemaRegistry.Instance, SubjectNameStrategy.TopicName, CancellationToken.None);

    [Test]
    public async Task An_avro_value_is_magic_byte_zero_the_big_endian_schema_id_then_the_avro_binary()
    {
        var anomaly = AvroEventCodecTests.SampleAnomaly();
        var value = (await AvroSerializer(AvroContracts.Anomaly, TopicNames.Alerts)).Serialize(anomaly);

        Assert.That(value[..5], Is.EqualTo(new byte[] { 0, 0, 0, 0, 4 }));
        Assert.That(value[5..], Is.EqualTo(AvroTestCodec.Encode(AvroContracts.Anomaly.Schema, anomaly, AvroContracts.Anomaly.TypeInfo)),
            "Confluent's serializer writes Apache.Avro's binary encoding after the header");
    }

    [Test]
    public void The_fixed_ids_are_unique_and_every_committed_avsc_has_one()
    {
        var names = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "schemas"), "*.avsc").Select(f => Path.GetFileNameWithoutExtension(f));
        Assert.That(AvroContracts.FixedIds.Keys, Is.SupersetOf(names));
        Assert.That(AvroContracts.All.Select(c => c.Name), Is.EquivalentTo(names), "every committed .avsc needs an AvroContract in AvroContracts.All");
        Assert.That(AvroContracts.FixedIds.Values, Is.Unique);
        Assert.That(AvroContracts.FixedIds, Does.ContainKey("downtime-prediction").WithValue(5));
        Assert.That(AvroContracts.All.Select(c => (c.Name, c.FixedId)),
            Is.SupersetOf(new[] { ("telemetry-sample", 1), ("feature-vector", 2), ("score-event", 3), ("anomaly-event", 4) }));
    }

    [Test]
    public void The_embedded_schemas_are_the_committed_files()
    {
        foreach (var contract in AvroContracts.All)
            Assert.That(contract.SchemaText, Is.EqualTo(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "schemas", contract.Name + ".avsc"))), contract.Name);
    }

    [Test]
    public async Task The_deserializer_reads_every_event_type_in_either_format()
    {
        await Check(AvroContracts.FeatureVector, TopicNames.Features, AvroEventCodecTests.SampleFeatures(withNulls: true));
        await Check(AvroContracts.Score, TopicNames.Scores, AvroEventCodecTests.SampleScore());
        await Check(AvroContracts.Anomaly, TopicNames.Alerts, AvroEventCodecTests.SampleAnomaly());

        static async Task Check<T>(AvroContract<T> contract, string topic, T value)
        {
            var deserializer = new EventDeserializer<T>(contract, FixedIdSchemaRegistry.Instance);
            var expected = JsonSerializer.Serialize(value, contract.TypeInfo);
            foreach (var format in new[] { SerializationFormat.Json, SerializationFormat.Avro })
            {
                var serializer = await EventSerializers.CreateAsync(new SerializationOptions { Format = format }, contract, topic, FixedIdSchemaRegistry.Instance, CancellationToken.None);
                Assert.That(serializer.Format, Is.EqualTo(format));
                var bytes = serializer.Serialize(value);

                var read = deserializer.Read(bytes);
                Assert.That(read.Success, Is.True, read.Error);
                Assert.That(read.Format, Is.EqualTo(format));
                Assert.That(JsonSerializer.Serialize(read.Value!, contract.TypeInfo), Is.EqualTo(expected), $"{typeof(T).Name} as {format}");
            }
        }
    }

    [Test]
    public async Task The_json_serializer_writes_exactly_what_the_contracts_context_writes()
    {
        var anomaly = AvroEventCodecTests.SampleAnomaly();
        var serializer = await EventSerializers.CreateAsync(new SerializationOptions(), AvroContracts.Anomaly, TopicNames.Alerts, FixedIdSchemaRegistry.Instance, CancellationToken.None);

        Assert.That(serializer, Is.TypeOf<JsonEventSerializer<AnomalyEvent>>());
        Assert.That(serializer.Serialize(anomaly), Is.EqualTo(JsonSerializer.SerializeToUtf8Bytes(anomaly, ContractsJsonContext.Default.AnomalyEvent)));
    }

    [Test]
    public void Json_with_leading_whitespace_is_detected_as_json()
    {
        var json = "\n  " + JsonSerializer.Serialize(AvroEventCodecTests.SampleScore(), ContractsJsonContext.Default.ScoreEvent);
        var read = new EventDeserializer<ScoreEvent>(AvroContracts.Score, FixedIdSchemaRegistry.Instance).Read(Encoding.UTF8.GetBytes(json));
        Assert.That(read.Success, Is.True, read.Error);
        Assert.That(read.Value!.Entity, Is.EqualTo("web-1"));
    }

    [TestCase(new byte[] { }, "empty value")]
    [TestCase(new byte[] { 0x5b, 0x5d }, "starts with byte 0x5B")]
    [TestCase(new byte[] { 0x01, 0, 0, 0, 4 }, "starts with byte 0x01")]
    [TestCase(new byte[] { 0x00, 0, 0 }, "at least 5 bytes")]
    [TestCase(new byte[] { 0x00, 0, 0, 0, 9, 0 }, "unknown schema id 9")]
    [TestCase(new byte[] { 0x00, 0, 0, 0, 4, 0x48 }, "truncated or corrupt")]
    [TestCase(new byte[] { 0x7b, 0x22 }, "JSON AnomalyEvent is invalid")]
    public void Values_that_are_neither_format_or_break_it_are_rejected_with_a_reason(byte[] value, string reason)
    {
        var read = new EventDeserializer<AnomalyEvent>(AvroContracts.Anomaly, FixedIdSchemaRegistry.Instance).Read(value);
        Assert.That(read.Success, Is.False);
        Assert.That(read.Error, Does.Contain(reason));
    }

    [Test]
    public async Task A_value_of_another_contract_is_rejected_naming_its_schema()
    {
        var score = (await AvroSerializer(AvroContracts.Score, TopicNames.Scores)).Serialize(AvroEventCodecTests.SampleScore());
        var read = new EventDeserializer<AnomalyEvent>(AvroContracts.Anomaly, FixedIdSchemaRegistry.Instance).Read(score);
        Assert.That(read.Success, Is.False);
        Assert.That(read.Error, Does.Contain("schema id 3 is streaming.v1.ScoreEvent, expected streaming.v1.AnomalyEvent"));
    }

    [Test]
    public async Task Reading_asynchronously_with_fixed_ids_reports_an_unknown_id_with_the_known_ones()
    {
        var read = await new EventDeserializer<AnomalyEvent>(AvroContracts.Anomaly, FixedIdSchemaRegistry.Instance)
            .ReadAsync(new byte[] { 0, 0, 0, 0, 42, 0 }, CancellationToken.None);
        Assert.That(read.Success, Is.False);
        Assert.That(read.Error, Does.Contain("unknown schema id 42").And.Contain("4 (anomaly-event)"));
    }

    [Test]
    public async Task The_record_type_of_an_avro_value_is_known_from_a_fixed_id_and_json_has_none()
    {
        var avro = (await AvroSerializer(AvroContracts.Anomaly, TopicNames.Alerts)).Serialize(AvroEventCodecTests.SampleAnomaly());
        var json = JsonSerializer.SerializeToUtf8Bytes(AvroEventCodecTests.SampleAnomaly(), ContractsJsonContext.Default.AnomalyEvent);

        Assert.That(await AvroRecordNames.GetAsync(avro, FixedIdSchemaRegistry.Instance, CancellationToken.None), Is.EqualTo(AvroContracts.Anomaly.FullName));
        Assert.That(await AvroRecordNames.GetAsync(json, FixedIdSchemaRegistry.Instance, CancellationToken.None), Is.Null);
    }

    [Test]
    public void Options_are_validated_with_the_setting_name()
    {
        Assert.That(() => new SchemaRegistryOptions { Url = "not a url" }.Validated(), Throws.ArgumentException.With.Message.Contains("SchemaRegistry:Url"));
        Assert.That(() => new SchemaRegistryOptions { Url = "ftp://registry" }.Validated(), Throws.ArgumentException.With.Message.Contains("SchemaRegistry:Url"));
        Assert.That(() => new SchemaRegistryOptions { Url = "http://registry:8081", BasicAuthUser = "u" }.Validated(),
            Throws.ArgumentException.With.Message.Contains("must be set together"));
        Assert.That(() => new SchemaRegistryOptions { BasicAuthUser = "u", BasicAuthPassword = "p" }.Validated(),
            Throws.ArgumentException.With.Message.Contains("need SchemaRegistry:Url"));
        Assert.That(() => new SerializationOptions { Format = (SerializationFormat)7 }.Validated(), Throws.ArgumentException.With.Message.Contains("Serialization:Format"));
        Assert.That(new SchemaRegistryOptions { Url = "https://registry:8081", BasicAuthUser = "u", BasicAuthPassword = "p" }.Validated().HasBasicAuth, Is.True);
        Assert.That(EventSerializers.CreateSchemaRegistry(new SchemaRegistryOptions()), Is.SameAs(FixedIdSchemaRegistry.Instance));
    }
}
