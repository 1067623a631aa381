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
    private const short EndTxnApiKey = 26;

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
        // The pause between the halves (a group join and a restore) must not count as the end of input. It takes about 10 s
        // on an idle machine and passed 20 s once in a full CI run on a busy one, so the idle timeout leaves a wide margin.
        var settings = await CreateTopicsAsync("scale", produceUpTo: half, idleTimeout: TimeSpan.FromSeconds(45));
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

    [Test]
    public async Task A_fatal_producer_error_at_commit_recreates_the_producer_and_gives_the_output_of_an_uninterrupted_run()
    {
        if (TestStack.Kafka.Embedded is not { } embedded)
        {
            Assert.Ignore("Needs the embedded mock cluster's request error injection; KAFKA_BOOTSTRAP_SERVERS points at a real cluster.");
            return;
        }
        var settings = await CreateTopicsAsync("fatal");
        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        // Three commits go through; the fourth is refused with an error librdkafka treats as fatal (not a fencing), while
        // later batches are already processed and waiting: they must be dropped and done again from the committed position.
        embedded.PushRequestErrors(EndTxnApiKey, ErrorCode.NoError, ErrorCode.NoError, ErrorCode.NoError, ErrorCode.TransactionalIdAuthorizationFailed);
        var worker = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("fatal"), "fatal");
        var task = worker.RunAsync(stop.Token);
        // Not Processed: on the mock the failed transaction's records and position stay visible, so its batch is not redone.
        var outputs = await ProcessorRunHarness.ReadOutputsAsync(settings, _samples, task, stop.Token);
        await stop.CancelAsync();
        await task;

        Assert.Multiple(() =>
        {
            Assert.That(worker.ProducerRecreations, Is.EqualTo(1), "one fatal error, one new producer");
            Assert.That(counters.ProducerRecreations, Is.EqualTo(1), "counted in streaming_producer_recreations_total");
            Assert.That(outputs.Features, Is.Unique, "no feature record twice on read_committed");
        });
        AssertSameOutputs(outputs);
    }

    [Test]
    public async Task A_fenced_producer_stops_the_worker_with_the_fencing_error_and_is_not_recreated()
    {
        if (TestStack.Kafka.Embedded is not { } embedded)
        {
            Assert.Ignore("Needs the embedded mock cluster's request error injection; KAFKA_BOOTSTRAP_SERVERS points at a real cluster.");
            return;
        }
        var settings = await CreateTopicsAsync("fenced");
        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        embedded.PushRequestErrors(EndTxnApiKey, ErrorCode.NoError, ErrorCode.ProducerFenced);
        var worker = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("fenced"), "fenced");
        KafkaException? stopped = null;
        try
        {
            await worker.RunAsync(stop.Token);
        }
        catch (KafkaException ex)
        {
            stopped = ex;
        }

        Assert.Multiple(() =>
        {
            Assert.That(stopped?.Error.Code, Is.EqualTo(ErrorCode.Local_Fenced), "the worker stops with the fencing error itself");
            Assert.That(stop.IsCancellationRequested, Is.False, "it stopped by itself, not by the test's timeout");
            Assert.That(worker.ProducerRecreations, Is.Zero, "a fenced producer is never recreated to fight the new owner");
            Assert.That(counters.ProducerRecreations, Is.Zero);
        });
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
