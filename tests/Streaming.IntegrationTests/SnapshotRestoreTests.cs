using System.Collections.Concurrent;
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
/// Restores from state snapshots on the embedded broker: a processor restarted after snapshots exist replays only the
/// records after them, and its outputs on the read_committed topics equal an uninterrupted run's; a snapshot it cannot use
/// (corrupt, another format version) makes it replay from the beginning, say why in its log and count it.
/// </summary>
public sealed class SnapshotRestoreTests
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

        // The reference writes no snapshots: what the restored runs are compared with owes nothing to them.
        var settings = await CreateTopicsAsync("snapshot-reference", snapshots: false);
        using var counters = new PipelineCounters();
        var worker = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("reference"), "reference");
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var task = worker.RunAsync(stop.Token);
        await ProcessorRunHarness.WaitForAsync(() => worker.Processed >= _samples.Count, task, stop.Token);
        _uninterrupted = await ProcessorRunHarness.ReadOutputsAsync(settings, _samples, task, stop.Token);
        await stop.CancelAsync();
        await task;
        Assert.That(_uninterrupted.Alerts, Is.Not.Empty, "the reference run has alerts to compare");
    }

    [Test]
    public async Task A_processor_restarted_after_a_crash_replays_only_the_records_after_its_snapshots_and_gives_the_uninterrupted_output()
    {
        var settings = await CreateTopicsAsync("snapshot-crash", snapshots: true);
        using var counters = new PipelineCounters();
        var (crashing, restarted, outputs) = await CrashThenRestartAsync(settings, counters, "snapcrash", crashAfterBatches: 7,
            TestStack.Loggers.CreateLogger("restarted"), crashed =>
            {
                Assert.That(crashed.Processed, Is.GreaterThan(0).And.LessThan(_samples.Count), "the crash came mid-stream");
                Assert.That(crashed.SnapshotsWritten, Is.GreaterThan(0), "snapshots were written before the crash");
            });

        var fromSnapshots = restarted.RestoredFrom.Values.Sum();
        Assert.Multiple(() =>
        {
            Assert.That(restarted.SnapshotsLoaded, Is.GreaterThan(0), "the restart started from snapshots");
            // Which partitions got their first snapshot before the crash depends on how the batches fell; one that had none
            // yet is replayed in full, which the count below includes. Any other reason for a full replay is a defect.
            Assert.That(restarted.SnapshotFallbacks, Is.EqualTo(counters.SnapshotFallbacks("missing")),
                "every partition that had a snapshot restored from it");
            Assert.That(fromSnapshots, Is.GreaterThan(0));
            Assert.That(restarted.Replayed, Is.EqualTo(crashing.Processed - fromSnapshots),
                "the restart replayed exactly the committed records after each partition's snapshot");
            Assert.That(restarted.Replayed, Is.LessThan(crashing.Processed));
            Assert.That(counters.RestoreReplayedRecords, Is.EqualTo(restarted.Replayed), "streaming_restore_replayed_records_total says the same");
        });
        AssertSameOutputs(outputs);
    }

    [Test]
    public async Task At_least_once_a_processor_restarted_after_a_clean_stop_restores_from_its_snapshots_and_gives_the_uninterrupted_output()
    {
        var half = _samples.Count / 2;
        var settings = await CreateTopicsAsync("snapshot-alo", snapshots: true, produceUpTo: half, idleTimeout: TimeSpan.FromSeconds(20));
        settings.Processor.Delivery = DeliveryGuarantee.AtLeastOnce;
        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        using (var firstStop = CancellationTokenSource.CreateLinkedTokenSource(stop.Token))
        {
            var first = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("first"), "alo-first");
            var firstTask = first.RunAsync(firstStop.Token);
            await ProcessorRunHarness.WaitForAsync(() => first.Processed >= half, firstTask, stop.Token);
            await firstStop.CancelAsync();
            await firstTask;
            Assert.That(first.SnapshotsWritten, Is.GreaterThan(0));
        }

        TestStack.Produce(settings.Topics.Telemetry, _samples.Skip(half));
        var second = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("second"), "alo-second");
        var task = second.RunAsync(stop.Token);
        await ProcessorRunHarness.WaitForAsync(() => second.Processed >= _samples.Count - half, task, stop.Token);
        var outputs = await ProcessorRunHarness.ReadOutputsAsync(settings, _samples, task, stop.Token);
        await stop.CancelAsync();
        await task;

        Assert.That(second.SnapshotsLoaded, Is.GreaterThan(0), "the second instance started from the first one's snapshots");
        Assert.That(second.Replayed, Is.EqualTo(half - second.RestoredFrom.Values.Sum()));
        AssertSameOutputs(outputs);
    }

    [Test]
    public async Task Unusable_snapshots_make_the_restore_replay_from_the_beginning_and_say_why()
    {
        // A first run without snapshots commits positions, then each partition gets a snapshot record it cannot use.
        var settings = await CreateTopicsAsync("snapshot-bad", snapshots: false);
        using var counters = new PipelineCounters();
        var log = new CapturingLogger();
        var (crashing, restarted, outputs) = await CrashThenRestartAsync(settings, counters, "snapbad", crashAfterBatches: 3, log, _ =>
        {
            WriteUnusableSnapshots(settings, TestStack.Kafka.Options.Partitions);
            settings.Processor.Snapshots.Enabled = true;
        });

        Assert.Multiple(() =>
        {
            Assert.That(restarted.SnapshotsLoaded, Is.Zero);
            Assert.That(restarted.Replayed, Is.EqualTo(crashing.Processed), "a full replay, as without snapshots");
            Assert.That(restarted.SnapshotFallbacks, Is.GreaterThan(0), "every restored partition fell back");
            Assert.That(counters.SnapshotFallbacks("version"), Is.EqualTo(restarted.SnapshotFallbacks),
                "counted under the newest snapshot's problem: another format version");
            Assert.That(counters.SnapshotFallbacks("missing"), Is.Zero, "the unusable records were found, not overlooked");
            Assert.That(log.Lines, Has.Some.Contains("format version 99, this build reads version 1"));
            Assert.That(log.Lines, Has.Some.Contains("bad magic"));
            Assert.That(log.Lines, Has.Some.Contains("replaying it from the beginning"));
        });
        AssertSameOutputs(outputs);
    }

    [Test]
    public async Task Snapshots_written_under_other_detection_settings_are_not_used_and_the_restore_replays_from_the_beginning()
    {
        var settings = await CreateTopicsAsync("snapshot-settings", snapshots: true);
        using var counters = new PipelineCounters();
        var log = new CapturingLogger();
        var (crashing, restarted, outputs) = await CrashThenRestartAsync(settings, counters, "snapsettings", crashAfterBatches: 7, log, crashed =>
        {
            Assert.That(crashed.SnapshotsWritten, Is.GreaterThan(0), "snapshots were written before the crash");
            // Another alert threshold: the detectors' state would be read under settings it was not built with.
            settings.Detection = settings.Detection with { Threshold = 0.9999 };
        });

        Assert.Multiple(() =>
        {
            Assert.That(restarted.SnapshotsLoaded, Is.Zero);
            Assert.That(restarted.Replayed, Is.EqualTo(crashing.Processed), "a full replay, as without snapshots");
            Assert.That(counters.SnapshotFallbacks("settings"), Is.GreaterThan(0), "the partitions with snapshots fell back, counted under 'settings'");
            Assert.That(counters.SnapshotFallbacks("settings") + counters.SnapshotFallbacks("missing"), Is.EqualTo(restarted.SnapshotFallbacks),
                "no other reason: a partition without a snapshot yet is 'missing'");
            Assert.That(log.Lines, Has.Some.Contains("written with other settings"));
            // Windows and features do not depend on the detection settings, so they still match the uninterrupted run.
            Assert.That(TestStack.Difference(outputs.Features, _uninterrupted.Features), Is.Empty, "identical feature records, each once");
        });
    }

    /// <summary>
    /// Runs a processor until it crashes after <paramref name="crashAfterBatches"/> batches, lets the test change what the
    /// restart will find, then runs a second instance of the same group to the end of the input and reads its outputs.
    /// </summary>
    private async Task<(ProcessorWorker Crashing, ProcessorWorker Restarted, ProcessorOutputs Outputs)> CrashThenRestartAsync(
        StreamingSettings settings, PipelineCounters counters, string group, int crashAfterBatches, ILogger restartLog, Action<ProcessorWorker> betweenRuns)
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var crashing = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("crashing"), group)
        {
            CrashAfterBatches = crashAfterBatches,
        };
        await crashing.RunAsync(stop.Token);
        betweenRuns(crashing);
        var restarted = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, restartLog, group);
        var task = restarted.RunAsync(stop.Token);
        await ProcessorRunHarness.WaitForAsync(() => crashing.Processed + restarted.Processed >= _samples.Count, task, stop.Token);
        var outputs = await ProcessorRunHarness.ReadOutputsAsync(settings, _samples, task, stop.Token);
        await stop.CancelAsync();
        await task;
        return (crashing, restarted, outputs);
    }

    /// <summary>Each partition gets bytes that are no snapshot at all and then, newer, a snapshot header of format version 99.</summary>
    private static void WriteUnusableSnapshots(StreamingSettings settings, int partitions)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream))
        {
            writer.Write(0x50414E53u);
            writer.Write((ushort)99);
            writer.Write("whatever a future version writes");
        }
        using var producer = new ProducerBuilder<string?, byte[]>(TestStack.Kafka.ProducerConfig("bad-snapshots")).Build();
        for (var p = 0; p < partitions; p++)
        {
            foreach (var value in new[] { Encoding.UTF8.GetBytes("not a snapshot"), stream.ToArray() })
            {
                producer.Produce(new TopicPartition(settings.Topics.ProcessorState, p), new Message<string?, byte[]>
                {
                    Key = $"processor:{settings.Topics.Telemetry}:{p}:0:0",
                    Value = value,
                });
            }
        }
        Assert.That(producer.Flush(TimeSpan.FromSeconds(30)), Is.Zero);
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

    private async Task<StreamingSettings> CreateTopicsAsync(string label, bool snapshots, int? produceUpTo = null, TimeSpan? idleTimeout = null)
    {
        var settings = TestStack.IsolatedSettings(TestStack.UniqueName(label));
        settings.Processor.MaxBatch = 300;
        settings.Processor.IdleMode = IdleMode.CloseAll;
        settings.Processor.IdleTimeout = idleTimeout ?? TimeSpan.FromSeconds(8);
        settings.Processor.Snapshots.Enabled = snapshots;
        settings.Processor.Snapshots.EveryBatches = 2;
        settings.Validated();
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);
        TestStack.Produce(settings.Topics.Telemetry, _samples is null ? [] : _samples.Take(produceUpTo ?? _samples.Count));
        return settings;
    }

    private sealed class CapturingLogger : ILogger
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public IReadOnlyList<string> Lines => [.. _lines];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
    }
}
