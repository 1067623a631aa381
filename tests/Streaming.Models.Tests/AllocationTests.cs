using Streaming.Models.Networks;
using Streaming.Models.Scoring;

namespace Streaming.Models.Tests;

/// <summary>
/// What scoring allocates on the managed heap per call. LibTorch's tensors live in native memory, but every TorchSharp
/// tensor handle and the no-grad / dispose scopes are small managed objects, so a forward pass is not allocation-free;
/// these budgets (about 1.5× what was measured) catch a regression such as copying weights or inputs per call.
/// </summary>
public sealed class AllocationTests
{
    private static long AllocatedPerCall(Action action)
    {
        action();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            action();
        }

        return (GC.GetAllocatedBytesForCurrentThread() - before) / 100;
    }

    [Test]
    public void Scoring_and_prediction_stay_within_their_managed_allocation_budget_per_call()
    {
        var random = new Random(14);
        var forecaster = new LstmForecaster(TestManifests.Forecaster(4, 8, 10), new ForecasterNetwork(4, 8, 2, 9));
        var window = TestSupport.RandomArray(random, 40).Select(v => (float)v).ToArray();
        var batchWindows = TestSupport.RandomArray(random, 64 * 40).Select(v => (float)v).ToArray();
        var contribution = new float[4];
        var scores = new float[64];
        var contributions = new float[64 * 4];
        var vae = new VaeScorer(TestManifests.Vae(VaeEncoderKind.Lstm), new VaeNetwork(VaeEncoderKind.Lstm, 4, 6, 10, 3));
        var vaeWindow = window.AsSpan(0, 24).ToArray();
        var manifest = TestManifests.Downtime(full: true);
        var downtime = new DowntimePredictor(manifest, new DowntimeNetwork(manifest.Architecture.DowntimeShape()));
        var downtimeWindow = TestSupport.RandomArray(random, 54).Select(v => (float)v).ToArray();
        var probabilities = new float[3];

        var measured = new Dictionary<string, long>
        {
            ["forecaster"] = AllocatedPerCall(() => forecaster.Score(window, contribution)),
            ["forecaster batch of 64"] = AllocatedPerCall(() => forecaster.ScoreBatch(batchWindows, scores, contributions)),
            ["VAE"] = AllocatedPerCall(() => vae.Score(vaeWindow, contribution)),
            ["downtime predictor"] = AllocatedPerCall(() => downtime.Predict(downtimeWindow, probabilities)),
        };
        foreach (var (what, bytes) in measured)
        {
            TestContext.Out.WriteLine($"{what}: {bytes} B per call");
        }

        Assert.That(measured["forecaster"], Is.LessThanOrEqualTo(1_536), "forecaster");
        Assert.That(measured["forecaster batch of 64"], Is.LessThanOrEqualTo(2_500), "forecaster batch (per batch, not per window)");
        Assert.That(measured["VAE"], Is.LessThanOrEqualTo(2_700), "VAE");
        Assert.That(measured["downtime predictor"], Is.LessThanOrEqualTo(5_700), "downtime predictor");
    }
}
