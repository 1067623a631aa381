using Confluent.Kafka;
using Npgsql;
using Streaming.Host.Api;
using Streaming.Kafka;

namespace Streaming.Host.Operations;

/// <summary>One condition of readiness; null when it holds, otherwise the reason it does not.</summary>
internal interface IReadinessCheck
{
    Task<string?> ProblemAsync(CancellationToken cancellationToken);

    /// <summary>True when a problem of this check only degrades the process (still ready, /health/ready says "degraded").</summary>
    bool OnlyDegrades => false;
}

/// <summary>What /health/ready reports: reasons it is not ready, and reasons it is ready but degraded.</summary>
internal sealed record ReadinessReport(IReadOnlyList<string> Problems, IReadOnlyList<string> Degraded)
{
    public string Status => Problems.Count > 0 ? "not_ready" : Degraded.Count > 0 ? "degraded" : "ready";
}

/// <summary>The reasons this process is not ready, empty when it is. Checks run concurrently, each bounded by a timeout.</summary>
internal sealed class Readiness(IReadOnlyList<IReadinessCheck> checks, TimeSpan timeout)
{
    /// <summary>The reasons this process is not ready (degradations excluded).</summary>
    public async Task<IReadOnlyList<string>> ProblemsAsync(CancellationToken cancellationToken) =>
        (await ReportAsync(cancellationToken).ConfigureAwait(false)).Problems;

    public async Task<ReadinessReport> ReportAsync(CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(timeout);
        var results = await Task.WhenAll(checks.Select(async c => (Check: c, Problem: await RunAsync(c, bounded.Token).ConfigureAwait(false)))).ConfigureAwait(false);
        return new ReadinessReport(
            [.. results.Where(r => r.Problem is not null && !r.Check.OnlyDegrades).Select(r => r.Problem!)],
            [.. results.Where(r => r.Problem is not null && r.Check.OnlyDegrades).Select(r => r.Problem!)]);
    }

    private async Task<string?> RunAsync(IReadinessCheck check, CancellationToken cancellationToken)
    {
        try
        {
            return await check.ProblemAsync(cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return $"{check.GetType().Name.Replace("Check", "", StringComparison.Ordinal)} did not answer within {timeout.TotalSeconds:0.#} s";
        }
    }
}

/// <summary>Ready only while a broker answers a metadata request.</summary>
internal sealed class KafkaReadinessCheck : IReadinessCheck, IDisposable
{
    private readonly IAdminClient _admin;
    private readonly string _bootstrap;

    public KafkaReadinessCheck(KafkaCluster kafka)
    {
        _bootstrap = kafka.BootstrapServers;
        _admin = new AdminClientBuilder(kafka.Options.Apply(new AdminClientConfig { ClientId = "streaming-health" }, kafka.BootstrapServers)).Build();
    }

    public Task<string?> ProblemAsync(CancellationToken cancellationToken) => Task.Run(() =>
    {
        try
        {
            var metadata = _admin.GetMetadata(TimeSpan.FromSeconds(2));
            return metadata.Brokers.Count > 0 ? null : $"Kafka at {_bootstrap} reports no brokers";
        }
        catch (KafkaException ex)
        {
            return $"Kafka broker unreachable at {_bootstrap}: {ex.Error.Reason}";
        }
    }, cancellationToken);

    public void Dispose() => _admin.Dispose();
}

/// <summary>Ready only while the database answers a query.</summary>
internal sealed class DatabaseReadinessCheck(NpgsqlDataSource dataSource) : IReadinessCheck
{
    public async Task<string?> ProblemAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            // The message names host and port, never the password.
            return $"database unreachable: {ex.Message}";
        }
    }
}

/// <summary>
/// Degraded (still ready) while a TimescaleDB policy job's last run failed: retention, compression or rollup refreshes are
/// not happening although the server has the policies (issue 15). The reason names each failing job and when it failed.
/// </summary>
internal sealed class StoragePolicyCheck(NpgsqlDataSource dataSource) : IReadinessCheck
{
    public bool OnlyDegrades => true;

    public async Task<string?> ProblemAsync(CancellationToken cancellationToken)
    {
        try
        {
            return (await Storage.PolicyJobs.ReadHealthAsync(dataSource, cancellationToken).ConfigureAwait(false)).Problem;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            // An unreachable database is DatabaseReadinessCheck's (hard) problem; here only what the jobs report counts.
            return null;
        }
    }
}

internal sealed class ModelReadinessCheck(IWindowScorer scorer) : IReadinessCheck
{
    public Task<string?> ProblemAsync(CancellationToken cancellationToken) =>
        Task.FromResult(scorer.IsLoaded ? null : $"model {scorer.Model} {scorer.Version} is not loaded yet");
}

/// <summary>
/// Not ready while the processor rebuilds partition state from its history (after a restart or a rebalance): its outputs
/// would lag until the replay ends.
/// </summary>
internal sealed class StateRestoreCheck(Func<bool> isRestoring) : IReadinessCheck
{
    public Task<string?> ProblemAsync(CancellationToken cancellationToken) =>
        Task.FromResult(isRestoring() ? "state restore in progress: the processor is rebuilding partition state from the telemetry history" : null);
}
