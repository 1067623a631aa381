using System.Numerics.Tensors;
using Streaming.Models.Networks;
using Streaming.Models.Serialization;
using Streaming.Models.Torch;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Streaming.Models.Scoring;

/// <summary>
/// Anomaly scorer that forecasts the newest vector of the window from the T-1 before it, so the newest observation
/// is the one judged. Score = mean over the predicted features (the first <see cref="OutputSize"/>; all by default) of
/// (prediction - actual)² / residual variance (the manifest's ErrorScale, measured on validation data), i.e. about 1 for
/// a typical window; a feature's contribution is its term's share (0 for input-only features).
/// Runs the TorchSharp network under no-grad on the calling thread with one intra-op thread; not thread-safe.
/// </summary>
internal sealed class LstmForecaster : IAnomalyScorer
{
    private readonly ForecasterNetwork network;
    private readonly float[] errorScale;
    private readonly Tensor single;
    private readonly float[] lastForecast;
    private Tensor? batchInput;

    public LstmForecaster(ModelManifest manifest, ForecasterNetwork network)
    {
        Manifest = manifest;
        this.network = network;
        network.eval();
        InputSize = network.InputSize;
        OutputSize = network.OutputSize;
        SequenceLength = network.ContextLength + 1;
        errorScale = manifest.ErrorScale ?? Enumerable.Repeat(1f, OutputSize).ToArray();
        if (errorScale.Length != OutputSize)
        {
            throw new ArgumentException($"ErrorScale has {errorScale.Length} entries for {OutputSize} predicted features.", nameof(manifest));
        }

        single = empty([1, network.ContextLength, InputSize]).DetachFromDisposeScope();
        lastForecast = new float[OutputSize];
    }

    public ModelManifest Manifest { get; }

    public int InputSize { get; }

    public int SequenceLength { get; }

    /// <summary>The leading features the network predicts (and that the score judges).</summary>
    public int OutputSize { get; }

    public ForecasterNetwork Network => network;

    /// <summary>What the last <see cref="Score"/> call predicted for the predicted features, on the normalised scale.</summary>
    public ReadOnlySpan<float> LastForecast => lastForecast;

    public static LstmForecaster FromArtifact(ModelArtifact artifact)
    {
        ModelLoader.RequireKind(artifact, ModelKind.LstmForecaster);
        var a = artifact.Manifest.Architecture;
        var network = new ForecasterNetwork(a.InputSize, a.HiddenSize, a.NumLayers, a.SequenceLength - 1, a.OutputSize);
        TensorData.Load(artifact.Tensors, network);
        return new LstmForecaster(artifact.Manifest, network);
    }

    public float Score(ReadOnlySpan<float> sequence, Span<float> perFeatureContribution)
    {
        ScoringGuards.CheckShapes(sequence, SequenceLength, InputSize, perFeatureContribution);
        TorchRuntime.UseScoringThread();
        var split = (SequenceLength - 1) * InputSize;
        sequence[..split].CopyTo(TensorData.Span(single));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var prediction = TensorData.Span(network.call(single));
        prediction.CopyTo(lastForecast);
        TensorPrimitives.Subtract(prediction, sequence.Slice(split, OutputSize), perFeatureContribution[..OutputSize]);
        return NormalisedError(perFeatureContribution);
    }

    /// <summary>
    /// Scores consecutive windows [count, T, F] into <paramref name="scores"/> [count] and contributions [count, F] with
    /// one batched forward pass; each window's result equals its <see cref="Score"/> within float rounding.
    /// </summary>
    public void ScoreBatch(ReadOnlySpan<float> sequences, Span<float> scores, Span<float> perFeatureContributions)
    {
        var window = SequenceLength * InputSize;
        var batch = scores.Length;
        if (sequences.Length != batch * window || perFeatureContributions.Length != batch * InputSize)
        {
            throw new ArgumentException($"Expected {batch} windows of {window} values and {batch}x{InputSize} contribution slots.");
        }

        if (batch == 0)
        {
            return;
        }

        TorchRuntime.UseScoringThread();

        // The input tensor grows to the largest batch seen, so steady-state batches reuse it.
        if (batchInput is null || batchInput.shape[0] < batch)
        {
            batchInput?.Dispose();
            batchInput = empty([batch, SequenceLength, InputSize]).DetachFromDisposeScope();
        }

        sequences.CopyTo(TensorData.Span(batchInput));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var contexts = batchInput.narrow(0, 0, batch).narrow(1, 0, SequenceLength - 1);
        var predictions = TensorData.Span(network.call(contexts));
        var context = (SequenceLength - 1) * InputSize;
        for (var b = 0; b < batch; b++)
        {
            var contribution = perFeatureContributions.Slice(b * InputSize, InputSize);
            TensorPrimitives.Subtract(predictions.Slice(b * OutputSize, OutputSize), sequences.Slice((b * window) + context, OutputSize), contribution[..OutputSize]);
            scores[b] = NormalisedError(contribution);
        }
    }

    /// <summary>Turns prediction errors (the first <see cref="OutputSize"/> slots) in place into contributions and returns the score.</summary>
    private float NormalisedError(Span<float> contributions)
    {
        var errors = contributions[..OutputSize];
        contributions[OutputSize..].Clear();
        TensorPrimitives.Multiply(errors, errors, errors);
        TensorPrimitives.Divide(errors, errorScale, errors);
        var score = TensorPrimitives.Sum<float>(errors) / OutputSize;
        ScoringGuards.ToShares(errors);
        return score;
    }
}
