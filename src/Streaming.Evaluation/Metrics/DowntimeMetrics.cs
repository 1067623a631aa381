namespace Streaming.Evaluation.Metrics;

/// <summary>A downtime prediction: at <see cref="TimeMs"/>, the predictor said the entity goes down within <see cref="Horizon"/>.</summary>
internal readonly record struct DowntimeAlarm(string Entity, long TimeMs, TimeSpan Horizon);

/// <summary>A labelled downtime start.</summary>
internal readonly record struct DowntimeStart(string Entity, long StartMs);

/// <summary>Downtime prediction quality for one horizon, and how long before each caught downtime its first alarm came.</summary>
internal sealed record DowntimeHorizonMetrics(TimeSpan Horizon, int Alarms, int TrueAlarms, int Downtimes, IReadOnlyList<TimeSpan> LeadTimes)
{
    /// <summary>True alarms over alarms (0 without alarms).</summary>
    public double Precision => Alarms == 0 ? 0 : (double)TrueAlarms / Alarms;

    /// <summary>Downtimes caught by at least one alarm over downtimes (0 without downtimes).</summary>
    public double Recall => Downtimes == 0 ? 0 : (double)LeadTimes.Count / Downtimes;

    public TimeSpan? MedianLeadTime => LeadTimes.Count == 0 ? null : LeadTimes.Order().ElementAt((LeadTimes.Count - 1) / 2);
}

internal static class DowntimeMetrics
{
    /// <summary>
    /// For each horizon h: an alarm at t is a true positive when a downtime of its entity starts in (t, t + h], a false
    /// positive otherwise. A downtime is caught when an alarm falls in [start − h, start); its lead time is start − the
    /// first such alarm. Precision counts alarms, recall counts downtimes.
    /// </summary>
    public static IReadOnlyList<DowntimeHorizonMetrics> Evaluate(IReadOnlyList<DowntimeAlarm> alarms, IReadOnlyList<DowntimeStart> downtimes, IReadOnlyList<TimeSpan> horizons)
    {
        var results = new List<DowntimeHorizonMetrics>(horizons.Count);
        foreach (var horizon in horizons)
        {
            var h = (long)horizon.TotalMilliseconds;
            var forHorizon = alarms.Where(a => a.Horizon == horizon).ToArray();
            var trueAlarms = forHorizon.Count(alarm => downtimes.Any(d => Owns(d, alarm, h)));
            var leads = new List<TimeSpan>();
            foreach (var downtime in downtimes)
            {
                if (forHorizon.Where(a => Owns(downtime, a, h)).Select(a => (long?)a.TimeMs).Min() is { } first)
                    leads.Add(TimeSpan.FromMilliseconds(downtime.StartMs - first));
            }
            results.Add(new DowntimeHorizonMetrics(horizon, forHorizon.Length, trueAlarms, downtimes.Count, leads));
        }
        return results;
    }

    private static bool Owns(DowntimeStart downtime, DowntimeAlarm alarm, long horizonMs) =>
        string.Equals(downtime.Entity, alarm.Entity, StringComparison.Ordinal) && downtime.StartMs > alarm.TimeMs && downtime.StartMs <= alarm.TimeMs + horizonMs;
}
