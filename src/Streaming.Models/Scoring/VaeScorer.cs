using System.Numerics.Tensors;
using Streaming.Models.Networks;
using Streaming.Models.Serialization;
using Streaming.Models.Torch;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Streaming.Models.Scoring;

/// <summary>
/// Anomaly scorer from a (LSTM-)VAE: score = Σ (x̂ - x)² + KL(q(z|x) ‖ N(0, I)), decoding z = mu (no sampling).
/// Contributions are each feature's share of the reconstruction error summed over time; KL has no per-feature split.
/// Runs under no-grad on the calling thread with one intra-op thread; not thread-safe.
/// </summary>
internal sealed class VaeScorer : IAnomalyScorer
{
    private readonly VaeNetwork network;
    private readonly Tensor input;
    private readonly float[] reconstruction;
    private readonly float[] squaredError;
    private readonly float[] mu;
    private readonly float[] logVar;

    public VaeScorer(ModelManifest manifest, VaeNetwork network)
    {
        Manifest = manifest;
        this.network = network;
        network.eval();
        input = empty([1, network.SequenceLength, network.InputSize]).DetachFromDisposeScope();
        reconstruction = new float[network.SequenceLength * network.InputSize];
        squaredError = new float[reconstruction.Length];
        mu = new float[network.LatentSize];
        logVar = new float[network.LatentSize];
    }

    public ModelManifest Manifest { get; }

    public int InputSize => network.InputSize;

    public int SequenceLength => network.SequenceLength;

    public static VaeScorer FromArtifact(ModelArtifact artifact)
    {
        ModelLoader.RequireKind(artifact, ModelKind.Vae);
        var a = artifact.Manifest.Architecture;
        var network = new VaeNetwork(a.Encoder, a.InputSize, a.SequenceLength, a.HiddenSize, a.LatentSize, a.NumLayers);
        TensorData.Load(artifact.Tensors, network);
        return new VaeScorer(artifact.Manifest, network);
    }

    /// <summary>The last window's reconstruction [T, F] (valid until the next call).</summary>
    public ReadOnlySpan<float> Reconstruction => reconstruction;

    public ReadOnlySpan<float> Mu => mu;

    public ReadOnlySpan<float> LogVariance => logVar;

    public float Score(ReadOnlySpan<float> sequence, Span<float> perFeatureContribution)
    {
        ScoringGuards.CheckShapes(sequence, SequenceLength, InputSize, perFeatureContribution);
        TorchRuntime.UseScoringThread();
        sequence.CopyTo(TensorData.Span(input));
        using (NewDisposeScope())
        using (no_grad())
        {
            var (x, m, v) = network.Forward(input, sample: false);
            TensorData.Span(x).CopyTo(reconstruction);
            TensorData.Span(m).CopyTo(mu);
            TensorData.Span(v).CopyTo(logVar);
        }

        TensorPrimitives.Subtract(reconstruction, sequence, squaredError);
        TensorPrimitives.Multiply(squaredError, squaredError, squaredError);
        perFeatureContribution.Clear();
        for (var t = 0; t < SequenceLength; t++)
        {
            TensorPrimitives.Add(perFeatureContribution, squaredError.AsSpan(t * InputSize, InputSize), perFeatureContribution);
        }

        var kl = 0f;
        for (var j = 0; j < mu.Length; j++)
        {
            kl += 1 + logVar[j] - (mu[j] * mu[j]) - MathF.Exp(logVar[j]);
        }

        var score = TensorPrimitives.Sum<float>(perFeatureContribution) - (kl / 2);
        ScoringGuards.ToShares(perFeatureContribution);
        return score;
    }
}
