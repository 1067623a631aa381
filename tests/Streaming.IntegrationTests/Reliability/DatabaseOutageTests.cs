using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Host.Operations;
using Streaming.Host.Pipeline;
using Streaming.Simulation;
using Streaming.Storage;

namespace Streaming.IntegrationTests.Reliability;

/// <summary>
/// The database stopped for 20 s (pg_ctl stop -m fast, then started again on the same port) while telemetry keeps flowing
/// through the processor and the sink: the sink pauses and backs off, readiness names the database, and after the restart
/// the sink resumes by itself and the database ends with exactly the rows of an outage-free run. Runs on a PostgreSQL
/// cluster of its own, so stopping it disturbs no other test.
/// </summary>
public sealed class DatabaseOutageTests
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(20);

    [Test, CancelAfter(240_000)]
    public async Task Database_down_for_20_seconds_loses_nothing_and_the_sink_recovers_by_itself(CancellationToken cancellationToken)
    {
        var options = new LocalPostgresOptions { StateDirectory = Path.Combine(TestStack.RepoRoot, ".local", "pg-reliability-outage") };
        var postgres = await LocalPostgres.StartAsync(options, NullLogger.Instance, cancellationToken);
        var name = TestStack.UniqueName("dbdown");
        var connectionString = await postgres.CreateDatabaseAsync(name, withTimescale: true, cancellationToken);
        var capabilities = await DatabaseMigrator.ApplyAsync(connectionString, NullLogger.Instance, cancellationToken);

        var settings = TestStack.IsolatedSettings(name);
        settings.Processor.IdleMode = IdleMode.CloseAll;
        settings.Processor.IdleTimeout = TimeSpan.FromSeconds(5);
        settings.Sink.MaxBackoff = TimeSpan.FromSeconds(2);
        settings.Sink.MaxBatch = 1000;
        settings.Validated();
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);

        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-1), TimeSpan.Zero);
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = 10, Seed = 17, Start = start, IncidentsPerEntityDay = 0 });
        var samples = new List<TelemetrySample>();
        while (simulator.Now < start.AddMinutes(60))
            simulator.NextTick(samples);
        var windows = samples.Select(s => (s.Entity, s.TimestampMs / 60_000)).Distinct().Count();
        var metricRows = (long)samples.Count * FleetSimulator.MetricNames.Length;
        var before = samples.Count / 3;

        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var writer = new TimescaleWriter(dataSource, capabilities, TimeProvider.System, TestStack.Loggers.CreateLogger<TimescaleWriter>());
        var readiness = new DatabaseReadinessCheck(dataSource);
        using var counters = new PipelineCounters();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var processor = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("processor"), name);
        var sink = new SinkWorker(settings, TestStack.Kafka, writer, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("sink"));
        var processorTask = processor.RunAsync(stop.Token);
        var sinkTask = sink.RunAsync(stop.Token);
        string? Failure() => Reliability.Stopped(processorTask, "processor") ?? Reliability.Stopped(sinkTask, "sink");

        try
        {
            TestStack.Produce(settings.Topics.Telemetry, samples.Take(before));
            await Reliability.WaitUntilAsync(() => sink.RecordsWritten(settings.Topics.Telemetry) >= before, TimeSpan.FromSeconds(60),
                "the sink wrote the first third", Failure);
            Assert.That(await readiness.ProblemAsync(cancellationToken), Is.Null, "ready while the database answers");

            await postgres.StopAsync(cancellationToken);
            var down = DateTime.UtcNow;
            // Data keeps arriving during the outage: the processor goes on, the sink must hold it back, not lose it.
            TestStack.Produce(settings.Topics.Telemetry, samples.Skip(before));
            await Reliability.WaitUntilAsync(() => sink.IsBackingOff, TimeSpan.FromSeconds(15), "the sink noticed the outage and paused", Failure);
            var problem = await readiness.ProblemAsync(cancellationToken);
            var writtenDuringOutage = sink.RecordsWritten(settings.Topics.Telemetry);
            var remaining = Outage - (DateTime.UtcNow - down);
            if (remaining > TimeSpan.Zero)
                await Task.Delay(remaining, cancellationToken);
            Assert.Multiple(() =>
            {
                Assert.That(problem, Does.StartWith("database unreachable"), "readiness names the database while it is down");
                Assert.That(sink.IsBackingOff, Is.True, "still paused after 20 s down");
                Assert.That(sink.RecordsWritten(settings.Topics.Telemetry), Is.EqualTo(writtenDuringOutage), "nothing claimed written while down");
                Assert.That(processorTask.IsCompleted || sinkTask.IsCompleted, Is.False, "both workers survived the outage");
            });

            postgres = await LocalPostgres.StartAsync(options, NullLogger.Instance, cancellationToken);
            await Reliability.WaitUntilAsync(async () =>
                    await Reliability.ScalarAsync(dataSource, "SELECT count(*) FROM metrics") >= metricRows
                    && await Reliability.ScalarAsync(dataSource, "SELECT count(DISTINCT (entity, window_start)) FROM features") >= windows,
                TimeSpan.FromSeconds(90), "the sink resumed by itself and wrote everything", Failure);
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);

            Assert.Multiple(async () =>
            {
                Assert.That(sink.IsBackingOff, Is.False, "the sink resumed");
                Assert.That(await readiness.ProblemAsync(cancellationToken), Is.Null, "ready again");
                Assert.That(await Reliability.ScalarAsync(dataSource, "SELECT count(*) FROM metrics"), Is.EqualTo(metricRows), "one row per sample and metric");
                Assert.That(await Reliability.ScalarAsync(dataSource, "SELECT count(DISTINCT (entity, time)) FROM metrics"), Is.EqualTo(samples.Count), "every sample");
                Assert.That(await Reliability.ScalarAsync(dataSource, "SELECT count(*) FROM features"),
                    Is.EqualTo((long)windows * FleetSimulator.MetricNames.Length), "every window's features once");
                Assert.That(counters.Accepted, Is.EqualTo(samples.Count));
            });
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(processorTask, sinkTask);
            // This test's database goes, and the cluster (its own) stops: nothing outlives the run.
            NpgsqlConnection.ClearAllPools();
            await postgres.StartIfStoppedAndDropAsync(name);
            await LocalPostgres.StopIfRunningAsync(options, NullLogger.Instance, CancellationToken.None);
        }
    }
}

internal static class LocalPostgresTestExtensions
{
    /// <summary>Drops the test's database, starting the cluster first if the test failed while it was stopped.</summary>
    public static async Task StartIfStoppedAndDropAsync(this LocalPostgres postgres, string database)
    {
        var running = await LocalPostgres.StartAsync(new LocalPostgresOptions { StateDirectory = postgres.ClusterDirectory, Port = postgres.Port },
            NullLogger.Instance, CancellationToken.None);
        await running.DropDatabaseAsync(database);
    }
}
