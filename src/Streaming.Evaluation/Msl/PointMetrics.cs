using Streaming.Evaluation.Metrics;

namespace Streaming.Evaluation.Msl;

/// <summary>The best point-wise F1 over every threshold, and the threshold that reaches it (an oracle: it reads the labels).</summary>
internal sealed record OracleF1(double Threshold, ConfusionCounts Counts);

/// <summary>
/// Point-wise metrics over test rows, WITHOUT point adjustment: each row is one point, positive when inside a labelled
/// sequence; a detection counts for its own row only. Event-wise recall and false alarms per 1,000 rows come from the
/// same per-row decisions.
/// </summary>
internal static class PointMetrics
{
    /// <summary>The confusion matrix of per-row decisions against per-row labels.</summary>
    public static ConfusionCounts Count(ReadOnlySpan<bool> labels, ReadOnlySpan<bool> predicted)
    {
        if (labels.Length != predicted.Length)
            throw new ArgumentException($"{labels.Length} labels but {predicted.Length} decisions.");
        long tp = 0, fp = 0, fn = 0, tn = 0;
        for (var i = 0; i < labels.Length; i++)
        {
            switch (labels[i], predicted[i])
            {
                case (true, true): tp++; break;
                case (false, true): fp++; break;
                case (true, false): fn++; break;
                default: tn++; break;
            }
        }
        return new ConfusionCounts(tp, fp, fn, tn);
    }

    /// <summary>
    /// Sweeps every distinct score as the threshold (a row is positive when its score ≥ the threshold) and returns the
    /// best F1; on a tie the higher threshold wins. With no positive label, or no scores, F1 is 0 at +∞ (nothing flagged).
    /// </summary>
    public static OracleF1 BestF1(ReadOnlySpan<double> scores, ReadOnlySpan<bool> labels)
    {
        if (scores.Length != labels.Length)
            throw new ArgumentException($"{scores.Length} scores but {labels.Length} labels.");
        var order = new int[scores.Length];
        for (var i = 0; i < order.Length; i++)
        {
            if (double.IsNaN(scores[i]))
                throw new ArgumentException($"Score {i} is NaN.");
            order[i] = i;
        }
        var keys = scores.ToArray();
        Array.Sort(keys, order);
        long positives = 0;
        foreach (var label in labels)
            positives += label ? 1 : 0;
        var negatives = labels.Length - positives;
        var best = new OracleF1(double.PositiveInfinity, new ConfusionCounts(0, 0, positives, negatives));
        long tp = 0, fp = 0;
        // Walk from the highest score down; after each group of equal scores, "score ≥ that value" is one threshold.
        for (var i = order.Length - 1; i >= 0;)
        {
            var threshold = keys[i];
            for (; i >= 0 && keys[i] == threshold; i--)
            {
                if (labels[order[i]])
                    tp++;
                else
                    fp++;
            }
            var counts = new ConfusionCounts(tp, fp, positives - tp, negatives - fp);
            if (counts.F1 > best.Counts.F1)
                best = new OracleF1(threshold, counts);
        }
        return best;
    }

    /// <summary>Sequences with at least one detected row inside them.</summary>
    public static int DetectedSequences(IReadOnlyList<RowSequence> sequences, ReadOnlySpan<bool> predicted)
    {
        var detected = 0;
        foreach (var s in sequences)
        {
            if (s.End >= predicted.Length)
                throw new ArgumentException($"Sequence [{s.Start}, {s.End}] ends beyond the {predicted.Length} rows.");
            if (predicted.Slice(s.Start, s.Length).Contains(true))
                detected++;
        }
        return detected;
    }

    /// <summary>Detections outside every labelled sequence (false-positive rows) per 1,000 rows.</summary>
    public static double FalseAlarmsPerThousandRows(ConfusionCounts counts)
    {
        var rows = counts.TruePositives + counts.FalsePositives + counts.FalseNegatives + counts.TrueNegatives;
        return rows == 0 ? 0 : 1000.0 * counts.FalsePositives / rows;
    }
}
