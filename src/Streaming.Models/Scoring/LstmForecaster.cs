using System.Numerics.Tensors;
using Streaming.Models.Layers;
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
    private LstmBatchState<float>? batchState;
    private float[] batchPredictions = [];

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
        ModelLoader.RequireKind(artifact, ModelKind.LstmForecaster);
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
        return NormalisedError(perFeatureContribution);
    }

    /// <summary>Scores consecutive windows [count, T, F] into <paramref name="scores"/> [count] and contributions [count, F].</summary>
    public void ScoreBatch(ReadOnlySpan<float> sequences, Span<float> scores, Span<float> perFeatureContributions)
    {
        var window = SequenceLength * InputSize;
        if (sequences.Length != scores.Length * window || perFeatureContributions.Length != scores.Length * InputSize)
        {
            throw new ArgumentException($"Expected {scores.Length} windows of {window} values and {scores.Length}x{InputSize} contribution slots.");
        }

        // Below four windows the batched GEMM has no row block to fill and its per-gate calls only add overhead.
        var batch = scores.Length;
        if (batch < 4)
        {
            for (var b = 0; b < batch; b++)
            {
                scores[b] = Score(sequences.Slice(b * window, window), perFeatureContributions.Slice(b * InputSize, InputSize));
            }

            return;
        }

        // Scratch grows to the largest batch seen, so steady-state batches allocate nothing.
        if (batchState is null || batchState.MaxBatch < batch)
        {
            batchState = network.CreateBatchState(batch);
            batchPredictions = new float[batch * InputSize];
        }

        network.ForwardBatch(sequences, window, batch, batchState, batchPredictions);
        var context = (SequenceLength - 1) * InputSize;
        for (var b = 0; b < batch; b++)
        {
            var contribution = perFeatureContributions.Slice(b * InputSize, InputSize);
            TensorPrimitives.Subtract(batchPredictions.AsSpan(b * InputSize, InputSize), sequences.Slice((b * window) + context, InputSize), contribution);
            scores[b] = NormalisedError(contribution);
        }
    }

    /// <summary>Turns prediction errors in place into contributions and returns the score.</summary>
    private float NormalisedError(Span<float> errors)
    {
        TensorPrimitives.Multiply(errors, errors, errors);
        TensorPrimitives.Divide(errors, errorScale, errors);
        var score = TensorPrimitives.Sum<float>(errors) / InputSize;
        ScoringGuards.ToShares(errors);
        return score;
    }
}
