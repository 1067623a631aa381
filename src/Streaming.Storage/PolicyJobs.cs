using Npgsql;

namespace Streaming.Storage;

/// <summary>Reads the policy jobs on this schema's hypertables and continuous aggregates with their last run's status.</summary>
internal static class PolicyJobs
{
    // A refresh policy's job names the materialization hypertable; the view's name is what users know, so it is joined in.
    private const string Sql = """
        SELECT j.job_id,
               j.proc_name::text,
               coalesce(ca.view_name, j.hypertable_name)::text AS table_name,
               s.last_run_status::text,
               s.last_run_started_at,
               coalesce(s.total_failures, 0)::bigint,
               s.next_start
        FROM timescaledb_information.jobs j
        LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
        LEFT JOIN timescaledb_information.continuous_aggregates ca
               ON ca.materialization_hypertable_schema = j.hypertable_schema
              AND ca.materialization_hypertable_name = j.hypertable_name
        WHERE j.proc_name IN ('policy_retention', 'policy_refresh_continuous_aggregate', 'policy_compression', 'policy_reorder')
          AND coalesce(ca.view_schema, j.hypertable_schema) = current_schema()
        ORDER BY j.job_id
        """;

    /// <summary>The policy jobs, empty without the timescaledb extension (or when the server offers no policies).</summary>
    public static async Task<IReadOnlyList<PolicyJobStatus>> QueryAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using (var check = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')", connection))
        {
            if (await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not true)
                return [];
        }
        await using var command = new NpgsqlCommand(Sql, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var jobs = new List<PolicyJobStatus>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            jobs.Add(new PolicyJobStatus(
                reader.GetInt32(0),
                reader.GetString(1),
                reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4),
                reader.GetInt64(5),
                reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6)));
        }
        return jobs;
    }

    public static async Task<PolicyHealth> ReadHealthAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return new PolicyHealth(await QueryAsync(connection, cancellationToken).ConfigureAwait(false));
    }
}
