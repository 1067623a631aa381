using System.Numerics.Tensors;
using Streaming.Models.Networks;
using Streaming.Models.Serialization;

namespace Streaming.Models.Scoring;

/// <summary>
/// Anomaly scorer from a (LSTM-)VAE: score = Σ (x̂ - x)² + KL(q(z|x) ‖ N(0, I)), decoding z = mu (no sampling).
/// Contributions are each feature's share of the reconstruction error summed over time; KL has no per-feature split.
/// </summary>
internal sealed class VaeScorer : IAnomalyScorer
{
    private readonly VaeNetwork<float> network;
    private readonly float[] reconstruction;
    private readonly float[] squaredError;
    private readonly float[] mu;
    private readonly float[] logVar;

    public VaeScorer(ModelManifest manifest, VaeNetwork<float> network)
    {
        Manifest = manifest;
        this.network = network;
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
        var network = new VaeNetwork<float>(a.Encoder, a.InputSize, a.SequenceLength, a.HiddenSize, a.LatentSize, a.NumLayers);
        ModelArtifact.LoadInto(artifact.Tensors, network);
        return new VaeScorer(artifact.Manifest, network);
    }

    /// <summary>The last window's reconstruction [T, F] (valid until the next call).</summary>
    public ReadOnlySpan<float> Reconstruction => reconstruction;

    public ReadOnlySpan<float> Mu => mu;

    public ReadOnlySpan<float> LogVariance => logVar;

    public float Score(ReadOnlySpan<float> sequence, Span<float> perFeatureContribution)
    {
        ScoringGuards.CheckShapes(sequence, SequenceLength, InputSize, perFeatureContribution);
        network.Forward(sequence, [], reconstruction, mu, logVar);
        TensorPrimitives.Subtract(reconstruction, sequence, squaredError);
        TensorPrimitives.Multiply(squaredError, squaredError, squaredError);
        perFeatureContribution.Clear();
        for (var t = 0; t < SequenceLength; t++)
        {
            TensorPrimitives.Add(perFeatureContribution, squaredError.AsSpan(t * InputSize, InputSize), perFeatureContribution);
        }

        var score = TensorPrimitives.Sum<float>(perFeatureContribution) + VaeNetwork<float>.KlDivergence(mu, logVar);
        ScoringGuards.ToShares(perFeatureContribution);
        return score;
    }
}
