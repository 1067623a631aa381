using System.Globalization;

namespace Streaming.Storage;

/// <summary>
/// One TimescaleDB policy job on our tables and its last run, from <c>timescaledb_information.jobs</c> joined with
/// <c>job_stats</c>. <paramref name="Table"/> is the hypertable, or the continuous aggregate's view for a refresh policy.
/// <paramref name="LastRunStatus"/> is the server's word (<c>Success</c>, <c>Failed</c>), null when the job never ran.
/// </summary>
internal sealed record PolicyJobStatus(
    int JobId,
    string ProcName,
    string Table,
    string? LastRunStatus,
    DateTimeOffset? LastRunStartedAt,
    long TotalFailures,
    DateTimeOffset? NextStart)
{
    public bool LastRunFailed => string.Equals(LastRunStatus, "Failed", StringComparison.OrdinalIgnoreCase);

    /// <summary>"retention policy on metrics: last run Failed at 2026-12-03 10:00:00 UTC, 3 failures, next at ...".</summary>
    public string Describe()
    {
        var kind = ProcName switch
        {
            "policy_retention" => "retention policy",
            "policy_refresh_continuous_aggregate" => "refresh policy",
            "policy_compression" => "compression policy",
            "policy_reorder" => "reorder policy",
            _ => ProcName,
        };
        var last = LastRunStatus is null
            ? "not run yet"
            : LastRunStartedAt is { } started ? $"last run {LastRunStatus} at {Format(started)}" : $"last run {LastRunStatus}";
        var failures = TotalFailures == 1 ? "1 failure" : $"{TotalFailures.ToString(CultureInfo.InvariantCulture)} failures";
        var next = NextStart is { } at ? $", next at {Format(at)}" : "";
        return $"{kind} on {Table}: {last}, {failures}{next}";
    }

    private static string Format(DateTimeOffset at) =>
        at.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}

/// <summary>
/// What the server's policy jobs say about themselves (issue 15: detection only checked that the jobs exist, so a
/// capability line claimed retention and refreshes worked while their jobs failed). Pure: rows in, capability text and
/// health verdict out. Equal when the rows are.
/// </summary>
internal sealed class PolicyHealth(IReadOnlyList<PolicyJobStatus> jobs) : IEquatable<PolicyHealth>
{
    public static readonly PolicyHealth None = new([]);

    public IReadOnlyList<PolicyJobStatus> Jobs { get; } = jobs;

    /// <summary>The jobs whose last run failed.</summary>
    public IReadOnlyList<PolicyJobStatus> Failing { get; } = [.. jobs.Where(j => j.LastRunFailed)];

    /// <summary>For the capability line: every policy with its last status, or that the server runs none.</summary>
    public string Describe() => Jobs.Count == 0
        ? "no policy jobs on this server"
        : string.Join("; ", Jobs.Select(j => j.Describe()));

    /// <summary>Why storage is degraded (a policy job's last run failed), or null when no policy job is failing.</summary>
    public string? Problem => Failing.Count == 0
        ? null
        : $"{Failing.Count} of {Jobs.Count} TimescaleDB policy jobs failed their last run: {string.Join("; ", Failing.Select(j => j.Describe()))} " +
          "(details in timescaledb_information.job_errors and the server log)";

    public override string ToString() => Describe();

    public bool Equals(PolicyHealth? other) => other is not null && Jobs.SequenceEqual(other.Jobs);

    public override bool Equals(object? obj) => Equals(obj as PolicyHealth);

    public override int GetHashCode() => Jobs.Count;
}
