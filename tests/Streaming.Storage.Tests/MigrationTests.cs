using Npgsql;
using Streaming.Storage;

namespace Streaming.Storage.Tests;

public sealed class MigrationTests
{
    private static readonly string[] Tables =
        ["metrics", "features", "anomaly_scores", "alerts", "predictions", "dead_letters", "sink_batches", "model_registry", "sink_offsets", "metrics_1m", "metrics_1h"];

    private TestDatabase? _timescale;
    private TestDatabase? _plain;
    private StorageCapabilities? _timescaleCapabilities;
    private StorageCapabilities? _plainCapabilities;
    private readonly TestLogger _timescaleLog = new();

    [OneTimeSetUp]
    public async Task CreateDatabasesAsync()
    {
        _timescale = await TestServer.CreateDatabaseAsync("migr_ts", withTimescale: true);
        _plain = await TestServer.CreateDatabaseAsync("migr_plain", withTimescale: false);
        _timescaleCapabilities = await DatabaseMigrator.ApplyAsync(_timescale.ConnectionString, _timescaleLog, CancellationToken.None);
        _plainCapabilities = await DatabaseMigrator.ApplyAsync(_plain.ConnectionString, new TestLogger(), CancellationToken.None);
    }

    [OneTimeTearDown]
    public async Task DropDatabasesAsync()
    {
        await TestServer.DropDatabaseAsync(_timescale);
        await TestServer.DropDatabaseAsync(_plain);
    }

    private TestDatabase Db(bool timescale) => (timescale ? _timescale : _plain)!;

    private StorageCapabilities Capabilities(bool timescale) => (timescale ? _timescaleCapabilities : _plainCapabilities)!;

    [Test]
    public async Task Migrations_apply_a_second_time_without_changing_anything([Values] bool timescale)
    {
        var db = Db(timescale);
        var before = await db.ScalarAsync("SELECT string_agg(version || ':' || checksum || ':' || applied_at, ',' ORDER BY version) FROM schema_migrations");

        var again = await DatabaseMigrator.ApplyAsync(db.ConnectionString, new TestLogger(), CancellationToken.None);

        Assert.That(again, Is.EqualTo(Capabilities(timescale)));
        Assert.That(await db.ScalarAsync("SELECT string_agg(version || ':' || checksum || ':' || applied_at, ',' ORDER BY version) FROM schema_migrations"),
            Is.EqualTo(before));
        Assert.That(await db.CountAsync("schema_migrations"), Is.EqualTo(DatabaseMigrator.LoadMigrations().Count));
    }

    [Test]
    public void Capability_check_reports_timescale_on_a_database_with_the_extension()
    {
        var caps = _timescaleCapabilities!;
        Assert.That(caps.TimescaleVersion, Is.Not.Null.And.Not.Empty);
        Assert.That(caps.HasHypertables, Is.True);
        Assert.That(caps.License, Is.AnyOf("apache", "timescale"));
        if (caps.License == "apache")
        {
            // What this machine's Apache-only build offers; the licensed image reports true for all of these.
            Assert.That(caps.HasContinuousAggregates || caps.HasCompression || caps.HasRetentionPolicies || caps.HasRefreshPolicies, Is.False);
        }

        Assert.That(_timescaleLog.Lines, Has.Some.Contains("Storage capabilities: timescaledb=" + caps.TimescaleVersion));
    }

    [Test]
    public async Task The_policy_job_query_runs_on_the_real_server_and_the_capability_line_names_each_policy_or_says_there_are_none(
        [Values] bool timescale)
    {
        var db = Db(timescale);
        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync();

        var jobs = await PolicyJobs.QueryAsync(connection, CancellationToken.None);
        var caps = Capabilities(timescale);

        Assert.That(caps.Policies.Jobs.Select(j => j.JobId), Is.EqualTo(jobs.Select(j => j.JobId)), "the capabilities carry the jobs the query returns");
        if (!timescale || caps.License == "apache")
        {
            // Plain PostgreSQL and this machine's Apache-only build run no policy jobs; the line says so.
            Assert.That(jobs, Is.Empty);
            Assert.That(caps.ToString(), Does.EndWith("policies=[no policy jobs on this server]"));
            Assert.That(caps.Policies.Problem, Is.Null);
        }
        else
        {
            // A licensed server (STREAMING_PG): every policy migration 003 created, each with its status.
            Assert.That(jobs.Select(j => j.ProcName), Does.Contain("policy_retention").And.Contain("policy_refresh_continuous_aggregate"));
            Assert.That(jobs.Select(j => j.Table), Does.Contain("metrics").And.Contain("metrics_1m"));
            foreach (var job in caps.Policies.Jobs)
                Assert.That(caps.ToString(), Does.Contain(job.Describe()));
        }
        if (timescale)
            Assert.That(_timescaleLog.Lines, Has.Some.Contains("policies=["), "the logged capability line reports the policies");
    }

    [Test]
    public void Capability_check_reports_nothing_on_plain_postgres()
    {
        Assert.That(_plainCapabilities, Is.EqualTo(StorageCapabilities.PlainPostgres));
    }

    [Test]
    public async Task Both_paths_create_every_table_and_both_rollups([Values] bool timescale)
    {
        var db = Db(timescale);
        foreach (var table in Tables)
        {
            Assert.That(await db.ScalarAsync($"SELECT to_regclass('{table}') IS NOT NULL"), Is.True, table);
        }

        if (timescale)
        {
            var hypertables = await db.ScalarAsync("SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_name IN " +
                "('metrics','features','anomaly_scores','alerts','predictions','dead_letters','sink_batches')");
            Assert.That(hypertables, Is.EqualTo(7));
        }

        Assert.That(await db.ScalarAsync("SELECT count(*) FROM pg_roles WHERE rolname IN ('streaming_writer','streaming_reader')"), Is.EqualTo(2));
    }

    [Test]
    public async Task A_rollup_query_returns_rows_after_maintenance_runs([Values] bool timescale)
    {
        var db = Db(timescale);
        var now = DateTimeOffset.UtcNow;
        await using var dataSource = NpgsqlDataSource.Create(db.ConnectionString);
        var writer = new TimescaleWriter(dataSource, Capabilities(timescale), TimeProvider.System, new TestLogger());
        var batch = new SinkBatch();
        for (var i = 0; i < 120; i++)
        {
            batch.Metrics.Add(new MetricRow(now.AddSeconds(-i), "rollup-entity", "temperature", i));
        }

        await writer.WriteBatchAsync(batch, "rollup-test", [], CancellationToken.None);
        using var maintenance = new MaintenanceLoop(dataSource, Capabilities(timescale), new MaintenanceOptions(), TimeProvider.System, new TestLogger());
        Assert.That(await maintenance.RunOnceAsync(CancellationToken.None), Is.True);

        Assert.That(await db.ScalarAsync("SELECT sum(samples) FROM metrics_1m WHERE entity = 'rollup-entity'"), Is.EqualTo(120));
        Assert.That(await db.ScalarAsync("SELECT sum(samples) FROM metrics_1h WHERE entity = 'rollup-entity'"), Is.EqualTo(120));
        Assert.That(await db.ScalarAsync("SELECT round(sum(sum_value)) FROM metrics_1h WHERE entity = 'rollup-entity'"), Is.EqualTo(7140));

        // A second pass recomputes the same buckets instead of adding to them.
        await maintenance.RunOnceAsync(CancellationToken.None);
        Assert.That(await db.ScalarAsync("SELECT sum(samples) FROM metrics_1m WHERE entity = 'rollup-entity'"), Is.EqualTo(120));
    }

    [Test]
    public async Task Fallback_retention_removes_expired_rows_and_keeps_recent_ones([Values] bool timescale)
    {
        var db = Db(timescale);
        var now = DateTimeOffset.UtcNow;
        await using var dataSource = NpgsqlDataSource.Create(db.ConnectionString);
        var writer = new TimescaleWriter(dataSource, Capabilities(timescale), TimeProvider.System, new TestLogger());
        var batch = new SinkBatch();
        batch.Metrics.Add(new MetricRow(now.AddDays(-45), "retention-entity", "temperature", 1));
        batch.Metrics.Add(new MetricRow(now.AddMinutes(-5), "retention-entity", "temperature", 2));
        batch.DeadLetters.Add(new DeadLetterRow(now.AddDays(-120), "t", 0, 1, "schema", "old", [1]));
        batch.DeadLetters.Add(new DeadLetterRow(now.AddDays(-1), "t", 0, 2, "schema", "new", [2]));
        await writer.WriteBatchAsync(batch, "retention-test", [], CancellationToken.None);

        using var maintenance = new MaintenanceLoop(dataSource, Capabilities(timescale), new MaintenanceOptions(), TimeProvider.System, new TestLogger());
        await maintenance.ApplyRetentionAsync(now, CancellationToken.None);

        Assert.That(await db.ScalarAsync("SELECT array_agg(value ORDER BY value) FROM metrics WHERE entity = 'retention-entity'"), Is.EqualTo(new[] { 2.0 }));
        Assert.That(await db.ScalarAsync("SELECT array_agg(detail) FROM dead_letters WHERE source_topic = 't'"), Is.EqualTo(new[] { "new" }));
    }

    [Test]
    public async Task The_maintenance_background_service_refreshes_rollups_as_soon_as_it_starts([Values] bool timescale)
    {
        var db = Db(timescale);
        await using var dataSource = NpgsqlDataSource.Create(db.ConnectionString);
        var writer = new TimescaleWriter(dataSource, Capabilities(timescale), TimeProvider.System, new TestLogger());
        var batch = new SinkBatch();
        batch.Metrics.Add(new MetricRow(DateTimeOffset.UtcNow, "hosted-entity", "temperature", 5));
        await writer.WriteBatchAsync(batch, "hosted-test", [], CancellationToken.None);

        using var loop = new MaintenanceLoop(dataSource, Capabilities(timescale), new MaintenanceOptions(), TimeProvider.System, new TestLogger());
        await loop.StartAsync(CancellationToken.None);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (await db.ScalarAsync("SELECT count(*) FROM metrics_1m WHERE entity = 'hosted-entity'") is 0L && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
        finally
        {
            await loop.StopAsync(CancellationToken.None);
        }

        Assert.That(await db.ScalarAsync("SELECT sum(samples) FROM metrics_1m WHERE entity = 'hosted-entity'"), Is.EqualTo(1));
    }

    [Test]
    public async Task A_maintenance_run_is_skipped_while_another_instance_holds_the_lock()
    {
        var db = Db(timescale: false);
        await using var dataSource = NpgsqlDataSource.Create(db.ConnectionString);
        var batch = new SinkBatch();
        batch.Metrics.Add(new MetricRow(DateTimeOffset.UtcNow, "locked-entity", "temperature", 1));
        await new TimescaleWriter(dataSource, Capabilities(false), TimeProvider.System, new TestLogger())
            .WriteBatchAsync(batch, "lock-test", [], CancellationToken.None);
        using var maintenance = new MaintenanceLoop(dataSource, Capabilities(false), new MaintenanceOptions(), TimeProvider.System, new TestLogger());

        // Unpooled, so a failing assertion cannot leave the lock behind in a pooled session.
        await using (var other = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(db.ConnectionString) { Pooling = false }.ConnectionString))
        {
            await other.OpenAsync();
            await using var hold = new NpgsqlCommand($"SELECT pg_advisory_lock({MaintenanceLoop.AdvisoryLockKey})", other);
            await hold.ExecuteNonQueryAsync();

            Assert.That(await maintenance.RunOnceAsync(CancellationToken.None), Is.False);
            Assert.That(await db.ScalarAsync("SELECT count(*) FROM metrics_1m WHERE entity = 'locked-entity'"), Is.EqualTo(0));

            // Released explicitly: a closed session's locks go away only once its backend has exited, which is asynchronous.
            await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({MaintenanceLoop.AdvisoryLockKey})", other);
            await release.ExecuteNonQueryAsync();
        }

        Assert.That(await maintenance.RunOnceAsync(CancellationToken.None), Is.True, "runs once the other instance released the lock");
        Assert.That(await db.ScalarAsync("SELECT count(*) FROM metrics_1m WHERE entity = 'locked-entity'"), Is.EqualTo(1));
    }

    [Test]
    public async Task Concurrent_migrators_on_a_fresh_database_apply_each_version_once()
    {
        var db = await TestServer.CreateDatabaseAsync("migr_conc", withTimescale: true);
        try
        {
            var results = await Task.WhenAll(
                DatabaseMigrator.ApplyAsync(db.ConnectionString, new TestLogger(), CancellationToken.None),
                DatabaseMigrator.ApplyAsync(db.ConnectionString, new TestLogger(), CancellationToken.None));

            Assert.That(results[0], Is.EqualTo(results[1]));
            Assert.That(await db.ScalarAsync("SELECT count(DISTINCT version) = count(*) AND count(*) = " + DatabaseMigrator.LoadMigrations().Count +
                " FROM schema_migrations"), Is.True);
        }
        finally
        {
            await TestServer.DropDatabaseAsync(db);
        }
    }

    [Test]
    public async Task An_edited_migration_that_was_already_applied_is_refused()
    {
        var db = await TestServer.CreateDatabaseAsync("migr_edit", withTimescale: false);
        try
        {
            await DatabaseMigrator.ApplyAsync(db.ConnectionString, new TestLogger(), CancellationToken.None);
            await db.ExecuteAsync("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1");

            var error = Assert.ThrowsAsync<InvalidOperationException>(
                () => DatabaseMigrator.ApplyAsync(db.ConnectionString, new TestLogger(), CancellationToken.None));
            Assert.That(error!.Message, Does.Contain("001_core_tables").And.Contain("add a new migration"));
        }
        finally
        {
            await TestServer.DropDatabaseAsync(db);
        }
    }
}
