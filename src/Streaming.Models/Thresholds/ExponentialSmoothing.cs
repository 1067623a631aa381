namespace Streaming.Models.Thresholds;

/// <summary>
/// An exponentially weighted moving average with pandas' <c>ewm(span, adjust=True)</c> weights, the smoothing telemanom
/// applies to absolute forecast errors: α = 2 / (span + 1), and the average of x₀..xₜ weights xₜ₋ₖ by (1 - α)ᵏ over the
/// sum of those weights, so early values are not pulled toward an arbitrary start.
/// </summary>
internal sealed class ExponentialSmoothing
{
    private readonly double _decay;
    private double _weighted;
    private double _weights;

    public ExponentialSmoothing(double span)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(span, 1);
        _decay = 1 - (2 / (span + 1));
    }

    /// <summary>Adds <paramref name="value"/> and returns the average including it.</summary>
    public double Update(double value)
    {
        _weighted = (_weighted * _decay) + value;
        _weights = (_weights * _decay) + 1;
        return _weighted / _weights;
    }

    public void WriteState(BinaryWriter writer)
    {
        writer.Write(_weighted);
        writer.Write(_weights);
    }

    public void ReadState(BinaryReader reader)
    {
        _weighted = reader.ReadDouble();
        _weights = reader.ReadDouble();
    }
}
