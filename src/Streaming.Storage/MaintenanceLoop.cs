using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace Streaming.Storage;

/// <summary>
/// Does on the client what the server cannot do by policy: refreshes the metrics_1m/metrics_1h rollups when they
/// are plain tables (or continuous aggregates without refresh policies) and applies retention when there are no
/// retention policies (drop_chunks on hypertables, DELETE on plain tables).
/// Needs the table owner's connection (drop_chunks and DELETE are not granted to streaming_writer).
/// </summary>
internal sealed class MaintenanceLoop : BackgroundService
{
    // date_bin origin: minute and hour buckets then line up with time_bucket's.
    private const string BucketOrigin = "TIMESTAMPTZ '2000-01-01 00:00:00+00'";

    private const string RefreshMinuteSql = $"""
        INSERT INTO metrics_1m (bucket, entity, metric, samples, avg_value, min_value, max_value, sum_value)
        SELECT date_bin(INTERVAL '1 minute', time, {BucketOrigin}), entity, metric, count(*), avg(value), min(value), max(value), sum(value)
        FROM metrics WHERE time >= @from AND time < @to
        GROUP BY 1, 2, 3
        ON CONFLICT (entity, metric, bucket) DO UPDATE SET samples = EXCLUDED.samples, avg_value = EXCLUDED.avg_value,
          min_value = EXCLUDED.min_value, max_value = EXCLUDED.max_value, sum_value = EXCLUDED.sum_value
        """;

    // Hours are rebuilt from the minute rollup: far fewer rows than raw metrics, and the same result.
    private const string RefreshHourSql = $"""
        INSERT INTO metrics_1h (bucket, entity, metric, samples, avg_value, min_value, max_value, sum_value)
        SELECT date_bin(INTERVAL '1 hour', bucket, {BucketOrigin}), entity, metric, sum(samples), sum(sum_value) / sum(samples),
               min(min_value), max(max_value), sum(sum_value)
        FROM metrics_1m WHERE bucket >= @from AND bucket < @to
        GROUP BY 1, 2, 3
        ON CONFLICT (entity, metric, bucket) DO UPDATE SET samples = EXCLUDED.samples, avg_value = EXCLUDED.avg_value,
          min_value = EXCLUDED.min_value, max_value = EXCLUDED.max_value, sum_value = EXCLUDED.sum_value
        """;

    private readonly NpgsqlDataSource _ownerDataSource;
    private readonly StorageCapabilities _capabilities;
    private readonly MaintenanceOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<MaintenanceLoop> _logger;
    private readonly RollupBackfill? _backfill;

    /// <param name="backfill">What the sink wrote older than the lookback (the writer's <see cref="TimescaleWriter.Backfill"/>); null: lookback only.</param>
    public MaintenanceLoop(
        NpgsqlDataSource ownerDataSource, StorageCapabilities capabilities, MaintenanceOptions options, TimeProvider timeProvider, ILogger<MaintenanceLoop> logger,
        RollupBackfill? backfill = null)
    {
        _backfill = backfill;
        _ownerDataSource = ownerDataSource ?? throw new ArgumentNullException(nameof(ownerDataSource));
        _capabilities = capabilities ?? throw new ArgumentNullException(nameof(capabilities));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _options.Validate();
        _timeProvider = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
    }

    // Several sink instances may each run a MaintenanceLoop; only one per database works at a time.
    internal const long AdvisoryLockKey = 0x5354_524D_4D41_494E; // "STRMMAIN"

    /// <summary>
    /// One maintenance pass: rollups for [now - RefreshLookback, now] (without refresh policies) and for whatever the writer
    /// reported older than that, then retention. Returns false (and does nothing)
    /// when another instance holds the maintenance lock for this database.
    /// </summary>
    public async Task<bool> RunOnceAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _ownerDataSource.OpenConnectionAsync(cancellationToken);
        await using (var tryLock = new NpgsqlCommand($"SELECT pg_try_advisory_lock({AdvisoryLockKey})", connection))
        {
            if (!(bool)(await tryLock.ExecuteScalarAsync(cancellationToken))!)
            {
                StorageLog.MaintenanceSkipped(_logger);
                return false;
            }
        }

        // Taken under the lock: with several sinks, the instance that skips keeps what its own writer observed.
        var backfilled = _backfill?.Take();
        try
        {
            var now = _timeProvider.GetUtcNow();
            var lookbackFrom = now - _options.RefreshLookback;
            // Older than raw retention is about to be dropped: nothing to roll up there.
            var oldest = backfilled is { } b && b < lookbackFrom ? Max(b, now - _options.RawRetention) : (DateTimeOffset?)null;
            if (!_capabilities.HasRefreshPolicies)
                await RefreshRollupsAsync(connection, oldest ?? lookbackFrom, now, cancellationToken);
            else if (oldest is { } from)
                // The server's policies cover the lookback; what arrived older than it needs an explicit refresh.
                await RefreshRollupsAsync(connection, from, lookbackFrom, cancellationToken);
            await ApplyRetentionAsync(connection, now, cancellationToken);
            return true;
        }
        catch when (backfilled is { } pending)
        {
            _backfill!.Observe(pending);
            throw;
        }
        finally
        {
            if (connection.State == System.Data.ConnectionState.Open)
            {
                await using var unlock = new NpgsqlCommand($"SELECT pg_advisory_unlock({AdvisoryLockKey})", connection);
                await unlock.ExecuteNonQueryAsync(CancellationToken.None);
            }
        }
    }

    /// <summary>
    /// Recomputes rollup buckets overlapping [from, to] on every server, refresh policies or not: e.g. after back-filling
    /// data older than a policy's window, which the policy never revisits.
    /// </summary>
    public async Task RefreshRollupsAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var connection = await _ownerDataSource.OpenConnectionAsync(cancellationToken);
        await RefreshRollupsAsync(connection, from, to, cancellationToken);
    }

    public async Task ApplyRetentionAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await _ownerDataSource.OpenConnectionAsync(cancellationToken);
        await ApplyRetentionAsync(connection, now, cancellationToken);
    }

    private async Task RefreshRollupsAsync(NpgsqlConnection connection, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var minuteFrom = Floor(from, TimeSpan.FromMinutes(1));
        var hourFrom = Floor(from, TimeSpan.FromHours(1));
        // End is exclusive; include the current, still-filling bucket so dashboards see it (it is recomputed next run).
        var minuteTo = Floor(to, TimeSpan.FromMinutes(1)).AddMinutes(1);
        var hourTo = Floor(to, TimeSpan.FromHours(1)).AddHours(1);

        if (_capabilities.HasContinuousAggregates)
        {
            // refresh_continuous_aggregate cannot run inside a transaction block: each CALL is its own implicit transaction.
            await ExecuteAsync(connection, $"CALL refresh_continuous_aggregate('metrics_1m', {Literal(minuteFrom)}, {Literal(minuteTo)})", cancellationToken);
            await ExecuteAsync(connection, $"CALL refresh_continuous_aggregate('metrics_1h', {Literal(hourFrom)}, {Literal(hourTo)})", cancellationToken);
        }
        else
        {
            await ExecuteRangeAsync(connection, RefreshMinuteSql, minuteFrom, minuteTo, cancellationToken);
            await ExecuteRangeAsync(connection, RefreshHourSql, hourFrom, hourTo, cancellationToken);
        }

        StorageLog.RollupRefreshed(_logger, "metrics_1m", minuteFrom, minuteTo);
        StorageLog.RollupRefreshed(_logger, "metrics_1h", hourFrom, hourTo);
    }

    private async Task ApplyRetentionAsync(NpgsqlConnection connection, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (_capabilities.HasRetentionPolicies)
        {
            return;
        }

        (string Table, string TimeColumn, TimeSpan Retention)[] tables =
        [
            ("metrics", "time", _options.RawRetention),
            ("features", "window_start", _options.RawRetention),
            ("anomaly_scores", "time", _options.RawRetention),
            ("sink_batches", "time", _options.RawRetention),
            ("alerts", "time", _options.EventRetention),
            ("predictions", "time", _options.EventRetention),
            ("dead_letters", "time", _options.EventRetention),
            ("metrics_1m", "bucket", _options.MinuteRollupRetention),
            ("metrics_1h", "bucket", _options.HourRollupRetention),
        ];

        foreach (var (table, timeColumn, retention) in tables)
        {
            var cutoff = now - retention;
            // Table names come from the fixed list above, never from input.
            if (_capabilities.HasHypertables)
            {
                // drop_chunks removes whole chunks entirely older than the cutoff (cheap, no dead tuples); rows in a chunk
                // straddling the cutoff live until the chunk's end passes it - at most one chunk interval longer.
                await using var cmd = new NpgsqlCommand($"SELECT count(*) FROM drop_chunks('{table}', older_than => @cutoff)", connection);
                cmd.Parameters.Add(new NpgsqlParameter<DateTime>("cutoff", NpgsqlDbType.TimestampTz) { TypedValue = cutoff.UtcDateTime });
                var dropped = (long)(await cmd.ExecuteScalarAsync(cancellationToken) ?? 0L);
                StorageLog.RetentionApplied(_logger, table, cutoff, dropped, "chunks");
            }
            else
            {
                await using var cmd = new NpgsqlCommand($"DELETE FROM {table} WHERE {timeColumn} < @cutoff", connection);
                cmd.Parameters.Add(new NpgsqlParameter<DateTime>("cutoff", NpgsqlDbType.TimestampTz) { TypedValue = cutoff.UtcDateTime });
                var deleted = await cmd.ExecuteNonQueryAsync(cancellationToken);
                StorageLog.RetentionApplied(_logger, table, cutoff, deleted, "rows");
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.Interval, _timeProvider);
        do
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // Maintenance is idempotent and re-covers the same window next time: log and keep the loop (and host) alive.
                StorageLog.MaintenanceFailed(_logger, ex, TimescaleWriter.IsTransient(ex));
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>Runs the periodic passes until <paramref name="stoppingToken"/> is cancelled (for hosts without a generic host).</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        try
        {
            await ExecuteAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static DateTimeOffset Floor(DateTimeOffset value, TimeSpan unit) =>
        new(value.UtcTicks - (value.UtcTicks % unit.Ticks), TimeSpan.Zero);

    private static string Literal(DateTimeOffset value) =>
        "TIMESTAMPTZ '" + value.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture) + "+00'";

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task ExecuteRangeAsync(NpgsqlConnection connection, string sql, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        cmd.Parameters.Add(new NpgsqlParameter<DateTime>("from", NpgsqlDbType.TimestampTz) { TypedValue = from.UtcDateTime });
        cmd.Parameters.Add(new NpgsqlParameter<DateTime>("to", NpgsqlDbType.TimestampTz) { TypedValue = to.UtcDateTime });
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }
}
