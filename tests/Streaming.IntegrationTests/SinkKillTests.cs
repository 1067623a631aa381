using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Confluent.Kafka;
using Npgsql;
using Streaming.Contracts;
using Streaming.Simulation;

namespace Streaming.IntegrationTests;

/// <summary>
/// The sink as its own process (`streaming run --role sink`), killed with SIGKILL mid-stream and started again: the database
/// must end with every sample exactly once, because rows and offsets commit in one transaction.
/// </summary>
public sealed class SinkKillTests
{
    [Test]
    public async Task Killing_the_sink_process_mid_stream_and_restarting_it_leaves_every_sample_exactly_once()
    {
        var name = TestStack.UniqueName("sinkkill");
        var connectionString = await TestStack.CreateDatabaseAsync(name);
        // Migrated up front so the test can count rows from the start; the sink's own migration then finds nothing to do.
        await Streaming.Storage.DatabaseMigrator.ApplyAsync(connectionString, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, CancellationToken.None);
        var topics = new Dictionary<string, string>
        {
            ["Topics__Telemetry"] = $"{name}-telemetry", ["Topics__Features"] = $"{name}-features", ["Topics__Scores"] = $"{name}-scores",
            ["Topics__Alerts"] = $"{name}-alerts", ["Topics__DeadLetter"] = $"{name}-dead-letter",
            ["Topics__FeatureUpdates"] = $"{name}-feature-updates", ["Topics__ProcessorOffsets"] = $"{name}-processor-offsets",
            ["Topics__ProcessorState"] = $"{name}-processor-state",
        };
        await TestStack.Kafka.EnsureTopicsAsync(topics.Values);

        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-1), TimeSpan.Zero);
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = 20, Seed = 9, Start = start, IncidentsPerEntityDay = 0 });
        var samples = new List<TelemetrySample>();
        while (samples.Count < 30_000)
            simulator.NextTick(samples);
        var producerConfig = TestStack.Kafka.ProducerConfig("sink-kill");
        producerConfig.QueueBufferingMaxMessages = 1_000_000;
        using (var producer = new ProducerBuilder<string, byte[]>(producerConfig).Build())
        {
            foreach (var sample in samples)
                producer.Produce(topics["Topics__Telemetry"], new Message<string, byte[]> { Key = sample.Entity, Value = TelemetryJson.ToUtf8(sample) });
            Assert.That(producer.Flush(TimeSpan.FromSeconds(60)), Is.Zero);
        }
        var expectedRows = samples.Count * FleetSimulator.MetricNames.Length;

        var environment = new Dictionary<string, string>(topics)
        {
            ["KAFKA_BOOTSTRAP_SERVERS"] = TestStack.Kafka.BootstrapServers,
            ["STREAMING_PG"] = connectionString,
            ["Sink__GroupId"] = $"{name}-sink",
            ["Sink__MaxBatch"] = "600",
            ["Ingest__MaxAge"] = "30.00:00:00",
        };
        await using var dataSource = NpgsqlDataSource.Create(connectionString);

        using (var first = StartSink(environment))
        {
            await WaitForAsync(async () => await RowsAsync(dataSource) > 0, first, TimeSpan.FromSeconds(90));
            first.Kill(entireProcessTree: true);
            await first.WaitForExitAsync();
        }
        var rowsAtKill = await RowsAsync(dataSource);
        Assert.That(rowsAtKill, Is.LessThan(expectedRows), "the kill came mid-stream");

        using (var second = StartSink(environment))
        {
            await WaitForAsync(async () => await RowsAsync(dataSource) >= expectedRows, second, TimeSpan.FromSeconds(120));
            // Give a duplicate, if there were one, the time to land before counting.
            await Task.Delay(TimeSpan.FromSeconds(2));
            second.Kill(entireProcessTree: true);
            await second.WaitForExitAsync();
        }

        Assert.Multiple(async () =>
        {
            Assert.That(await RowsAsync(dataSource), Is.EqualTo(expectedRows), "one row per sample and metric");
            Assert.That(await ScalarAsync(dataSource, "SELECT count(DISTINCT (entity, time)) FROM metrics"), Is.EqualTo(samples.Count), "every sample");
        });
    }

    private static Process StartSink(Dictionary<string, string> environment)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(typeof(Streaming.Host.Cli.RunCommand).Assembly.Location);
        foreach (var argument in new[] { "run", "--role", "sink", "--port", FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(argument);
        foreach (var (key, value) in environment)
            info.Environment[key] = value;
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the sink process.");
        // Drain the pipes so a chatty child never blocks on a full buffer.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, Process process, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.That(process.HasExited, Is.False, $"the sink process exited early with code {(process.HasExited ? process.ExitCode : 0)}");
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the sink did not get there in time");
            await Task.Delay(50);
        }
    }

    private static Task<long> RowsAsync(NpgsqlDataSource dataSource) => ScalarAsync(dataSource, "SELECT count(*) FROM metrics");

    private static async Task<long> ScalarAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
