using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Streaming.Contracts;
using Streaming.Host.Cli;
using Streaming.Host.Configuration;
using Streaming.Host.Modeling;
using Streaming.Models.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;
using Streaming.Simulation;
using Streaming.Storage;

namespace Streaming.IntegrationTests;

/// <summary>
/// <c>streaming train --from-db</c> and <c>--csv</c>: simulator history written by the sink's own writer into a fresh
/// TimescaleDB database (or a committed NAB CSV) trains a bundle through the production windowing code, the version is
/// registered with its manifest, and it scores windows.
/// </summary>
public sealed class TrainFromHistoryTests
{
    private static StorageCapabilities Capabilities { get; set; } = StorageCapabilities.PlainPostgres;

    private static readonly DateTimeOffset Start = new(DateTime.UtcNow.Date.AddDays(-3), TimeSpan.Zero);

    [Test]
    public async Task Database_history_trains_a_registered_version_that_scores_and_short_entities_are_left_to_the_baseline()
    {
        var name = TestStack.UniqueName("train_db");
        var (dataSource, registry) = await OpenAsync(name);
        await using var _ = dataSource;
        var samples = Simulate(entities: 3, TimeSpan.FromHours(5), seed: 5);
        // A machine that joined 20 minutes before the end: too little history to learn from.
        samples.AddRange(Simulate(entities: 1, TimeSpan.FromMinutes(20), seed: 6, start: Start.AddHours(4).AddMinutes(40), prefix: "newcomer-"));
        await WriteMetricsAsync(dataSource, samples);

        var output = new StringWriter();
        var registered = await TrainCommand.TrainFromHistoryAsync(Settings(), registry, TrainingSource.Database(dataSource),
            new HistoryQuery(null, null, []), activate: true, version: "db-1", output, CancellationToken.None);

        Assert.That(registered.Status, Is.EqualTo("active"));
        var manifest = await ScalarAsync<string>(dataSource, "SELECT manifest::text FROM model_registry WHERE version = 'db-1'");
        Assert.That(manifest, Does.Contain("\"source\": \"database history").Or.Contain("\"source\":\"database history"), manifest);
        var bundle = ModelBundle.Load(registered.ArtifactPath);
        Assert.That(bundle.Forecaster!.Manifest.TrainingData!.Source, Is.EqualTo("database"));
        Assert.That(bundle.Forecaster.Manifest.Thresholds["p99"], Is.GreaterThan(0), "a calibrated threshold");
        Assert.That(bundle.Downtime, Is.Null, "recorded history has no downtime labels");
        Assert.That(bundle.Info.Metrics["entities"], Is.EqualTo(3), "the newcomer is left out");
        Assert.That(output.ToString(), Does.Contain("newcomer-001 20").And.Contain("Left out"), output.ToString());

        var assessments = Score(bundle, Simulate(entities: 2, TimeSpan.FromHours(1), seed: 9));
        var scoredByModels = assessments.Where(a => a.Members.Any(m => m.Model == "lstm-forecaster")).ToList();
        Assert.That(scoredByModels, Is.Not.Empty, "the trained forecaster scores windows");
        Assert.That(scoredByModels.SelectMany(a => a.Members).All(m => double.IsFinite(m.Score)), "finite member scores");
        Assert.That(assessments.Where(a => a.ModelVersion == "db-1").Select(a => a.Model).Distinct(), Is.EqualTo(new[] { EnsembleWindowScorer.EnsembleName }));
        // An entity whose history is shorter than the models' sequence is scored by the online detectors alone.
        var firstScored = assessments.GroupBy(a => a.Window.Entity).Select(g => g.First()).ToList();
        Assert.That(firstScored.All(a => a.Members.Select(m => m.Model).SequenceEqual([Streaming.Processing.Scoring.Detection.OnlineWindowScorer.ModelName])), Is.True,
            string.Join("; ", firstScored.Select(a => string.Join(",", a.Members.Select(m => m.Model)))));
    }

    [Test]
    public async Task Empty_database_history_is_a_clear_error()
    {
        var name = TestStack.UniqueName("train_empty");
        var (dataSource, registry) = await OpenAsync(name);
        await using var _ = dataSource;
        var error = Assert.ThrowsAsync<TrainingDataException>(() => TrainCommand.TrainFromHistoryAsync(Settings(), registry,
            TrainingSource.Database(dataSource), new HistoryQuery(null, null, []), activate: true, version: "x", TextWriter.Null, CancellationToken.None));
        Assert.That(error!.Message, Does.StartWith("No metric history in the database"));
        Assert.That(await registry.ListAsync(CancellationToken.None), Is.Empty, "nothing registered");
    }

    [Test]
    public async Task History_too_short_for_every_entity_names_the_windows_needed()
    {
        var name = TestStack.UniqueName("train_short");
        var (dataSource, registry) = await OpenAsync(name);
        await using var _ = dataSource;
        await WriteMetricsAsync(dataSource, Simulate(entities: 2, TimeSpan.FromMinutes(30), seed: 2));
        var error = Assert.ThrowsAsync<TrainingDataException>(() => TrainCommand.TrainFromHistoryAsync(Settings(), registry,
            TrainingSource.Database(dataSource), new HistoryQuery(null, null, []), activate: true, version: "x", TextWriter.Null, CancellationToken.None));
        Assert.That(error!.Message, Does.Contain("fewer than the 60 windows").And.Contain("Training:MinWindowsPerEntity").And.Contain("host-001"), error.Message);
    }

    [Test]
    public async Task A_recorded_csv_trains_a_registered_version_that_scores()
    {
        var name = TestStack.UniqueName("train_csv");
        var (dataSource, registry) = await OpenAsync(name);
        await using var _ = dataSource;
        var path = Path.Combine(TestStack.RepoRoot, "tests", "Streaming.IntegrationTests", "TestData", "press-7.csv");
        var output = new StringWriter();
        var registered = await TrainCommand.TrainFromHistoryAsync(Settings(), registry, TrainingSource.File(path, "pressure"),
            new HistoryQuery(null, null, []), activate: false, version: "csv-1", output, CancellationToken.None);

        Assert.That(registered.Status, Is.EqualTo("candidate"));
        var bundle = ModelBundle.Load(registered.ArtifactPath);
        Assert.That(bundle.Info.Features, Is.EqualTo(new[] { "pressure.mean", "pressure.std", "pressure.slope" }));
        Assert.That(bundle.Forecaster!.Manifest.TrainingData!.Source, Is.EqualTo("csv"));
        Assert.That(bundle.Forecaster.Manifest.TrainingData.Samples, Is.EqualTo(6 * 60), "six hours of one-minute windows");
        Assert.That(output.ToString(), Does.Contain("csv-1").And.Contain("p99"), output.ToString());
        Assert.That(output.ToString(), Does.Not.Contain("\u001b["), "no ANSI escape codes (progress bars, colours) in output that is not a terminal");

        // Replay the same file's samples through the scorer: after the warm-up the forecaster scores every window.
        var samples = HistorySources.ReadFile(path, new HistoryQuery(null, null, []), "pressure", new StreamingSettings().Ingest.ToLimits(),
            DateTimeOffset.UtcNow, [], new System.Runtime.CompilerServices.StrongBox<long>(0)).ToList();
        var assessments = Score(bundle, samples);
        Assert.That(assessments.Count(a => a.Members.Any(m => m.Model == "lstm-forecaster")), Is.GreaterThan(300));
    }

    internal static StreamingSettings Settings()
    {
        var settings = new StreamingSettings();
        settings.Training.Epochs = 2;
        settings.Training.HiddenSize = 16;
        settings.Training.MinWindowsPerEntity = 60;
        return settings;
    }

    internal static async Task<(NpgsqlDataSource, ModelRegistry)> OpenAsync(string name)
    {
        var connectionString = await TestStack.CreateDatabaseAsync(name);
        Capabilities = await DatabaseMigrator.ApplyAsync(connectionString, NullLogger.Instance, CancellationToken.None);
        var dataSource = NpgsqlDataSource.Create(connectionString);
        return (dataSource, new ModelRegistry(dataSource, Path.Combine(Path.GetTempPath(), "streaming-tests", name)));
    }

    /// <summary>Writes samples as the sink does: metric rows through <see cref="TimescaleWriter"/>.</summary>
    internal static async Task WriteMetricsAsync(NpgsqlDataSource dataSource, List<TelemetrySample> samples)
    {
        var writer = new TimescaleWriter(dataSource, Capabilities, TimeProvider.System, NullLogger<TimescaleWriter>.Instance);
        var batch = new SinkBatch();
        foreach (var chunk in samples.Chunk(5_000))
        {
            batch.Clear();
            foreach (var sample in chunk)
            {
                foreach (var metric in sample.Metrics)
                    batch.Metrics.Add(new MetricRow(DateTimeOffset.FromUnixTimeMilliseconds(sample.TimestampMs), sample.Entity, metric.Name, metric.Value));
            }
            await writer.WriteBatchAsync(batch, "train-test", [], CancellationToken.None);
        }
    }

    internal static List<TelemetrySample> Simulate(int entities, TimeSpan span, int seed, DateTimeOffset? start = null, string? prefix = null)
    {
        var from = start ?? Start;
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = entities, Seed = seed, Start = from, WarmUp = TimeSpan.Zero });
        var samples = new List<TelemetrySample>();
        while (simulator.Now < from + span)
            simulator.NextTick(samples);
        return prefix is null ? samples : samples.Select(s => new TelemetrySample(prefix + s.Entity[(s.Entity.IndexOf('-', StringComparison.Ordinal) + 1)..], s.TimestampMs, s.Metrics.ToArray())).ToList();
    }

    internal static List<WindowAssessment> Score(ModelBundle bundle, List<TelemetrySample> samples)
    {
        var settings = new StreamingSettings();
        var models = new ModelSetProvider();
        models.Activate(bundle);
        var scorer = new EnsembleWindowScorer(models, settings.Baseline, settings.Detection, settings.Ensemble, 3);
        var aggregator = new WindowAggregator(settings.Windows.ToOptions());
        foreach (var sample in samples)
            aggregator.Add(sample);
        aggregator.AdvanceStreamTime(aggregator.StreamTimeMs + 10 * 60_000);
        var closed = new List<ClosedWindow>();
        aggregator.CollectClosed(closed);
        return closed.Select(scorer.Assess).OfType<WindowAssessment>().ToList();
    }

    internal static async Task<T> ScalarAsync<T>(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
