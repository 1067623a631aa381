using Microsoft.Extensions.Logging;
using Npgsql;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Host.Pipeline;
using Streaming.IntegrationTests.Reliability;
using Streaming.Simulation;
using Streaming.Storage;

namespace Streaming.IntegrationTests;

/// <summary>
/// Issue 15, defect 2: offsets the sink stores in the database know which Kafka cluster they count. Offsets written for
/// another cluster, or lying beyond a partition's log end, stop the sink with an error naming both and the reset, instead
/// of skipping the topics' records and reporting success; after `reset-sink-offsets` the sink reads the topics again.
/// </summary>
public sealed class SinkOffsetsTests
{
    [Test, CancelAfter(150_000)]
    public async Task Stored_offsets_of_another_cluster_or_beyond_the_log_end_stop_the_sink_naming_both_and_the_reset(CancellationToken cancellationToken)
    {
        var name = TestStack.UniqueName("sinkoffsets");
        var settings = TestStack.IsolatedSettings(name);
        settings.Validated();
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);
        var connectionString = await TestStack.CreateDatabaseAsync(name);
        var capabilities = await DatabaseMigrator.ApplyAsync(connectionString, TestStack.Loggers.CreateLogger("migrate"), cancellationToken);
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var cluster = TestStack.Kafka.Identity().ClusterId;
        var writer = new TimescaleWriter(dataSource, capabilities, TimeProvider.System, TestStack.Loggers.CreateLogger<TimescaleWriter>()) { ClusterId = cluster };

        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-1), TimeSpan.Zero);
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = 4, Seed = 3, Start = start, IncidentsPerEntityDay = 0 });
        var samples = new List<TelemetrySample>();
        while (samples.Count < 200)
            simulator.NextTick(samples);
        TestStack.Produce(settings.Topics.Telemetry, samples);

        await RunSinkUntilAsync(settings, writer, samples.Count, cancellationToken);
        Assert.That(await Reliability.Reliability.ScalarAsync(dataSource,
            $"SELECT count(*) FROM sink_offsets WHERE cluster_id IS DISTINCT FROM '{cluster}'"), Is.Zero, "every stored offset names this cluster");

        // An earlier run's offsets on another cluster (the embedded Kafka of a demo, then a real broker, on one database).
        await ExecuteAsync(dataSource, "UPDATE sink_offsets SET cluster_id = 'mockCluster-of-an-earlier-run'");
        var otherCluster = await SinkFailureAsync(settings, writer, cancellationToken);
        Assert.That(otherCluster, Does.Contain("'mockCluster-of-an-earlier-run'").And.Contain($"'{cluster}'")
            .And.Contain($"streaming reset-sink-offsets --group {settings.Sink.GroupId}"));

        // This cluster's id, but offsets past the end of the topic (recreated since).
        await ExecuteAsync(dataSource, $"UPDATE sink_offsets SET cluster_id = '{cluster}', next_offset = next_offset + 1000 WHERE topic = '{settings.Topics.Telemetry}'");
        var beyondEnd = await SinkFailureAsync(settings, writer, cancellationToken);
        Assert.That(beyondEnd, Does.Contain($"for {settings.Topics.Telemetry}[").And.Contain("lies beyond the partition's log end")
            .And.Contain("reset-sink-offsets"));

        // The explicit way out: forget them, and the sink reads the topics from their beginning.
        Assert.That(await TimescaleWriter.ResetOffsetsAsync(dataSource, settings.Sink.GroupId, cancellationToken), Is.GreaterThan(0));
        await RunSinkUntilAsync(settings, writer, samples.Count, cancellationToken);
    }

    private static async Task RunSinkUntilAsync(StreamingSettings settings, TimescaleWriter writer, int records, CancellationToken cancellationToken)
    {
        using var counters = new PipelineCounters();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var sink = new SinkWorker(settings, TestStack.Kafka, writer, counters, TimeProvider.System, TestStack.Loggers.CreateLogger<SinkWorker>());
        var task = sink.RunAsync(stop.Token);
        await Reliability.Reliability.WaitUntilAsync(() => sink.RecordsWritten(settings.Topics.Telemetry) >= records, TimeSpan.FromSeconds(60),
            "the sink wrote every telemetry record", () => Reliability.Reliability.Stopped(task, "sink"));
        await stop.CancelAsync();
        await task;
    }

    /// <summary>The message the sink stopped with; fails if it keeps running.</summary>
    private static async Task<string> SinkFailureAsync(StreamingSettings settings, TimescaleWriter writer, CancellationToken cancellationToken)
    {
        using var counters = new PipelineCounters();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var sink = new SinkWorker(settings, TestStack.Kafka, writer, counters, TimeProvider.System, TestStack.Loggers.CreateLogger<SinkWorker>());
        var task = sink.RunAsync(stop.Token);
        await Reliability.Reliability.WaitUntilAsync(() => task.IsCompleted, TimeSpan.FromSeconds(60), "the sink stopped on the stored offsets");
        Assert.That(task.IsFaulted, $"the sink stopped with an error, not by itself ({task.Status})");
        Assert.That(sink.RecordsWritten(settings.Topics.Telemetry), Is.Zero, "and wrote nothing");
        var error = task.Exception!.GetBaseException();
        TestContext.Out.WriteLine(error.Message);
        Assert.That(error, Is.TypeOf<SinkOffsetsException>(), error.ToString());
        return error.Message;
    }

    private static async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
