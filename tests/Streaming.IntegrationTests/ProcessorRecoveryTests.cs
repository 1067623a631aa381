using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Host.Pipeline;
using Streaming.Simulation;

namespace Streaming.IntegrationTests;

/// <summary>
/// The processor's delivery guarantees on the embedded broker: a crash mid-stream and a second instance joining the group
/// must both give exactly the output of one uninterrupted instance — same windows, same alerts, nothing twice.
/// </summary>
public sealed class ProcessorRecoveryTests
{
    private List<TelemetrySample> _samples = null!;
    private ProcessorOutputs _uninterrupted = null!;

    [OneTimeSetUp]
    public async Task RunUninterruptedReference()
    {
        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-1), TimeSpan.Zero);
        var simulator = new FleetSimulator(new SimulatorOptions
        {
            Entities = 8, Seed = 5, Start = start, IncidentsPerEntityDay = 40, WarmUp = TimeSpan.FromMinutes(15),
        });
        _samples = [];
        while (simulator.Now < start.AddMinutes(90))
            simulator.NextTick(_samples);

        var settings = await CreateTopicsAsync("reference");
        using var counters = new PipelineCounters();
        var worker = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("reference"), "reference");
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var task = worker.RunAsync(stop.Token);
        await ProcessorRunHarness.WaitForAsync(() => worker.Processed >= _samples.Count, task, stop.Token);
        _uninterrupted = await ProcessorRunHarness.ReadOutputsAsync(settings, _samples, task, stop.Token);
        await stop.CancelAsync();
        await task;
        Assert.That(_uninterrupted.Features, Has.Count.EqualTo(_samples.Select(s => (s.Entity, s.TimestampMs / 60_000)).Distinct().Count()),
            "the reference run closed every window once");
        Assert.That(_uninterrupted.Alerts, Is.Not.Empty, "the reference run has alerts to compare");
    }

    [Test]
    public async Task Crash_mid_stream_and_restart_gives_the_output_of_an_uninterrupted_run()
    {
        var settings = await CreateTopicsAsync("crash");
        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var crashing = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("crashing"), "crash")
        {
            CrashAfterBatches = 3,
        };
        await crashing.RunAsync(stop.Token);
        Assert.That(crashing.Processed, Is.GreaterThan(0).And.LessThan(_samples.Count), "the crash came mid-stream");

        // Same instance id, so the restarted producer fences the crashed one and aborts its open transaction.
        var restarted = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("restarted"), "crash");
        var task = restarted.RunAsync(stop.Token);
        await ProcessorRunHarness.WaitForAsync(() => crashing.Processed + restarted.Processed >= _samples.Count, task, stop.Token);
        var outputs = await ProcessorRunHarness.ReadOutputsAsync(settings, _samples, task, stop.Token);
        await stop.CancelAsync();
        await task;

        Assert.That(restarted.Replayed, Is.EqualTo(crashing.Processed), "the restart rebuilt state from exactly the committed records");
        AssertSameOutputs(outputs);
    }

    [Test]
    public async Task Two_instances_in_one_group_produce_exactly_the_output_of_one()
    {
        var half = _samples.Count / 2;
        // The pause between the halves (a group join and a restore) must not count as the end of input.
        var settings = await CreateTopicsAsync("scale", produceUpTo: half, idleTimeout: TimeSpan.FromSeconds(20));
        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var first = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("first"), "first");
        var firstTask = first.RunAsync(stop.Token);
        await ProcessorRunHarness.WaitForAsync(() => first.Processed >= half, firstTask, stop.Token);
        // The second joins mid-stream: partitions move to it with state built by the first, then the rest of the data flows.
        var second = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("second"), "second");
        var secondTask = second.RunAsync(stop.Token);
        await ProcessorRunHarness.WaitForAsync(() => second.AssignedPartitions > 0 && first.AssignedPartitions > 0, secondTask, stop.Token);
        TestStack.Produce(settings.Topics.Telemetry, _samples.Skip(half));
        await ProcessorRunHarness.WaitForAsync(() => first.Processed + second.Processed >= _samples.Count, Task.WhenAll(firstTask, secondTask), stop.Token);
        var outputs = await ProcessorRunHarness.ReadOutputsAsync(settings, _samples, Task.WhenAll(firstTask, secondTask), stop.Token);
        await stop.CancelAsync();
        await Task.WhenAll(firstTask, secondTask);

        Assert.That(second.Processed, Is.GreaterThan(0), "the second instance took over partitions");
        Assert.That(second.Replayed, Is.GreaterThan(0), "and rebuilt their state from the first instance's committed history");
        AssertSameOutputs(outputs);
    }

    private void AssertSameOutputs(ProcessorOutputs outputs)
    {
        Assert.Multiple(() =>
        {
            Assert.That(TestStack.Difference(outputs.Features, _uninterrupted.Features), Is.Empty, "identical feature records, each once");
            Assert.That(TestStack.Difference(outputs.Scores, _uninterrupted.Scores), Is.Empty, "identical score records, each once");
            Assert.That(TestStack.Difference(outputs.Alerts, _uninterrupted.Alerts), Is.Empty, "identical alert events, each once");
        });
    }

    private async Task<StreamingSettings> CreateTopicsAsync(string label, int? produceUpTo = null, TimeSpan? idleTimeout = null)
    {
        var name = TestStack.UniqueName(label);
        var settings = TestStack.IsolatedSettings(name);
        settings.Processor.MaxBatch = 300;
        // Idle closing only once all input is consumed: the closing is not in the log, so it must not happen mid-run.
        settings.Processor.IdleMode = IdleMode.CloseAll;
        settings.Processor.IdleTimeout = idleTimeout ?? TimeSpan.FromSeconds(8);
        settings.Validated();
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);
        TestStack.Produce(settings.Topics.Telemetry, _samples is null ? [] : _samples.Take(produceUpTo ?? _samples.Count));
        return settings;
    }
}
