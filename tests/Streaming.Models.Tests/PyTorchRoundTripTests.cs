using System.Diagnostics;
using Streaming.Models.Networks;
using Streaming.Models.Serialization;
using Streaming.Models.Torch;
using Streaming.Models.Training;
using TorchSharp;

namespace Streaming.Models.Tests;

/// <summary>
/// The other direction of the golden tests: models trained here, saved as artifacts, load into PyTorch modules
/// (tools/golden/check_trained.py with Debian's python3-torch) and give the outputs TorchSharp gave.
/// </summary>
public sealed class PyTorchRoundTripTests
{
    private const string Python = "/usr/bin/python3";

    [Test]
    public void Models_trained_here_load_in_pytorch_with_the_same_outputs()
    {
        RequirePyTorch();
        var directory = Path.Combine(Path.GetTempPath(), "streaming-roundtrip-" + Guid.NewGuid().ToString("N"));
        try
        {
            var random = new Random(21);
            var data = Enumerable.Range(0, 600 * 3).Select(i => (float)(Math.Sin(i * 0.07) + (0.1 * random.NextDouble()))).ToArray();
            var options = new TrainingOptions { Epochs = 2, BatchSize = 16, Seed = 4 };

            var forecaster = ModelTraining.TrainForecaster(data, ["a", "b", "c"], 8, 2, 10, options);
            Save(directory, "forecaster", forecaster.Artifact, forecaster.Model.Network, random, 10, 3, raw => new() { ["prediction"] = raw });

            var vae = ModelTraining.TrainVae(data, ["a", "b", "c"], VaeEncoderKind.Lstm, 8, 8, 3, 4, options);
            var vaeNetwork = new VaeNetwork(VaeEncoderKind.Lstm, 3, 8, 8, 3);
            TensorData.Load(vae.Artifact.Tensors, vaeNetwork);
            vaeNetwork.eval();
            SaveVae(directory, vae.Artifact, vaeNetwork, random);

            var samples = Enumerable.Range(0, 64).Select(i => new DowntimeSample(
                [.. Enumerable.Range(0, 12 * 3).Select(_ => (float)random.NextDouble())], i / 64f, [i < 8 ? 1 : 0, i < 24 ? 1 : 0])).ToList();
            var statistics = new NormalizationStatistics(new float[3], [1, 1, 1]);
            var downtime = ModelTraining.TrainDowntimePredictor(samples[..48], samples[48..], ["a", "b", "c"], statistics, [5, 10], 50, 12, 8, 2,
                options, head: new DowntimeHead(ConvChannels: 4, ConvKernel: 3, Attention: true, HiddenSize: 6, Dropout: 0.1, Smoothing: 0.4));
            var downtimeNetwork = new DowntimeNetwork(downtime.Artifact.Manifest.Architecture.DowntimeShape());
            TensorData.Load(downtime.Artifact.Tensors, downtimeNetwork);
            downtimeNetwork.eval();
            Save(directory, "downtime", downtime.Artifact, downtimeNetwork, random, 12, 3,
                raw => new() { ["output"] = raw, ["probabilities"] = DowntimeNetwork.Probabilities(raw) });

            var (exit, output) = Run(Python, $"{Repository("tools", "golden", "check_trained.py")} {directory}");
            TestContext.Out.WriteLine(output);
            Assert.That(exit, Is.Zero, output);
            Assert.That(output, Does.Contain("downtime.probabilities: ok").And.Contain("vae.score: ok").And.Contain("forecaster.prediction: ok"));
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private static void Save(
        string directory, string name, ModelArtifact artifact, torch.nn.Module<torch.Tensor, torch.Tensor> network, Random random, int steps, int features,
        Func<torch.Tensor, Dictionary<string, torch.Tensor>> outputs)
    {
        artifact.Save(Path.Combine(directory, name));
        var input = Enumerable.Range(0, 4 * steps * features).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var x = TensorData.From(input, 4, steps, features);
        var tensors = new List<NamedTensor> { new("input", [4, steps, features], input) };
        foreach (var (key, value) in outputs(network.call(x)))
        {
            tensors.Add(new NamedTensor(key, [.. value.shape.Select(d => (int)d)], TensorData.Span(value.contiguous()).ToArray()));
        }

        File.WriteAllBytes(Path.Combine(directory, name + ".io.safetensors"), SafeTensors.Write(tensors));
    }

    private static void SaveVae(string directory, ModelArtifact artifact, VaeNetwork network, Random random)
    {
        artifact.Save(Path.Combine(directory, "vae"));
        var input = Enumerable.Range(0, 4 * 8 * 3).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var x = TensorData.From(input, 4, 8, 3);
        var (reconstruction, mu, logVar) = network.Forward(x, sample: false);
        var score = VaeNetwork.Loss(x, reconstruction, mu, logVar);
        NamedTensor Named(string key, torch.Tensor t) => new(key, [.. t.shape.Select(d => (int)d)], TensorData.Span(t.contiguous()).ToArray());
        File.WriteAllBytes(Path.Combine(directory, "vae.io.safetensors"), SafeTensors.Write(
            [new("input", [4, 8, 3], input), Named("reconstruction", reconstruction), Named("mu", mu), Named("logvar", logVar), Named("score", score)]));
    }

    /// <summary>Without Debian's python3-torch this direction cannot be checked: say so instead of passing.</summary>
    private static void RequirePyTorch()
    {
        if (!File.Exists(Python) || Run(Python, "-c \"import torch\"").Exit != 0)
        {
            Assert.Ignore("Debian's python3-torch is not installed (`apt-get install python3-torch`): the PyTorch direction was not checked.");
        }
    }

    private static (int Exit, string Output) Run(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static string Repository(params string[] parts)
    {
        var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Directory.Packages.props")))
        {
            directory = directory.Parent;
        }

        Assert.That(directory, Is.Not.Null, "repository root not found above the test directory");
        return Path.Combine([directory!.FullName, .. parts]);
    }
}
