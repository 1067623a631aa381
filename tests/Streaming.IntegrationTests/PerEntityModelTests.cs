using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Host.Cli;
using Streaming.Host.Modeling;
using Streaming.Models.Pipeline;

namespace Streaming.IntegrationTests;

/// <summary>
/// Models:Scope: with PerEntity, an entity with its own active version (<c>train --from-db --entity X</c>) is scored by it
/// and every other entity by the fleet version; with Fleet (the default), every entity by the fleet version.
/// </summary>
public sealed class PerEntityModelTests
{
    [Test]
    public async Task An_entity_uses_its_own_version_with_the_per_entity_scope_and_the_fleet_version_otherwise()
    {
        var name = TestStack.UniqueName("per_entity");
        var (dataSource, registry) = await TrainFromHistoryTests.OpenAsync(name);
        await using var _ = dataSource;
        await TrainFromHistoryTests.WriteMetricsAsync(dataSource, TrainFromHistoryTests.Simulate(entities: 3, TimeSpan.FromHours(5), seed: 5));
        var settings = TrainFromHistoryTests.Settings();
        var all = new HistoryQuery(null, null, []);
        await TrainCommand.TrainFromHistoryAsync(settings, registry, TrainingSource.Database(dataSource), all, activate: true, "fleet-1", TextWriter.Null, CancellationToken.None);
        var output = new StringWriter();
        var own = await TrainCommand.TrainFromHistoryAsync(settings, registry, TrainingSource.Database(dataSource), all, activate: true, "own-1", output,
            CancellationToken.None, entity: "host-001");

        Assert.That(own.Entity, Is.EqualTo("host-001"));
        Assert.That(ModelBundle.Load(own.ArtifactPath).Info.Entity, Is.EqualTo("host-001"), "the manifest names the entity");
        Assert.That(ModelBundle.Load(own.ArtifactPath).Info.Metrics["entities"], Is.EqualTo(1), "trained on that entity's history alone");
        Assert.That((await registry.ActiveAsync(CancellationToken.None))?.Version, Is.EqualTo("fleet-1"), "activating an entity's version keeps the fleet's");
        Assert.That((await registry.ActiveEntityModelsAsync(CancellationToken.None)).ToDictionary(kv => kv.Key, kv => kv.Value.Version),
            Is.EqualTo(new Dictionary<string, string> { ["host-001"] = "own-1" }));
        Assert.That(await TrainFromHistoryTests.ScalarAsync<string>(dataSource, "SELECT entity FROM model_registry WHERE version = 'own-1'"), Is.EqualTo("host-001"));

        var live = TrainFromHistoryTests.Simulate(entities: 2, TimeSpan.FromHours(1), seed: 9);
        var perEntity = await VersionsAsync(registry, ModelScope.PerEntity, live);
        var fleet = await VersionsAsync(registry, ModelScope.Fleet, live);

        Assert.That(perEntity, Is.EqualTo(new Dictionary<string, string[]> { ["host-001"] = ["own-1"], ["host-002"] = ["fleet-1"] }));
        Assert.That(fleet, Is.EqualTo(new Dictionary<string, string[]> { ["host-001"] = ["fleet-1"], ["host-002"] = ["fleet-1"] }));
    }

    [Test]
    public async Task Training_an_entity_without_enough_history_says_how_many_windows_it_needs()
    {
        var name = TestStack.UniqueName("per_entity_short");
        var (dataSource, registry) = await TrainFromHistoryTests.OpenAsync(name);
        await using var _ = dataSource;
        await TrainFromHistoryTests.WriteMetricsAsync(dataSource, TrainFromHistoryTests.Simulate(entities: 2, TimeSpan.FromMinutes(40), seed: 5));
        var error = Assert.ThrowsAsync<TrainingDataException>(() => TrainCommand.TrainFromHistoryAsync(TrainFromHistoryTests.Settings(), registry,
            TrainingSource.Database(dataSource), new HistoryQuery(null, null, []), activate: true, null, TextWriter.Null, CancellationToken.None, entity: "host-002"));
        Assert.That(error!.Message, Does.Contain("host-002").And.Contain("60 windows"), error.Message);
    }

    [Test]
    public async Task Per_entity_training_registers_a_version_for_each_entity_with_enough_history_and_names_the_rest()
    {
        var name = TestStack.UniqueName("per_entity_all");
        var (dataSource, registry) = await TrainFromHistoryTests.OpenAsync(name);
        await using var _ = dataSource;
        var samples = TrainFromHistoryTests.Simulate(entities: 2, TimeSpan.FromHours(4), seed: 5);
        samples.AddRange(TrainFromHistoryTests.Simulate(entities: 1, TimeSpan.FromMinutes(30), seed: 6, prefix: "newcomer-"));
        await TrainFromHistoryTests.WriteMetricsAsync(dataSource, samples);
        var output = new StringWriter();

        var registered = await TrainCommand.TrainPerEntityAsync(TrainFromHistoryTests.Settings(), registry, TrainingSource.Database(dataSource),
            new HistoryQuery(null, null, []), activate: true, output, CancellationToken.None);

        Assert.That(registered.Select(r => (r.Entity, r.Status)), Is.EqualTo(new[] { ("host-001", "active"), ("host-002", "active") }));
        Assert.That(output.ToString(), Does.Contain("Skipped newcomer-001").And.Contain("60 windows"), output.ToString());
        Assert.That((await registry.ActiveEntityModelsAsync(CancellationToken.None)).Keys, Is.EquivalentTo(new[] { "host-001", "host-002" }));
    }

    /// <summary>The versions each entity's windows were scored with, through the registry watcher with <paramref name="scope"/>.</summary>
    private static async Task<Dictionary<string, string[]>> VersionsAsync(ModelRegistry registry, ModelScope scope, List<Contracts.TelemetrySample> samples)
    {
        var models = new ModelSetProvider();
        await new ModelWatcher(registry, models, shadow: false, TimeSpan.FromSeconds(5), NullLogger.Instance, scope).RefreshAsync(CancellationToken.None);
        var settings = new Host.Configuration.StreamingSettings();
        var scorer = new EnsembleWindowScorer(models, settings.Baseline, settings.Detection, settings.Ensemble, 3);
        var aggregator = new Processing.Windows.WindowAggregator(settings.Windows.ToOptions());
        foreach (var sample in samples)
            aggregator.Add(sample);
        aggregator.AdvanceStreamTime(aggregator.StreamTimeMs + 600_000);
        var closed = new List<Processing.Windows.ClosedWindow>();
        aggregator.CollectClosed(closed);
        return closed.Select(scorer.Assess).OfType<Processing.Scoring.WindowAssessment>()
            .Where(a => a.Model == EnsembleWindowScorer.EnsembleName)
            .GroupBy(a => a.Window.Entity).ToDictionary(g => g.Key, g => g.Select(a => a.ModelVersion).Distinct().ToArray());
    }
}
