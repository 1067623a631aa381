namespace Streaming.Models.Thresholds;

/// <summary>A threshold chosen over a window of smoothed errors: ε = mean + z·std, and the z that chose it.</summary>
internal readonly record struct ErrorThreshold(double Z, double Epsilon);

/// <summary>
/// Telemanom's nonparametric dynamic threshold (Hundman et al., KDD 2018, section 3.2): over a window of smoothed
/// forecast errors, ε = mean + z·std for the z in [<see cref="ZMin"/>, <see cref="ZMax"/>) (step 0.5) that maximises
/// (Δmean/mean + Δstd/std) / (|sequences|² + |anomalous points|): how much the errors at or above ε explain of the
/// window's mean and spread, per anomalous point and, quadratically, per anomalous sequence. Every point at or above ε is
/// widened by ±<c>errorBuffer</c> points before counting (telemanom's error buffer), and a candidate must leave at most 5
/// sequences and flag fewer than half the window. Ties go to the larger z; without any candidate ε = mean + 12·std.
/// </summary>
internal static class NonparametricThreshold
{
    public const double ZMin = 2.5;
    public const double ZMax = 12;
    public const double ZStep = 0.5;
    public const int MaxSequences = 5;

    public static ErrorThreshold Find(ReadOnlySpan<double> smoothed, int errorBuffer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(errorBuffer);
        var n = smoothed.Length;
        if (n == 0)
        {
            throw new ArgumentException("No errors.", nameof(smoothed));
        }

        var (mean, std) = MeanStd(smoothed, double.PositiveInfinity);
        var fallback = new ErrorThreshold(ZMax, mean + (ZMax * std));
        if (!(mean > 0) || !(std > 0))
        {
            return fallback;
        }

        var best = fallback;
        var bestScore = double.NegativeInfinity;
        for (var z = ZMin; z < ZMax; z += ZStep)
        {
            var epsilon = mean + (z * std);
            var (points, sequences) = Flagged(smoothed, epsilon, errorBuffer);
            if (points == 0)
            {
                continue;
            }

            var (prunedMean, prunedStd) = MeanStd(smoothed, epsilon);
            var score = (((mean - prunedMean) / mean) + ((std - prunedStd) / std)) / ((sequences * sequences) + points);
            if (score >= bestScore && sequences <= MaxSequences && points < n * 0.5)
            {
                bestScore = score;
                best = new ErrorThreshold(z, epsilon);
            }
        }

        return best;
    }

    /// <summary>
    /// Points at or above <paramref name="epsilon"/>, each widened to [i - buffer, i + buffer) inside the window: how many
    /// points that covers, and how many runs of consecutive covered points longer than one.
    /// </summary>
    internal static (int Points, int Sequences) Flagged(ReadOnlySpan<double> smoothed, double epsilon, int buffer)
    {
        int points = 0, sequences = 0;
        int runStart = -1, runEnd = -1; // the current run of covered points, [runStart, runEnd)
        for (var i = 0; i < smoothed.Length; i++)
        {
            if (smoothed[i] < epsilon)
            {
                continue;
            }

            var start = Math.Max(0, i - buffer);
            var end = Math.Min(smoothed.Length, Math.Max(i + buffer, i + 1));
            if (runStart >= 0 && start <= runEnd)
            {
                runEnd = Math.Max(runEnd, end);
                continue;
            }

            Close();
            (runStart, runEnd) = (start, end);
        }

        Close();
        return (points, sequences);

        void Close()
        {
            if (runStart < 0)
            {
                return;
            }

            points += runEnd - runStart;
            sequences += runEnd - runStart > 1 ? 1 : 0;
        }
    }

    /// <summary>Mean and population standard deviation of the values below <paramref name="below"/> (0, 0 when none).</summary>
    private static (double Mean, double Std) MeanStd(ReadOnlySpan<double> values, double below)
    {
        double sum = 0;
        var count = 0;
        foreach (var v in values)
        {
            if (v < below)
            {
                sum += v;
                count++;
            }
        }

        if (count == 0)
        {
            return (0, 0);
        }

        var mean = sum / count;
        double squares = 0;
        foreach (var v in values)
        {
            if (v < below)
            {
                squares += (v - mean) * (v - mean);
            }
        }

        return (mean, Math.Sqrt(squares / count));
    }
}
