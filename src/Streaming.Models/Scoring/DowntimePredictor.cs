using Streaming.Models.Networks;
using Streaming.Models.Serialization;
using Streaming.Models.Torch;
using static TorchSharp.torch;

namespace Streaming.Models.Scoring;

/// <summary>
/// Remaining time to downtime and P(downtime within each horizon) from a <see cref="DowntimeNetwork"/>; the probabilities
/// come from one hazard head, so they never decrease as the horizon grows. No-grad, one intra-op thread; not thread-safe.
/// </summary>
internal sealed class DowntimePredictor : IDowntimePredictor
{
    private readonly DowntimeNetwork network;
    private readonly float targetScale;
    private readonly Tensor single;
    private Tensor? batchInput;

    public DowntimePredictor(ModelManifest manifest, DowntimeNetwork network)
    {
        if (manifest.Architecture.Horizons.Count != network.Horizons)
        {
            throw new ArgumentException($"Manifest lists {manifest.Architecture.Horizons.Count} horizons, network has {network.Horizons}.", nameof(manifest));
        }

        Manifest = manifest;
        this.network = network;
        network.eval();
        SequenceLength = manifest.Architecture.SequenceLength;
        targetScale = (float)manifest.Architecture.TargetScale;
        single = empty([1, SequenceLength, network.InputSize]).DetachFromDisposeScope();
    }

    public ModelManifest Manifest { get; }

    public int InputSize => network.InputSize;

    public int SequenceLength { get; }

    public IReadOnlyList<double> Horizons => Manifest.Architecture.Horizons;

    public static DowntimePredictor FromArtifact(ModelArtifact artifact)
    {
        ModelLoader.RequireKind(artifact, ModelKind.DowntimePredictor);
        var network = new DowntimeNetwork(artifact.Manifest.Architecture.DowntimeShape());
        TensorData.Load(artifact.Tensors, network);
        return new DowntimePredictor(artifact.Manifest, network);
    }

    public float Predict(ReadOnlySpan<float> sequence, Span<float> probabilityPerHorizon)
    {
        if (sequence.Length != SequenceLength * InputSize || probabilityPerHorizon.Length != network.Horizons)
        {
            throw new ArgumentException($"Expected {SequenceLength}x{InputSize} values and {network.Horizons} probability slots.");
        }

        TorchRuntime.UseScoringThread();
        sequence.CopyTo(TensorData.Span(single));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var raw = network.call(single);
        TensorData.Span(DowntimeNetwork.Probabilities(raw).contiguous()).CopyTo(probabilityPerHorizon);
        return MathF.Max(0, TensorData.Span(raw)[0]) * targetScale;
    }

    /// <summary>
    /// Predicts consecutive sequences [count, T, F] in one forward pass: times [count] and probabilities [count, K].
    /// </summary>
    public void PredictBatch(ReadOnlySpan<float> sequences, Span<float> times, Span<float> probabilities)
    {
        var window = SequenceLength * InputSize;
        var batch = times.Length;
        if (sequences.Length != batch * window || probabilities.Length != batch * network.Horizons)
        {
            throw new ArgumentException($"Expected {batch} sequences of {window} values and {batch}x{network.Horizons} probability slots.");
        }

        if (batch == 0)
        {
            return;
        }

        TorchRuntime.UseScoringThread();
        if (batchInput is null || batchInput.shape[0] < batch)
        {
            batchInput?.Dispose();
            batchInput = empty([batch, SequenceLength, InputSize]).DetachFromDisposeScope();
        }

        sequences.CopyTo(TensorData.Span(batchInput));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var raw = network.call(batchInput.narrow(0, 0, batch));
        TensorData.Span(DowntimeNetwork.Probabilities(raw).contiguous()).CopyTo(probabilities);
        var outputs = TensorData.Span(raw);
        for (var b = 0; b < batch; b++)
        {
            times[b] = MathF.Max(0, outputs[b * (1 + network.Horizons)]) * targetScale;
        }
    }
}
