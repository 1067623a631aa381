namespace Streaming.Models.Scoring;

internal static class ScoringGuards
{
    public static void CheckShapes(ReadOnlySpan<float> sequence, int sequenceLength, int inputSize, Span<float> perFeature)
    {
        if (sequence.Length != sequenceLength * inputSize)
        {
            throw new ArgumentException($"Expected {sequenceLength}x{inputSize} = {sequenceLength * inputSize} values, got {sequence.Length}.", nameof(sequence));
        }

        if (perFeature.Length != inputSize)
        {
            throw new ArgumentException($"Expected {inputSize} per-feature slots, got {perFeature.Length}.", nameof(perFeature));
        }
    }

    /// <summary>Turns non-negative per-feature errors into shares summing to 1 (uniform when the total is zero).</summary>
    public static void ToShares(Span<float> errors)
    {
        var total = System.Numerics.Tensors.TensorPrimitives.Sum<float>(errors);
        if (total > 0 && float.IsFinite(total))
        {
            System.Numerics.Tensors.TensorPrimitives.Divide(errors, total, errors);
        }
        else
        {
            errors.Fill(1f / errors.Length);
        }
    }
}
