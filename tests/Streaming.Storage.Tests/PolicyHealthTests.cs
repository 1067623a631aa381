namespace Streaming.Storage.Tests;

/// <summary>
/// The capability line and health verdict from policy job rows (issue 15: a policy that exists may still be failing).
/// Pure: the rows are given, since the Apache-only TimescaleDB here can create no policies.
/// </summary>
public sealed class PolicyHealthTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 3, 10, 0, 0, TimeSpan.Zero);

    [Test]
    public void No_policy_jobs_say_so_and_are_not_a_problem()
    {
        Assert.That(PolicyHealth.None.Describe(), Is.EqualTo("no policy jobs on this server"));
        Assert.That(PolicyHealth.None.Problem, Is.Null);
    }

    [Test]
    public void Each_policy_is_named_with_its_last_run_status_time_and_failures()
    {
        var health = new PolicyHealth(
        [
            new PolicyJobStatus(1000, "policy_retention", "metrics", "Failed", At, 3, At.AddHours(1)),
            new PolicyJobStatus(1001, "policy_refresh_continuous_aggregate", "metrics_1m", "Success", At.AddMinutes(5), 0, null),
            new PolicyJobStatus(1002, "policy_compression", "features", null, null, 0, At.AddDays(1)),
        ]);

        Assert.That(health.Describe(), Is.EqualTo(
            "retention policy on metrics: last run Failed at 2026-12-03 10:00:00 UTC, 3 failures, next at 2026-12-03 11:00:00 UTC; " +
            "refresh policy on metrics_1m: last run Success at 2026-12-03 10:05:00 UTC, 0 failures; " +
            "compression policy on features: not run yet, 0 failures, next at 2026-12-04 10:00:00 UTC"));
    }

    [Test]
    public void A_policy_whose_last_run_failed_degrades_storage_naming_only_the_failing_jobs()
    {
        var health = new PolicyHealth(
        [
            new PolicyJobStatus(1000, "policy_retention", "metrics", "Failed", At, 1, null),
            new PolicyJobStatus(1001, "policy_refresh_continuous_aggregate", "metrics_1m", "Success", At, 2, null),
        ]);

        Assert.That(health.Problem, Does.StartWith("1 of 2 TimescaleDB policy jobs failed their last run: retention policy on metrics: last run Failed at 2026-12-03 10:00:00 UTC, 1 failure")
            .And.Not.Contains("metrics_1m"));
    }

    [Test]
    public void A_policy_that_failed_before_but_succeeded_last_is_healthy() =>
        Assert.That(new PolicyHealth([new PolicyJobStatus(1000, "policy_retention", "metrics", "Success", At, 7, null)]).Problem, Is.Null);
}
