using Streaming.Models.Networks;
using Streaming.Models.Scoring;

namespace Streaming.Models.Tests;

/// <summary>The hot path must not allocate per scored window (BenchmarkDotNet's MemoryDiagnoser shows the same for the benchmark shape).</summary>
public sealed class AllocationTests
{
    private static long AllocatedBy(Action action)
    {
        action();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            action();
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Test]
    public void Scoring_and_prediction_allocate_nothing_per_window()
    {
        var random = new Random(14);
        var forecasterNetwork = new ForecasterNetwork<float>(4, 8, 2, 9);
        forecasterNetwork.Initialize(random);
        var forecaster = new LstmForecaster(TestManifests.Forecaster(4, 8, 10), forecasterNetwork);
        var window = TestSupport.RandomArray(random, 40).Select(v => (float)v).ToArray();
        var batchWindows = TestSupport.RandomArray(random, 8 * 40).Select(v => (float)v).ToArray();
        var contribution = new float[4];
        var scores = new float[8];
        var contributions = new float[32];

        var vaeNetwork = new VaeNetwork<float>(VaeEncoderKind.Lstm, 4, 6, 10, 3);
        vaeNetwork.Initialize(random);
        var vae = new VaeScorer(TestManifests.Vae(VaeEncoderKind.Lstm), vaeNetwork);
        var vaeWindow = window.AsSpan(0, 24).ToArray();

        var downtimeNetwork = new DowntimeNetwork<float>(6, 12, 1, 9, 3);
        downtimeNetwork.Initialize(random);
        var downtime = new DowntimePredictor(TestManifests.Downtime(), downtimeNetwork);
        var downtimeWindow = TestSupport.RandomArray(random, 54).Select(v => (float)v).ToArray();
        var probabilities = new float[3];

        Assert.That(AllocatedBy(() => forecaster.Score(window, contribution)), Is.Zero, "forecaster");
        Assert.That(AllocatedBy(() => forecaster.ScoreBatch(batchWindows, scores, contributions)), Is.Zero, "forecaster batch");
        Assert.That(AllocatedBy(() => vae.Score(vaeWindow, contribution)), Is.Zero, "VAE");
        Assert.That(AllocatedBy(() => downtime.Predict(downtimeWindow, probabilities)), Is.Zero, "downtime predictor");
    }
}
