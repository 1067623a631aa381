using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Simulation;
using Streaming.Storage;

namespace Streaming.IntegrationTests.Reliability;

/// <summary>
/// Orchestrators stop services with SIGTERM: `streaming run` must then leave its groups, finish and exit with 0, every time
/// (a crash at shutdown surfaced only in some runs, so the child is stopped several times).
/// </summary>
public sealed class ShutdownTests
{
    private const int Rounds = 3;

    [Test, CancelAfter(240_000)]
    public async Task Sigterm_stops_streaming_run_cleanly_with_exit_code_zero_every_time(CancellationToken cancellationToken)
    {
        var name = TestStack.UniqueName("sigterm");
        var settings = TestStack.IsolatedSettings(name);
        settings.Validated();
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);
        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-1), TimeSpan.Zero);
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = 10, Seed = 5, Start = start, IncidentsPerEntityDay = 0 });
        var samples = new List<TelemetrySample>();
        while (simulator.Now < start.AddMinutes(30))
            simulator.NextTick(samples);
        TestStack.Produce(settings.Topics.Telemetry, samples);
        var connectionString = await TestStack.CreateDatabaseAsync(name);
        await DatabaseMigrator.ApplyAsync(connectionString, TestStack.Loggers.CreateLogger("migrate"), cancellationToken);
        var environment = Reliability.Environment(settings, connectionString);

        for (var round = 1; round <= Rounds; round++)
        {
            using var child = PipelineProcess.Start(environment, "processor", "sink");
            // Running for real: the HTTP server answers, so every role has started and joined (or is joining) its group.
            await Reliability.WaitUntilAsync(() => child.Printed("Ctrl-C stops."), TimeSpan.FromSeconds(60),
                $"round {round}: the child started its roles", child.Problem);
            await Task.Delay(TimeSpan.FromSeconds(round * 2), CancellationToken.None);
            var exitCode = await child.TerminateAsync(TimeSpan.FromSeconds(60));
            var output = child.Tail();
            TestContext.Out.WriteLine($"round {round}: exit code {exitCode}");
            Assert.Multiple(() =>
            {
                Assert.That(exitCode, Is.Zero, $"round {round}: exit code after SIGTERM; output tail:\n{output}");
                Assert.That(output, Does.Not.Contain("Unhandled exception").And.Not.Contain("ObjectDisposedException"), $"round {round}: no crash at shutdown");
            });
        }
    }
}
