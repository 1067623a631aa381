using Streaming.Models.Networks;
using Streaming.Models.Scoring;
using Streaming.Models.Torch;
using TorchSharp;
using static Streaming.Models.Tests.TestSupport;

namespace Streaming.Models.Tests;

/// <summary>Forward passes against vectors written by tools/golden/generate.py with PyTorch.</summary>
public sealed class PyTorchGoldenTests
{
    [TestCase("forecaster", 5, 8, 2, 7)]
    [TestCase("forecaster_16x64", 16, 64, 1, 32)]
    public void Lstm_forecaster_forward_matches_pytorch_golden_vectors(string name, int features, int hidden, int layers, int steps)
    {
        var network = new ForecasterNetwork(features, hidden, layers, steps);
        LoadGolden(name, network);
        var io = ReadTensors(name + ".io.safetensors");
        var input = io["input"];
        using var batch = TensorData.From(input.Data, input.Shape[0], steps, features);
        using var noGrad = torch.no_grad();
        using var prediction = network.call(batch);
        AssertClose(TensorData.Span(prediction), io["prediction"].Data, name);

        // The scorer's single-window path gives the same prediction: with a zero "observed" vector the error is −prediction.
        var scorer = new LstmForecaster(TestManifests.Forecaster(features, hidden, steps + 1) with { ErrorScale = null }, network);
        for (var b = 0; b < input.Shape[0]; b++)
        {
            var window = new float[(steps + 1) * features];
            Row(input, b).CopyTo(window, 0);
            var contribution = new float[features];
            var score = scorer.Score(window, contribution);
            var expected = Row(io["prediction"], b);
            var meanSquare = expected.Sum(v => (double)v * v) / features;
            Assert.That(score, Is.EqualTo(meanSquare).Within(1e-5 * meanSquare), $"{name} sample {b} score");
        }
    }

    [Test]
    public void Lstm_forecaster_gradients_of_our_loss_match_pytorch_autograd()
    {
        var network = new ForecasterNetwork(5, 8, 2, 7);
        LoadGolden("forecaster", network);
        var io = ReadTensors("forecaster.io.safetensors");
        using var input = TensorData.From(Row(io["input"], 0), 1, 7, 5);
        using var target = TensorData.From(Row(io["target"], 0), 1, 5);
        network.zero_grad();
        using var loss = (network.call(input) - target).square().mean();
        loss.backward();
        Assert.That(loss.item<float>(), Is.EqualTo(io["loss"].Data[0]).Within(1e-5 * io["loss"].Data[0]));
        foreach (var (name, parameter) in network.named_parameters())
        {
            using var grad = parameter.grad!.contiguous();
            AssertClose(TensorData.Span(grad), io["grad." + name].Data, name, 1e-4, 1e-6);
        }
    }

    [TestCase("Dense", "vae_dense")]
    [TestCase("Lstm", "vae_lstm")]
    public void Vae_forward_and_score_match_pytorch_golden_vectors(string encoder, string name)
    {
        var kind = Enum.Parse<VaeEncoderKind>(encoder);
        var network = new VaeNetwork(kind, 4, 6, 10, 3);
        LoadGolden(name, network);
        var scorer = new VaeScorer(TestManifests.Vae(kind), network);
        var io = ReadTensors(name + ".io.safetensors");
        var contribution = new float[4];
        for (var b = 0; b < io["input"].Shape[0]; b++)
        {
            var score = scorer.Score(Row(io["input"], b), contribution);
            AssertClose(scorer.Reconstruction, Row(io["reconstruction"], b), "reconstruction");
            AssertClose(scorer.Mu, Row(io["mu"], b), "mu");
            AssertClose(scorer.LogVariance, Row(io["logvar"], b), "logvar");
            AssertClose([score], [io["score"].Data[b]], "score");
            Assert.That(contribution.Sum(), Is.EqualTo(1f).Within(1e-5));
        }
    }

    [TestCase("downtime", false)]
    [TestCase("downtime_full", true)]
    public void Downtime_predictor_forward_and_probabilities_match_pytorch_golden_vectors(string name, bool full)
    {
        var manifest = TestManifests.Downtime(full);
        var network = new DowntimeNetwork(manifest.Architecture.DowntimeShape());
        LoadGolden(name, network);
        var predictor = new DowntimePredictor(manifest, network);
        var io = ReadTensors(name + ".io.safetensors");
        var input = io["input"];
        using (torch.no_grad())
        {
            using var batch = TensorData.From(input.Data, input.Shape[0], 9, 6);
            using var raw = network.call(batch);
            AssertClose(TensorData.Span(raw), io["output"].Data, name + " raw outputs");
        }

        var probabilities = new float[3];
        for (var b = 0; b < input.Shape[0]; b++)
        {
            var expected = Row(io["output"], b);
            var time = predictor.Predict(Row(input, b), probabilities);
            Assert.That(time, Is.EqualTo(MathF.Max(0, expected[0]) * 10f).Within(1e-4));
            AssertClose(probabilities, Row(io["probabilities"], b), name + " probabilities");
        }

        var times = new float[input.Shape[0]];
        var batched = new float[input.Shape[0] * 3];
        predictor.PredictBatch(input.Data, times, batched);
        AssertClose(batched, io["probabilities"].Data, name + " batched probabilities");
    }

    [Test]
    public void Smoothing_matrix_applies_the_exponential_recursion_from_the_first_step()
    {
        const double alpha = 0.3;
        var matrix = DowntimeNetwork.SmoothingMatrix(alpha, 6);
        double[] x = [4, -1, 2, 7, 0, 3];
        var smoothed = x[0];
        for (var t = 0; t < 6; t++)
        {
            smoothed = t == 0 ? x[0] : (alpha * x[t]) + ((1 - alpha) * smoothed);
            var row = Enumerable.Range(0, 6).Sum(j => matrix[(t * 6) + j] * x[j]);
            Assert.That(row, Is.EqualTo(smoothed).Within(1e-5), $"step {t}");
            Assert.That(Enumerable.Range(0, 6).Sum(j => matrix[(t * 6) + j]), Is.EqualTo(1).Within(1e-6), "a constant series stays constant");
            Assert.That(Enumerable.Range(t + 1, 5 - t).All(j => matrix[(t * 6) + j] == 0), Is.True, "no step sees the future");
        }
    }
}
