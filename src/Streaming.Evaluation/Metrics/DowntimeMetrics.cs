namespace Streaming.Evaluation.Metrics;

/// <summary>
/// A downtime prediction: at <see cref="Time"/>, the predictor said the entity goes down within <see cref="Horizon"/>.
/// Times are in any one unit (milliseconds for telemetry, cycles for C-MAPSS).
/// </summary>
internal readonly record struct DowntimeAlarm(string Entity, long Time, long Horizon);

/// <summary>A labelled downtime start, in the alarms' time unit.</summary>
internal readonly record struct DowntimeStart(string Entity, long Start);

/// <summary>Downtime prediction quality for one horizon, and how long before each caught downtime its first alarm came.</summary>
internal sealed record DowntimeHorizonMetrics(long Horizon, int Alarms, int TrueAlarms, int Downtimes, IReadOnlyList<long> LeadTimes)
{
    /// <summary>True alarms over alarms (0 without alarms).</summary>
    public double Precision => Alarms == 0 ? 0 : (double)TrueAlarms / Alarms;

    /// <summary>Downtimes caught by at least one alarm over downtimes (0 without downtimes).</summary>
    public double Recall => Downtimes == 0 ? 0 : (double)LeadTimes.Count / Downtimes;

    public double? MeanLeadTime => LeadTimes.Count == 0 ? null : LeadTimes.Average();
}

internal static class DowntimeMetrics
{
    /// <summary>
    /// For each horizon h: an alarm at t is a true positive when a downtime of its entity starts in (t, t + h], a false
    /// positive otherwise. A downtime is caught when an alarm falls in [start − h, start); its lead time is start − the
    /// first such alarm. Precision counts alarms, recall counts downtimes.
    /// </summary>
    public static IReadOnlyList<DowntimeHorizonMetrics> Evaluate(IReadOnlyList<DowntimeAlarm> alarms, IReadOnlyList<DowntimeStart> downtimes, IReadOnlyList<long> horizons)
    {
        var results = new List<DowntimeHorizonMetrics>(horizons.Count);
        foreach (var h in horizons)
        {
            var forHorizon = alarms.Where(a => a.Horizon == h).ToArray();
            var trueAlarms = forHorizon.Count(alarm => downtimes.Any(d => Owns(d, alarm, h)));
            var leads = new List<long>();
            foreach (var downtime in downtimes)
            {
                if (forHorizon.Where(a => Owns(downtime, a, h)).Select(a => (long?)a.Time).Min() is { } first)
                    leads.Add(downtime.Start - first);
            }
            results.Add(new DowntimeHorizonMetrics(h, forHorizon.Length, trueAlarms, downtimes.Count, leads));
        }
        return results;
    }

    private static bool Owns(DowntimeStart downtime, DowntimeAlarm alarm, long horizon) =>
        string.Equals(downtime.Entity, alarm.Entity, StringComparison.Ordinal) && downtime.Start > alarm.Time && downtime.Start <= alarm.Time + horizon;
}
