using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Host.Modeling;
using Streaming.Host.Pipeline;
using Streaming.Models.Pipeline;
using Streaming.Models.Serialization;
using Streaming.Simulation;
using Streaming.Storage;

namespace Streaming.IntegrationTests;

/// <summary>
/// Shadow mode (<c>Models:Shadow</c>): with a candidate registered next to the active version, the processor on the
/// embedded broker records both versions' scores for every window, and only the active version drives alerts.
/// </summary>
public sealed class ShadowScoringTests
{
    private static readonly DateTimeOffset Start = new(DateTime.UtcNow.Date.AddDays(-2), TimeSpan.Zero);

    [Test]
    public async Task Shadow_mode_records_the_candidates_score_for_every_window_and_only_the_active_version_alerts()
    {
        var settings = new StreamingSettings();
        var data = SimulatorTrainingData.FromSamples("simulator", Simulate(Start.AddDays(-1), TimeSpan.FromHours(6), seed: 2), settings.Windows.ToOptions(), out _);
        var active = BundleTrainer.Train(data, new TrainingSettings { Epochs = 2, HiddenSize = 16, Seed = 1 }, "shadow-active", new Progress<StageProgress>());
        // The candidate: the same networks with thresholds 100 times lower. With dynamic scoring a member's threshold no
        // longer sets how often it fires (its likelihood calibrates it per entity), so what must hold is the contract:
        // the candidate is scored on every window, recorded under its own version, and never alerts.
        var candidate = new ModelBundle(active.Info with { Version = "shadow-candidate" },
            Sensitive(active.Forecaster!), Sensitive(active.Vae!), null);

        var name = TestStack.UniqueName("shadow");
        var connectionString = await TestStack.CreateDatabaseAsync(name);
        await DatabaseMigrator.ApplyAsync(connectionString, NullLogger.Instance, CancellationToken.None);
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var registry = new ModelRegistry(dataSource, Path.Combine(Path.GetTempPath(), "streaming-tests", name));
        await registry.RegisterAsync(active, activate: true, CancellationToken.None);
        await registry.RegisterAsync(candidate, activate: false, CancellationToken.None);

        // Shadow off: the candidate stays out of the processor.
        var plain = new ModelSetProvider();
        await new ModelWatcher(registry, plain, shadow: false, TimeSpan.FromSeconds(5), NullLogger.Instance).RefreshAsync(CancellationToken.None);
        Assert.That((plain.Active?.Version, plain.Candidate), Is.EqualTo(("shadow-active", (ModelBundle?)null)));

        settings = TestStack.IsolatedSettings(name);
        settings.Models.Shadow = true;
        var models = new ModelSetProvider();
        await new ModelWatcher(registry, models, settings.Models.Shadow, settings.Models.ReloadInterval, NullLogger.Instance).RefreshAsync(CancellationToken.None);
        Assert.That(models.Candidate?.Version, Is.EqualTo("shadow-candidate"));

        var samples = Simulate(Start, TimeSpan.FromHours(3), seed: 7);
        var (scores, alerts) = await RunAsync(settings, name, samples, models);

        var ensemble = scores.Where(s => s.Model == EnsembleWindowScorer.EnsembleName).ToList();
        var shadow = scores.Where(s => s.Model == $"{EnsembleWindowScorer.EnsembleName}-candidate").ToList();
        Assert.That(ensemble, Is.Not.Empty);
        Assert.That(ensemble.Select(s => s.ModelVersion).Distinct(), Is.EqualTo(new[] { "shadow-active" }));
        Assert.That(shadow.Select(s => s.ModelVersion).Distinct(), Is.EqualTo(new[] { "shadow-candidate" }));
        Assert.That(shadow.Select(s => (s.Entity, s.WindowEnd)), Is.EquivalentTo(ensemble.Select(s => (s.Entity, s.WindowEnd))),
            "the candidate's score is recorded for every window the active version scored");
        var candidateAnomalous = shadow.Count(s => s.IsAnomaly);
        Assert.That(shadow.Select(s => s.Threshold), Is.All.EqualTo(ensemble[0].Threshold), "both versions are judged against the one configured probability");

        var anomalies = alerts.Where(a => a.Kind == AnomalyEvent.KindName).ToList();
        TestContext.Progress.WriteLine($"shadow: {ensemble.Count} windows scored by both versions; candidate anomalous on {candidateAnomalous}; " +
            $"{anomalies.Count(a => a.Status == AlertStatus.Open)} alerts opened (active version)");
        Assert.That(anomalies.All(a => a.Model == EnsembleWindowScorer.EnsembleName && a.ModelVersion == "shadow-active"), Is.True,
            string.Join(", ", anomalies.Select(a => $"{a.Model} {a.ModelVersion}").Distinct()));
    }

    private static ModelArtifact Sensitive(ModelArtifact artifact) =>
        new(artifact.Manifest with { Thresholds = artifact.Manifest.Thresholds.ToDictionary(kv => kv.Key, kv => kv.Value / 100) }, artifact.Tensors);

    private static List<TelemetrySample> Simulate(DateTimeOffset start, TimeSpan span, int seed)
    {
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = 4, Seed = seed, Start = start, WarmUp = TimeSpan.FromMinutes(30) });
        var samples = new List<TelemetrySample>();
        while (simulator.Now < start + span)
            simulator.NextTick(samples);
        return samples;
    }

    private static async Task<(List<ScoreEvent> Scores, List<AnomalyEvent> Alerts)> RunAsync(StreamingSettings settings, string name,
        List<TelemetrySample> samples, ModelSetProvider models)
    {
        settings.Processor.MaxBatch = 500;
        settings.Processor.IdleMode = IdleMode.CloseAll;
        settings.Processor.IdleTimeout = TimeSpan.FromSeconds(4);
        settings.Validated();
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);
        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var worker = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger(name), name, models);
        var task = worker.RunAsync(stop.Token);
        TestStack.Produce(settings.Topics.Telemetry, samples);
        var windows = samples.Select(s => (s.Entity, s.TimestampMs / 60_000)).Distinct().Count();
        while (counters.Windows < windows && !task.IsFaulted && !stop.IsCancellationRequested)
            await Task.Delay(100);
        await stop.CancelAsync();
        await task;
        Assert.That(counters.Windows, Is.EqualTo(windows), "every window closed");
        var scores = (await TestStack.ReadTopicAsync(settings.Topics.Scores)).Select(j => JsonSerializer.Deserialize(j, ContractsJsonContext.Default.ScoreEvent)!).ToList();
        var alerts = (await TestStack.ReadTopicAsync(settings.Topics.Alerts))
            .Where(j => j.Contains($"\"kind\":\"{AnomalyEvent.KindName}\"", StringComparison.Ordinal))
            .Select(j => JsonSerializer.Deserialize(j, ContractsJsonContext.Default.AnomalyEvent)!).ToList();
        return (scores, alerts);
    }
}
