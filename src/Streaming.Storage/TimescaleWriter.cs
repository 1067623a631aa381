using System.Data;
using System.Diagnostics;
using System.Net.Sockets;
using Dapper;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace Streaming.Storage;

/// <summary>
/// Writes one <see cref="SinkBatch"/> per transaction with binary COPY and commits the Kafka offsets that
/// produced it in the same transaction, so rows and offsets are never out of step (exactly-once).
/// </summary>
internal sealed class TimescaleWriter
{
    private const string UpsertOffsetsSql = """
        INSERT INTO sink_offsets (consumer_group, topic, partition, next_offset, cluster_id, updated_at)
        SELECT @group, u.topic, u.partition, u.next_offset, @cluster, now()
        FROM unnest(@topics, @partitions, @offsets) AS u(topic, partition, next_offset)
        ON CONFLICT (consumer_group, topic, partition) DO UPDATE
          SET next_offset = EXCLUDED.next_offset, cluster_id = EXCLUDED.cluster_id, updated_at = EXCLUDED.updated_at
          WHERE sink_offsets.next_offset < EXCLUDED.next_offset
        RETURNING topic, partition
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<TimescaleWriter> _logger;

    public TimescaleWriter(NpgsqlDataSource dataSource, StorageCapabilities capabilities, TimeProvider timeProvider, ILogger<TimescaleWriter> logger)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        Capabilities = capabilities ?? throw new ArgumentNullException(nameof(capabilities));
        _timeProvider = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
    }

    public StorageCapabilities Capabilities { get; }

    /// <summary>The Kafka cluster id stored with every offset this writer commits (null: not recorded).</summary>
    public string? ClusterId { get; init; }

    /// <summary>Told the oldest metric time of every committed batch, so maintenance rolls up what arrives late (null: not tracked).</summary>
    public RollupBackfill? Backfill { get; init; }

    /// <summary>
    /// One transaction: advance <paramref name="offsets"/> for <paramref name="consumerGroup"/>, binary-COPY every
    /// row list, record a sink_batches row, commit. Offsets only move forward: when the stored offsets already
    /// cover the batch (a retry after a commit whose acknowledgement was lost) nothing is written and
    /// <see cref="BatchOutcome.AlreadyCommitted"/> is returned; a partial overlap throws <see cref="OffsetConflictException"/>.
    /// On any exception the transaction is rolled back: neither rows nor offsets persist. Retry when <see cref="IsTransient"/>.
    /// </summary>
    public async Task<BatchOutcome> WriteBatchAsync(
        SinkBatch batch, string consumerGroup, IReadOnlyList<SourceOffset> offsets, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentException.ThrowIfNullOrWhiteSpace(consumerGroup);
        ArgumentNullException.ThrowIfNull(offsets);
        var started = _timeProvider.GetTimestamp();

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);

        // Offsets first: the row locks taken here make a concurrent duplicate of this batch wait and then skip,
        // instead of both copying rows.
        if (offsets.Count > 0 && !await AdvanceOffsetsAsync(connection, tx, consumerGroup, ClusterId, offsets, cancellationToken))
        {
            await tx.RollbackAsync(cancellationToken);
            StorageLog.BatchAlreadyCommitted(_logger, consumerGroup);
            return BatchOutcome.AlreadyCommitted;
        }

        var newest = DateTimeOffset.MinValue;
        if (batch.Metrics.Count > 0)
        {
            newest = Max(newest, await CopyMetricsAsync(connection, batch.Metrics, cancellationToken));
        }

        if (batch.Features.Count > 0)
        {
            newest = Max(newest, await CopyFeaturesAsync(connection, batch.Features, cancellationToken));
        }

        if (batch.Scores.Count > 0)
        {
            newest = Max(newest, await CopyScoresAsync(connection, batch.Scores, cancellationToken));
        }

        if (batch.Alerts.Count > 0)
        {
            newest = Max(newest, await CopyAlertsAsync(connection, batch.Alerts, cancellationToken));
        }

        if (batch.Predictions.Count > 0)
        {
            newest = Max(newest, await CopyPredictionsAsync(connection, batch.Predictions, cancellationToken));
        }

        if (batch.DeadLetters.Count > 0)
        {
            newest = Max(newest, await CopyDeadLettersAsync(connection, batch.DeadLetters, cancellationToken));
        }

        var now = _timeProvider.GetUtcNow();
        var durationMs = _timeProvider.GetElapsedTime(started).TotalMilliseconds;
        await using (var record = new NpgsqlCommand(
            "INSERT INTO sink_batches (time, consumer_group, rows, duration_ms, lag_ms) VALUES (@t, @g, @r, @d, @l)", connection, tx))
        {
            record.Parameters.Add(new NpgsqlParameter<DateTime>("t", NpgsqlDbType.TimestampTz) { TypedValue = now.UtcDateTime });
            record.Parameters.Add(new NpgsqlParameter<string>("g", NpgsqlDbType.Text) { TypedValue = consumerGroup });
            record.Parameters.Add(new NpgsqlParameter<int>("r", NpgsqlDbType.Integer) { TypedValue = batch.RowCount });
            record.Parameters.Add(new NpgsqlParameter<double>("d", NpgsqlDbType.Double) { TypedValue = durationMs });
            // Lag: how far the newest event of the batch is behind the commit, i.e. end-to-end freshness.
            record.Parameters.Add(new NpgsqlParameter("l", NpgsqlDbType.Double)
            {
                Value = newest == DateTimeOffset.MinValue ? DBNull.Value : (now - newest).TotalMilliseconds,
            });
            await record.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        if (Backfill is not null && batch.Metrics.Count > 0)
            Backfill.Observe(Oldest(batch.Metrics));
        StorageLog.BatchWritten(_logger, batch.RowCount, _timeProvider.GetElapsedTime(started).TotalMilliseconds, consumerGroup);
        return BatchOutcome.Written;
    }

    /// <summary>The Kafka cluster id each stored offset of the group was written for (null where it predates migration 007).</summary>
    public async Task<IReadOnlyDictionary<(string Topic, int Partition), string?>> LoadOffsetClustersAsync(
        string consumerGroup, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(consumerGroup);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string Topic, int Partition, string? ClusterId)>(new CommandDefinition(
            "SELECT topic, partition, cluster_id FROM sink_offsets WHERE consumer_group = @Group", new { Group = consumerGroup },
            cancellationToken: cancellationToken));
        return rows.ToDictionary(r => (r.Topic, r.Partition), r => r.ClusterId);
    }

    /// <summary>Forgets the group's stored offsets (`streaming reset-sink-offsets`): its sink then reads its topics from the beginning.</summary>
    public static async Task<int> ResetOffsetsAsync(NpgsqlDataSource dataSource, string consumerGroup, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentException.ThrowIfNullOrWhiteSpace(consumerGroup);
        await using var cmd = dataSource.CreateCommand("DELETE FROM sink_offsets WHERE consumer_group = @g");
        cmd.Parameters.Add(new NpgsqlParameter<string>("g", NpgsqlDbType.Text) { TypedValue = consumerGroup });
        return await cmd.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyDictionary<(string Topic, int Partition), long>> LoadOffsetsAsync(
        string consumerGroup, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(consumerGroup);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string Topic, int Partition, long NextOffset)>(new CommandDefinition(
            "SELECT topic, partition, next_offset FROM sink_offsets WHERE consumer_group = @Group", new { Group = consumerGroup },
            cancellationToken: cancellationToken));
        return rows.ToDictionary(r => (r.Topic, r.Partition), r => r.NextOffset);
    }

    /// <summary>
    /// True when the failure is about the server or the connection rather than the data: the sink loop should
    /// pause, back off and retry the same batch (which is safe: the transaction was rolled back, or it committed
    /// and the retry returns <see cref="BatchOutcome.AlreadyCommitted"/>).
    /// </summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        null => false,
        OperationCanceledException => false,
        PostgresException pg => pg.IsTransient || IsTransientSqlState(pg.SqlState),
        NpgsqlException npgsql when npgsql.IsTransient => true,
        SocketException or IOException or TimeoutException => true,
        _ => exception.InnerException is { } inner && IsTransient(inner),
    };

    private static bool IsTransientSqlState(string sqlState) =>
        sqlState.StartsWith("08", StringComparison.Ordinal) // connection exceptions
        || sqlState.StartsWith("53", StringComparison.Ordinal) // insufficient resources (too many connections, disk full)
        || sqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow
            or PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.LockNotAvailable
            or PostgresErrorCodes.QueryCanceled or PostgresErrorCodes.IdleSessionTimeout;

    private static async Task<bool> AdvanceOffsetsAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, string consumerGroup, string? clusterId, IReadOnlyList<SourceOffset> offsets,
        CancellationToken cancellationToken)
    {
        var topics = new string[offsets.Count];
        var partitions = new int[offsets.Count];
        var nextOffsets = new long[offsets.Count];
        var seen = new HashSet<(string, int)>();
        for (var i = 0; i < offsets.Count; i++)
        {
            var o = offsets[i];
            ArgumentException.ThrowIfNullOrWhiteSpace(o.Topic, nameof(offsets));
            ArgumentOutOfRangeException.ThrowIfNegative(o.NextOffset, nameof(offsets));
            if (!seen.Add((o.Topic, o.Partition)))
            {
                throw new ArgumentException($"Offsets list names {o.Topic}[{o.Partition}] twice; pass one entry per partition.", nameof(offsets));
            }

            (topics[i], partitions[i], nextOffsets[i]) = (o.Topic, o.Partition, o.NextOffset);
        }

        // RETURNING lists the partitions that advanced; the rest were already at or beyond this batch.
        var advanced = new HashSet<(string, int)>();
        await using (var upsert = new NpgsqlCommand(UpsertOffsetsSql, connection, tx))
        {
            upsert.Parameters.Add(new NpgsqlParameter<string>("group", NpgsqlDbType.Text) { TypedValue = consumerGroup });
            upsert.Parameters.Add(new NpgsqlParameter("cluster", NpgsqlDbType.Text) { Value = (object?)clusterId ?? DBNull.Value });
            upsert.Parameters.Add(new NpgsqlParameter<string[]>("topics", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = topics });
            upsert.Parameters.Add(new NpgsqlParameter<int[]>("partitions", NpgsqlDbType.Array | NpgsqlDbType.Integer) { TypedValue = partitions });
            upsert.Parameters.Add(new NpgsqlParameter<long[]>("offsets", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = nextOffsets });
            await using var reader = await upsert.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                advanced.Add((reader.GetString(0), reader.GetInt32(1)));
            }
        }

        if (advanced.Count == offsets.Count)
        {
            return true;
        }

        if (advanced.Count == 0)
        {
            return false;
        }

        var covered = seen.Where(p => !advanced.Contains(p)).Select(p => $"{p.Item1}[{p.Item2}]");
        var uncovered = advanced.Select(p => $"{p.Item1}[{p.Item2}]");
        throw new OffsetConflictException(
            $"Consumer group '{consumerGroup}': stored offsets already cover this batch for {string.Join(", ", covered)} but not for " +
            $"{string.Join(", ", uncovered)}. Writing it would duplicate rows; reload offsets with LoadOffsetsAsync, seek the consumer there " +
            "and rebuild the batch.");
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    // Processor outputs (features, scores, alert and prediction events) may arrive more than once (a broker whose
    // transactions do not hide an aborted batch, or a processor killed between flush and commit): they go through a
    // staging table and are inserted with ON CONFLICT DO NOTHING against the natural keys of migration 006, so each is
    // stored once. Raw metrics stay a plain COPY: the sink's own offsets already make them exactly-once.
    private const string FeatureColumns = "window_start, window_end, entity, metric, sample_count, mean, std, min_value, max_value, first_value, last_value, slope, ewma, p50, p95, rate_of_change, missing_ratio";
    private const string ScoreColumns = "time, entity, model, model_version, score, threshold, is_anomaly";
    private const string AlertColumns = "alert_id, time, entity, kind, status, severity, score, threshold, model, model_version, top_metric, payload";
    private const string PredictionColumns = "time, entity, model, model_version, time_to_downtime_seconds, p_5m, p_15m, p_30m, top_metric, payload";

    private static async Task<NpgsqlBinaryImporter> BeginStagedCopyAsync(NpgsqlConnection connection, string table, string columns, CancellationToken ct)
    {
        await using (var create = new NpgsqlCommand($"CREATE TEMP TABLE {table}_stage (LIKE {table}) ON COMMIT DROP", connection))
        {
            await create.ExecuteNonQueryAsync(ct);
        }

        return await connection.BeginBinaryImportAsync($"COPY {table}_stage ({columns}) FROM STDIN (FORMAT BINARY)", ct);
    }

    private static async Task InsertStagedAsync(NpgsqlConnection connection, string table, string columns, CancellationToken ct)
    {
        await using var insert = new NpgsqlCommand(
            $"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}_stage ON CONFLICT DO NOTHING", connection);
        await insert.ExecuteNonQueryAsync(ct);
    }

    // DateTimeOffset is written as its UTC DateTime: Npgsql only accepts offset-0 values for timestamptz.
    private static DateTimeOffset Oldest(List<MetricRow> rows)
    {
        var oldest = DateTimeOffset.MaxValue;
        foreach (var row in rows)
        {
            if (row.Time < oldest)
                oldest = row.Time;
        }
        return oldest;
    }

    private static async Task<DateTimeOffset> CopyMetricsAsync(NpgsqlConnection connection, List<MetricRow> rows, CancellationToken ct)
    {
        var newest = DateTimeOffset.MinValue;
        await using var importer = await connection.BeginBinaryImportAsync(
            "COPY metrics (time, entity, metric, value) FROM STDIN (FORMAT BINARY)", ct);
        for (var i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            newest = Max(newest, r.Time);
            await importer.StartRowAsync(ct);
            await importer.WriteAsync(r.Time.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await importer.WriteAsync(r.Entity, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(r.Metric, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(r.Value, NpgsqlDbType.Double, ct);
        }

        await importer.CompleteAsync(ct);
        return newest;
    }

    private static async Task<DateTimeOffset> CopyFeaturesAsync(NpgsqlConnection connection, List<FeatureRow> rows, CancellationToken ct)
    {
        var newest = DateTimeOffset.MinValue;
        await using var importer = await BeginStagedCopyAsync(connection, "features", FeatureColumns, ct);
        for (var i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            newest = Max(newest, r.WindowEnd);
            await importer.StartRowAsync(ct);
            await importer.WriteAsync(r.WindowStart.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await importer.WriteAsync(r.WindowEnd.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await importer.WriteAsync(r.Entity, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(r.Metric, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(r.Count, NpgsqlDbType.Integer, ct);
            await importer.WriteAsync(r.Mean, NpgsqlDbType.Double, ct);
            await importer.WriteAsync(r.Std, NpgsqlDbType.Double, ct);
            await importer.WriteAsync(r.Min, NpgsqlDbType.Double, ct);
            await importer.WriteAsync(r.Max, NpgsqlDbType.Double, ct);
            await importer.WriteAsync(r.First, NpgsqlDbType.Double, ct);
            await importer.WriteAsync(r.Last, NpgsqlDbType.Double, ct);
            await importer.WriteAsync(r.Slope, NpgsqlDbType.Double, ct);
            await importer.WriteAsync(r.Ewma, NpgsqlDbType.Double, ct);
            await WriteNullableAsync(importer, r.P50, ct);
            await WriteNullableAsync(importer, r.P95, ct);
            await WriteNullableAsync(importer, r.RateOfChange, ct);
            await WriteNullableAsync(importer, r.MissingRatio, ct);
        }

        await importer.CompleteAsync(ct);
        // The connection leaves the COPY state only when the importer is disposed (disposing twice is harmless).
        await importer.DisposeAsync();
        await InsertStagedAsync(connection, "features", FeatureColumns, ct);
        return newest;
    }

    private static async Task<DateTimeOffset> CopyScoresAsync(NpgsqlConnection connection, List<ScoreRow> rows, CancellationToken ct)
    {
        var newest = DateTimeOffset.MinValue;
        await using var importer = await BeginStagedCopyAsync(connection, "anomaly_scores", ScoreColumns, ct);
        for (var i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            newest = Max(newest, r.Time);
            await importer.StartRowAsync(ct);
            await importer.WriteAsync(r.Time.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await importer.WriteAsync(r.Entity, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(r.Model, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(r.ModelVersion, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(r.Score, NpgsqlDbType.Double, ct);
            await importer.WriteAsync(r.Threshold, NpgsqlDbType.Double, ct);
            await importer.WriteAsync(r.IsAnomaly, NpgsqlDbType.Boolean, ct);
        }

        await importer.CompleteAsync(ct);
        // The connection leaves the COPY state only when the importer is disposed (disposing twice is harmless).
        await importer.DisposeAsync();
        await InsertStagedAsync(connection, "anomaly_scores", ScoreColumns, ct);
        return newest;
    }

    private static async Task<DateTimeOffset> CopyAlertsAsync(NpgsqlConnection connection, List<AlertRow> rows, CancellationToken ct)
    {
        var newest = DateTimeOffset.MinValue;
        await using var importer = await BeginStagedCopyAsync(connection, "alerts", AlertColumns, ct);
        for (var i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            newest = Max(newest, r.Time);
            await importer.StartRowAsync(ct);
            await importer.WriteAsync(r.AlertId, NpgsqlDbType.Uuid, ct);
            await importer.WriteAsync(r.Time.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await importer.WriteAsync(r.Entity, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(r.Kind, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(r.Status, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(r.Severity, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(r.Score, NpgsqlDbType.Double, ct);
            await importer.WriteAsync(r.Threshold, NpgsqlDbType.Double, ct);
            await importer.WriteAsync(r.Model, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(r.ModelVersion, NpgsqlDbType.Text, ct);
            await WriteNullableAsync(importer, r.TopMetric, ct);
            await importer.WriteAsync(r.PayloadJson, NpgsqlDbType.Jsonb, ct);
        }

        await importer.CompleteAsync(ct);
        // The connection leaves the COPY state only when the importer is disposed (disposing twice is harmless).
        await importer.DisposeAsync();
        await InsertStagedAsync(connection, "alerts", AlertColumns, ct);
        return newest;
    }

    private static async Task<DateTimeOffset> CopyPredictionsAsync(NpgsqlConnection connection, List<PredictionRow> rows, CancellationToken ct)
    {
        var newest = DateTimeOffset.MinValue;
        await using var importer = await BeginStagedCopyAsync(connection, "predictions", PredictionColumns, ct);
        for (var i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            newest = Max(newest, r.Time);
            await importer.StartRowAsync(ct);
            await importer.WriteAsync(r.Time.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await importer.WriteAsync(r.Entity, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(r.Model, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(r.ModelVersion, NpgsqlDbType.Text, ct);
            await WriteNullableAsync(importer, r.TimeToDowntimeSeconds, ct);
            await importer.WriteAsync(r.P5m, NpgsqlDbType.Double, ct);
            await importer.WriteAsync(r.P15m, NpgsqlDbType.Double, ct);
            await importer.WriteAsync(r.P30m, NpgsqlDbType.Double, ct);
            await WriteNullableAsync(importer, r.TopMetric, ct);
            await importer.WriteAsync(r.PayloadJson, NpgsqlDbType.Jsonb, ct);
        }

        await importer.CompleteAsync(ct);
        // The connection leaves the COPY state only when the importer is disposed (disposing twice is harmless).
        await importer.DisposeAsync();
        await InsertStagedAsync(connection, "predictions", PredictionColumns, ct);
        return newest;
    }

    private static async Task<DateTimeOffset> CopyDeadLettersAsync(NpgsqlConnection connection, List<DeadLetterRow> rows, CancellationToken ct)
    {
        var newest = DateTimeOffset.MinValue;
        await using var importer = await connection.BeginBinaryImportAsync(
            "COPY dead_letters (time, source_topic, source_partition, source_offset, reason, detail, payload) FROM STDIN (FORMAT BINARY)", ct);
        for (var i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            newest = Max(newest, r.Time);
            await importer.StartRowAsync(ct);
            await importer.WriteAsync(r.Time.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await importer.WriteAsync(r.SourceTopic, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(r.Partition, NpgsqlDbType.Integer, ct);
            await importer.WriteAsync(r.Offset, NpgsqlDbType.Bigint, ct);
            await importer.WriteAsync(r.Reason, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(r.Detail, NpgsqlDbType.Text, ct);
            await importer.WriteAsync(r.Payload, NpgsqlDbType.Bytea, ct);
        }

        await importer.CompleteAsync(ct);
        return newest;
    }

    private static Task WriteNullableAsync(NpgsqlBinaryImporter importer, double? value, CancellationToken ct) =>
        value is { } v ? importer.WriteAsync(v, NpgsqlDbType.Double, ct) : importer.WriteNullAsync(ct);

    private static Task WriteNullableAsync(NpgsqlBinaryImporter importer, string? value, CancellationToken ct) =>
        value is not null ? importer.WriteAsync(value, NpgsqlDbType.Text, ct) : importer.WriteNullAsync(ct);
}

/// <summary>The batch overlaps offsets already committed for some partitions but not others; writing it would duplicate rows.</summary>
internal sealed class OffsetConflictException(string message) : Exception(message);
