using Streaming.Models.Kernels;
using Streaming.Models.Networks;
using Streaming.Models.Scoring;

namespace Streaming.Models.Tests;

public sealed class KernelTests
{
    [TestCase(1, 64, 256)]
    [TestCase(4, 16, 256)]
    [TestCase(7, 5, 37)]
    [TestCase(9, 3, 15)]
    public void Float_gemm_matches_a_double_precision_reference_for_blocked_and_remainder_shapes(int rows, int k, int n)
    {
        var random = new Random(rows * 1000 + n);
        float[] Random(int length) => [.. Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2) - 1))];
        var a = Random(rows * k);
        var b = Random(k * n);
        var c = Random(rows * n);
        var expected = new double[rows * n];
        for (var r = 0; r < rows; r++)
        {
            for (var j = 0; j < n; j++)
            {
                expected[(r * n) + j] = c[(r * n) + j] + Enumerable.Range(0, k).Sum(p => (double)a[(r * k) + p] * b[(p * n) + j]);
            }
        }

        Gemm.Accumulate<float>(a, rows, b, n, c);
        for (var i = 0; i < c.Length; i++)
        {
            Assert.That(c[i], Is.EqualTo(expected[i]).Within(1e-5 * Math.Max(1, Math.Abs(expected[i]))), $"c[{i}]");
        }
    }

    [TestCase("forecaster", 5, 8, 2, 7)]
    [TestCase("forecaster_16x64", 16, 64, 1, 32)]
    public void Batched_forecaster_forward_matches_pytorch_golden_vectors(string name, int features, int hidden, int layers, int steps)
    {
        var network = new ForecasterNetwork<float>(features, hidden, layers, steps);
        TestSupport.LoadGolden(name, network);
        var io = TestSupport.ReadTensors(name + ".io.safetensors");
        var batch = io["input"].Shape[0];
        var predictions = new float[batch * features];
        network.ForwardBatch(io["input"].Data, steps * features, batch, network.CreateBatchState(batch), predictions);
        TestSupport.AssertClose(predictions, io["prediction"].Data, name);
    }

    [Test]
    public void Batch_scoring_equals_scoring_windows_one_at_a_time()
    {
        var random = new Random(12);
        var network = new ForecasterNetwork<float>(3, 8, 2, 5);
        network.Initialize(random);
        var scorer = new LstmForecaster(TestManifests.Forecaster(3, 8, 6), network);
        const int batch = 6;
        var windows = TestSupport.RandomArray(random, batch * 6 * 3).Select(v => (float)v).ToArray();
        var scores = new float[batch];
        var contributions = new float[batch * 3];
        scorer.ScoreBatch(windows, scores, contributions);
        var single = new float[3];
        for (var b = 0; b < batch; b++)
        {
            var score = scorer.Score(windows.AsSpan(b * 18, 18), single);
            Assert.That(scores[b], Is.EqualTo(score).Within(1e-5 * score));
            TestSupport.AssertClose(contributions.AsSpan(b * 3, 3), single, "contribution");
        }
    }

    [Test]
    public void Parallel_scoring_across_entities_equals_sequential_scoring()
    {
        var random = new Random(13);
        var network = new ForecasterNetwork<float>(3, 8, 1, 5);
        network.Initialize(random);
        var manifest = TestManifests.Forecaster(3, 8, 6);
        var workers = Enumerable.Range(0, 3).Select(_ =>
        {
            var copy = new ForecasterNetwork<float>(3, 8, 1, 5);
            for (var i = 0; i < copy.Parameters.Count; i++)
            {
                network.Parameters[i].Value.CopyTo(copy.Parameters[i].Value, 0);
            }

            copy.OnParametersChanged();
            return (IAnomalyScorer)new LstmForecaster(manifest, copy);
        }).ToList();
        const int entities = 10;
        var windows = TestSupport.RandomArray(random, entities * 18).Select(v => (float)v).ToArray();
        var scores = new float[entities];
        var contributions = new float[entities * 3];
        new ParallelScoring(workers).Score(windows, scores, contributions);

        var sequential = new LstmForecaster(manifest, network);
        var single = new float[3];
        for (var e = 0; e < entities; e++)
        {
            Assert.That(scores[e], Is.EqualTo(sequential.Score(windows.AsSpan(e * 18, 18), single)));
            Assert.That(contributions.AsSpan(e * 3, 3).ToArray(), Is.EqualTo(single));
        }
    }
}
