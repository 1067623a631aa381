using Streaming.Models.Drift;
using Streaming.Models.Training;

namespace Streaming.Models.Tests;

public sealed class DriftTests
{
    private static double[] Normal(Random random, int n, double mean, double std) =>
        [.. Enumerable.Range(0, n).Select(_ => mean + (std * Gaussian.Next(random)))];

    [Test]
    public void Psi_and_ks_stay_small_for_the_same_distribution_and_grow_under_a_shift()
    {
        var random = new Random(9);
        var reference = new DriftReference(Normal(random, 10_000, 0, 1));
        var same = Normal(random, 5_000, 0, 1);
        var shifted = Normal(random, 5_000, 0.5, 1);

        Assert.That(reference.PopulationStabilityIndex(same), Is.LessThan(0.02));
        Assert.That(reference.KolmogorovSmirnov(same), Is.LessThan(0.04));
        Assert.That(reference.PopulationStabilityIndex(shifted), Is.GreaterThan(0.2));
        Assert.That(reference.KolmogorovSmirnov(shifted), Is.EqualTo(0.19).Within(0.03));
    }

    [Test]
    public void Drift_monitor_reports_only_the_feature_that_moved()
    {
        var random = new Random(10);
        float[] Matrix(double shift) => [.. Enumerable.Range(0, 4_000).SelectMany(_ => new[] { (float)Gaussian.Next(random), (float)(Gaussian.Next(random) + shift) })];
        var monitor = new DriftMonitor(Matrix(0), 2, Normal(random, 4_000, 1, 0.2));
        var report = monitor.Evaluate(Matrix(1.0), Normal(random, 4_000, 1, 0.2));

        Assert.That(report.FeaturePsi[0], Is.LessThan(0.05));
        Assert.That(report.FeaturePsi[1], Is.GreaterThan(0.5));
        Assert.That(report.ScorePsi, Is.LessThan(0.05));
    }

    [Test]
    public void A_drift_baseline_restored_from_its_manifest_snapshot_gives_the_same_answers()
    {
        var random = new Random(11);
        float[] Matrix(double shift) => [.. Enumerable.Range(0, 3_000).SelectMany(_ => new[] { (float)Gaussian.Next(random), (float)(Gaussian.Next(random) + shift) })];
        var original = new DriftMonitor(Matrix(0), 2, Normal(random, 3_000, 1, 0.2));
        var json = System.Text.Json.JsonSerializer.Serialize(original.ToBaseline());
        var restored = new DriftMonitor(System.Text.Json.JsonSerializer.Deserialize<DriftBaseline>(json)!);
        var live = Matrix(0.7);
        var scores = Normal(random, 3_000, 1.2, 0.2);
        var a = original.Evaluate(live, scores);
        var b = restored.Evaluate(live, scores);

        Assert.That(b.FeaturePsi, Is.EqualTo(a.FeaturePsi));
        Assert.That(b.FeatureKs, Is.EqualTo(a.FeatureKs));
        Assert.That(b.ScorePsi, Is.EqualTo(a.ScorePsi).And.GreaterThan(0.5));
    }
}
