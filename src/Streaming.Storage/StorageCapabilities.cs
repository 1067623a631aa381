using Dapper;
using Npgsql;

namespace Streaming.Storage;

/// <summary>What the connected server actually offers, detected after migrations by inspecting what they created.</summary>
/// <param name="TimescaleVersion">extversion of the timescaledb extension in this database; null when not installed.</param>
/// <param name="License">timescaledb.license ("apache" or "timescale"), or "none" without the extension.</param>
/// <param name="HasRefreshPolicies">Continuous aggregates are refreshed by server jobs (otherwise MaintenanceLoop refreshes).</param>
internal sealed record StorageCapabilities(
    string? TimescaleVersion,
    string License,
    bool HasHypertables,
    bool HasContinuousAggregates,
    bool HasRefreshPolicies,
    bool HasCompression,
    bool HasRetentionPolicies)
{
    public static readonly StorageCapabilities PlainPostgres = new(null, "none", false, false, false, false, false);

    /// <summary>Each policy job with its last run's status: a policy that exists may still be failing.</summary>
    public PolicyHealth Policies { get; init; } = PolicyHealth.None;

    public override string ToString() =>
        $"timescaledb={TimescaleVersion ?? "absent"} license={License} hypertables={HasHypertables} " +
        $"continuousAggregates={HasContinuousAggregates} refreshPolicies={HasRefreshPolicies} " +
        $"compression={HasCompression} retentionPolicies={HasRetentionPolicies} policies=[{Policies.Describe()}]";

    internal static async Task<StorageCapabilities> DetectAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var version = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'", cancellationToken: cancellationToken));
        if (version is null)
        {
            return PlainPostgres;
        }

        // Each flag reflects what migration 003 managed to create, i.e. what the server accepted. The columns are the
        // constructor's parameters, in order, so Dapper builds the record itself.
        const string Sql = """
            SELECT @Version AS TimescaleVersion,
                   coalesce(current_setting('timescaledb.license', true), 'unknown') AS License,
                   EXISTS (SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = 'metrics') AS HasHypertables,
                   (SELECT count(*) FROM timescaledb_information.continuous_aggregates WHERE view_name IN ('metrics_1m', 'metrics_1h')) = 2 AS HasContinuousAggregates,
                   (SELECT count(*) FROM timescaledb_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate') >= 2 AS HasRefreshPolicies,
                   coalesce((SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name = 'metrics'), false) AS HasCompression,
                   EXISTS (SELECT 1 FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention' AND hypertable_name = 'metrics') AS HasRetentionPolicies
            """;
        var detected = await connection.QuerySingleAsync<StorageCapabilities>(new CommandDefinition(Sql, new { Version = version }, cancellationToken: cancellationToken));
        return detected with { Policies = new PolicyHealth(await PolicyJobs.QueryAsync(connection, cancellationToken)) };
    }
}
