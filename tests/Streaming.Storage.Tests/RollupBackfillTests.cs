using Npgsql;

namespace Streaming.Storage.Tests;

/// <summary>
/// Rows written older than the maintenance lookback (3 h) — after a sink outage, a replay, late data, or the demo's
/// simulated past — used to be missing from the rollups for good: the periodic pass only recomputed the last 3 h.
/// </summary>
public sealed class RollupBackfillTests
{
    private TestDatabase? _timescale;
    private TestDatabase? _plain;

    [OneTimeSetUp]
    public async Task CreateDatabasesAsync()
    {
        _timescale = await TestServer.CreateDatabaseAsync("backfill_ts", withTimescale: true);
        _plain = await TestServer.CreateDatabaseAsync("backfill_plain", withTimescale: false);
    }

    [OneTimeTearDown]
    public async Task DropDatabasesAsync()
    {
        await TestServer.DropDatabaseAsync(_timescale);
        await TestServer.DropDatabaseAsync(_plain);
    }

    [Test]
    public async Task Rows_the_sink_writes_a_day_late_are_rolled_up_by_the_next_maintenance_pass([Values] bool timescale)
    {
        var db = (timescale ? _timescale : _plain)!;
        var capabilities = await DatabaseMigrator.ApplyAsync(db.ConnectionString, new TestLogger(), CancellationToken.None);
        await using var dataSource = NpgsqlDataSource.Create(db.ConnectionString);
        var backfill = new RollupBackfill();
        var writer = new TimescaleWriter(dataSource, capabilities, TimeProvider.System, new TestLogger()) { Backfill = backfill };
        var dayAgo = DateTimeOffset.UtcNow.AddDays(-1);
        var late = new SinkBatch();
        for (var i = 0; i < 180; i++)
            late.Metrics.Add(new MetricRow(dayAgo.AddSeconds(i), "late-entity", "temperature", i));
        var recent = new SinkBatch();
        recent.Metrics.Add(new MetricRow(DateTimeOffset.UtcNow.AddMinutes(-1), "recent-entity", "temperature", 1));

        await writer.WriteBatchAsync(late, "backfill-test", [], CancellationToken.None);
        await writer.WriteBatchAsync(recent, "backfill-test", [], CancellationToken.None);
        using var maintenance = new MaintenanceLoop(dataSource, capabilities, new MaintenanceOptions(), TimeProvider.System, new TestLogger(), backfill);
        Assert.That(await maintenance.RunOnceAsync(CancellationToken.None), Is.True);

        Assert.Multiple(async () =>
        {
            Assert.That(await db.ScalarAsync("SELECT sum(samples) FROM metrics_1m WHERE entity = 'late-entity'"), Is.EqualTo(180), "every late row in the minute rollup");
            Assert.That(await db.ScalarAsync("SELECT sum(samples) FROM metrics_1h WHERE entity = 'late-entity'"), Is.EqualTo(180), "and in the hour rollup");
            Assert.That(await db.ScalarAsync("SELECT sum(samples) FROM metrics_1m WHERE entity = 'recent-entity'"), Is.EqualTo(1), "recent rows as before");
            Assert.That(backfill.Take(), Is.Null, "the pass consumed what the writer reported");
        });
    }

    [Test]
    public async Task Without_the_writer_report_the_lookback_pass_leaves_day_old_rows_out_which_is_why_the_report_exists()
    {
        var db = _plain!;
        var capabilities = await DatabaseMigrator.ApplyAsync(db.ConnectionString, new TestLogger(), CancellationToken.None);
        await using var dataSource = NpgsqlDataSource.Create(db.ConnectionString);
        var writer = new TimescaleWriter(dataSource, capabilities, TimeProvider.System, new TestLogger());
        var late = new SinkBatch();
        late.Metrics.Add(new MetricRow(DateTimeOffset.UtcNow.AddDays(-2), "unreported-entity", "temperature", 1));
        await writer.WriteBatchAsync(late, "backfill-control", [], CancellationToken.None);

        using var maintenance = new MaintenanceLoop(dataSource, capabilities, new MaintenanceOptions(), TimeProvider.System, new TestLogger());
        await maintenance.RunOnceAsync(CancellationToken.None);
        Assert.That(await db.ScalarAsync("SELECT count(*) FROM metrics_1m WHERE entity = 'unreported-entity'"), Is.Zero);

        // The explicit repair covers any range on every server.
        await maintenance.RefreshRollupsAsync(DateTimeOffset.UtcNow.AddDays(-3), DateTimeOffset.UtcNow, CancellationToken.None);
        Assert.That(await db.ScalarAsync("SELECT sum(samples) FROM metrics_1m WHERE entity = 'unreported-entity'"), Is.EqualTo(1));
    }

    [Test]
    public void The_report_keeps_the_oldest_time_observed_until_taken()
    {
        var backfill = new RollupBackfill();
        var now = DateTimeOffset.UtcNow;
        Parallel.For(0, 1000, i => backfill.Observe(now.AddSeconds(-i)));

        Assert.That(backfill.Take(), Is.EqualTo(now.AddSeconds(-999)));
        Assert.That(backfill.Take(), Is.Null);
    }
}
