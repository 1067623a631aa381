using System.Text;
using System.Text.Json;
using Streaming.Contracts;
using Streaming.Contracts.Avro;

namespace Streaming.UnitTests;

/// <summary>The alerts topic's two record types, told apart by schema (Avro) or by the <c>kind</c> field (JSON).</summary>
public sealed class AlertRecordReaderTests
{
    private static readonly SerializationOptions Avro = new() { Format = SerializationFormat.Avro };
    private readonly AlertRecordReader _reader = new(FixedIdSchemaRegistry.Instance);

    private static DowntimePredictionEvent SamplePrediction(string entity = "pump-7") => new(
        Guid.Parse("11111111-2222-4333-8444-555555555555"), Guid.Parse("66666666-7777-4888-8999-aaaaaaaaaaaa"), DowntimePredictionEvent.KindName,
        AlertStatus.Open, entity, new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 11, 22, 10, 1, 0, TimeSpan.Zero),
        new DateTimeOffset(2026, 11, 22, 10, 1, 2, TimeSpan.Zero), 600, new DateTimeOffset(2026, 11, 22, 10, 11, 0, TimeSpan.Zero), 0.8, 30, 0.5,
        Severity.Warning, "downtime-predictor", "3", [new HorizonProbability(5, 0.1), new HorizonProbability(30, 0.8)], [new Contributor("memory_usage", 1, 40, 90)]);

    [Test]
    public async Task Avro_records_are_split_by_their_writer_schema()
    {
        var anomalyBytes = (await EventSerializers.CreateAsync(Avro, AvroContracts.Anomaly, "alerts", FixedIdSchemaRegistry.Instance, CancellationToken.None))
            .Serialize(AvroEventCodecTests.SampleAnomaly());
        var predictionBytes = (await EventSerializers.CreateAsync(Avro, AvroContracts.DowntimePrediction, "alerts", FixedIdSchemaRegistry.Instance, CancellationToken.None))
            .Serialize(SamplePrediction());

        var anomaly = await _reader.ReadAsync(anomalyBytes, CancellationToken.None);
        var prediction = await _reader.ReadAsync(predictionBytes, CancellationToken.None);

        Assert.That((anomaly.Anomaly?.Entity, anomaly.Prediction, anomaly.Format), Is.EqualTo(("web-1", (DowntimePredictionEvent?)null, SerializationFormat.Avro)));
        Assert.That((prediction.Anomaly, prediction.Prediction?.Entity, prediction.Format), Is.EqualTo(((AnomalyEvent?)null, "pump-7", SerializationFormat.Avro)));
        Assert.That(Encoding.UTF8.GetString(prediction.ToJson()), Is.EqualTo(JsonSerializer.Serialize(SamplePrediction(), ContractsJsonContext.Default.DowntimePredictionEvent)));
    }

    [Test]
    public async Task Json_records_are_split_by_their_kind_field_not_by_text_that_merely_looks_like_it()
    {
        // An entity name may hold any non-whitespace characters, including the text a byte search would look for.
        var tricky = AvroEventCodecTests.SampleAnomaly() with { Entity = "x\"kind\":\"downtime_prediction\"" };
        var anomaly = await _reader.ReadAsync(JsonSerializer.SerializeToUtf8Bytes(tricky, ContractsJsonContext.Default.AnomalyEvent), CancellationToken.None);
        var prediction = await _reader.ReadAsync(Encoding.UTF8.GetBytes("\uFEFF \n" + JsonSerializer.Serialize(SamplePrediction(), ContractsJsonContext.Default.DowntimePredictionEvent)), CancellationToken.None);

        Assert.That(anomaly.Anomaly?.Entity, Is.EqualTo(tricky.Entity), anomaly.Error);
        Assert.That(prediction.Prediction?.Entity, Is.EqualTo("pump-7"), prediction.Error);
        Assert.That(prediction.Format, Is.EqualTo(SerializationFormat.Json));
    }

    [TestCase("", "empty value")]
    [TestCase("[1]", "neither the Avro wire format")]
    [TestCase("{\"entity\":\"a\"}", "no 'kind' field")]
    [TestCase("{\"kind\":7}", "'kind' must be a string")]
    [TestCase("{\"kind\":\"forecast\"}", "alert kind 'forecast' is not 'anomaly', 'downtime_prediction' or 'drift'")]
    [TestCase("{\"kind\":\"anomaly\",\"entity\":", "JSON AnomalyEvent is invalid")]
    [TestCase("{\"entity\":\"a\",\"kind\":", "JSON alert is invalid")]
    public async Task A_json_record_that_is_not_an_alert_fails_with_a_reason(string value, string reason)
    {
        var read = await _reader.ReadAsync(Encoding.UTF8.GetBytes(value), CancellationToken.None);

        Assert.That(read.Success, Is.False);
        Assert.That(read.Error, Does.Contain(reason));
    }

    [Test]
    public async Task An_avro_record_of_another_schema_or_an_unknown_id_fails_with_a_reason()
    {
        var score = (await EventSerializers.CreateAsync(Avro, AvroContracts.Score, "alerts", FixedIdSchemaRegistry.Instance, CancellationToken.None))
            .Serialize(AvroEventCodecTests.SampleScore());

        var wrongSchema = await _reader.ReadAsync(score, CancellationToken.None);
        var unknown = await _reader.ReadAsync(new byte[] { 0, 0, 0, 0, 77, 2 }, CancellationToken.None);
        var truncated = await _reader.ReadAsync(new byte[] { 0, 0, 0 }, CancellationToken.None);

        Assert.That(wrongSchema.Error, Does.Contain("schema id 3 is").And.Contain("not an alert record"));
        Assert.That(unknown.Error, Does.Contain("unknown schema id 77"));
        Assert.That(truncated.Error, Does.Contain("needs at least 5 bytes"));
    }
}
