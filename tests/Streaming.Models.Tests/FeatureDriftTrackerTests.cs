using Streaming.Contracts;
using Streaming.Models.Drift;
using Streaming.Models.Pipeline;
using Streaming.Models.Training;
using Streaming.Processing.Windows;

namespace Streaming.Models.Tests;

/// <summary>The drift state machine against a real bundle's training reference: open, stay open, resolve, cooldown.</summary>
public sealed class FeatureDriftTrackerTests
{
    private static readonly DriftOptions Options = new()
    {
        Windows = 500, MinWindows = 500, EvaluateEvery = 50, Threshold = 0.25, ResolveAfterEvaluations = 2, Cooldown = TimeSpan.FromHours(10),
    };

    private ModelBundle _bundle = null!;
    private long _minute;

    [OneTimeSetUp]
    public void Train()
    {
        // Reference: cpu ~ N(50, 5), memory ~ N(40, 3), one row per window.
        var random = new Random(1);
        var data = new float[2500 * 2];
        for (var i = 0; i < 2500; i++)
        {
            data[2 * i] = (float)(50 + (5 * Gaussian(random)));
            data[(2 * i) + 1] = (float)(40 + (3 * Gaussian(random)));
        }
        string[] features = ["cpu.mean", "memory.mean"];
        var forecaster = ModelTraining.TrainForecaster(data, features, 4, 1, 8, new TrainingOptions { Epochs = 1, Seed = 1 });
        _bundle = new ModelBundle(new BundleInfo("ref-1", DateTimeOffset.UnixEpoch, "test", features, ["lstm-forecaster"], new Dictionary<string, double>()),
            forecaster.Artifact, null, null);
    }

    [Test]
    public void A_bundle_without_a_training_reference_is_not_monitored()
    {
        var old = new ModelBundle(_bundle.Info, new Serialization.ModelArtifact(_bundle.Forecaster!.Manifest with { Drift = null }, _bundle.Forecaster.Tensors), null, null);
        Assert.That(FeatureDriftTracker.For(old, Options), Is.Null);
    }

    [Test]
    public void Drift_opens_once_resolves_after_quiet_comparisons_and_does_not_reopen_within_the_cooldown()
    {
        _minute = 0;
        var tracker = FeatureDriftTracker.For(_bundle, Options)!;
        var random = new Random(2);

        Assert.That(Feed(tracker, random, 1000, shift: 0), Is.Empty, "a stationary feed opens nothing");
        var shifted = Feed(tracker, random, 600, shift: 20);
        Assert.That(shifted, Is.EqualTo(new[] { DriftTransition.Opened }), "a lasting shift opens once");
        Assert.That(tracker.IsOpen);
        Assert.That(Feed(tracker, random, 700, shift: 0), Is.EqualTo(new[] { DriftTransition.Resolved }));

        // The sample must mostly refill before drift resolves, so the resolve came at most about 300 minutes before the
        // end of the normal stretch; the next 200 minutes of a returning shift fall inside the 10-hour cooldown.
        var again = Feed(tracker, random, 200, shift: 20);
        Assert.That(again, Is.Empty, "within the cooldown");
        var later = Feed(tracker, random, 800, shift: 20);
        Assert.That(later, Is.EqualTo(new[] { DriftTransition.Opened }), "after the cooldown the lasting shift opens again");
    }

    [Test]
    public void The_evaluation_names_the_shifted_feature_with_training_and_live_means()
    {
        _minute = 0;
        var tracker = FeatureDriftTracker.For(_bundle, Options)!;
        DriftEvaluation? last = null;
        var random = new Random(3);
        for (var i = 0; i < 500; i++)
            last = tracker.Add(Window(50 + 20 + (5 * Gaussian(random)), 40 + (3 * Gaussian(random)))) ?? last;
        Assert.That(last, Is.Not.Null);
        Assert.That(last!.Psi[0], Is.GreaterThan(1), "cpu drifted");
        Assert.That(last.Psi[1], Is.LessThan(0.25), "memory did not");
        Assert.That(last.LiveMean[0] - last.ReferenceMean[0], Is.EqualTo(20).Within(3));
        Assert.That(last.Ks[0], Is.GreaterThan(0.8));
    }

    [Test]
    public void With_sample_every_an_entitys_windows_enter_the_sample_at_most_once_per_interval()
    {
        _minute = 0;
        var tracker = FeatureDriftTracker.For(_bundle, Options with { SampleEvery = TimeSpan.FromMinutes(10) })!;
        var random = new Random(4);
        DriftEvaluation? first = null;
        var windows = 0;
        while (first is null && windows < 10_000)
        {
            first = tracker.Add(Window(50 + (5 * Gaussian(random)), 40 + (3 * Gaussian(random))));
            windows++;
        }
        Assert.That(first, Is.Not.Null);
        Assert.That(windows, Is.EqualTo((Options.MinWindows * 10) - 9), "one-minute windows of one entity: every tenth is sampled");
        Assert.That(first!.LastWindowEndMs - first.FirstWindowEndMs, Is.EqualTo((Options.MinWindows - 1) * 10 * 60_000L), "the sample spans ten times longer");
    }

    private List<DriftTransition> Feed(FeatureDriftTracker tracker, Random random, int windows, double shift)
    {
        var transitions = new List<DriftTransition>();
        for (var i = 0; i < windows; i++)
        {
            if (tracker.Add(Window(50 + shift + (5 * Gaussian(random)), 40 + (3 * Gaussian(random)))) is { Transition: not DriftTransition.None } e)
                transitions.Add(e.Transition);
        }
        return transitions;
    }

    private ClosedWindow Window(double cpu, double memory)
    {
        var start = _minute++ * 60_000;
        return new ClosedWindow("machine-1", new WindowBounds(start, start + 60_000), 6,
        [
            new MetricFeatures("cpu", 6, cpu, 0, cpu, cpu, cpu, cpu, 0, cpu, null, null, null, null),
            new MetricFeatures("memory", 6, memory, 0, memory, memory, memory, memory, 0, memory, null, null, null, null),
        ]);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
