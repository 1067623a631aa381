namespace Streaming.Evaluation.Nab;

/// <summary>The weights of one NAB application profile (config/profiles.json, "CostMatrix").</summary>
internal sealed record NabCostMatrix(double TpWeight, double FpWeight, double FnWeight);

internal sealed record NabProfile(string Name, NabCostMatrix Costs);

/// <summary>A labelled anomaly window, inclusive at both ends as NAB defines it.</summary>
internal readonly record struct NabWindow(long StartMs, long EndMs);

/// <summary>One row's part in NAB scoring: the weight it would add if it fired, and the window it belongs to.</summary>
internal readonly record struct NabRow(double SweepScore, int Window)
{
    /// <summary><see cref="Window"/> of a row outside every window.</summary>
    public const int Outside = -1;

    /// <summary><see cref="Window"/> of a row in the probationary period, which is never scored.</summary>
    public const int Probationary = -2;
}

/// <summary>A file's score at one threshold: the raw NAB score and the row and window counts behind it.</summary>
internal sealed record NabFileScore(double Raw, int TruePositiveRows, int FalsePositiveRows, int DetectedWindows, int ScorableWindows, int Windows)
{
    /// <summary>A detector that never fires: every scorable window costs A_FN.</summary>
    public double Null(NabCostMatrix costs) => -costs.FnWeight * ScorableWindows;

    /// <summary>A detector that fires once at the start of every window.</summary>
    public double Perfect(NabCostMatrix costs) => costs.TpWeight * Windows;

    /// <summary>100 (raw − null) / (perfect − null) for this file alone; null when the file has no windows (0/0).</summary>
    public double? Normalized(NabCostMatrix costs)
    {
        var span = Perfect(costs) - Null(costs);
        return span > 0 ? NabScorer.Normalize(Raw, Null(costs), Perfect(costs)) : null;
    }
}

/// <summary>
/// The Numenta Anomaly Benchmark scoring method (NAB v1.1), implemented from its published description: rows in the
/// probationary period are ignored; inside a window a detection earns a scaled sigmoid of its position (1·A_TP at the
/// window's first row, falling towards 0 at its last), and only a window's earliest detection counts; a detection outside
/// every window costs A_FP times a sigmoid of its distance past the previous window (a full −A_FP before any window or
/// three window-widths after one); a window with no detection costs −A_FN.
/// </summary>
internal static class NabScorer
{
    public const double ProbationPercent = 0.15;

    /// <summary>No row scores at or above this, so it is the "never fires" threshold NAB's sweep starts from.</summary>
    public const double NeverFires = 1.1;

    /// <summary>NAB's probationary length: 15% of the rows, at most 15% of 5000 (750).</summary>
    public static int ProbationaryLength(int rows) => (int)Math.Min(Math.Floor(ProbationPercent * rows), ProbationPercent * 5000);

    /// <summary>2·sigmoid(−5x) − 1: ≈ +0.987 at x = −1 (window start), 0 at x = 0 (window end), −1 from x = 3 on.</summary>
    public static double ScaledSigmoid(double relativePosition) =>
        relativePosition >= 3.0 ? -1.0 : 2.0 / (1.0 + Math.Exp(5.0 * relativePosition)) - 1.0;

    public static double Normalize(double raw, double nullScore, double perfect) => 100.0 * (raw - nullScore) / (perfect - nullScore);

    /// <summary>
    /// Each row's weight if the detector fired there, and its window. Windows must be sorted, disjoint, and bounded by
    /// timestamps that occur in the file (NAB's labels are).
    /// </summary>
    public static NabRow[] SweepScores(ReadOnlySpan<long> timestamps, IReadOnlyList<NabWindow> windows, NabCostMatrix costs)
    {
        var rows = new NabRow[timestamps.Length];
        var probation = ProbationaryLength(timestamps.Length);
        var maxTp = ScaledSigmoid(-1.0);
        var next = 0;
        var current = -1;
        int left = 0, right = 0;
        var previousRight = -1;
        var previousWidth = 0.0;
        for (var i = 0; i < timestamps.Length; i++)
        {
            if (current < 0 && next < windows.Count && timestamps[i] == windows[next].StartMs)
            {
                current = next++;
                left = i;
                right = IndexOf(timestamps, windows[current].EndMs, i);
            }

            double weighted;
            if (current >= 0)
            {
                var width = right - left + 1.0;
                weighted = ScaledSigmoid(-(right - i + 1) / width) * costs.TpWeight / maxTp;
            }
            else
            {
                // Width-1 windows give +∞ here, which the sigmoid maps to the full −1, as for any far-away false positive.
                var positionPast = previousRight < 0 ? 3.0 : (i - previousRight) / (previousWidth - 1);
                weighted = ScaledSigmoid(positionPast) * costs.FpWeight;
            }

            rows[i] = new NabRow(weighted, i < probation ? NabRow.Probationary : current >= 0 ? current : NabRow.Outside);
            if (current >= 0 && i == right)
            {
                previousRight = right;
                previousWidth = right - left + 1.0;
                current = -1;
            }
        }
        if (next < windows.Count || current >= 0)
            throw new ArgumentException($"Window {windows[Math.Max(current, next)]} does not start and end on timestamps of the file, in order.");
        return rows;
    }

    /// <summary>The file's score when the detector fires on every row whose anomaly score is at least <paramref name="threshold"/>.</summary>
    public static NabFileScore ScoreAt(ReadOnlySpan<NabRow> rows, ReadOnlySpan<double> anomalyScores, int windowCount, double threshold, NabCostMatrix costs)
    {
        if (rows.Length != anomalyScores.Length)
            throw new ArgumentException($"{rows.Length} rows but {anomalyScores.Length} anomaly scores.");
        var best = new double[windowCount];
        var scorable = new bool[windowCount];
        var detected = new bool[windowCount];
        double fp = 0;
        int tpRows = 0, fpRows = 0;
        for (var i = 0; i < rows.Length; i++)
        {
            var row = rows[i];
            if (row.Window == NabRow.Probationary)
                continue;
            if (row.Window >= 0 && !scorable[row.Window])
            {
                scorable[row.Window] = true;
                best[row.Window] = -costs.FnWeight;
            }
            if (!(anomalyScores[i] >= threshold))
                continue;
            if (row.Window == NabRow.Outside)
            {
                fp += row.SweepScore;
                fpRows++;
            }
            else
            {
                best[row.Window] = Math.Max(best[row.Window], row.SweepScore);
                detected[row.Window] = true;
                tpRows++;
            }
        }
        return new NabFileScore(fp + best.Sum(), tpRows, fpRows, detected.Count(d => d), scorable.Count(s => s), windowCount);
    }

    /// <summary>
    /// Sweeps the threshold over every distinct anomaly score of the corpus (plus <see cref="NeverFires"/>) and returns the one
    /// with the highest summed raw score; among equal scores, the highest threshold (the first one the sweep meets), as NAB does.
    /// </summary>
    public static (double Threshold, double RawScore) OptimizeThreshold(IReadOnlyList<(NabRow[] Rows, double[] AnomalyScores)> files, NabCostMatrix costs)
    {
        var points = new List<(double Anomaly, double Sweep, int Window)>();
        var windowOffset = 0;
        var best = new List<double>();
        foreach (var (rows, scores) in files)
        {
            if (rows.Length != scores.Length)
                throw new ArgumentException($"{rows.Length} rows but {scores.Length} anomaly scores.");
            var maxWindow = -1;
            for (var i = 0; i < rows.Length; i++)
            {
                if (rows[i].Window == NabRow.Probationary)
                    continue;
                var window = rows[i].Window >= 0 ? windowOffset + rows[i].Window : NabRow.Outside;
                points.Add((scores[i], rows[i].SweepScore, window));
                maxWindow = Math.Max(maxWindow, rows[i].Window);
            }
            for (var w = 0; w <= maxWindow; w++)
                best.Add(double.NaN);
            windowOffset += maxWindow + 1;
        }
        // Windows with scorable rows start at −A_FN; NaN marks the (none here) windows lying wholly in probation.
        var total = 0.0;
        foreach (var p in points)
        {
            if (p.Window >= 0 && double.IsNaN(best[p.Window]))
            {
                best[p.Window] = -costs.FnWeight;
                total -= costs.FnWeight;
            }
        }
        points.Sort(static (a, b) => b.Anomaly.CompareTo(a.Anomaly));

        var bestThreshold = NeverFires;
        var bestScore = total;
        var k = 0;
        while (k < points.Count)
        {
            var threshold = points[k].Anomaly;
            for (; k < points.Count && points[k].Anomaly == threshold; k++)
            {
                var p = points[k];
                if (p.Window == NabRow.Outside)
                {
                    total += p.Sweep;
                }
                else if (p.Sweep > best[p.Window])
                {
                    total += p.Sweep - best[p.Window];
                    best[p.Window] = p.Sweep;
                }
            }
            if (total > bestScore)
            {
                bestScore = total;
                bestThreshold = threshold;
            }
        }
        return (bestThreshold, bestScore);
    }

    private static int IndexOf(ReadOnlySpan<long> timestamps, long value, int from)
    {
        var index = timestamps[from..].IndexOf(value);
        if (index < 0)
            throw new ArgumentException($"Window end {DateTimeOffset.FromUnixTimeMilliseconds(value):O} is not a timestamp of the file.");
        return from + index;
    }
}
