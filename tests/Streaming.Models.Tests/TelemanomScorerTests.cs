using Streaming.Contracts;
using Streaming.Models.Pipeline;
using Streaming.Models.Thresholds;
using Streaming.Models.Training;
using Streaming.Processing.Scoring;
using Streaming.Processing.Scoring.Detection;
using Streaming.Processing.Windows;

namespace Streaming.Models.Tests;

/// <summary>
/// <c>Models:Scorer=Telemanom</c> as <see cref="ScorerSelection"/> builds it: an entity an active bundle covers is scored by
/// telemanom over that bundle's forecaster, every other entity by the online detectors, and an activation takes over at
/// the entity's next window.
/// </summary>
public sealed class TelemanomScorerTests
{
    // Small enough that an entity scores from its 40th forecast error; the first is made at its 9th window (8 of context, then the one forecast): 8 + 39 windows unscored.
    private static readonly TelemanomOptions Telemanom = new() { WindowSize = 200, EvaluateEvery = 10, ErrorBuffer = 5, MinimumErrors = 40 };
    private static readonly string[] Features = ["cpu.mean", "memory.mean"];

    private ModelBundle _bundle = null!;

    [OneTimeSetUp]
    public void Train()
    {
        // cpu ~ N(50, 5), memory ~ N(40, 3), one row per window.
        var random = new Random(3);
        var data = new float[1500 * 2];
        for (var i = 0; i < 1500; i++)
        {
            data[2 * i] = (float)(50 + (5 * Gaussian(random)));
            data[(2 * i) + 1] = (float)(40 + (3 * Gaussian(random)));
        }
        var forecaster = ModelTraining.TrainForecaster(data, Features, 4, 1, 8, new TrainingOptions { Epochs = 1, Seed = 1, Threads = 1 });
        _bundle = Bundle("tm-1", forecaster.Artifact);
    }

    [Test]
    public void With_the_telemanom_setting_a_covered_entity_is_scored_by_telemanom_and_an_uncovered_one_by_the_online_detectors()
    {
        var models = new ModelSetProvider();
        models.SetEntityBundles(new Dictionary<string, ModelBundle>(StringComparer.Ordinal) { ["covered"] = _bundle });
        var scorer = Scorer(models);
        var random = new Random(5);
        var covered = new List<WindowAssessment>();
        var uncovered = new List<WindowAssessment>();
        for (var minute = 0; minute < 400; minute++)
        {
            // A cpu spike on the covered entity late in the stream.
            var cpu = minute is >= 300 and < 304 ? 95 : 50 + (5 * Gaussian(random));
            if (scorer.Assess(Window("covered", minute, cpu, 40 + (3 * Gaussian(random)))) is { } a)
                covered.Add(a);
            if (scorer.Assess(Window("uncovered", minute, 50 + (5 * Gaussian(random)), 40 + (3 * Gaussian(random)))) is { } b)
                uncovered.Add(b);
        }

        Assert.That(covered, Has.Count.EqualTo(400 - 8 - 39), "scored from the first full context once 40 errors were seen");
        Assert.That(covered.Select(a => (a.Model, a.ModelVersion)).Distinct(), Is.EqualTo(new[] { (TelemanomWindowScorer.ModelName, "tm-1") }));
        Assert.That(uncovered, Is.Not.Empty);
        Assert.That(uncovered.Select(a => a.Model).Distinct(), Is.EqualTo(new[] { OnlineWindowScorer.ModelName }));
        var spike = covered.Where(a => a.Window.Bounds.StartMs / 60_000 is >= 300 and < 304).ToList();
        Assert.That(spike.Any(a => a.IsAnomaly), Is.True, "the spike is flagged");
        var contributor = spike.First(a => a.IsAnomaly).Contributors[0];
        Assert.That(contributor.Metric, Is.EqualTo("cpu"), "the spiking metric explains it");
        Assert.That(contributor.Actual, Is.EqualTo(95));
        Assert.That(contributor.Expected, Is.InRange(30, 70), "what the forecaster expected, on the metric's scale");
    }

    [Test]
    public void A_bundle_activated_mid_stream_takes_over_the_entities_the_online_detectors_scored()
    {
        var models = new ModelSetProvider();
        var scorer = Scorer(models);
        var random = new Random(7);
        var before = new List<WindowAssessment>();
        var after = new List<WindowAssessment>();
        for (var minute = 0; minute < 200; minute++)
        {
            if (minute == 100)
                models.Activate(new ModelBundle(_bundle.Info with { Version = "tm-2" }, _bundle.Forecaster, null, null));
            var assessment = scorer.Assess(Window("host-1", minute, 50 + (5 * Gaussian(random)), 40 + (3 * Gaussian(random))));
            if (assessment is not null)
                (minute < 100 ? before : after).Add(assessment);
        }

        Assert.That(before.Select(a => a.Model).Distinct(), Is.EqualTo(new[] { OnlineWindowScorer.ModelName }));
        Assert.That(after, Has.Count.EqualTo(100 - 8 - 39), "a fresh context and threshold from the activation on");
        Assert.That(after.Select(a => (a.Model, a.ModelVersion)).Distinct(), Is.EqualTo(new[] { (TelemanomWindowScorer.ModelName, "tm-2") }));
    }

    [Test]
    public void An_entity_whose_bundle_has_no_lstm_forecaster_is_scored_by_the_online_detectors()
    {
        var models = new ModelSetProvider();
        models.Activate(Bundle("vae-only", null));
        var scorer = Scorer(models);
        var random = new Random(9);

        var seen = Enumerable.Range(0, 60)
            .Select(m => scorer.Assess(Window("host-1", m, 50 + (5 * Gaussian(random)), 40 + (3 * Gaussian(random)))))
            .OfType<WindowAssessment>().Select(a => a.Model).Distinct();

        Assert.That(seen, Is.EqualTo(new[] { OnlineWindowScorer.ModelName }));
    }

    [Test]
    public void A_telemanom_scorer_restored_mid_stream_scores_the_rest_as_the_original_does()
    {
        var models = new ModelSetProvider();
        models.SetEntityBundles(new Dictionary<string, ModelBundle>(StringComparer.Ordinal) { ["covered"] = _bundle });
        var random = new Random(11);
        var windows = Enumerable.Range(0, 300).SelectMany(m => new[]
        {
            Window("covered", m, m is >= 250 and < 254 ? 95 : 50 + (5 * Gaussian(random)), 40 + (3 * Gaussian(random))),
            Window("uncovered", m, 50 + (5 * Gaussian(random)), 40 + (3 * Gaussian(random))),
        }).ToList();
        // Cut after minute 199 of 300, before the covered entity's spike.
        var original = (TelemanomWindowScorer)Scorer(models);
        foreach (var window in windows.Take(400))
            original.Assess(window);

        var restored = (TelemanomWindowScorer)Scorer(models);
        var bytes = Write(original);
        using (var reader = new BinaryReader(new MemoryStream(bytes), System.Text.Encoding.UTF8))
            restored.ReadState(reader);
        Assert.That(Write(restored), Is.EqualTo(bytes), "the restored state writes the same snapshot before any window");

        var expected = windows.Skip(400).Select(w => Describe(original.Assess(w))).ToList();
        var actual = windows.Skip(400).Select(w => Describe(restored.Assess(w))).ToList();
        Assert.That(actual, Is.EqualTo(expected));
        Assert.That(expected.Count(e => e.Contains(TelemanomWindowScorer.ModelName, StringComparison.Ordinal)), Is.EqualTo(100), "scored by telemanom, not warming up");
        Assert.That(expected.Count(e => e.Contains(OnlineWindowScorer.ModelName, StringComparison.Ordinal)), Is.EqualTo(100));

        // Restored under another version, an entity starts over, as an activation would have made it.
        models.SetEntityBundles(new Dictionary<string, ModelBundle>(StringComparer.Ordinal)
        {
            ["covered"] = new ModelBundle(_bundle.Info with { Version = "tm-3" }, _bundle.Forecaster, null, null),
        });
        var other = (TelemanomWindowScorer)Scorer(models);
        using (var reader = new BinaryReader(new MemoryStream(bytes), System.Text.Encoding.UTF8))
            other.ReadState(reader);
        Assert.That(other.Assess(windows[400]), Is.Null, "warming up again");
    }

    private static byte[] Write(TelemanomWindowScorer scorer)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            scorer.WriteState(writer);
        return stream.ToArray();
    }

    private static string Describe(WindowAssessment? a) => a is null
        ? "warming up"
        : $"{a.Window.Entity} {a.Window.Bounds} {a.Score:R} {a.Model} {a.ModelVersion} {string.Join(",", a.Contributors)} {string.Join(",", a.Members)}";

    private static IWindowScorer Scorer(ModelSetProvider models) => ScorerSelection.Factory(models,
        new ScorerSettings(BundleScorer.Telemanom, new BaselineOptions(), new DetectionOptions(), new EnsembleOptions(), Telemanom, 3))();

    private static ModelBundle Bundle(string version, Serialization.ModelArtifact? forecaster) =>
        new(new BundleInfo(version, DateTimeOffset.UnixEpoch, "test", Features, ["lstm-forecaster"], new Dictionary<string, double>()), forecaster, null, null);

    private static ClosedWindow Window(string entity, int minute, double cpu, double memory) =>
        new(entity, new WindowBounds(minute * 60_000L, (minute + 1) * 60_000L), 6, [Metric("cpu", cpu), Metric("memory", memory)]);

    private static MetricFeatures Metric(string name, double mean) =>
        new(name, 6, mean, 1, mean - 1, mean + 1, mean, mean, 0, mean, mean, mean, 0, 0);

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
