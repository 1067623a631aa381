using System.Text.Json;
using System.Text.Json.Nodes;
using Streaming.Contracts;
using Streaming.Contracts.Avro;

namespace Streaming.UnitTests;

/// <summary>The drift event contract: its JSON Schema, its Avro schema (fixed id 6), and its compatibility with the alerts readers.</summary>
public sealed class DriftEventContractTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    internal static DriftEvent Sample(string status = AlertStatus.Open) => new(
        Guid.Parse("0b4e7a0e-5f1c-4f43-9d1a-2b3c4d5e6f70"), Guid.Parse("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"),
        DriftEvent.KindName, status, DriftEvent.FleetEntity, Now.AddHours(-4), Now, Now.AddSeconds(3),
        1.8312, 0.25, Severity.Critical, "ensemble", "20261122-101500",
        [new Contributor("cpu_usage.mean", 0.91, 50.1, 65.2), new Contributor("cpu_usage.std", 0.05, 4.9, 5.1)],
        "psi", 240,
        [new FeatureDrift("cpu_usage.mean", 1.8312, 0.83), new FeatureDrift("cpu_usage.std", 0.1, 0.12), new FeatureDrift("memory_usage.mean", 0.02, 0.05)]);

    [Test]
    public void Drift_event_written_by_the_contracts_context_conforms_to_its_schema()
    {
        var checker = new JsonSchemaChecker(Path.Combine(AppContext.BaseDirectory, "schemas"));
        foreach (var status in new[] { AlertStatus.Open, AlertStatus.Resolved })
        {
            var errors = checker.Validate("drift-event.schema.json", JsonNode.Parse(JsonSerializer.Serialize(Sample(status), ContractsJsonContext.Default.DriftEvent)));
            Assert.That(errors, Is.Empty, string.Join(Environment.NewLine, errors));
        }
    }

    [Test]
    public void Drift_event_round_trips_through_avro_with_fixed_id_6()
    {
        Assert.That(AvroContracts.Drift.FixedId, Is.EqualTo(6));
        var original = Sample();
        var bytes = AvroEventCodecTests.Serialize(AvroContracts.Drift, original);
        Assert.That(bytes[..5], Is.EqualTo(new byte[] { 0, 0, 0, 0, 6 }));
        var read = new EventDeserializer<DriftEvent>(AvroContracts.Drift, FixedIdSchemaRegistry.Instance).Read(bytes);
        Assert.That(read.Success, Is.True, read.Error);
        var decoded = read.Value;
        Assert.That(JsonSerializer.Serialize(decoded, ContractsJsonContext.Default.DriftEvent),
            Is.EqualTo(JsonSerializer.Serialize(original, ContractsJsonContext.Default.DriftEvent)));
    }

    [Test]
    public async Task The_alerts_reader_reads_a_drift_event_in_either_format_as_an_alert_of_kind_drift()
    {
        var reader = new AlertRecordReader(FixedIdSchemaRegistry.Instance);
        var expected = JsonSerializer.Serialize(Sample(), ContractsJsonContext.Default.DriftEvent);
        foreach (var format in new[] { SerializationFormat.Json, SerializationFormat.Avro })
        {
            var serializer = await EventSerializers.CreateAsync(new SerializationOptions { Format = format }, AvroContracts.Drift, TopicNames.Alerts,
                FixedIdSchemaRegistry.Instance, CancellationToken.None);
            var record = await reader.ReadAsync(serializer.Serialize(Sample()), CancellationToken.None);

            Assert.That(record.Success, Is.True, record.Error);
            Assert.That((record.Anomaly?.Kind, record.Anomaly?.Entity, record.Prediction), Is.EqualTo(("drift", "fleet", (DowntimePredictionEvent?)null)), $"{format}");
            Assert.That(System.Text.Encoding.UTF8.GetString(record.ToJson()), Is.EqualTo(expected), $"{format}: the whole drift event, features included");
        }
    }

    [Test]
    public void A_reader_of_anomaly_alerts_reads_a_drift_event_as_one_more_kind()
    {
        // The sink and `alerts tail` read every non-prediction alerts record as an anomaly event.
        var json = JsonSerializer.SerializeToUtf8Bytes(Sample(), ContractsJsonContext.Default.DriftEvent);
        var alert = JsonSerializer.Deserialize(json, ContractsJsonContext.Default.AnomalyEvent)!;
        Assert.That((alert.Kind, alert.Status, alert.Entity, alert.Model, alert.Contributors[0].Metric),
            Is.EqualTo(("drift", AlertStatus.Open, "fleet", "ensemble", "cpu_usage.mean")));
    }
}
