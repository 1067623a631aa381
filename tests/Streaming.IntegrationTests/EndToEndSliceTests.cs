using Microsoft.Extensions.Logging;
using System.Text;
using Confluent.Kafka;
using Npgsql;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Host.Pipeline;
using Streaming.Simulation;
using Streaming.Storage;

namespace Streaming.IntegrationTests;

/// <summary>
/// The first slice end to end on real components: telemetry topic → processor (windows, features, baseline scores,
/// alerts, dead letters) → sink → TimescaleDB. Exact counts, not "something arrived".
/// </summary>
public sealed class EndToEndSliceTests
{
    private const int Entities = 6;
    private const int Minutes = 30;
    private const string SpikedEntity = "host-003";
    private const string SpikedMetric = "network_latency";

    private static readonly (string Json, RejectionReason Reason)[] BadRecords =
    [
        ("{\"entity\":\"host-001\",\"ts\":", RejectionReason.MalformedJson),
        ("[1,2,3]", RejectionReason.NotAnObject),
        ("{\"ts\":1763805600000,\"metrics\":{\"cpu_usage\":1}}", RejectionReason.MissingEntity),
        ("{\"entity\":\"host-001\",\"metrics\":{\"cpu_usage\":1}}", RejectionReason.MissingTimestamp),
        ("{\"host\":\"host-001\",\"timestamp\":\"2026-11-21T10:00:00Z\",\"cpu_usage\":\"NaN\"}", RejectionReason.NonFiniteMetric),
        ("{\"host\":\"host-001\",\"timestamp\":\"2026-11-21T10:00:00Z\",\"cpu_usage\":\"75.5\"}", RejectionReason.NonNumericMetric),
        ("{\"entity\":\"host-001\",\"ts\":\"1999-01-01T00:00:00Z\",\"metrics\":{\"cpu_usage\":1}}", RejectionReason.TimestampOutOfRange),
    ];

    [Test]
    public async Task Samples_flow_to_windows_alerts_dead_letters_and_exact_database_rows()
    {
        var name = TestStack.UniqueName("slice");
        var settings = SettingsFor(name);
        var connectionString = await TestStack.CreateDatabaseAsync(name);
        var capabilities = await DatabaseMigrator.ApplyAsync(connectionString, TestStack.Loggers.CreateLogger("migrate"), CancellationToken.None);
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);

        // A quiet fleet (no random incidents) with one injected spike we know the answer for.
        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-1), TimeSpan.Zero);
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = Entities, Seed = 11, Start = start, IncidentsPerEntityDay = 0 });
        var samples = new List<TelemetrySample>();
        while (simulator.Now < start.AddMinutes(Minutes))
            simulator.NextTick(samples);
        var spikeFrom = start.AddMinutes(20);
        samples = samples.Select(s => s.Entity == SpikedEntity && s.Timestamp >= spikeFrom && s.Timestamp < spikeFrom.AddMinutes(1)
            ? new TelemetrySample(s.Entity, s.TimestampMs, s.Metrics.Select(m => m.Name == SpikedMetric ? m with { Value = m.Value + 400 } : m).ToArray())
            : s).ToList();
        var expectedWindows = samples.Select(s => (s.Entity, s.TimestampMs / 60_000)).Distinct().Count();

        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var writer = new TimescaleWriter(dataSource, capabilities, TimeProvider.System, TestStack.Loggers.CreateLogger<TimescaleWriter>());
        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var processor = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("processor"), name);
        var sink = new SinkWorker(settings, TestStack.Kafka, writer, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("sink"));
        var processorTask = processor.RunAsync(stop.Token);
        var sinkTask = sink.RunAsync(stop.Token);

        using (var producer = new ProducerBuilder<string, byte[]>(TestStack.Kafka.ProducerConfig("test")).Build())
        {
            foreach (var sample in samples)
                producer.Produce(settings.Topics.Telemetry, new Message<string, byte[]> { Key = sample.Entity, Value = TelemetryJson.ToUtf8(sample) });
            foreach (var (json, _) in BadRecords)
                producer.Produce(settings.Topics.Telemetry, new Message<string, byte[]> { Key = "bad", Value = Encoding.UTF8.GetBytes(json) });
            Assert.That(producer.Flush(TimeSpan.FromSeconds(30)), Is.Zero, "every record reached the broker");
        }

        var total = samples.Count + BadRecords.Length;
        await WaitUntilAsync(() => processor.Processed >= total && counters.Windows >= expectedWindows
            && sink.RecordsWritten(settings.Topics.Telemetry) >= total
            && sink.RecordsWritten(settings.Topics.Features) >= expectedWindows
            && sink.RecordsWritten(settings.Topics.DeadLetter) >= BadRecords.Length, processorTask, sinkTask, stop.Token);

        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Multiple(async () =>
        {
            Assert.That(await ScalarAsync(connection, "SELECT count(*) FROM metrics"), Is.EqualTo(samples.Count * FleetSimulator.MetricNames.Length),
                "one row per sample and metric");
            Assert.That(await ScalarAsync(connection, "SELECT count(DISTINCT (entity, time)) FROM metrics"), Is.EqualTo(samples.Count),
                "every sample exactly once");
            Assert.That(await ScalarAsync(connection, "SELECT count(DISTINCT (entity, window_start)) FROM features"), Is.EqualTo(expectedWindows));
            Assert.That(await ScalarAsync(connection, "SELECT count(*) FROM features"), Is.EqualTo(expectedWindows * FleetSimulator.MetricNames.Length));
            Assert.That(await ScalarAsync(connection, "SELECT count(*) FROM dead_letters"), Is.EqualTo(BadRecords.Length));
            Assert.That(counters.Accepted, Is.EqualTo(samples.Count));
        });

        var alerts = await QueryAsync(connection,
            "SELECT entity, status, payload->'contributors'->0->>'metric', window_start FROM alerts JOIN LATERAL (SELECT (payload->>'window_start')::timestamptz AS window_start) w ON true ORDER BY time");
        Assert.That(alerts.Where(a => a[1] == AlertStatus.Open).Select(a => a[0]), Does.Contain(SpikedEntity), "the spike opened an alert on its entity");
        var spikeAlert = alerts.First(a => a[0] == SpikedEntity && a[1] == AlertStatus.Open);
        Assert.That(spikeAlert[2], Is.EqualTo(SpikedMetric), "the spiked metric is the top contributor");
        Assert.That(DateTimeOffset.Parse(spikeAlert[3], System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(spikeFrom), "the alert names the spiked window");

        var deadLetters = await ReadDeadLettersAsync(settings.Topics.DeadLetter, BadRecords.Length);
        Assert.That(deadLetters.Select(d => d.Reason).Order(), Is.EqualTo(BadRecords.Select(b => b.Reason.ToCode()).Order()),
            "every bad record is on the dead-letter topic with its reason");
        Assert.That(deadLetters.Select(d => d.Payload).Order(), Is.EqualTo(BadRecords.Select(b => b.Json).Order()), "with its original bytes");
        Assert.That(deadLetters.All(d => d.Detail.Length > 0), "with an explanation");

        await stop.CancelAsync();
        await Task.WhenAll(processorTask, sinkTask);
    }

    private static StreamingSettings SettingsFor(string name)
    {
        var settings = TestStack.IsolatedSettings(name);
        settings.Processor.IdleMode = IdleMode.CloseAll;
        settings.Processor.IdleTimeout = TimeSpan.FromSeconds(2);
        return settings.Validated();
    }

    private static async Task WaitUntilAsync(Func<bool> condition, Task processor, Task sink, CancellationToken cancellationToken)
    {
        while (!condition())
        {
            if (processor.IsFaulted)
                await processor;
            if (sink.IsFaulted)
                await sink;
            if (cancellationToken.IsCancellationRequested)
                Assert.Fail("The pipeline did not process every record in time.");
            await Task.Delay(200, CancellationToken.None);
        }
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<List<string[]>> QueryAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string[]>();
        while (await reader.ReadAsync())
        {
            var row = new string[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
                row[i] = reader.IsDBNull(i) ? "" : Convert.ToString(reader.GetValue(i) is DateTime dt ? dt.ToString("O") : reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture)!;
            rows.Add(row);
        }
        return rows;
    }

    private static Task<List<(string Reason, string Detail, string Payload)>> ReadDeadLettersAsync(string topic, int expected) => Task.Run(() =>
    {
        var config = TestStack.Kafka.ConsumerConfig(TestStack.UniqueName("dlq-reader"), "dlq-reader");
        using var consumer = new ConsumerBuilder<string?, byte[]>(config).Build();
        consumer.Subscribe(topic);
        var result = new List<(string, string, string)>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (result.Count < expected && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is not { IsPartitionEOF: false } record)
                continue;
            string Header(string key) => Encoding.UTF8.GetString(record.Message.Headers.GetLastBytes(key));
            result.Add((Header(DeadLetterHeaders.Reason), Header(DeadLetterHeaders.Detail), Encoding.UTF8.GetString(record.Message.Value)));
        }
        consumer.Close();
        return result;
    });
}
