using System.Net.Sockets;
using Npgsql;
using Streaming.Storage;

namespace Streaming.Storage.Tests;

public sealed class TimescaleWriterTests
{
    private const string ApplicationName = "streaming-sink-under-test";

    private TestDatabase? _db;
    private NpgsqlDataSource? _dataSource;
    private TimescaleWriter? _writer;

    private TestDatabase Db => _db!;

    private TimescaleWriter Writer => _writer!;

    [OneTimeSetUp]
    public async Task CreateDatabaseAsync()
    {
        _db = await TestServer.CreateDatabaseAsync("writer", withTimescale: true);
        var capabilities = await DatabaseMigrator.ApplyAsync(_db.ConnectionString, new TestLogger(), CancellationToken.None);
        var connectionString = new NpgsqlConnectionStringBuilder(_db.ConnectionString) { ApplicationName = ApplicationName }.ConnectionString;
        _dataSource = NpgsqlDataSource.Create(connectionString);
        _writer = new TimescaleWriter(_dataSource, capabilities, TimeProvider.System, new TestLogger());
    }

    [OneTimeTearDown]
    public async Task DropDatabaseAsync()
    {
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }

        await TestServer.DropDatabaseAsync(_db);
    }

    [SetUp]
    public Task EmptyTablesAsync() =>
        Db.ExecuteAsync("TRUNCATE metrics, features, anomaly_scores, alerts, predictions, dead_letters, sink_batches, sink_offsets");

    [Test]
    public async Task A_batch_is_written_with_exact_row_counts_in_every_table()
    {
        var batch = SampleData.Build(DateTimeOffset.UtcNow);

        var outcome = await Writer.WriteBatchAsync(batch, "g1", [new SourceOffset("telemetry", 0, 100)], CancellationToken.None);

        Assert.That(outcome, Is.EqualTo(BatchOutcome.Written));
        await AssertCountsAsync(batch, copies: 1);
        Assert.That(await Db.ScalarAsync("SELECT rows FROM sink_batches"), Is.EqualTo(batch.RowCount));
        Assert.That(await Db.ScalarAsync("SELECT duration_ms > 0 AND lag_ms >= 0 AND lag_ms < 60000 AND consumer_group = 'g1' FROM sink_batches"), Is.True,
            "the newest sample is 'now', so the event-to-commit lag is the write time");
    }

    [Test]
    public async Task Written_values_read_back_unchanged()
    {
        var time = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.FromHours(2));
        var batch = new SinkBatch();
        batch.Features.Add(new FeatureRow(time, time.AddMinutes(1), "e", "m", 6, 1.5, 0.25, 1, 2, 1.1, 1.9, 0.5, 1.4, null, 1.8, -0.5, null));
        batch.Alerts.Add(new AlertRow(Guid.NewGuid(), time, "e", "downtime", "open", "critical", 0.9, 0.5, "m", "v", null, """{"a":[1,2]}"""));
        batch.DeadLetters.Add(new DeadLetterRow(time, "topic", 7, long.MaxValue, "r", "d", [0, 255]));

        await Writer.WriteBatchAsync(batch, "g-values", [], CancellationToken.None);

        Assert.That(await Db.ScalarAsync("SELECT window_start = '2026-03-01 10:00:00+00' FROM features"), Is.True);
        Assert.That(await Db.ScalarAsync("SELECT format('%s|%s|%s|%s', p50 IS NULL, p95, rate_of_change, missing_ratio IS NULL) FROM features"),
            Is.EqualTo("t|1.8|-0.5|t"));
        Assert.That(await Db.ScalarAsync("SELECT payload -> 'a' ->> 1 FROM alerts WHERE top_metric IS NULL"), Is.EqualTo("2"));
        Assert.That(await Db.ScalarAsync("SELECT payload FROM dead_letters WHERE source_offset = 9223372036854775807"), Is.EqualTo(new byte[] { 0, 255 }));
    }

    [Test]
    public async Task A_drift_event_is_stored_in_the_alerts_table_and_an_unknown_kind_is_refused()
    {
        var time = DateTimeOffset.UtcNow;
        var drift = new SinkBatch();
        drift.Alerts.Add(new AlertRow(Guid.NewGuid(), time, "fleet", "drift", "open", "warning", 0.41, 0.25, "ensemble", "v1", "cpu_usage.mean", """{"kind":"drift"}"""));
        await Writer.WriteBatchAsync(drift, "g-drift", [], CancellationToken.None);
        Assert.That(await Db.ScalarAsync("SELECT top_metric FROM alerts WHERE kind = 'drift'"), Is.EqualTo("cpu_usage.mean"));

        var unknown = new SinkBatch();
        unknown.Alerts.Add(new AlertRow(Guid.NewGuid(), time, "fleet", "weather", "open", "warning", 1, 1, "m", "v", null, "{}"));
        Assert.ThrowsAsync<PostgresException>(() => Writer.WriteBatchAsync(unknown, "g-drift", [], CancellationToken.None));
    }

    [Test]
    public async Task Offsets_round_trip_per_consumer_group_and_only_move_forward()
    {
        await Writer.WriteBatchAsync(new SinkBatch(), "g1", [new SourceOffset("telemetry", 0, 10), new SourceOffset("telemetry", 1, 20)], CancellationToken.None);
        await Writer.WriteBatchAsync(new SinkBatch(), "g2", [new SourceOffset("telemetry", 0, 5)], CancellationToken.None);
        await Writer.WriteBatchAsync(new SinkBatch(), "g1", [new SourceOffset("telemetry", 0, 15), new SourceOffset("alerts", 3, 7)], CancellationToken.None);

        var g1 = await Writer.LoadOffsetsAsync("g1", CancellationToken.None);
        var g2 = await Writer.LoadOffsetsAsync("g2", CancellationToken.None);

        Assert.That(g1, Is.EquivalentTo(new Dictionary<(string, int), long> { [("telemetry", 0)] = 15, [("telemetry", 1)] = 20, [("alerts", 3)] = 7 }));
        Assert.That(g2, Is.EquivalentTo(new Dictionary<(string, int), long> { [("telemetry", 0)] = 5 }));
        Assert.That(await Writer.LoadOffsetsAsync("nobody", CancellationToken.None), Is.Empty);
    }

    [Test]
    public async Task Retrying_a_committed_batch_reports_already_committed_and_keeps_one_copy()
    {
        var batch = SampleData.Build(DateTimeOffset.UtcNow, samplesPerMetric: 60);
        SourceOffset[] offsets = [new("telemetry", 0, 500), new("telemetry", 1, 300)];

        Assert.That(await Writer.WriteBatchAsync(batch, "g1", offsets, CancellationToken.None), Is.EqualTo(BatchOutcome.Written));
        Assert.That(await Writer.WriteBatchAsync(batch, "g1", offsets, CancellationToken.None), Is.EqualTo(BatchOutcome.AlreadyCommitted));

        await AssertCountsAsync(batch, copies: 1);
        Assert.That(await Db.CountAsync("sink_batches"), Is.EqualTo(1));
    }

    [Test]
    public async Task Processor_outputs_delivered_twice_are_stored_once_and_raw_metrics_are_not_deduplicated()
    {
        // A processor killed between flushing a batch and committing it repeats that batch's outputs (at-least-once on the
        // topic): the same features, score and alert event arrive again at later offsets and must not become new rows.
        var time = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
        var eventId = Guid.NewGuid();
        SinkBatch Outputs()
        {
            var batch = new SinkBatch();
            batch.Metrics.Add(new MetricRow(time, "e", "m", 1));
            batch.Features.Add(new FeatureRow(time, time.AddMinutes(1), "e", "m", 6, 1.5, 0.25, 1, 2, 1.1, 1.9, 0.5, 1.4, null, 1.8, -0.5, null));
            batch.Scores.Add(new ScoreRow(time.AddMinutes(1), "e", "ensemble", "v1", 2.5, 1, true));
            batch.Alerts.Add(new AlertRow(Guid.NewGuid(), time.AddMinutes(1), "e", "anomaly", "open", "critical", 2.5, 1, "ensemble", "v1", "m",
                $$"""{"event_id":"{{eventId}}","status":"open"}"""));
            batch.Predictions.Add(new PredictionRow(time.AddMinutes(1), "e", "downtime", "v1", 600, 0.1, 0.5, 0.9, "m",
                $$"""{"event_id":"{{eventId}}","status":"open"}"""));
            return batch;
        }

        Assert.That(await Writer.WriteBatchAsync(Outputs(), "g-dup", [new SourceOffset("features", 0, 10)], CancellationToken.None), Is.EqualTo(BatchOutcome.Written));
        Assert.That(await Writer.WriteBatchAsync(Outputs(), "g-dup", [new SourceOffset("features", 0, 20)], CancellationToken.None), Is.EqualTo(BatchOutcome.Written));

        Assert.Multiple(async () =>
        {
            Assert.That(await Db.CountAsync("features"), Is.EqualTo(1));
            Assert.That(await Db.CountAsync("anomaly_scores"), Is.EqualTo(1));
            Assert.That(await Db.CountAsync("alerts"), Is.EqualTo(1));
            Assert.That(await Db.CountAsync("predictions"), Is.EqualTo(1));
            Assert.That(await Db.CountAsync("metrics"), Is.EqualTo(2), "raw samples are exactly-once by offsets, not by value: a sample sent twice is two rows");
        });
    }

    [Test]
    public async Task A_batch_overlapping_committed_offsets_on_some_partitions_only_is_refused()
    {
        var batch = SampleData.Build(DateTimeOffset.UtcNow, samplesPerMetric: 6);
        await Writer.WriteBatchAsync(batch, "g1", [new SourceOffset("telemetry", 0, 100)], CancellationToken.None);

        var error = Assert.ThrowsAsync<OffsetConflictException>(() => Writer.WriteBatchAsync(
            batch, "g1", [new SourceOffset("telemetry", 0, 100), new SourceOffset("telemetry", 1, 50)], CancellationToken.None));

        Assert.That(error!.Message, Does.Contain("telemetry[1]"));
        await AssertCountsAsync(batch, copies: 1);
        Assert.That(await Writer.LoadOffsetsAsync("g1", CancellationToken.None), Does.Not.ContainKey(("telemetry", 1)));
    }

    [Test]
    public async Task A_batch_failing_inside_its_transaction_leaves_neither_rows_nor_offsets()
    {
        var batch = SampleData.Build(DateTimeOffset.UtcNow, samplesPerMetric: 60);
        // Metrics, features and scores are copied before alerts; the CHECK on kind then fails the transaction.
        batch.Alerts.Add(batch.Alerts[0] with { Kind = "not-a-kind" });

        var error = Assert.ThrowsAsync<PostgresException>(
            () => Writer.WriteBatchAsync(batch, "g1", [new SourceOffset("telemetry", 0, 42)], CancellationToken.None));

        Assert.That(error!.SqlState, Is.EqualTo(PostgresErrorCodes.CheckViolation));
        Assert.That(TimescaleWriter.IsTransient(error), Is.False, "a data error must not be retried forever");
        await AssertCountsAsync(batch, copies: 0);
        Assert.That(await Writer.LoadOffsetsAsync("g1", CancellationToken.None), Is.Empty);
    }

    [Test]
    public async Task Crash_between_copy_and_commit_neither_loses_nor_duplicates_rows()
    {
        var batch = SampleData.Build(DateTimeOffset.UtcNow, samplesPerMetric: 120);
        SourceOffset[] offsets = [new("telemetry", 0, 1000)];

        // Hold dead_letters (copied last) so the writer blocks mid-transaction with its other rows already copied.
        await using var blocker = new NpgsqlConnection(Db.ConnectionString);
        await blocker.OpenAsync();
        await using var blockTx = await blocker.BeginTransactionAsync();
        await using (var lockCmd = new NpgsqlCommand("LOCK TABLE dead_letters IN ACCESS EXCLUSIVE MODE", blocker, blockTx))
        {
            await lockCmd.ExecuteNonQueryAsync();
        }

        var write = Writer.WriteBatchAsync(batch, "g1", offsets, CancellationToken.None);
        var pid = await WaitForBlockedWriterAsync();
        Assert.That(await Db.ScalarAsync($"SELECT pg_terminate_backend({pid})"), Is.True);

        var failure = Assert.CatchAsync(() => write);
        await blockTx.RollbackAsync();

        Assert.That(TimescaleWriter.IsTransient(failure!), Is.True, failure!.ToString());
        await AssertCountsAsync(batch, copies: 0);
        Assert.That(await Writer.LoadOffsetsAsync("g1", CancellationToken.None), Is.Empty);

        // The sink loop retries the same batch: exactly one copy afterwards.
        Assert.That(await Writer.WriteBatchAsync(batch, "g1", offsets, CancellationToken.None), Is.EqualTo(BatchOutcome.Written));
        await AssertCountsAsync(batch, copies: 1);
        Assert.That((await Writer.LoadOffsetsAsync("g1", CancellationToken.None))[("telemetry", 0)], Is.EqualTo(1000));
    }

    [Test]
    public void Transient_failures_are_told_apart_from_data_errors()
    {
        Assert.Multiple(() =>
        {
            Assert.That(TimescaleWriter.IsTransient(Pg(PostgresErrorCodes.AdminShutdown)), Is.True);
            Assert.That(TimescaleWriter.IsTransient(Pg(PostgresErrorCodes.SerializationFailure)), Is.True);
            Assert.That(TimescaleWriter.IsTransient(Pg(PostgresErrorCodes.CannotConnectNow)), Is.True);
            Assert.That(TimescaleWriter.IsTransient(Pg(PostgresErrorCodes.TooManyConnections)), Is.True);
            Assert.That(TimescaleWriter.IsTransient(new NpgsqlException("broken", new SocketException((int)SocketError.ConnectionRefused))), Is.True);
            Assert.That(TimescaleWriter.IsTransient(new NpgsqlException("Exception while reading from stream", new IOException("reset"))), Is.True);
            Assert.That(TimescaleWriter.IsTransient(Pg(PostgresErrorCodes.UniqueViolation)), Is.False);
            Assert.That(TimescaleWriter.IsTransient(Pg(PostgresErrorCodes.UndefinedTable)), Is.False);
            Assert.That(TimescaleWriter.IsTransient(new OperationCanceledException()), Is.False);
            Assert.That(TimescaleWriter.IsTransient(new OffsetConflictException("x")), Is.False);
        });
    }

    private static PostgresException Pg(string sqlState) => new("test", "ERROR", "ERROR", sqlState);

    private async Task<int> WaitForBlockedWriterAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            var pid = await Db.ScalarAsync(
                $"SELECT pid FROM pg_stat_activity WHERE application_name = '{ApplicationName}' AND wait_event_type = 'Lock' AND query LIKE 'COPY dead_letters%'");
            if (pid is int found)
            {
                return found;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException("The writer never blocked on the dead_letters lock.");
    }

    private async Task AssertCountsAsync(SinkBatch batch, int copies)
    {
        Assert.Multiple(async () =>
        {
            Assert.That(await Db.CountAsync("metrics"), Is.EqualTo(batch.Metrics.Count * copies), "metrics");
            Assert.That(await Db.CountAsync("features"), Is.EqualTo(batch.Features.Count * copies), "features");
            Assert.That(await Db.CountAsync("anomaly_scores"), Is.EqualTo(batch.Scores.Count * copies), "anomaly_scores");
            Assert.That(await Db.CountAsync("alerts"), Is.EqualTo(batch.Alerts.Count * copies), "alerts");
            Assert.That(await Db.CountAsync("predictions"), Is.EqualTo(batch.Predictions.Count * copies), "predictions");
            Assert.That(await Db.CountAsync("dead_letters"), Is.EqualTo(batch.DeadLetters.Count * copies), "dead_letters");
        });
    }
}
