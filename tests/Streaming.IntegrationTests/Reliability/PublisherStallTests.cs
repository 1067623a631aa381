using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Host.Pipeline;
using Streaming.Simulation;

namespace Streaming.IntegrationTests.Reliability;

/// <summary>
/// A publisher call that never returns (seen: librdkafka's SendOffsetsToTransaction on the mock cluster after a coordinator
/// outage, minutes past its 30 s timeout) once held a rebalance, the worker's shutdown and the whole test run for 85 min.
/// The worker must stop by itself with an error that names the stuck call.
/// </summary>
public sealed class PublisherStallTests
{
    [Test, CancelAfter(120_000)]
    public async Task A_publisher_stuck_inside_a_call_stops_the_worker_with_an_error_naming_the_call_instead_of_hanging(CancellationToken cancellationToken)
    {
        var name = TestStack.UniqueName("stuck");
        var settings = TestStack.IsolatedSettings(name);
        settings.Validated();
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All, cancellationToken);
        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-1), TimeSpan.Zero);
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = 4, Seed = 5, Start = start });
        var samples = new List<TelemetrySample>();
        while (simulator.Now < start.AddMinutes(10))
            simulator.NextTick(samples);
        TestStack.Produce(settings.Topics.Telemetry, samples);

        using var counters = new PipelineCounters();
        using var release = new ManualResetEventSlim();
        var worker = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger(name), name)
        {
            PublisherStallLimit = TimeSpan.FromSeconds(3),
        };
        worker.BeforePublish = () => release.Wait(CancellationToken.None);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var task = worker.RunAsync(stop.Token);
        Task finished;
        try
        {
            finished = await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(60), cancellationToken));
        }
        finally
        {
            // Let the abandoned publisher thread finish, so nothing of this test keeps running.
            release.Set();
        }

        Assert.That(finished, Is.SameAs(task), "the worker stopped by itself within 60 s of a publisher stuck for good");
        var error = Assert.ThrowsAsync<TimeoutException>(async () => await task)!;
        Assert.That(error.Message, Does.Contain("inside BeforePublish for").And.Contain("the producer is stuck"));
        Assert.That(worker.Processed, Is.Zero, "nothing was reported as committed");
    }
}
