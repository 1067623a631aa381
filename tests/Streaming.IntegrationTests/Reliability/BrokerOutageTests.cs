using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Npgsql;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Host.Pipeline;
using Streaming.Kafka;
using Streaming.Simulation;
using Streaming.Storage;

namespace Streaming.IntegrationTests.Reliability;

/// <summary>
/// One broker of a three-broker embedded cluster (topics with replication factor 3) down for 20 s
/// (<c>rd_kafka_mock_broker_set_down</c>) while telemetry flows through the processor and the sink: producers, the processor
/// and the sink wait and retry, nothing is lost, and once the broker is back every sample is in the database exactly once
/// and every window's features are complete. The broker taken down leads telemetry partition 0 (librdkafka's mock cluster
/// does not move leadership to a replica, so that partition is unavailable for the whole outage — the harder case).
/// </summary>
public sealed class BrokerOutageTests
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(20);

    [Test, CancelAfter(240_000)]
    public async Task Partition_leader_down_for_20_seconds_loses_nothing_and_the_pipeline_recovers_by_itself(CancellationToken cancellationToken)
    {
        using var kafka = KafkaCluster.Connect(new KafkaOptions { EmbeddedBrokers = 3, Partitions = 4, ReplicationFactor = 3 });
        var name = TestStack.UniqueName("brokerdown");
        var settings = TestStack.IsolatedSettings(name);
        settings.Processor.IdleMode = IdleMode.CloseAll;
        // CloseAll treats an idle partition as finished input and closes all its windows, so the timeout must exceed the
        // outage plus the time to publish the first third with margin: a partition starved by the down leader for longer
        // would have its later samples dead-lettered as late (seen with 30 s). It also sets how long the last windows take.
        settings.Processor.IdleTimeout = TimeSpan.FromSeconds(40);
        settings.Validated();
        await kafka.EnsureTopicsAsync(settings.Topics.All, cancellationToken);
        var connectionString = await TestStack.CreateDatabaseAsync(name);
        var capabilities = await DatabaseMigrator.ApplyAsync(connectionString, TestStack.Loggers.CreateLogger("migrate"), cancellationToken);

        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-1), TimeSpan.Zero);
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = 10, Seed = 23, Start = start, IncidentsPerEntityDay = 0 });
        var samples = new List<TelemetrySample>();
        while (simulator.Now < start.AddMinutes(60))
            simulator.NextTick(samples);
        var windows = samples.Select(s => (s.Entity, s.TimestampMs / 60_000)).Distinct().Count();
        var metricRows = (long)samples.Count * FleetSimulator.MetricNames.Length;
        var before = samples.Count / 3;

        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var writer = new TimescaleWriter(dataSource, capabilities, TimeProvider.System, TestStack.Loggers.CreateLogger<TimescaleWriter>());
        using var counters = new PipelineCounters();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var processor = new ProcessorWorker(settings, kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("processor"), name);
        var sink = new SinkWorker(settings, kafka, writer, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("sink"));
        var processorTask = processor.RunAsync(stop.Token);
        var sinkTask = sink.RunAsync(stop.Token);
        string? Failure() => Reliability.Stopped(processorTask, "processor") ?? Reliability.Stopped(sinkTask, "sink");

        var leader = Enumerable.Range(0, 4).Select(p => LeaderOf(kafka, settings.Topics.Telemetry, p)).OrderByDescending(b => b).First();
        try
        {
            await Task.Run(() => Produce(kafka, settings.Topics.Telemetry, samples.Take(before)), cancellationToken);
            await Reliability.WaitUntilAsync(() => processor.Processed >= before, TimeSpan.FromSeconds(60),
                "the processor had the first third before the outage", Failure);

            kafka.Embedded!.SetBrokerDown(leader);
            var down = DateTime.UtcNow;
            // The rest is published during the outage: the producer buffers and retries what the down broker leads.
            var producing = Task.Run(() => Produce(kafka, settings.Topics.Telemetry, samples.Skip(before)), cancellationToken);
            await Task.Delay(Outage, cancellationToken);
            var processedDuringOutage = processor.Processed;
            Assert.That(processorTask.IsCompleted || sinkTask.IsCompleted, Is.False,
                $"both workers survived 20 s with broker {leader} down ({Failure()})");
            kafka.Embedded.SetBrokerUp(leader);
            TestContext.Out.WriteLine($"broker {leader} down for {(DateTime.UtcNow - down).TotalSeconds:0.0} s; processed {before} before, {processedDuringOutage} by the end of the outage");

            await producing;
            await Reliability.WaitUntilAsync(async () =>
                    processor.Processed >= samples.Count
                    && await Reliability.ScalarAsync(dataSource, "SELECT count(*) FROM metrics") >= metricRows
                    && await Reliability.ScalarAsync(dataSource, "SELECT count(DISTINCT (entity, window_start)) FROM features") >= windows,
                TimeSpan.FromSeconds(150), "the pipeline recovered by itself and wrote everything",
                () => Failure() ?? (DateTime.UtcNow - down > TimeSpan.FromSeconds(150)
                    ? $"stuck: processed {processor.Processed} of {samples.Count}, sink wrote {sink.RecordsWritten(settings.Topics.Telemetry)} telemetry records " +
                      $"and {sink.RecordsWritten(settings.Topics.Features)} feature records; the processor closed {counters.Windows} of {windows} windows, " +
                      $"rejected {counters.Rejected} ({string.Join(", ", counters.RejectedByReason.Select(kv => $"{kv.Key} {kv.Value}"))}), " +
                      $"owns {processor.AssignedPartitions} partitions, restoring {processor.IsRestoring}"
                    : null));
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);

            Assert.Multiple(async () =>
            {
                Assert.That(processor.Processed, Is.EqualTo(samples.Count), "every sample processed once");
                Assert.That(counters.Accepted, Is.EqualTo(samples.Count), "and accepted: no duplicate, none late");
                Assert.That(await Reliability.ScalarAsync(dataSource, "SELECT count(*) FROM metrics"), Is.EqualTo(metricRows), "one row per sample and metric");
                Assert.That(await Reliability.ScalarAsync(dataSource, "SELECT count(DISTINCT (entity, time)) FROM metrics"), Is.EqualTo(samples.Count), "every sample");
                Assert.That(await Reliability.ScalarAsync(dataSource, "SELECT count(*) FROM features"),
                    Is.EqualTo((long)windows * FleetSimulator.MetricNames.Length), "every window's features, once");
            });
        }
        finally
        {
            kafka.Embedded!.SetBrokerUp(leader);
            await stop.CancelAsync();
            // Bounded: a worker stuck in a Kafka call must fail this test, not hang the run (it once did, for 85 min).
            var stopped = Task.WhenAll(processorTask, sinkTask);
            if (await Task.WhenAny(stopped, Task.Delay(TimeSpan.FromMinutes(3), CancellationToken.None)) != stopped)
                Assert.Fail($"the workers did not stop within 3 min of cancellation (processor stopped: {processorTask.IsCompleted}, sink stopped: {sinkTask.IsCompleted})");
            await stopped;
        }
    }

    private static void Produce(KafkaCluster kafka, string topic, IEnumerable<TelemetrySample> samples)
    {
        var config = kafka.ProducerConfig("broker-outage");
        config.QueueBufferingMaxMessages = 1_000_000;
        using var producer = new ProducerBuilder<string, byte[]>(config).Build();
        var failures = 0;
        var firstError = "";
        foreach (var sample in samples)
        {
            producer.Produce(topic, new Message<string, byte[]> { Key = sample.Entity, Value = TelemetryJson.ToUtf8(sample) }, report =>
            {
                if (report.Error.IsError && Interlocked.Increment(ref failures) == 1)
                    firstError = report.Error.Reason;
            });
        }
        Assert.That(producer.Flush(TimeSpan.FromSeconds(90)), Is.Zero, "every record left the producer");
        Assert.That(failures, Is.Zero, $"every record was acknowledged by the broker (first error: {firstError})");
    }

    private static int LeaderOf(KafkaCluster kafka, string topic, int partition)
    {
        using var admin = new AdminClientBuilder(kafka.Options.Apply(new AdminClientConfig(), kafka.BootstrapServers)).Build();
        var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(10));
        return metadata.Topics.Single().Partitions.Single(p => p.PartitionId == partition).Leader;
    }
}
