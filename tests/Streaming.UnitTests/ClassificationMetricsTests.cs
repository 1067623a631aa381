using Streaming.Evaluation.Metrics;

namespace Streaming.UnitTests;

public sealed class ClassificationMetricsTests
{
    private const long Minute = 60_000;

    private static WindowVerdictPoint W(string entity, int minute, bool anomaly) => new(entity, minute * Minute, (minute + 1) * Minute, anomaly);

    private static EntityInterval I(string entity, int fromMinute, int toMinute) => new(entity, fromMinute * Minute, toMinute * Minute);

    [Test]
    public void Point_wise_counts_compare_each_window_with_the_incidents_of_its_own_entity()
    {
        EntityInterval[] incidents = [I("a", 10, 13)];
        WindowVerdictPoint[] windows =
        [
            W("a", 10, true), W("a", 11, true), W("a", 12, false), // 2 TP, 1 FN
            W("a", 13, true), // the incident is [10, 13): FP
            W("b", 11, true), // another entity's window at the same time: FP
            W("a", 5, false), W("b", 5, false), // TN
        ];
        var counts = ClassificationMetrics.PointWise(windows, incidents);
        Assert.That(counts, Is.EqualTo(new ConfusionCounts(2, 2, 1, 2)));
        Assert.That(counts.Precision, Is.EqualTo(0.5));
        Assert.That(counts.Recall, Is.EqualTo(2.0 / 3));
        Assert.That(counts.F1, Is.EqualTo(2 * 0.5 * (2.0 / 3) / (0.5 + 2.0 / 3)).Within(1e-12));
    }

    [Test]
    public void A_detector_that_never_fires_has_zero_precision_recall_and_f1()
    {
        var counts = ClassificationMetrics.PointWise([W("a", 10, false)], [I("a", 10, 11)]);
        Assert.That((counts.Precision, counts.Recall, counts.F1), Is.EqualTo((0.0, 0.0, 0.0)));
    }

    [Test]
    public void Event_wise_recall_counts_incidents_with_any_anomalous_window_and_time_to_detect_runs_to_the_first_window_end()
    {
        EntityInterval[] incidents = [I("a", 10, 20), I("a", 40, 45), I("b", 10, 20)];
        WindowVerdictPoint[] windows = [W("a", 13, true), W("a", 12, true), W("b", 30, true), W("a", 11, false)];
        var metrics = ClassificationMetrics.EventWise(windows, [], incidents, entityDays: 2, TimeSpan.Zero);

        Assert.That(metrics.Incidents, Is.EqualTo(3));
        Assert.That(metrics.DetectedIncidents, Is.EqualTo(1));
        Assert.That(metrics.Recall, Is.EqualTo(1.0 / 3));
        // First anomalous window is minute 12, which ends at minute 13: 3 minutes after the incident began.
        Assert.That(metrics.TimesToDetect, Is.EqualTo(new[] { TimeSpan.FromMinutes(3) }));
        Assert.That(metrics.MedianTimeToDetect, Is.EqualTo(TimeSpan.FromMinutes(3)));
    }

    [Test]
    public void Alerts_outside_every_incident_are_false_alarms_counted_per_entity_day()
    {
        EntityInterval[] incidents = [I("a", 10, 20)];
        EntityInterval[] alerts = [I("a", 12, 13), I("a", 50, 51), I("b", 12, 13), I("a", 21, 22)];
        var metrics = ClassificationMetrics.EventWise([], alerts, incidents, entityDays: 4, TimeSpan.Zero);

        Assert.That(metrics.Alerts, Is.EqualTo(4));
        Assert.That(metrics.TrueAlerts, Is.EqualTo(1));
        Assert.That(metrics.Precision, Is.EqualTo(0.25));
        Assert.That(metrics.FalseAlarmsPerEntityDay, Is.EqualTo(0.75));
    }

    [Test]
    public void The_tolerance_admits_an_alert_raised_just_after_the_incident_ended()
    {
        EntityInterval[] incidents = [I("a", 10, 20)];
        EntityInterval[] alerts = [I("a", 21, 22)];
        Assert.That(ClassificationMetrics.EventWise([], alerts, incidents, 1, TimeSpan.FromMinutes(1)).TrueAlerts, Is.EqualTo(0));
        Assert.That(ClassificationMetrics.EventWise([], alerts, incidents, 1, TimeSpan.FromMinutes(2)).TrueAlerts, Is.EqualTo(1));
    }

    [Test]
    public void Downtime_alarms_count_only_when_a_downtime_follows_within_their_horizon_and_lead_time_runs_from_the_first()
    {
        const long horizon = 30;
        DowntimeStart[] downtimes = [new("a", 100), new("b", 100)];
        DowntimeAlarm[] alarms =
        [
            new("a", 60, horizon), // 40 early: outside the horizon, false
            new("a", 75, horizon), // 25 early: true, and the first that counts
            new("a", 90, horizon), // true
            new("b", 100, horizon), // at the downtime start: too late to be a prediction
            new("a", 90, 5), // another horizon
        ];
        var result = DowntimeMetrics.Evaluate(alarms, downtimes, [horizon]).Single();

        Assert.That(result.Alarms, Is.EqualTo(4));
        Assert.That(result.TrueAlarms, Is.EqualTo(2));
        Assert.That(result.Precision, Is.EqualTo(0.5));
        Assert.That(result.Recall, Is.EqualTo(0.5));
        Assert.That(result.LeadTimes, Is.EqualTo(new[] { 25L }));
    }
}
