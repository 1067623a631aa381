using Streaming.Models.Networks;
using static Streaming.Models.Tests.TestSupport;

namespace Streaming.Models.Tests;

/// <summary>Forward passes against vectors written by tools/golden/generate.py with PyTorch.</summary>
public sealed class PyTorchGoldenTests
{
    [TestCase("forecaster", 5, 8, 2, 7)]
    [TestCase("forecaster_16x64", 16, 64, 1, 32)]
    public void Lstm_forecaster_forward_matches_pytorch_golden_vectors(string name, int features, int hidden, int layers, int steps)
    {
        var network = new ForecasterNetwork<float>(features, hidden, layers, steps);
        LoadGolden(name, network);
        var io = ReadTensors(name + ".io.safetensors");
        var input = io["input"];
        var prediction = new float[features];
        for (var b = 0; b < input.Shape[0]; b++)
        {
            network.Forward(Row(input, b), prediction);
            AssertClose(prediction, Row(io["prediction"], b), $"{name} sample {b}");
        }
    }

    [Test]
    public void Lstm_forecaster_gradients_match_pytorch_autograd()
    {
        var network = new ForecasterNetwork<float>(5, 8, 2, 7);
        LoadGolden("forecaster", network);
        var io = ReadTensors("forecaster.io.safetensors");
        var loss = network.ForwardBackward(Row(io["input"], 0), Row(io["target"], 0));
        Assert.That(loss, Is.EqualTo(io["loss"].Data[0]).Within(1e-5 * io["loss"].Data[0]));
        foreach (var parameter in network.Parameters)
        {
            AssertClose(parameter.Grad, io["grad." + parameter.Name].Data, parameter.Name, 1e-4, 1e-6);
        }
    }

    [TestCase("Dense", "vae_dense")]
    [TestCase("Lstm", "vae_lstm")]
    public void Vae_forward_and_score_match_pytorch_golden_vectors(string encoder, string name)
    {
        var kind = Enum.Parse<VaeEncoderKind>(encoder);
        var network = new VaeNetwork<float>(kind, 4, 6, 10, 3);
        LoadGolden(name, network);
        var scorer = new Scoring.VaeScorer(TestManifests.Vae(kind), network);
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

    [Test]
    public void Downtime_predictor_forward_matches_pytorch_golden_vectors()
    {
        var network = new DowntimeNetwork<float>(6, 12, 1, 9, 3);
        LoadGolden("downtime", network);
        var predictor = new Scoring.DowntimePredictor(TestManifests.Downtime(), network);
        var io = ReadTensors("downtime.io.safetensors");
        var raw = new float[4];
        var probabilities = new float[3];
        for (var b = 0; b < io["input"].Shape[0]; b++)
        {
            var input = Row(io["input"], b);
            var expected = Row(io["output"], b);
            network.Forward(input, raw);
            AssertClose(raw, expected, "raw outputs");

            var time = predictor.Predict(input, probabilities);
            Assert.That(time, Is.EqualTo(MathF.Max(0, expected[0]) * 10f).Within(1e-4));
            for (var k = 0; k < 3; k++)
            {
                Assert.That(probabilities[k], Is.EqualTo(1 / (1 + Math.Exp(-expected[1 + k]))).Within(1e-6));
            }
        }
    }
}
