using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Host.Modeling;
using Streaming.Host.Operations;
using Streaming.Host.Pipeline;
using Streaming.Models.Pipeline;
using Streaming.Processing.Windows;

namespace Streaming.IntegrationTests;

/// <summary>
/// The drift monitor on the embedded broker: feature windows on the features topic are compared with the active bundle's
/// training reference; a shifted feed opens one drift event (and resolves it when the shift ends) with the metric above the
/// threshold, a stationary feed opens none.
/// </summary>
public sealed class DriftMonitorTests
{
    private static readonly DateTimeOffset Start = new(DateTime.UtcNow.Date.AddDays(-3), TimeSpan.Zero);
    private const int Entities = 6;
    private ModelBundle _bundle = null!;

    [OneTimeSetUp]
    public void TrainBundle()
    {
        // Stationary telemetry by construction (no seasonality), six hours of it, through the production windowing code.
        var settings = new StreamingSettings();
        var data = SimulatorTrainingData.FromSamples("test", Telemetry(Start, TimeSpan.FromHours(6), seed: 1, shift: _ => 0), settings.Windows.ToOptions(), out _);
        _bundle = BundleTrainer.Train(data, new TrainingSettings { Epochs = 1, HiddenSize = 8, Seed = 1 }, "drift-1", new Progress<StageProgress>());
        Assert.That(_bundle.Forecaster!.Manifest.Drift, Is.Not.Null, "the manifest stores the training reference");
    }

    [Test]
    public async Task A_shifted_feed_opens_one_drift_event_with_the_metric_above_threshold_and_resolves_when_the_shift_ends()
    {
        var live = Start.AddHours(6);
        // cpu_usage three standard deviations higher from the first hour to the third, then back to normal.
        var samples = Telemetry(live, TimeSpan.FromHours(5), seed: 2, shift: t => t >= live.AddHours(1) && t < live.AddHours(3) ? 15 : 0);
        var (events, counters, worker) = await RunAsync("drift_shift", samples);
        using var _ = counters;

        Assert.That(events.Select(e => e.Status), Is.EqualTo(new[] { AlertStatus.Open, AlertStatus.Resolved }), "one open, one resolve, no storm");
        var open = events[0];
        TestContext.Progress.WriteLine($"shifted feed: {open.Status} at {open.WindowEnd:HH:mm} {open.Statistic} {open.Score} on {open.Contributors[0].Metric} " +
            $"({open.Contributors[0].Expected} -> {open.Contributors[0].Actual}); resolved at {events[^1].WindowEnd:HH:mm}");
        Assert.That(open.Kind, Is.EqualTo("drift"));
        Assert.That(open.Entity, Is.EqualTo(DriftEvent.FleetEntity));
        Assert.That((open.Model, open.ModelVersion), Is.EqualTo(("ensemble", "drift-1")));
        Assert.That(open.Contributors[0].Metric, Is.EqualTo("cpu_usage.mean"), string.Join(", ", open.Features.Select(f => $"{f.Feature} {f.Psi}")));
        Assert.That(open.Contributors[0].Actual - open.Contributors[0].Expected, Is.GreaterThan(3), "live mean above the training mean");
        Assert.That(open.Score, Is.GreaterThanOrEqualTo(open.Threshold));
        Assert.That(events[1].AlertId, Is.EqualTo(open.AlertId), "the resolve closes the same drift");
        Assert.That(open.WindowEnd, Is.GreaterThan(live.AddHours(1)).And.LessThan(live.AddHours(2)), "opened during the shift");
        Assert.That(events[1].WindowEnd, Is.GreaterThan(live.AddHours(3)), "resolved after it");
        Assert.That(worker.Events, Is.EqualTo(2));

        // The metric while the shift lasted: run only the shifted part through a fresh monitor and read the gauge.
        var (_, shifted, _) = await RunAsync("drift_metric", samples.Where(s => s.TimestampMs < live.AddHours(3).ToUnixTimeMilliseconds()).ToList());
        using var __ = shifted;
        Assert.That(shifted.Drift("ensemble", "drift-1", "cpu_usage.mean"), Is.GreaterThan(new StreamingSettings().Drift.Threshold));
        Assert.That(await shifted.ExpositionAsync(), Does.Contain("streaming_model_drift{model=\"ensemble\",version=\"drift-1\",feature=\"cpu_usage.mean\"}"));
    }

    [Test]
    public async Task A_stationary_feed_opens_no_drift_event_and_its_metric_stays_below_threshold()
    {
        var samples = Telemetry(Start.AddHours(6), TimeSpan.FromHours(4), seed: 3, shift: _ => 0);
        var (events, counters, worker) = await RunAsync("drift_none", samples);
        using var _ = counters;

        Assert.That(events, Is.Empty);
        Assert.That(worker.Events, Is.Zero);
        var threshold = new StreamingSettings().Drift.Threshold;
        var values = _bundle.Info.Features.Select(f => (f, counters.Drift("ensemble", "drift-1", f))).ToList();
        TestContext.Progress.WriteLine("stationary feed, last PSI per feature: " + string.Join(", ", values.Select(v => $"{v.f} {v.Item2:0.000}")));
        Assert.That(values.All(v => v.Item2 is { } d && d < threshold), Is.True, string.Join(", ", values.Select(v => $"{v.f} {v.Item2:0.000}")));
    }

    [Test]
    public async Task With_the_retrain_policy_a_drift_trains_a_candidate_from_the_database_history()
    {
        var name = TestStack.UniqueName("drift_retrain");
        var (dataSource, registry) = await TrainFromHistoryTests.OpenAsync(name);
        await using var _ = dataSource;
        // The history the sink would have written: the six hours the bundle was trained on.
        await TrainFromHistoryTests.WriteMetricsAsync(dataSource, Telemetry(Start, TimeSpan.FromHours(6), seed: 1, shift: _ => 0));
        await registry.RegisterAsync(_bundle, activate: true, CancellationToken.None);

        var live = Start.AddHours(6);
        var samples = Telemetry(live, TimeSpan.FromHours(3), seed: 2, shift: t => t >= live.AddHours(1) ? 15 : 0);
        var (events, counters, worker) = await RunAsync(name, samples, (settings, counters) =>
        {
            settings.Models.Retrain.OnDrift = true;
            settings.Models.Retrain.History = DateTimeOffset.UtcNow - Start + TimeSpan.FromHours(1);
            settings.Training.Epochs = 1;
            settings.Training.HiddenSize = 8;
            var models = new ModelSetProvider();
            models.Activate(_bundle);
            return DriftWorker.Create(settings, TestStack.Kafka, models, registry, dataSource, counters, TimeProvider.System, TestStack.Loggers);
        });
        using var __ = counters;

        Assert.That(events.Select(e => e.Status), Is.EqualTo(new[] { AlertStatus.Open }));
        var versions = await registry.ListAsync(CancellationToken.None);
        Assert.That(versions.Select(v => (v.Version == "drift-1", v.Status)), Is.EqualTo(new[] { (true, "active"), (false, "candidate") }),
            "the retrained version is registered as a candidate (Models:Retrain:Activate is off); the active one stays");
        Assert.That(ModelBundle.Load(versions[1].ArtifactPath).Forecaster!.Manifest.TrainingData!.Source, Is.EqualTo("database"));
    }

    private Task<(List<DriftEvent> Events, PipelineCounters Counters, DriftWorker Worker)> RunAsync(string label, List<TelemetrySample> samples) =>
        RunAsync(TestStack.UniqueName(label), samples, (settings, counters) =>
        {
            var models = new ModelSetProvider();
            models.Activate(_bundle);
            return new DriftWorker(settings, TestStack.Kafka, models, counters, TimeProvider.System, TestStack.Loggers.CreateLogger(label), instanceId: label);
        });

    private static async Task<(List<DriftEvent> Events, PipelineCounters Counters, DriftWorker Worker)> RunAsync(string name, List<TelemetrySample> samples,
        Func<StreamingSettings, PipelineCounters, DriftWorker> create)
    {
        var settings = TestStack.IsolatedSettings(name);
        // Every window in the sample: the test feeds are a few hours long and their reference is in phase with them.
        settings.Drift.SampleEvery = TimeSpan.Zero;
        settings.Validated();
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);
        var windows = Windows(samples, settings.Windows.ToOptions());
        ProduceFeatures(settings.Topics.Features, windows);

        var counters = new PipelineCounters();
        var worker = create(settings, counters);
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var task = worker.RunAsync(stop.Token);
        while (worker.Windows < windows.Count && !task.IsFaulted && !stop.IsCancellationRequested)
            await Task.Delay(100);
        // A retraining the policy started runs under the monitor's token: let it finish before stopping the monitor.
        await worker.Retraining.WaitAsync(TimeSpan.FromMinutes(2));
        await stop.CancelAsync();
        await task;
        Assert.That(worker.Windows, Is.EqualTo(windows.Count), "every feature window read");
        var events = (await TestStack.ReadTopicAsync(settings.Topics.Alerts))
            .Select(j => JsonSerializer.Deserialize(j, ContractsJsonContext.Default.DriftEvent)!)
            .OrderBy(e => e.WindowEnd).ToList();
        return (events, counters, worker);
    }

    /// <summary>Six machines sampling cpu_usage and memory_usage every 10 s, independent Gaussian noise around fixed levels.</summary>
    private static List<TelemetrySample> Telemetry(DateTimeOffset start, TimeSpan span, int seed, Func<DateTimeOffset, double> shift)
    {
        var random = new Random(seed);
        var samples = new List<TelemetrySample>();
        for (var t = start; t < start + span; t += TimeSpan.FromSeconds(10))
        {
            for (var e = 0; e < Entities; e++)
            {
                samples.Add(new TelemetrySample($"machine-{e}", t.ToUnixTimeMilliseconds(),
                [
                    new MetricValue("cpu_usage", 50 + shift(t) + Gaussian(random, 5)),
                    new MetricValue("memory_usage", 40 + Gaussian(random, 3)),
                ]));
            }
        }
        return samples;
    }

    private static double Gaussian(Random random, double sigma) =>
        sigma * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static List<FeatureVectorEvent> Windows(List<TelemetrySample> samples, WindowOptions options)
    {
        var aggregator = new WindowAggregator(options);
        foreach (var sample in samples)
            aggregator.Add(sample);
        aggregator.AdvanceStreamTime(aggregator.StreamTimeMs + 600_000);
        var closed = new List<ClosedWindow>();
        aggregator.CollectClosed(closed);
        return closed.Select(w => w.ToEvent()).ToList();
    }

    /// <summary>Publishes feature windows as the processor does (JSON, keyed by entity) to a single partition, in window order.</summary>
    private static void ProduceFeatures(string topic, List<FeatureVectorEvent> windows)
    {
        using var producer = new ProducerBuilder<string, byte[]>(TestStack.Kafka.ProducerConfig("test-features")).Build();
        foreach (var window in windows)
        {
            producer.Produce(new TopicPartition(topic, 0), new Message<string, byte[]>
            {
                Key = window.Entity, Value = JsonSerializer.SerializeToUtf8Bytes(window, ContractsJsonContext.Default.FeatureVectorEvent),
            });
        }
        Assert.That(producer.Flush(TimeSpan.FromSeconds(60)), Is.Zero);
    }
}
