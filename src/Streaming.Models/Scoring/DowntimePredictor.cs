using Streaming.Models.Kernels;
using Streaming.Models.Networks;
using Streaming.Models.Serialization;

namespace Streaming.Models.Scoring;

/// <summary>
/// Remaining-useful-life regression plus per-horizon downtime probabilities from one LSTM. The time estimate is the
/// first output times the manifest's TargetScale, floored at zero; probabilities are the sigmoids of the other outputs.
/// </summary>
internal sealed class DowntimePredictor : IDowntimePredictor
{
    private readonly DowntimeNetwork<float> network;
    private readonly float[] output;
    private readonly float targetScale;

    public DowntimePredictor(ModelManifest manifest, DowntimeNetwork<float> network)
    {
        if (manifest.Architecture.Horizons.Count != network.Horizons)
        {
            throw new ArgumentException($"Manifest lists {manifest.Architecture.Horizons.Count} horizons, network has {network.Horizons}.", nameof(manifest));
        }

        Manifest = manifest;
        this.network = network;
        output = new float[1 + network.Horizons];
        targetScale = (float)manifest.Architecture.TargetScale;
    }

    public ModelManifest Manifest { get; }

    public int InputSize => network.InputSize;

    public int SequenceLength => network.SequenceLength;

    public IReadOnlyList<double> Horizons => Manifest.Architecture.Horizons;

    public static DowntimePredictor FromArtifact(ModelArtifact artifact)
    {
        ModelLoader.RequireKind(artifact, ModelKind.DowntimePredictor);
        var a = artifact.Manifest.Architecture;
        var network = new DowntimeNetwork<float>(a.InputSize, a.HiddenSize, a.NumLayers, a.SequenceLength, a.Horizons.Count);
        ModelArtifact.LoadInto(artifact.Tensors, network);
        return new DowntimePredictor(artifact.Manifest, network);
    }

    public float Predict(ReadOnlySpan<float> sequence, Span<float> probabilityPerHorizon)
    {
        if (sequence.Length != SequenceLength * InputSize || probabilityPerHorizon.Length != network.Horizons)
        {
            throw new ArgumentException($"Expected {SequenceLength}x{InputSize} values and {network.Horizons} probability slots.");
        }

        network.Forward(sequence, output);
        for (var k = 0; k < network.Horizons; k++)
        {
            probabilityPerHorizon[k] = Activations.Sigmoid(output[1 + k]);
        }

        return MathF.Max(0, output[0]) * targetScale;
    }
}
