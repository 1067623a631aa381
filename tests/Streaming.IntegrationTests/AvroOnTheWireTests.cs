using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Npgsql;
using Streaming.Contracts;
using Streaming.Contracts.Avro;
using Streaming.Host.Cli;
using Streaming.Host.Configuration;
using Streaming.Host.Pipeline;
using Streaming.Kafka;
using Streaming.Simulation;
using Streaming.Storage;

namespace Streaming.IntegrationTests;

/// <summary>
/// <c>Serialization:Format=Avro</c> on real components: the processor writes the Confluent wire format to the embedded
/// Kafka, the sink reads it into a real TimescaleDB, and everything agrees with a JSON run of the same input. The Schema
/// Registry cases run against a small HTTP server speaking the registry's REST subset (no registry is installable here).
/// </summary>
public sealed class AvroOnTheWireTests
{
    private const int Entities = 4;
    private const int Minutes = 30;
    private const string SpikedEntity = "host-002";
    private const string SpikedMetric = "cpu_usage";

    private static readonly string[] BadTelemetry =
    [
        "{\"entity\":\"host-001\",\"ts\":",
        "{\"ts\":1763805600000,\"metrics\":{\"cpu_usage\":1}}",
    ];

    [Test]
    public async Task Avro_run_from_avro_telemetry_puts_magic_byte_and_fixed_ids_on_the_wire_and_gives_the_same_events_and_rows_as_a_json_run()
    {
        var (samples, expectedWindows) = Fleet();

        var json = await RunSliceAsync(TestStack.UniqueName("wire_json"), SerializationFormat.Json, samples, expectedWindows);
        var avro = await RunSliceAsync(TestStack.UniqueName("wire_avro"), SerializationFormat.Avro, samples, expectedWindows);

        Assert.Multiple(() =>
        {
            Assert.That(json.Features, Has.Count.EqualTo(expectedWindows));
            Assert.That(json.Alerts, Is.Not.Empty, "the spike raised alerts");
            Assert.That(json.Features.Concat(json.Scores).Concat(json.Alerts).All(v => v[0] == (byte)'{'), "the JSON run writes JSON");
            Assert.That(avro.Features.Select(SchemaId), Is.All.EqualTo(2), "features: magic byte 0, fixed id 2");
            Assert.That(avro.Scores.Select(SchemaId), Is.All.EqualTo(3), "scores: magic byte 0, fixed id 3");
            Assert.That(avro.Alerts.Select(SchemaId), Is.All.EqualTo(4), "anomaly events: magic byte 0, fixed id 4");
            Assert.That(avro.Features.Count + avro.Scores.Count + avro.Alerts.Count, Is.EqualTo(json.Features.Count + json.Scores.Count + json.Alerts.Count));
            Assert.That(avro.Features.Sum(v => v.Length), Is.LessThan(json.Features.Sum(v => v.Length)), "Avro features are smaller than JSON");
        });

        Assert.That(await DecodeAsync(avro.Features, FeatureJson), Is.EqualTo(await DecodeAsync(json.Features, FeatureJson)), "features decode to the same events");
        Assert.That(await DecodeAsync(avro.Scores, ScoreJson), Is.EqualTo(await DecodeAsync(json.Scores, ScoreJson)), "scores decode to the same events");
        Assert.That(await DecodeAsync(avro.Alerts, AlertJson), Is.EqualTo(await DecodeAsync(json.Alerts, AlertJson)), "alerts decode to the same events");

        foreach (var (table, rows) in json.Tables)
            Assert.That(avro.Tables[table], Is.EqualTo(rows), $"the sink writes the same {table} rows");
        Assert.That(json.Tables["alerts"].Any(r => r.Contains(SpikedEntity, StringComparison.Ordinal) && r.Contains(SpikedMetric, StringComparison.Ordinal)),
            "the spike's alert is among them");
        Assert.That(json.Tables["dead_letters"], Has.Count.EqualTo(BadTelemetry.Length));
    }

    [Test]
    public async Task Sink_splits_alerts_by_schema_or_kind_and_dead_letters_undecodable_records_with_their_reason()
    {
        var name = TestStack.UniqueName("wire_sink");
        var settings = TestStack.IsolatedSettings(name).Validated();
        var connectionString = await TestStack.CreateDatabaseAsync(name);
        var capabilities = await DatabaseMigrator.ApplyAsync(connectionString, TestStack.Loggers.CreateLogger("migrate"), CancellationToken.None);
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);
        var ids = FixedIdSchemaRegistry.Instance;
        var avro = new SerializationOptions { Format = SerializationFormat.Avro };
        var anomaly = Anomaly("web-1");
        var prediction = Prediction("web-2");
        var anomalyAvro = (await EventSerializers.CreateAsync(avro, AvroContracts.Anomaly, settings.Topics.Alerts, ids, CancellationToken.None)).Serialize(anomaly);
        var predictionAvro = (await EventSerializers.CreateAsync(avro, AvroContracts.DowntimePrediction, settings.Topics.Alerts, ids, CancellationToken.None)).Serialize(prediction);
        var scoreAvro = (await EventSerializers.CreateAsync(avro, AvroContracts.Score, settings.Topics.Scores, ids, CancellationToken.None))
            .Serialize(new ScoreEvent("web-1", anomaly.WindowStart, anomaly.WindowEnd, "robust-baseline", "1", 1.5, 6, false, []));
        var featuresAvro = (await EventSerializers.CreateAsync(avro, AvroContracts.FeatureVector, settings.Topics.Features, ids, CancellationToken.None))
            .Serialize(new FeatureVectorEvent("web-1", anomaly.WindowStart, anomaly.WindowEnd, 6, [new MetricFeatures("cpu_usage", 6, 50, 1, 49, 51, 49, 51, 0.1, 50, 50, 51, 0.02, null)]));
        var unknownId = (byte[])anomalyAvro.Clone();
        BinaryPrimitives.WriteInt32BigEndian(unknownId.AsSpan(1), 99);
        var good = new (string Topic, byte[] Value)[]
        {
            (settings.Topics.Alerts, anomalyAvro),
            (settings.Topics.Alerts, predictionAvro),
            (settings.Topics.Alerts, JsonSerializer.SerializeToUtf8Bytes(Anomaly("web-3"), ContractsJsonContext.Default.AnomalyEvent)),
            (settings.Topics.Alerts, JsonSerializer.SerializeToUtf8Bytes(Prediction("web-4"), ContractsJsonContext.Default.DowntimePredictionEvent)),
            (settings.Topics.Scores, scoreAvro),
            (settings.Topics.Features, featuresAvro),
        };
        var bad = new (string Topic, byte[] Value, string Reason)[]
        {
            (settings.Topics.Alerts, unknownId, "unknown schema id 99"),
            (settings.Topics.Alerts, scoreAvro, "is streaming.v1.ScoreEvent, not an alert record"),
            (settings.Topics.Alerts, "{\"kind\":\"bogus\",\"entity\":\"x\"}"u8.ToArray(), "alert kind 'bogus'"),
            (settings.Topics.Alerts, [0xFF, 0x01, 0x02], "neither the Avro wire format"),
            (settings.Topics.Features, featuresAvro[..^3], "schema id 2"),
            (settings.Topics.Scores, "{\"entity\":".ToCharArray().Select(c => (byte)c).ToArray(), "JSON ScoreEvent is invalid"),
        };
        using (var producer = new ProducerBuilder<string, byte[]>(TestStack.Kafka.ProducerConfig("test")).Build())
        {
            foreach (var (topic, value) in good.Concat(bad.Select(b => (b.Topic, b.Value))))
                producer.Produce(topic, new Message<string, byte[]> { Key = "k", Value = value });
            Assert.That(producer.Flush(TimeSpan.FromSeconds(30)), Is.Zero);
        }

        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var writer = new TimescaleWriter(dataSource, capabilities, TimeProvider.System, TestStack.Loggers.CreateLogger<TimescaleWriter>());
        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var sink = new SinkWorker(settings, TestStack.Kafka, writer, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("sink"));
        var sinkTask = sink.RunAsync(stop.Token);
        await WaitUntilAsync(() => sink.RecordsWritten(settings.Topics.Alerts) >= 8 && sink.RecordsWritten(settings.Topics.Features) >= 2
            && sink.RecordsWritten(settings.Topics.Scores) >= 2, [sinkTask], stop.Token);
        await stop.CancelAsync();
        await sinkTask;

        await using var connection = await dataSource.OpenConnectionAsync();
        var alerts = await RowsAsync(connection, "SELECT entity || ' ' || status || ' ' || (payload->>'alert_id') FROM alerts");
        var predictions = await RowsAsync(connection, "SELECT entity || ' ' || p_5m || ' ' || p_15m || ' ' || p_30m || ' ' || top_metric || ' ' || (payload->>'kind') FROM predictions");
        var deadLetters = await RowsAsync(connection, "SELECT source_topic || '|' || reason || '|' || detail FROM dead_letters");
        Assert.Multiple(() =>
        {
            Assert.That(alerts.Order(), Is.EqualTo(new[] { $"web-1 open {anomaly.AlertId}", $"web-3 open {anomaly.AlertId}" }),
                "both anomaly events, Avro and JSON, in alerts (with the decoded event as payload)");
            Assert.That(predictions.Order(), Is.EqualTo(new[] { "web-2 0.2 0.5 0.7 memory_usage downtime_prediction", "web-4 0.2 0.5 0.7 memory_usage downtime_prediction" }),
                "both predictions, Avro and JSON, in predictions");
            Assert.That(deadLetters, Has.Count.EqualTo(bad.Length), "every undecodable record is a dead-letter row");
            foreach (var (topic, _, reason) in bad)
            {
                Assert.That(deadLetters.Count(d => d.StartsWith($"{topic}|undecodable_event|", StringComparison.Ordinal) && d.Contains(reason, StringComparison.Ordinal)),
                    Is.EqualTo(1), $"a dead letter on {topic} saying '{reason}'");
            }
            Assert.That(counters.RejectedByReason.GetValueOrDefault("undecodable_event"), Is.EqualTo(bad.Length), "counted by reason");
        });
    }

    [Test]
    public async Task With_a_schema_registry_each_schema_is_registered_once_and_its_ids_are_on_the_wire_and_read_back()
    {
        await using var registry = FakeRegistry.Start();
        var (samples, expectedWindows) = Fleet();
        var name = TestStack.UniqueName("wire_registry");

        var run = await RunSliceAsync(name, SerializationFormat.Avro, samples, expectedWindows, s =>
        {
            s.SchemaRegistry.Url = registry.Url;
            s.SchemaRegistry.SubjectNameStrategy = SubjectNameStrategy.TopicRecordName;
            s.SchemaRegistry.BasicAuthUser = "streaming";
            s.SchemaRegistry.BasicAuthPassword = "registry-secret";
        });

        var subjects = new[]
        {
            $"{name}-features-streaming.v1.FeatureVectorEvent", $"{name}-scores-streaming.v1.ScoreEvent",
            $"{name}-alerts-streaming.v1.AnomalyEvent", $"{name}-alerts-streaming.v1.DowntimePredictionEvent",
        };
        Assert.Multiple(() =>
        {
            Assert.That(registry.Registrations.Order(), Is.EqualTo(subjects.Order()), "one POST per subject, at start-up, however many records follow");
            Assert.That(registry.Authorizations.Distinct(), Is.EqualTo(new[] { "Basic " + Convert.ToBase64String("streaming:registry-secret"u8) }));
            Assert.That(run.Features.Select(SchemaId).Distinct(), Is.EqualTo(new[] { registry.IdOf(subjects[0]) }), "features carry the registry's id");
            Assert.That(run.Scores.Select(SchemaId).Distinct(), Is.EqualTo(new[] { registry.IdOf(subjects[1]) }), "scores carry the registry's id");
            Assert.That(run.Alerts.Select(SchemaId).Distinct(), Is.EqualTo(new[] { registry.IdOf(subjects[2]) }), "anomalies carry the registry's id");
            Assert.That(registry.IdOf(subjects[0]), Is.Not.EqualTo(AvroContracts.FeatureVector.FixedId), "registry ids, not the fixed ones");
            Assert.That(registry.Fetches.GroupBy(id => id).Select(g => g.Count()), Is.All.EqualTo(1), "the sink fetches each writer schema once");
            Assert.That(registry.Fetches.Order(), Is.EqualTo(new[] { registry.IdOf(subjects[0]), registry.IdOf(subjects[1]), registry.IdOf(subjects[2]) }.Order()));
            Assert.That(run.Tables["features"], Has.Count.EqualTo(expectedWindows * FleetSimulator.MetricNames.Length), "the sink decoded every features record");
            Assert.That(run.Tables["alerts"], Is.Not.Empty, "and the alerts");
        });
    }

    [Test]
    public async Task Sink_waits_for_an_unavailable_registry_instead_of_dead_lettering_good_records()
    {
        await using var registry = FakeRegistry.Start();
        var name = TestStack.UniqueName("wire_registry_down");
        var settings = TestStack.IsolatedSettings(name);
        settings.SchemaRegistry.Url = registry.Url;
        settings.Validated();
        var connectionString = await TestStack.CreateDatabaseAsync(name);
        var capabilities = await DatabaseMigrator.ApplyAsync(connectionString, TestStack.Loggers.CreateLogger("migrate"), CancellationToken.None);
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);
        byte[] value;
        using (var writerClient = EventSerializers.CreateSchemaRegistry(settings.SchemaRegistry))
        {
            var start = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
            value = (await EventSerializers.CreateAsync(new SerializationOptions { Format = SerializationFormat.Avro }, AvroContracts.Score,
                    settings.Topics.Scores, writerClient, CancellationToken.None))
                .Serialize(new ScoreEvent("web-1", start, start.AddMinutes(1), "robust-baseline", "1", 1.5, 6, false, []));
        }
        using (var producer = new ProducerBuilder<string, byte[]>(TestStack.Kafka.ProducerConfig("test")).Build())
            await producer.ProduceAsync(settings.Topics.Scores, new Message<string, byte[]> { Key = "web-1", Value = value });
        registry.FailFetches = 3;

        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var writer = new TimescaleWriter(dataSource, capabilities, TimeProvider.System, TestStack.Loggers.CreateLogger<TimescaleWriter>());
        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var sink = new SinkWorker(settings, TestStack.Kafka, writer, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("sink"));
        var sinkTask = sink.RunAsync(stop.Token);
        await WaitUntilAsync(() => sink.RecordsWritten(settings.Topics.Scores) >= 1, [sinkTask], stop.Token);
        await stop.CancelAsync();
        await sinkTask;

        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Multiple(async () =>
        {
            Assert.That(registry.Fetches, Has.Count.EqualTo(4), "three failed fetches (503), retried until the fourth answered");
            Assert.That(await RowsAsync(connection, "SELECT entity || ' ' || score FROM anomaly_scores"), Is.EqualTo(new[] { "web-1 1.5" }));
            Assert.That(await RowsAsync(connection, "SELECT reason FROM dead_letters"), Is.Empty, "nothing dead-lettered");
            Assert.That(counters.Rejected, Is.Zero);
        });
    }

    [TestCase(409, "Schema being registered is incompatible with an earlier schema")]
    [TestCase(422, "Invalid schema")]
    public async Task A_registry_rejection_fails_start_up_with_the_registry_message(int status, string message)
    {
        await using var registry = FakeRegistry.Start();
        var name = TestStack.UniqueName("wire_reject");
        var settings = TestStack.IsolatedSettings(name);
        settings.Serialization.Format = SerializationFormat.Avro;
        settings.SchemaRegistry.Url = registry.Url;
        settings.SchemaRegistry.BasicAuthUser = "streaming";
        settings.SchemaRegistry.BasicAuthPassword = "registry-secret";
        settings.Validated();
        registry.Reject[$"{name}-alerts-value"] = status;
        var errors = new StringWriter();

        var serializers = await EventSerializerSet.CreateOrReportAsync(settings, errors, CancellationToken.None);

        Assert.That(serializers, Is.Null);
        Assert.That(errors.ToString(), Does.Contain($"subject '{name}-alerts-value'").And.Contain($"HTTP {status}").And.Contain(message));
        Assert.That(errors.ToString(), Does.Not.Contain("registry-secret"));
        if (status == 409)
            Assert.That(errors.ToString(), Does.Contain("SchemaRegistry:SubjectNameStrategy=TopicRecordName"));

        // A worker started without injected serializers creates them itself and stops the same way, before consuming anything.
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);
        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var worker = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("processor"), name);
        var ex = Assert.ThrowsAsync<Confluent.SchemaRegistry.SchemaRegistryException>(async () => await worker.RunAsync(stop.Token));
        Assert.That(ex!.Message, Does.Contain(message));
        Assert.That(worker.Processed, Is.Zero);
    }

    [Test]
    public void Serialization_settings_are_validated_at_start_up_naming_the_setting()
    {
        var unknownFormat = Assert.Throws<OptionsException>(() => StreamingSettings.Load([new("Serialization:Format", "Protobuf")]));
        Assert.That(unknownFormat!.Message, Does.Contain("Serialization:Format").And.Contain("Protobuf"));

        var badUrl = Assert.Throws<OptionsException>(() => StreamingSettings.Load([new("SchemaRegistry:Url", "schema-registry:8081")]));
        Assert.That(badUrl!.Message, Does.Contain("SchemaRegistry:Url"));

        var passwordOnly = Assert.Throws<OptionsException>(() => StreamingSettings.Load(
            [new("SchemaRegistry:Url", "http://registry:8081"), new("SchemaRegistry:BasicAuthPassword", "registry-secret")]));
        Assert.That(passwordOnly!.Message, Does.Contain("SchemaRegistry:BasicAuthUser").And.Not.Contain("registry-secret"));

        var timeout = Assert.Throws<OptionsException>(() => StreamingSettings.Load([new("SchemaRegistry:Url", "http://registry:8081"), new("SchemaRegistry:RequestTimeout", "00:00:00")]));
        Assert.That(timeout!.Message, Does.Contain("SchemaRegistry:RequestTimeout"));

        var avro = StreamingSettings.Load([new("Serialization:Format", "avro"), new("SchemaRegistry:SubjectNameStrategy", "TopicRecordName")]);
        Assert.That((avro.Serialization.Format, avro.SchemaRegistry.SubjectNameStrategy, avro.SchemaRegistry.IsConfigured),
            Is.EqualTo((SerializationFormat.Avro, SubjectNameStrategy.TopicRecordName, false)));
        Assert.That(StreamingSettings.Load().Serialization.Format, Is.EqualTo(SerializationFormat.Json), "JSON by default");
    }

    [Test]
    public async Task Alerts_tail_prints_avro_records_readably_and_as_their_json_contract()
    {
        var topic = TestStack.UniqueName("wire_tail");
        await TestStack.Kafka.EnsureTopicsAsync([topic]);
        var avro = new SerializationOptions { Format = SerializationFormat.Avro };
        var anomaly = Anomaly("web-1");
        var prediction = Prediction("web-2");
        using (var producer = new ProducerBuilder<string, byte[]>(TestStack.Kafka.ProducerConfig("test")).Build())
        {
            // One partition key, so the two arrive in order.
            await producer.ProduceAsync(topic, new Message<string, byte[]> { Key = "k", Value =
                (await EventSerializers.CreateAsync(avro, AvroContracts.Anomaly, topic, FixedIdSchemaRegistry.Instance, CancellationToken.None)).Serialize(anomaly) });
            await producer.ProduceAsync(topic, new Message<string, byte[]> { Key = "k", Value =
                (await EventSerializers.CreateAsync(avro, AvroContracts.DowntimePrediction, topic, FixedIdSchemaRegistry.Instance, CancellationToken.None)).Serialize(prediction) });
            await producer.ProduceAsync(topic, new Message<string, byte[]> { Key = "k", Value = [0, 0, 0, 0, 42, 1] });
        }
        var readable = new StringWriter();
        var json = new StringWriter();
        var errors = new StringWriter();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var printed = await Task.Run(() => AlertsCommand.Tail(TestStack.Kafka, topic, fromBeginning: true, json: false, max: 3, readable, timeout.Token));
        var printedJson = await Task.Run(() => AlertsCommand.Tail(TestStack.Kafka, topic, fromBeginning: true, json: true, max: 2, json, timeout.Token, errors: errors));

        Assert.That((printed, printedJson), Is.EqualTo((3, 2)));
        var lines = readable.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.That(lines[0], Is.EqualTo(
            $"2026-11-22 10:01:00Z  OPEN     critical web-1  score 8.25 ≥ 6.00  top: cpu_usage 97.5 (expected 50, 75%)  [robust-baseline 1, alert {anomaly.AlertId.ToString()[..8]}]"));
        Assert.That(lines[1], Is.EqualTo(
            $"2026-11-22 10:01:00Z  PREDICT OPEN     warning  web-2  P(down within 30 min) 70% (5 min 20%, 15 min 50%, 30 min 70%)  down in ~12 min  driven by memory_usage  [downtime-predictor 7, alert {prediction.AlertId.ToString()[..8]}]"));
        Assert.That(lines[2], Does.StartWith("(unreadable alert record: unknown schema id 42"));
        var jsonLines = json.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.That(jsonLines, Is.EqualTo(new[]
        {
            JsonSerializer.Serialize(anomaly, ContractsJsonContext.Default.AnomalyEvent),
            JsonSerializer.Serialize(prediction, ContractsJsonContext.Default.DowntimePredictionEvent),
        }), "each Avro record printed as the JSON a JSON run writes");
    }

    private sealed record SliceRun(List<byte[]> Features, List<byte[]> Scores, List<byte[]> Alerts, Dictionary<string, List<string>> Tables);

    /// <summary>A quiet fleet with one injected spike (so alerts exist), the same on every call.</summary>
    private static (List<TelemetrySample> Samples, int ExpectedWindows) Fleet()
    {
        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-1), TimeSpan.Zero);
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = Entities, Seed = 5, Start = start, IncidentsPerEntityDay = 0 });
        var samples = new List<TelemetrySample>();
        while (simulator.Now < start.AddMinutes(Minutes))
            simulator.NextTick(samples);
        var spikeFrom = start.AddMinutes(20);
        samples = samples.Select(s => s.Entity == SpikedEntity && s.Timestamp >= spikeFrom && s.Timestamp < spikeFrom.AddMinutes(1)
            ? new TelemetrySample(s.Entity, s.TimestampMs, s.Metrics.Select(m => m.Name == SpikedMetric ? m with { Value = m.Value + 400 } : m).ToArray())
            : s).ToList();
        return (samples, samples.Select(s => (s.Entity, s.TimestampMs / 60_000)).Distinct().Count());
    }

    /// <summary>Processor and sink on their own topics and database; returns every record they wrote and the tables' rows.</summary>
    private static async Task<SliceRun> RunSliceAsync(string name, SerializationFormat format, List<TelemetrySample> samples, int expectedWindows,
        Action<StreamingSettings>? configure = null)
    {
        var settings = TestStack.IsolatedSettings(name);
        settings.Processor.IdleMode = IdleMode.CloseAll;
        settings.Processor.IdleTimeout = TimeSpan.FromSeconds(2);
        settings.Serialization.Format = format;
        configure?.Invoke(settings);
        settings.Validated();
        var connectionString = await TestStack.CreateDatabaseAsync(name);
        var capabilities = await DatabaseMigrator.ApplyAsync(connectionString, TestStack.Loggers.CreateLogger("migrate"), CancellationToken.None);
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);

        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var writer = new TimescaleWriter(dataSource, capabilities, TimeProvider.System, TestStack.Loggers.CreateLogger<TimescaleWriter>());
        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        // As `run` and `demo` do: the serializers are created (and registered) once, before the worker starts.
        using var serializers = await EventSerializerSet.CreateAsync(settings, stop.Token);
        var processor = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("processor"), name)
        {
            Serializers = serializers,
        };
        var sink = new SinkWorker(settings, TestStack.Kafka, writer, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("sink"));
        var processorTask = processor.RunAsync(stop.Token);
        var sinkTask = sink.RunAsync(stop.Token);

        using (var producer = new ProducerBuilder<string, byte[]>(TestStack.Kafka.ProducerConfig("test")).Build())
        {
            // The Avro run's telemetry is Avro too (telemetry-sample.avsc, fixed id 1): the parser takes both formats.
            foreach (var sample in samples)
            {
                producer.Produce(settings.Topics.Telemetry, new Message<string, byte[]>
                {
                    Key = sample.Entity,
                    Value = format == SerializationFormat.Avro ? TelemetryAvro.Serialize(sample) : TelemetryJson.ToUtf8(sample),
                });
            }
            foreach (var bad in BadTelemetry)
                producer.Produce(settings.Topics.Telemetry, new Message<string, byte[]> { Key = "bad", Value = Encoding.UTF8.GetBytes(bad) });
            Assert.That(producer.Flush(TimeSpan.FromSeconds(30)), Is.Zero, "every record reached the broker");
        }
        var total = samples.Count + BadTelemetry.Length;
        await WaitUntilAsync(() => processor.Processed >= total && counters.Windows >= expectedWindows
            && sink.RecordsWritten(settings.Topics.Telemetry) >= total && sink.RecordsWritten(settings.Topics.Features) >= expectedWindows
            && sink.RecordsWritten(settings.Topics.DeadLetter) >= BadTelemetry.Length, [processorTask, sinkTask], stop.Token);

        // Every window is closed and committed: what is on the topics now is all there will be; wait for the sink to store it.
        var features = await TestStack.ReadValuesAsync(settings.Topics.Features);
        var scores = await TestStack.ReadValuesAsync(settings.Topics.Scores);
        var alerts = await TestStack.ReadValuesAsync(settings.Topics.Alerts);
        await WaitUntilAsync(() => sink.RecordsWritten(settings.Topics.Scores) >= scores.Count && sink.RecordsWritten(settings.Topics.Alerts) >= alerts.Count,
            [processorTask, sinkTask], stop.Token);
        await stop.CancelAsync();
        await Task.WhenAll(processorTask, sinkTask);
        Assert.That(counters.RejectedByReason.GetValueOrDefault("undecodable_event"), Is.Zero, "the sink decoded every record");

        await using var connection = await dataSource.OpenConnectionAsync();
        var tables = new Dictionary<string, List<string>>
        {
            ["metrics"] = await RowsAsync(connection, "SELECT m::text FROM metrics m"),
            ["features"] = await RowsAsync(connection, "SELECT f::text FROM features f"),
            ["anomaly_scores"] = await RowsAsync(connection, "SELECT s::text FROM anomaly_scores s"),
            // detected_at is the processor's wall clock, the one field two runs cannot share.
            ["alerts"] = await RowsAsync(connection,
                "SELECT (alert_id, time, entity, kind, status, severity, score, threshold, model, model_version, top_metric, payload - 'detected_at')::text FROM alerts"),
            ["predictions"] = await RowsAsync(connection, "SELECT (p.time, entity, model, p_5m, p_30m, payload - 'detected_at')::text FROM predictions p"),
            ["dead_letters"] = await RowsAsync(connection, "SELECT (reason, detail, payload)::text FROM dead_letters"),
        };
        return new SliceRun(features, scores, alerts, tables);
    }

    private static int SchemaId(byte[] value) =>
        value.Length >= 5 && value[0] == 0 ? BinaryPrimitives.ReadInt32BigEndian(value.AsSpan(1)) : -1;

    private static async Task<List<string>> DecodeAsync(List<byte[]> values, Func<byte[], ValueTask<string>> decode)
    {
        var decoded = new List<string>(values.Count);
        foreach (var value in values)
            decoded.Add(await decode(value));
        decoded.Sort(StringComparer.Ordinal);
        return decoded;
    }

    private static async ValueTask<string> FeatureJson(byte[] value)
    {
        var read = await new EventDeserializer<FeatureVectorEvent>(AvroContracts.FeatureVector, FixedIdSchemaRegistry.Instance).ReadAsync(value, CancellationToken.None);
        Assert.That(read.Success, Is.True, read.Error);
        return JsonSerializer.Serialize(read.Value!, ContractsJsonContext.Default.FeatureVectorEvent);
    }

    private static async ValueTask<string> ScoreJson(byte[] value)
    {
        var read = await new EventDeserializer<ScoreEvent>(AvroContracts.Score, FixedIdSchemaRegistry.Instance).ReadAsync(value, CancellationToken.None);
        Assert.That(read.Success, Is.True, read.Error);
        return JsonSerializer.Serialize(read.Value!, ContractsJsonContext.Default.ScoreEvent);
    }

    private static async ValueTask<string> AlertJson(byte[] value)
    {
        var read = await new AlertRecordReader(FixedIdSchemaRegistry.Instance).ReadAsync(value, CancellationToken.None);
        Assert.That(read.Anomaly, Is.Not.Null, read.Error);
        return JsonSerializer.Serialize(read.Anomaly! with { DetectedAt = default }, ContractsJsonContext.Default.AnomalyEvent);
    }

    private static AnomalyEvent Anomaly(string entity) => new(
        AlertTrackerIds.EventFor(entity), AlertTrackerIds.Alert, AnomalyEvent.KindName, AlertStatus.Open, entity,
        new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 11, 22, 10, 1, 0, TimeSpan.Zero),
        new DateTimeOffset(2026, 11, 22, 10, 1, 31, 250, TimeSpan.Zero), 8.25, 6, Severity.Critical, "robust-baseline", "1",
        [new Contributor("cpu_usage", 0.75, 50, 97.5)]);

    private static DowntimePredictionEvent Prediction(string entity) => new(
        AlertTrackerIds.EventFor(entity), AlertTrackerIds.Alert, DowntimePredictionEvent.KindName, AlertStatus.Open, entity,
        new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 11, 22, 10, 1, 0, TimeSpan.Zero),
        new DateTimeOffset(2026, 11, 22, 10, 1, 31, 250, TimeSpan.Zero), 720, new DateTimeOffset(2026, 11, 22, 10, 13, 0, TimeSpan.Zero),
        0.7, 30, 0.5, Severity.Warning, "downtime-predictor", "7",
        [new HorizonProbability(5, 0.2), new HorizonProbability(15, 0.5), new HorizonProbability(30, 0.7)],
        [new Contributor("memory_usage", 0.9, 40, 95)]);

    private static class AlertTrackerIds
    {
        /// <summary>One event id per entity: the database keeps one row per event id and time.</summary>
        public static Guid EventFor(string entity) => new(System.Security.Cryptography.MD5.HashData(Encoding.UTF8.GetBytes(entity)));
        public static readonly Guid Alert = Guid.Parse("1234abcd-0000-4000-8000-000000000001");
    }

    private static async Task WaitUntilAsync(Func<bool> condition, Task[] workers, CancellationToken cancellationToken)
    {
        while (!condition())
        {
            foreach (var worker in workers.Where(w => w.IsFaulted))
                await worker;
            if (cancellationToken.IsCancellationRequested)
                Assert.Fail("The pipeline did not process every record in time.");
            await Task.Delay(200, CancellationToken.None);
        }
    }

    private static async Task<List<string>> RowsAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
            rows.Add(reader.GetString(0));
        rows.Sort(StringComparer.Ordinal);
        return rows;
    }

    /// <summary>
    /// The Confluent Schema Registry's REST subset the pipeline uses (register a version, fetch a schema by id) on a real
    /// local HTTP port, recording every request.
    /// </summary>
    private sealed class FakeRegistry : IAsyncDisposable
    {
        private const string ContentType = "application/vnd.schemaregistry.v1+json";
        private readonly HttpListener _listener = new();
        private readonly ConcurrentDictionary<string, int> _idsBySubject = new();
        private readonly ConcurrentDictionary<int, string> _schemas = new();
        private readonly Task _serving;
        private int _nextId = 1000;

        private FakeRegistry()
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Url = $"http://127.0.0.1:{port}";
            _listener.Prefixes.Add(Url + "/");
            _listener.Start();
            _serving = Task.Run(ServeAsync);
        }

        public string Url { get; }

        public ConcurrentQueue<string> Registrations { get; } = new();

        public ConcurrentQueue<string> Authorizations { get; } = new();

        public ConcurrentQueue<int> Fetches { get; } = new();

        /// <summary>How many of the next schema fetches answer 503 (the registry is down).</summary>
        public int FailFetches { get; set; }

        /// <summary>Subjects whose registration is refused with this HTTP status (409 incompatible, 422 invalid).</summary>
        public ConcurrentDictionary<string, int> Reject { get; } = new();

        public int IdOf(string subject) => _idsBySubject[subject];

        public static FakeRegistry Start() => new();

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
                {
                    return; // stopped
                }
                var (status, body) = await HandleAsync(context.Request);
                var bytes = Encoding.UTF8.GetBytes(body);
                context.Response.StatusCode = status;
                context.Response.ContentType = ContentType;
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
        }

        private async Task<(int, string)> HandleAsync(HttpListenerRequest request)
        {
            Authorizations.Enqueue(request.Headers["Authorization"] ?? "");
            var path = request.Url!.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (request.HttpMethod == "POST" && path is ["subjects", var escaped, "versions"])
            {
                var subject = Uri.UnescapeDataString(escaped);
                Registrations.Enqueue(subject);
                using var reader = new StreamReader(request.InputStream);
                using var document = JsonDocument.Parse(await reader.ReadToEndAsync());
                var schema = document.RootElement.GetProperty("schema").GetString()!;
                if (Reject.TryGetValue(subject, out var status))
                {
                    return status == 409
                        ? (409, $$"""{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema for subject \"{{subject}}\""}""")
                        : (status, """{"error_code":42201,"message":"Invalid schema"}""");
                }
                var id = _idsBySubject.GetOrAdd(subject, _ => Interlocked.Increment(ref _nextId));
                _schemas[id] = schema;
                return (200, $$"""{"id":{{id}}}""");
            }
            if (request.HttpMethod == "GET" && path is ["schemas", "ids", var idText] && int.TryParse(idText, CultureInfo.InvariantCulture, out var requested))
            {
                Fetches.Enqueue(requested);
                if (FailFetches > 0)
                {
                    FailFetches--;
                    return (503, """{"error_code":50003,"message":"Error while forwarding the request to the leader"}""");
                }
                return _schemas.TryGetValue(requested, out var schema)
                    ? (200, JsonSerializer.Serialize(new Dictionary<string, string> { ["schema"] = schema }))
                    : (404, $$"""{"error_code":40403,"message":"Schema {{requested}} not found"}""");
            }
            return (404, """{"error_code":404,"message":"HTTP 404 Not Found"}""");
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            _listener.Close();
            await _serving;
        }
    }
}
