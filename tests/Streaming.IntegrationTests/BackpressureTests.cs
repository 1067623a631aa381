using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Host.Pipeline;
using Streaming.Simulation;

namespace Streaming.IntegrationTests;

/// <summary>
/// Back-pressure on the embedded broker (issue 3): a burst of telemetry into a processor whose publisher is slowed. The
/// consume loop must pause its partitions instead of piling processed batches up in memory, never hold more than
/// MaxInFlightBatches × MaxBatch records in flight, and still produce exactly the output of an unthrottled run.
/// </summary>
public sealed class BackpressureTests
{
    private const int Entities = 200;
    private const int Records = 200_000;
    private const int MaxBatch = 1000;
    private const int MaxInFlightBatches = 4;

    /// <summary>
    /// The control run's bound: the setting's maximum. Batches are often smaller than MaxBatch (a poll returns what has
    /// arrived), so Records / MaxBatch + 2 (202) was still reached once in a full-suite run; 1000 needs batches of under
    /// 200 records on average, and the test asserts the control never paused, so a comparison with a paused run fails.
    /// </summary>
    private const int ControlInFlightBatches = 1000;

    // The mock broker keeps at most ~5 MB per partition (and stalls a consumer that falls further behind), so the whole
    // burst (~60 MB) fits only when spread over this many telemetry partitions; the output topics keep the default 4.
    private const int TelemetryPartitions = 32;

    // Managed heap growth allowed during a run, uncollected garbage included (measured +17 to +20 MiB on the 2-core VM;
    // the input alone is ~60 MB of JSON, ~200 MB as consumed records, had the consumer read it all). The samples themselves are generated before the baseline is taken.
    private const long MemoryBoundBytes = 96L * 1024 * 1024;

    private static readonly DateTimeOffset Start = new(DateTime.UtcNow.Date.AddDays(-1), TimeSpan.Zero);

    [Test]
    public async Task A_burst_into_a_slow_publisher_pauses_partitions_keeps_memory_bounded_and_changes_no_output()
    {
        var samples = Simulate();
        var (throttled, throttledCounters, throttledPeak) = await RunAsync("throttled", samples, slowPublisher: true, MaxInFlightBatches);
        // The control: a publisher at full speed with room for every batch of the input, so it can never pause. (With the
        // throttled run's bound it paused as often, 50 vs 50: publishing on the mock is slower than consuming even unthrottled.)
        var (unthrottled, unthrottledCounters, unthrottledPeak) = await RunAsync("unthrottled", samples, slowPublisher: false, ControlInFlightBatches);

        TestContext.Out.WriteLine(
            $"{samples.Count:N0} records; throttled: {throttledCounters.Pauses} pauses, at most {throttledCounters.MaxInFlightBatches} batches / " +
            $"{throttledCounters.MaxInFlightRecords:N0} records in flight, managed heap +{throttledPeak / 1048576.0:F0} MiB at peak; " +
            $"unthrottled: {unthrottledCounters.Pauses} pauses, +{unthrottledPeak / 1048576.0:F0} MiB; {unthrottled.Features.Count} windows, {unthrottled.Scores.Count} scores, {unthrottled.Alerts.Count} alerts");

        Assert.Multiple(() =>
        {
            Assert.That(throttledCounters.Pauses, Is.GreaterThan(0), "the slow publisher made the consumer pause its partitions");
            Assert.That(unthrottledCounters.Pauses, Is.Zero, "the control run never paused, so the comparison is with an unpaused run");
            Assert.That(throttledCounters.MaxInFlightBatches, Is.EqualTo(MaxInFlightBatches), "the publisher fell behind up to the bound, never beyond");
            Assert.That(throttledCounters.MaxInFlightRecords, Is.LessThanOrEqualTo(MaxInFlightBatches * MaxBatch), "records in flight stay bounded");
            Assert.That(throttledPeak, Is.LessThan(MemoryBoundBytes), "managed memory stays bounded");
            Assert.That(unthrottled.Features, Has.Count.EqualTo(ExpectedWindows(samples)), "the unthrottled run closed every window once");
            Assert.That(unthrottled.Alerts, Is.Not.Empty, "there are alerts to compare");
            Assert.That(TestStack.Difference(throttled.Features, unthrottled.Features), Is.Empty, "identical feature records, each once");
            Assert.That(TestStack.Difference(throttled.Scores, unthrottled.Scores), Is.Empty, "identical score records, each once");
            Assert.That(TestStack.Difference(throttled.Alerts, unthrottled.Alerts), Is.Empty, "identical alert events, each once");
        });
    }

    [Test]
    public void MaxInFlightBatches_outside_its_range_is_refused_at_start_up_naming_the_setting()
    {
        var settings = new StreamingSettings();
        settings.Processor.MaxInFlightBatches = 0;

        var error = Assert.Throws<Streaming.Kafka.OptionsException>(() => settings.Validated())!;

        Assert.That(error.Setting, Is.EqualTo("Processor:MaxInFlightBatches"));
        Assert.That(error.Message, Does.Contain("must be 1-1000"));
    }

    /// <summary>Five-minute windows keep the output small enough for the mock broker's per-partition limit.</summary>
    private static List<TelemetrySample> Simulate()
    {
        var simulator = new FleetSimulator(new SimulatorOptions
        {
            Entities = Entities, Seed = 17, Start = Start, IncidentsPerEntityDay = 6, WarmUp = TimeSpan.FromMinutes(30),
        });
        var samples = new List<TelemetrySample>(Records + Entities);
        while (samples.Count < Records)
            simulator.NextTick(samples);
        return samples;
    }

    private static int ExpectedWindows(List<TelemetrySample> samples) =>
        samples.Select(s => (s.Entity, s.TimestampMs / 300_000)).Distinct().Count();

    /// <summary>What a run's back-pressure gauges reached.</summary>
    private sealed record BackPressure(long Pauses, long MaxInFlightBatches, long MaxInFlightRecords);

    private static async Task<(Outputs Outputs, BackPressure Counters, long PeakHeapGrowth)> RunAsync(string label, List<TelemetrySample> samples, bool slowPublisher, int maxInFlightBatches)
    {
        var name = TestStack.UniqueName(label);
        var settings = TestStack.IsolatedSettings(name);
        settings.Windows.Size = TimeSpan.FromMinutes(5);
        settings.Processor.MaxBatch = MaxBatch;
        settings.Processor.MaxInFlightBatches = maxInFlightBatches;
        // No idle closing: the end of input is marked in the log itself (below), so both runs close the same windows.
        settings.Processor.IdleTimeout = TimeSpan.FromHours(1);
        settings.Validated();
        await CreateTopicsAsync(settings.Topics);
        // The burst: all of the input is on the broker before the processor starts, so it could read it all at once.
        // End of input, in the log: one sample per entity an hour after the last, so stream time passes every window's
        // grace in every partition. Their own windows stay open in both runs.
        var end = samples[^1].TimestampMs + 3_600_000;
        var markers = samples.Select(s => s.Entity).Distinct()
            .Select(e => new TelemetrySample(e, end, [new MetricValue("cpu_usage", 1)])).ToList();
        TestStack.Produce(settings.Topics.Telemetry, samples.Concat(markers));

        using var counters = new PipelineCounters();
        var worker = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger(label), label);
        if (slowPublisher)
            worker.BeforePublish = () => Thread.Sleep(50);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        var peak = 0L;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: false) - baseline);
                await Task.Delay(20, CancellationToken.None);
            }
        });

        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var task = worker.RunAsync(stop.Token);
        var clock = Stopwatch.StartNew();
        await WaitForAsync(() => worker.Processed >= samples.Count + markers.Count, task, stop.Token);
        TestContext.Out.WriteLine($"{label}: {samples.Count + markers.Count:N0} records in {clock.Elapsed.TotalSeconds:F1} s");
        await sampling.CancelAsync();
        await sampler;

        var outputs = new Outputs(
            await TestStack.ReadTopicAsync(settings.Topics.Features),
            await TestStack.ReadTopicAsync(settings.Topics.Scores),
            (await TestStack.ReadTopicAsync(settings.Topics.Alerts)).Select(WithoutDetectionTime).ToList());
        await stop.CancelAsync();
        await task;
        return (outputs, new BackPressure(counters.Pauses, counters.MaxInFlightBatches, counters.MaxInFlightRecords), peak);
    }

    /// <summary>Telemetry and its positions topic with <see cref="TelemetryPartitions"/> partitions, the outputs with the default.</summary>
    private static async Task CreateTopicsAsync(TopicSettings topics)
    {
        string[] wide = [topics.Telemetry, topics.ProcessorOffsets];
        if (TestStack.Kafka.Embedded is { } embedded)
        {
            foreach (var topic in wide)
                embedded.CreateTopic(topic, TelemetryPartitions);
        }
        else
        {
            using var external = Streaming.Kafka.KafkaCluster.Connect(new Streaming.Kafka.KafkaOptions
            {
                BootstrapServers = TestStack.Kafka.BootstrapServers, Partitions = TelemetryPartitions,
            });
            await external.EnsureTopicsAsync(wide);
        }
        await TestStack.Kafka.EnsureTopicsAsync([topics.Features, topics.Scores, topics.Alerts, topics.DeadLetter]);
    }

    private static async Task WaitForAsync(Func<bool> condition, Task worker, CancellationToken cancellationToken)
    {
        while (!condition())
        {
            if (worker.IsCompleted)
                await worker;
            if (worker.IsCompleted || cancellationToken.IsCancellationRequested)
                Assert.Fail("The processor stopped or did not get through the input in time.");
            await Task.Delay(50, CancellationToken.None);
        }
    }

    private sealed record Outputs(List<string> Features, List<string> Scores, List<string> Alerts);

    /// <summary>detected_at is processing time, the one field a re-run legitimately changes.</summary>
    internal static string WithoutDetectionTime(string json)
    {
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.GetProperty("kind").GetString() != AnomalyEvent.KindName)
            return json;
        var alert = JsonSerializer.Deserialize(json, ContractsJsonContext.Default.AnomalyEvent)!;
        return JsonSerializer.Serialize(alert with { DetectedAt = DateTimeOffset.UnixEpoch }, ContractsJsonContext.Default.AnomalyEvent);
    }
}
