using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Host.Modeling;
using Streaming.Host.Pipeline;
using Streaming.Models.Pipeline;
using Streaming.Simulation;

namespace Streaming.IntegrationTests;

/// <summary>
/// The neural ensemble in the running pipeline on the embedded broker: injected incidents become one explained alert each,
/// degradations are predicted before the machine goes down, and a model swap mid-stream neither loses nor repeats a window.
/// </summary>
public sealed class ScoringPipelineTests
{
    // A fixed date, not one relative to today: the simulator's weekly cycle follows the calendar, so a moving start gave
    // different data (and a different verdict) on different days. The processor's age limit is lifted for these runs.
    private static readonly DateTimeOffset Start = new(2026, 11, 2, 0, 0, 0, TimeSpan.Zero);
    private ModelBundle _bundle = null!;

    [OneTimeSetUp]
    public void TrainBundle()
    {
        var settings = new StreamingSettings();
        var training = new TrainingSettings { Entities = 8, SimulatedSpan = TimeSpan.FromDays(1.5), Epochs = 6, Seed = 3 };
        var data = SimulatorTrainingData.Generate(
            new SimulatorOptions { Entities = training.Entities, Seed = 3, Start = Start.AddDays(-3), IncidentsPerEntityDay = training.IncidentsPerEntityDay },
            settings.Windows.ToOptions(), training.SimulatedSpan);
        _bundle = BundleTrainer.Train(data, training, "test-a", new Progress<StageProgress>());
    }

    [Test]
    public async Task Each_injected_incident_gives_one_explained_alert_that_later_resolves()
    {
        var samples = Simulate(seed: 21, FailureKind.LevelShift, FailureKind.Spike, out var labels);
        var models = new ModelSetProvider();
        models.Activate(_bundle);
        var outputs = await RunAsync("incidents", samples, models);

        var anomalies = outputs.Alerts.Where(a => a.Kind == AnomalyEvent.KindName).ToList();
        // Incidents minutes apart on one machine are, to an operator, one incident: the alert opened by the first stays
        // open through the second. Judge the ones that stand apart from the previous by the resolve time and cooldown.
        var separate = labels.Where(l => !labels.Any(p => p.Entity == l.Entity && p.End < l.Start && l.Start - p.End < TimeSpan.FromMinutes(15))).ToList();
        Assert.That(separate, Has.Count.GreaterThanOrEqualTo(8), "enough separate incidents to judge");
        foreach (var label in separate)
        {
            // An incident's alert opens during it (or in the window right after a short spike).
            // An alert opens, or a resolved one reopens (an update right after its resolve, within the cooldown).
            var opened = anomalies.Where(a => a.Entity == label.Entity && a.WindowEnd > label.Start && a.WindowStart <= label.End.AddMinutes(1)
                && IsOpening(a, anomalies)).ToList();
            Assert.That(opened, Has.Count.EqualTo(1), $"{label.Kind} on {label.Entity} {label.Start:HH:mm}-{label.End:HH:mm}: one alert; its alerts: " +
                string.Join(", ", anomalies.Where(a => a.Entity == label.Entity).OrderBy(a => a.WindowEnd).Select(a => $"{a.WindowStart:HH:mm} {a.Status} {a.Score:0.00}/{a.Threshold:0.00}")) +
                "; incidents: " + string.Join(", ", labels.Where(l => l.Entity == label.Entity).Select(l => $"{l.Kind} {l.Start:HH:mm}-{l.End:HH:mm}")));
            var alert = opened[0];
            Assert.That(alert.Contributors[0].Metric, Is.EqualTo(label.Metric), $"{label.Kind} on {label.Entity}: the injected metric leads");
            Assert.That(anomalies.Any(a => a.AlertId == alert.AlertId && a.Status == AlertStatus.Resolved), $"{label.Kind} on {label.Entity}: resolved afterwards");
        }
    }

    [Test]
    public async Task A_degradation_is_predicted_before_the_machine_goes_down()
    {
        var minimumLead = TimeSpan.FromMinutes(5);
        var samples = Simulate(seed: 8, FailureKind.GradualDegradation, FailureKind.MemoryLeak, out var labels);
        var models = new ModelSetProvider();
        models.Activate(_bundle);
        var outputs = await RunAsync("downtime", samples, models);

        var downtimes = labels.Where(l => l.DowntimeStart is not null).ToList();
        Assert.That(downtimes, Is.Not.Empty, "the simulator injected failures that end in downtime");
        foreach (var label in downtimes)
        {
            var predicted = outputs.Predictions.Where(p => p.Entity == label.Entity && p.Status == AlertStatus.Open
                && p.WindowEnd >= label.Start && p.WindowEnd <= label.DowntimeStart!.Value - minimumLead).ToList();
            Assert.That(predicted, Is.Not.Empty,
                $"{label.Kind} on {label.Entity}: a downtime prediction at least {minimumLead.TotalMinutes} min before {label.DowntimeStart:HH:mm}");
            Assert.That(predicted[0].Contributors, Is.Not.Empty, "with the metrics driving it");
        }
    }

    [Test]
    public async Task Activating_a_new_version_mid_stream_scores_every_window_exactly_once()
    {
        var samples = Simulate(seed: 4, FailureKind.LevelShift, FailureKind.Spike, out _);
        var models = new ModelSetProvider();
        models.Activate(_bundle);
        var swapped = new ModelBundle(_bundle.Info with { Version = "test-b" }, _bundle.Forecaster, _bundle.Vae, _bundle.Downtime);
        var outputs = await RunAsync("swap", samples, models, onHalfProcessed: () => models.Activate(swapped));

        var ensemble = outputs.Scores.Where(s => s.Model == EnsembleWindowScorer.EnsembleName).ToList();
        var windows = samples.Select(s => (s.Entity, s.TimestampMs / 60_000)).Distinct().Count();
        Assert.That(ensemble.Select(s => (s.Entity, s.WindowEnd)).Distinct().Count(), Is.EqualTo(ensemble.Count), "no window scored twice");
        var warmUp = new StreamingSettings().Baseline.MinHistory;
        Assert.That(ensemble.Count, Is.EqualTo(windows - outputs.Scores.Select(s => s.Entity).Distinct().Count() * warmUp),
            "every window after each entity's warm-up is scored");
        Assert.That(ensemble.Select(s => s.ModelVersion).Distinct(), Is.EquivalentTo(new[] { "test-a", "test-b" }), "both versions scored");
        var lastA = ensemble.Where(s => s.ModelVersion == "test-a").Max(s => s.WindowEnd);
        var firstB = ensemble.Where(s => s.ModelVersion == "test-b").Min(s => s.WindowEnd);
        Assert.That(ensemble.Where(s => s.ModelVersion == "test-a").All(s => s.WindowEnd <= lastA) && firstB > DateTimeOffset.MinValue);
    }

    private static bool IsOpening(AnomalyEvent alert, List<AnomalyEvent> all)
    {
        if (alert.Status == AlertStatus.Open)
            return true;
        var previous = all.Where(a => a.AlertId == alert.AlertId && a.WindowEnd < alert.WindowEnd).MaxBy(a => a.WindowEnd);
        return alert.Status == AlertStatus.Update && previous?.Status == AlertStatus.Resolved;
    }

    private static List<TelemetrySample> Simulate(int seed, FailureKind first, FailureKind second, out IReadOnlyList<FailureLabel> labels)
    {
        var simulator = new FleetSimulator(new SimulatorOptions
        {
            Entities = 4, Seed = seed, Start = Start, IncidentsPerEntityDay = 6, WarmUp = TimeSpan.FromMinutes(40), Kinds = [first, second],
        });
        var samples = new List<TelemetrySample>();
        while (simulator.Now < Start.AddHours(10))
            simulator.NextTick(samples);
        labels = simulator.Labels;
        return samples;
    }

    private sealed record Outputs(List<AnomalyEvent> Alerts, List<DowntimePredictionEvent> Predictions, List<ScoreEvent> Scores);

    private static async Task<Outputs> RunAsync(string label, List<TelemetrySample> samples, ModelSetProvider models, Action? onHalfProcessed = null)
    {
        var name = TestStack.UniqueName(label);
        var settings = TestStack.IsolatedSettings(name);
        settings.Processor.MaxBatch = 500;
        settings.Processor.IdleMode = IdleMode.CloseAll;
        settings.Processor.IdleTimeout = TimeSpan.FromSeconds(4);
        settings.Ingest.MaxAge = null;
        settings.Validated();
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);

        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var worker = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger(label), name, models);
        var task = worker.RunAsync(stop.Token);
        var half = samples.Count / 2;
        TestStack.Produce(settings.Topics.Telemetry, samples.Take(half));
        if (onHalfProcessed is not null)
        {
            while (worker.Processed < half && !task.IsFaulted && !stop.IsCancellationRequested)
                await Task.Delay(50);
            onHalfProcessed();
        }
        TestStack.Produce(settings.Topics.Telemetry, samples.Skip(half));
        var windows = samples.Select(s => (s.Entity, s.TimestampMs / 60_000)).Distinct().Count();
        while (counters.Windows < windows && !task.IsFaulted && !stop.IsCancellationRequested)
            await Task.Delay(100);
        await stop.CancelAsync();
        await task;
        Assert.That(counters.Windows, Is.EqualTo(windows), "every window closed");

        var alerts = new List<AnomalyEvent>();
        var predictions = new List<DowntimePredictionEvent>();
        foreach (var json in await TestStack.ReadTopicAsync(settings.Topics.Alerts))
        {
            if (json.Contains($"\"kind\":\"{DowntimePredictionEvent.KindName}\"", StringComparison.Ordinal))
                predictions.Add(JsonSerializer.Deserialize(json, ContractsJsonContext.Default.DowntimePredictionEvent)!);
            else
                alerts.Add(JsonSerializer.Deserialize(json, ContractsJsonContext.Default.AnomalyEvent)!);
        }
        var scores = (await TestStack.ReadTopicAsync(settings.Topics.Scores)).Select(j => JsonSerializer.Deserialize(j, ContractsJsonContext.Default.ScoreEvent)!).ToList();
        return new Outputs(alerts, predictions, scores);
    }
}
