namespace Streaming.Evaluation.Metrics;

/// <summary>A labelled or detected interval of one entity, [StartMs, EndMs) in epoch milliseconds.</summary>
internal readonly record struct EntityInterval(string Entity, long StartMs, long EndMs)
{
    public bool Overlaps(string entity, long startMs, long endMs) =>
        string.Equals(Entity, entity, StringComparison.Ordinal) && startMs < EndMs && StartMs < endMs;
}

/// <summary>One scored window and the detector's verdict on it.</summary>
internal readonly record struct WindowVerdictPoint(string Entity, long StartMs, long EndMs, bool IsAnomaly);

/// <summary>
/// A confusion matrix with precision, recall and F1. A ratio whose denominator is 0 is reported as 0 (scikit-learn's
/// zero_division=0), so "never fires" reads as precision 0, not as a perfect detector.
/// </summary>
internal sealed record ConfusionCounts(long TruePositives, long FalsePositives, long FalseNegatives, long TrueNegatives)
{
    public double Precision => Ratio(TruePositives, TruePositives + FalsePositives);

    public double Recall => Ratio(TruePositives, TruePositives + FalseNegatives);

    public double F1 => Precision + Recall > 0 ? 2 * Precision * Recall / (Precision + Recall) : 0;

    private static double Ratio(long numerator, long denominator) => denominator == 0 ? 0 : (double)numerator / denominator;
}

/// <summary>Event-wise results: labelled incidents detected, alerts raised, and how fast.</summary>
internal sealed record EventMetrics(
    int Incidents, int DetectedIncidents, int Alerts, int TrueAlerts, double EntityDays, IReadOnlyList<TimeSpan> TimesToDetect)
{
    /// <summary>True alerts over all alerts.</summary>
    public double Precision => Alerts == 0 ? 0 : (double)TrueAlerts / Alerts;

    /// <summary>Detected incidents over all incidents.</summary>
    public double Recall => Incidents == 0 ? 0 : (double)DetectedIncidents / Incidents;

    public double F1 => Precision + Recall > 0 ? 2 * Precision * Recall / (Precision + Recall) : 0;

    public int FalseAlerts => Alerts - TrueAlerts;

    public double FalseAlarmsPerEntityDay => EntityDays > 0 ? FalseAlerts / EntityDays : 0;

    public TimeSpan? MeanTimeToDetect => TimesToDetect.Count == 0 ? null : TimeSpan.FromTicks((long)TimesToDetect.Average(t => t.Ticks));

    public TimeSpan? MedianTimeToDetect => Quantile(0.5);

    public TimeSpan? P95TimeToDetect => Quantile(0.95);

    /// <summary>Nearest-rank quantile.</summary>
    private TimeSpan? Quantile(double q)
    {
        if (TimesToDetect.Count == 0)
            return null;
        var sorted = TimesToDetect.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}

/// <summary>Point-wise (per scored window) and event-wise (per incident and per alert) detection metrics.</summary>
internal static class ClassificationMetrics
{
    /// <summary>Each scored window is one point: positive when it overlaps a labelled incident of its entity.</summary>
    public static ConfusionCounts PointWise(IEnumerable<WindowVerdictPoint> windows, IReadOnlyList<EntityInterval> incidents)
    {
        var byEntity = ByEntity(incidents);
        long tp = 0, fp = 0, fn = 0, tn = 0;
        foreach (var w in windows)
        {
            var actual = byEntity.TryGetValue(w.Entity, out var list) && list.Any(i => i.Overlaps(w.Entity, w.StartMs, w.EndMs));
            switch (actual, w.IsAnomaly)
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
    /// An incident is detected when an anomalous window of its entity overlaps [start, end + tolerance); its time to detect
    /// runs from the incident's start to the end of the first such window (when the verdict exists). An alert is true when
    /// the window that opened it overlaps [start, end + tolerance) of an incident of its entity. The tolerance admits the
    /// window that closes just after an incident ends.
    /// </summary>
    public static EventMetrics EventWise(
        IEnumerable<WindowVerdictPoint> windows, IReadOnlyList<EntityInterval> alertOpenings, IReadOnlyList<EntityInterval> incidents,
        double entityDays, TimeSpan tolerance)
    {
        var toleranceMs = (long)tolerance.TotalMilliseconds;
        var extended = incidents.Select(i => i with { EndMs = i.EndMs + toleranceMs }).ToArray();
        var firstDetection = new long?[extended.Length];
        var byEntity = ByEntityIndexed(extended);
        foreach (var w in windows)
        {
            if (!w.IsAnomaly || !byEntity.TryGetValue(w.Entity, out var list))
                continue;
            foreach (var index in list)
            {
                if (extended[index].Overlaps(w.Entity, w.StartMs, w.EndMs) && (firstDetection[index] is not { } first || w.EndMs < first))
                    firstDetection[index] = w.EndMs;
            }
        }
        var times = new List<TimeSpan>();
        for (var i = 0; i < extended.Length; i++)
        {
            if (firstDetection[i] is { } detectedAt)
                times.Add(TimeSpan.FromMilliseconds(Math.Max(0, detectedAt - extended[i].StartMs)));
        }
        var trueAlerts = alertOpenings.Count(a => byEntity.TryGetValue(a.Entity, out var list) && list.Any(i => extended[i].Overlaps(a.Entity, a.StartMs, a.EndMs)));
        return new EventMetrics(incidents.Count, times.Count, alertOpenings.Count, trueAlerts, entityDays, times);
    }

    private static Dictionary<string, List<EntityInterval>> ByEntity(IReadOnlyList<EntityInterval> intervals)
    {
        var result = new Dictionary<string, List<EntityInterval>>(StringComparer.Ordinal);
        foreach (var interval in intervals)
        {
            if (!result.TryGetValue(interval.Entity, out var list))
                result[interval.Entity] = list = [];
            list.Add(interval);
        }
        return result;
    }

    private static Dictionary<string, List<int>> ByEntityIndexed(IReadOnlyList<EntityInterval> intervals)
    {
        var result = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (var i = 0; i < intervals.Count; i++)
        {
            if (!result.TryGetValue(intervals[i].Entity, out var list))
                result[intervals[i].Entity] = list = [];
            list.Add(i);
        }
        return result;
    }
}
