using System.Numerics.Tensors;
using Streaming.Models.Networks;
using Streaming.Models.Serialization;

namespace Streaming.Models.Scoring;

/// <summary>
/// Anomaly scorer that forecasts the newest vector of the window from the T-1 before it, so the newest observation
/// is the one judged. Score = mean over features of (prediction - actual)² / residual variance (the manifest's
/// ErrorScale, measured on validation data), i.e. about 1 for a typical window; a feature's contribution is its term's share.
/// </summary>
internal sealed class LstmForecaster : IAnomalyScorer
{
    private readonly ForecasterNetwork<float> network;
    private readonly float[] errorScale;
    private readonly float[] prediction;

    public LstmForecaster(ModelManifest manifest, ForecasterNetwork<float> network)
    {
        Manifest = manifest;
        this.network = network;
        InputSize = network.InputSize;
        SequenceLength = network.ContextLength + 1;
        errorScale = manifest.ErrorScale ?? Enumerable.Repeat(1f, InputSize).ToArray();
        if (errorScale.Length != InputSize)
        {
            throw new ArgumentException($"ErrorScale has {errorScale.Length} entries for {InputSize} features.", nameof(manifest));
        }

        prediction = new float[InputSize];
    }

    public ModelManifest Manifest { get; }

    public int InputSize { get; }

    public int SequenceLength { get; }

    public ForecasterNetwork<float> Network => network;

    public static LstmForecaster FromArtifact(ModelArtifact artifact)
    {
        var a = artifact.Manifest.Architecture;
        var network = new ForecasterNetwork<float>(a.InputSize, a.HiddenSize, a.NumLayers, a.SequenceLength - 1);
        ModelArtifact.LoadInto(artifact.Tensors, network);
        return new LstmForecaster(artifact.Manifest, network);
    }

    public float Score(ReadOnlySpan<float> sequence, Span<float> perFeatureContribution)
    {
        ScoringGuards.CheckShapes(sequence, SequenceLength, InputSize, perFeatureContribution);
        var split = (SequenceLength - 1) * InputSize;
        network.Forward(sequence[..split], prediction);
        TensorPrimitives.Subtract(prediction, sequence[split..], perFeatureContribution);
        TensorPrimitives.Multiply(perFeatureContribution, perFeatureContribution, perFeatureContribution);
        TensorPrimitives.Divide(perFeatureContribution, errorScale, perFeatureContribution);
        var score = TensorPrimitives.Sum<float>(perFeatureContribution) / InputSize;
        ScoringGuards.ToShares(perFeatureContribution);
        return score;
    }
}
