namespace Streaming.Models.Thresholds;

/// <summary>Percentile calibration of score thresholds (linear interpolation between order statistics, as numpy's default).</summary>
internal static class Percentile
{
    public static double Of(ReadOnlySpan<double> values, double percentile)
    {
        if (values.IsEmpty)
        {
            throw new ArgumentException("No values.", nameof(values));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(percentile, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percentile, 100);
        var sorted = values.ToArray();
        Array.Sort(sorted);
        return OfSorted(sorted, percentile);
    }

    /// <summary>As <see cref="Of"/> for values already sorted ascending.</summary>
    public static double OfSorted(ReadOnlySpan<double> sorted, double percentile)
    {
        var position = percentile / 100 * (sorted.Length - 1);
        var lower = (int)Math.Floor(position);
        var upper = Math.Min(lower + 1, sorted.Length - 1);
        return sorted[lower] + ((position - lower) * (sorted[upper] - sorted[lower]));
    }
}
