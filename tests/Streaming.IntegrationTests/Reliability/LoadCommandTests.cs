using System.Diagnostics;
using System.Text.Json;

namespace Streaming.IntegrationTests.Reliability;

/// <summary>`streaming load` as a user runs it: a real child process on the test Kafka and database, its --json summary parsed.</summary>
public sealed class LoadCommandTests
{
    [Test, CancelAfter(120_000)]
    public async Task Load_command_runs_at_the_requested_rate_and_prints_a_well_formed_summary(CancellationToken cancellationToken)
    {
        var name = TestStack.UniqueName("load");
        var connectionString = await TestStack.CreateDatabaseAsync(name);
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(typeof(Streaming.Host.Cli.RunCommand).Assembly.Location);
        foreach (var argument in new[] { "load", "--rate", "500", "--duration", "4s", "--entities", "10", "--bad-rate", "0.01", "--json" })
            info.ArgumentList.Add(argument);
        // The test's embedded broker lives in this process and cannot create topics through the Admin API, so the command
        // starts an embedded one of its own; with an external Kafka (KAFKA_BOOTSTRAP_SERVERS) it uses that.
        if (TestStack.Kafka.IsEmbedded)
            info.Environment.Remove("KAFKA_BOOTSTRAP_SERVERS");
        else
            info.Environment["KAFKA_BOOTSTRAP_SERVERS"] = TestStack.Kafka.BootstrapServers;
        info.Environment["STREAMING_PG"] = connectionString;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
        var output = await stdout;
        Assert.That(process.ExitCode, Is.Zero, $"exit code; stderr:\n{await stderr}\nstdout:\n{output}");
        Assert.That(await stderr, Does.Contain("Load: 500 samples/s"), "progress goes to stderr, keeping stdout for the JSON");

        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        long Long(string property) => root.GetProperty(property).GetInt64();
        var produced = Long("produced");
        Assert.Multiple(() =>
        {
            Assert.That(root.GetProperty("kafka").GetString(), Is.EqualTo(TestStack.Kafka.IsEmbedded ? "embedded" : "external"));
            Assert.That(produced, Is.InRange(1_600, 2_200), "about 500/s for 4 s");
            Assert.That(root.GetProperty("input_rate").GetDouble(), Is.InRange(400, 550));
            Assert.That(Long("produce_failures"), Is.Zero);
            Assert.That(Long("processed"), Is.EqualTo(produced), "every sample processed");
            Assert.That(Long("written"), Is.EqualTo(produced), "every sample written to the database");
            Assert.That(root.GetProperty("drained").GetBoolean(), Is.True);
            Assert.That(Long("dead_letters"), Is.InRange(1, produced / 20), "the deliberately broken 1 % dead-lettered");
            foreach (var stage in new[] { "processor", "database" })
            {
                var latency = root.GetProperty("latency_ms").GetProperty(stage);
                Assert.That(latency.GetProperty("count").GetInt64(), Is.EqualTo(produced), $"{stage} latency measured for every sample");
                var (p50, p95, p99, max) = (latency.GetProperty("p50").GetInt64(), latency.GetProperty("p95").GetInt64(),
                    latency.GetProperty("p99").GetInt64(), latency.GetProperty("max").GetInt64());
                Assert.That(new[] { p50, p95, p99, max }, Is.Ordered, $"{stage} percentiles in order");
                Assert.That(max, Is.LessThan(30_000), $"{stage} latency is a plausible duration in ms");
            }
            foreach (var role in new[] { "processor", "sink" })
            {
                var lag = root.GetProperty("lag").GetProperty(role);
                Assert.That(lag.GetProperty("final").GetInt64(), Is.Zero, $"{role} caught up");
                Assert.That(lag.GetProperty("max").GetInt64(), Is.GreaterThanOrEqualTo(lag.GetProperty("at_end_of_load").GetInt64()));
            }
        });
    }
}
