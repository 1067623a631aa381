using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Confluent.Kafka;
using Streaming.Contracts;
using Streaming.Host.Cli;

namespace Streaming.IntegrationTests;

/// <summary>`streaming replay` readers and command, and `streaming alerts tail`, against the test Kafka.</summary>
public sealed class ReplayAndAlertsCommandTests
{
    [Test]
    public void Nab_rows_become_samples_of_one_entity_and_metric_with_their_timestamps()
    {
        const string csv = "timestamp,value\n2014-04-01 00:00:00,20.5\n2014-04-01 00:05:00,21\n2014-04-01 00:10:00,oops\n";

        var records = ReplaySources.ReadNab(new StringReader(csv), "machine-1", "temperature").ToList();

        Assert.That(records, Has.Count.EqualTo(3));
        Assert.That(records[0].Sample!.Entity, Is.EqualTo("machine-1"));
        Assert.That(records[0].Sample!.Timestamp, Is.EqualTo(new DateTimeOffset(2014, 4, 1, 0, 0, 0, TimeSpan.Zero)), "NAB times are UTC");
        Assert.That(records[1].Sample!.Metrics, Is.EqualTo(new[] { new MetricValue("temperature", 21) }));
        Assert.That((records[2].Line, records[2].Error), Is.EqualTo((4, "value 'oops' is not a finite number")));
    }

    [Test]
    public void Cmapss_rows_map_unit_to_entity_cycle_to_time_and_columns_to_named_metrics()
    {
        const string rows = "1 1 -0.0007 -0.0004 100.0 518.67 641.82 1589.70 1400.60 14.62 21.61 554.36 2388.06 9046.19 1.30 47.47 521.66 2388.02 8138.62 8.4195 0.03 392 2388 100.00 39.06 23.4190  \n" +
                            "12 3 -0.0043 0.0003 100.0 518.67 642.35 1587.99 1404.20 14.62 21.61 554.26 2388.08 9052.94 1.30 47.27 522.42 2388.03 8133.23 8.4178 0.03 390 2388 100.00 38.95 23.3442  \n" +
                            "1 2 0.1\n";
        var start = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

        var records = ReplaySources.ReadCmapss(new StringReader(rows), "engine-", start, TimeSpan.FromSeconds(10)).ToList();

        var second = records[1].Sample!;
        Assert.That(records[0].Sample!.Entity, Is.EqualTo("engine-001"));
        Assert.That(second.Entity, Is.EqualTo("engine-012"));
        Assert.That(second.Timestamp, Is.EqualTo(start.AddSeconds(30)));
        Assert.That(second.Metrics, Has.Length.EqualTo(24));
        Assert.That(second.Metrics[0], Is.EqualTo(new MetricValue("setting_1", -0.0043)));
        Assert.That(second.Metrics[^1], Is.EqualTo(new MetricValue("sensor_21", 23.3442)));
        Assert.That(records[2].Error, Does.Contain("expected 26 columns"));
    }

    [Test]
    public void Replay_order_is_event_time_across_files_and_cmapss_units_so_nothing_arrives_late()
    {
        var start = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        var sensors = string.Join(' ', Enumerable.Repeat("1.0", 24));
        var cmapss = string.Join('\n', new[] { "1 1", "1 2", "1 3", "2 1", "2 2" }.Select(unitCycle => $"{unitCycle} {sensors}"));
        var units = ReplaySources.InEventTimeOrder(ReplaySources.ReadCmapss(new StringReader(cmapss), "engine-", start, TimeSpan.FromMinutes(1)));
        var nab = ReplaySources.ReadNab(new StringReader("timestamp,value\n2026-11-01 00:01:30,1\nbad line\n2026-11-01 00:02:30,2\n"), "pump", "value");

        var merged = ReplaySources.MergeByEventTime([units.GetEnumerator(), nab.GetEnumerator()]).ToList();

        Assert.That(merged.Select(m => m.Record.Sample is { } s ? $"{s.Entity}@{s.Timestamp:HH:mm:ss}" : $"error@{m.Record.Line}"), Is.EqualTo(new[]
        {
            "engine-001@00:01:00", "engine-002@00:01:00", "pump@00:01:30", "error@3", "engine-001@00:02:00", "engine-002@00:02:00", "pump@00:02:30",
            "engine-001@00:03:00",
        }));
        Assert.That(merged.Select(m => m.Source), Is.EqualTo(new[] { 0, 0, 1, 1, 0, 0, 1, 0 }));
    }

    [Test]
    public void Json_lines_are_validated_with_the_pipeline_parser_and_old_data_is_accepted()
    {
        const string lines = "{\"entity\":\"a\",\"ts\":\"2015-01-01T00:00:00Z\",\"metrics\":{\"x\":1}}\n\n{\"entity\":\"a\",\"metrics\":{\"x\":1}}\n";

        var records = ReplaySources.ReadJsonLines(new StringReader(lines), TelemetryLimits.Default, DateTimeOffset.UtcNow).ToList();

        Assert.That(records[0].Sample!.Entity, Is.EqualTo("a"));
        Assert.That((records[1].Line, records[1].Error), Is.EqualTo((3, "missing_timestamp: no event time: set 'ts', 'timestamp' or 'time' (ISO 8601 or epoch milliseconds)")));
    }

    [Test]
    public async Task Replay_command_publishes_a_nab_file_keyed_by_entity_with_event_times_as_kafka_timestamps()
    {
        var topic = TestStack.UniqueName("replay");
        await TestStack.Kafka.EnsureTopicsAsync([topic]);
        var file = Path.Combine(Path.GetTempPath(), topic + ".csv");
        var start = new DateTime(2014, 4, 1, 0, 0, 0, DateTimeKind.Utc);
        await File.WriteAllLinesAsync(file, new[] { "timestamp,value" }.Concat(Enumerable.Range(0, 50)
            .Select(i => string.Create(CultureInfo.InvariantCulture, $"{start.AddMinutes(5 * i):yyyy-MM-dd HH:mm:ss},{i * 1.5}"))));
        var previous = System.Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS");
        int exitCode;
        try
        {
            System.Environment.SetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS", TestStack.Kafka.BootstrapServers);
            exitCode = await new RootCommand { ReplayCommand.Create() }
                .Parse(["replay", file, "--entity", "machine-1", "--metric", "temperature", "--topic", topic]).InvokeAsync();
        }
        finally
        {
            System.Environment.SetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS", previous);
            File.Delete(file);
        }

        Assert.That(exitCode, Is.Zero);
        var records = ReadAll(topic, 50);
        Assert.That(records.Select(r => r.Key).Distinct(), Is.EqualTo(new[] { "machine-1" }));
        Assert.That(records.Select(r => r.Timestamp).Order(), Is.EqualTo(Enumerable.Range(0, 50).Select(i => new DateTimeOffset(start.AddMinutes(5 * i)))));
        Assert.That(records.All(r => TelemetryParser.TryParse(r.Value, TelemetryLimits.Default, r.Timestamp, out _, out _)),
            "each record is valid against its own Kafka timestamp, as the processor will check it");
    }

    [Test]
    public async Task Alerts_tail_prints_each_event_readably_or_as_json()
    {
        var topic = TestStack.UniqueName("alerts");
        await TestStack.Kafka.EnsureTopicsAsync([topic]);
        var alert = new AnomalyEvent(Guid.NewGuid(), Guid.Parse("1234abcd-0000-0000-0000-000000000000"), AnomalyEvent.KindName, AlertStatus.Open, "web-1",
            new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 11, 22, 10, 1, 0, TimeSpan.Zero), DateTimeOffset.UtcNow,
            8.25, 6, Severity.Critical, "robust-baseline", "1", [new Contributor("cpu_usage", 0.75, 50, 97.5), new Contributor("mem_used", 0.25, 40, 44)]);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(alert, ContractsJsonContext.Default.AnomalyEvent);
        using (var producer = new ProducerBuilder<string, byte[]>(TestStack.Kafka.ProducerConfig("test")).Build())
        {
            await producer.ProduceAsync(topic, new Message<string, byte[]> { Key = alert.Entity, Value = bytes });
        }
        var readable = new StringWriter();
        var json = new StringWriter();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var printed = await Task.Run(() => AlertsCommand.Tail(TestStack.Kafka, topic, fromBeginning: true, json: false, max: 1, readable, timeout.Token));
        var printedJson = await Task.Run(() => AlertsCommand.Tail(TestStack.Kafka, topic, fromBeginning: true, json: true, max: 1, json, timeout.Token));

        Assert.That((printed, printedJson), Is.EqualTo((1, 1)));
        Assert.That(readable.ToString().TrimEnd(), Is.EqualTo(
            "2026-11-22 10:01:00Z  OPEN     critical web-1  score 8.25 ≥ 6.00  top: cpu_usage 97.5 (expected 50, 75%), mem_used 44 (expected 40, 25%)  [robust-baseline 1, alert 1234abcd]"));
        Assert.That(json.ToString().TrimEnd(), Is.EqualTo(System.Text.Encoding.UTF8.GetString(bytes)));
    }

    private static List<(string Key, byte[] Value, DateTimeOffset Timestamp)> ReadAll(string topic, int expected)
    {
        var config = TestStack.Kafka.ConsumerConfig(TestStack.UniqueName("reader"), "reader");
        using var consumer = new ConsumerBuilder<string, byte[]>(config).Build();
        consumer.Assign(Enumerable.Range(0, TestStack.Kafka.Options.Partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var records = new List<(string, byte[], DateTimeOffset)>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (records.Count < expected && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(500)) is { IsPartitionEOF: false } r)
                records.Add((r.Message.Key, r.Message.Value, r.Message.Timestamp.UtcDateTime));
        }
        consumer.Close();
        Assert.That(records, Has.Count.EqualTo(expected), $"records on {topic}");
        return records;
    }
}
