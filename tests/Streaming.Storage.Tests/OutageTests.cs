using Npgsql;
using Streaming.Storage;

namespace Streaming.Storage.Tests;

/// <summary>Stops and restarts a cluster of its own, so the rest of the suite never sees the outage.</summary>
public sealed class OutageTests
{
    private string? _stateDirectory;
    private LocalPostgres? _cluster;

    [OneTimeSetUp]
    public async Task StartPrivateClusterAsync()
    {
        _stateDirectory = Path.Combine(TestServer.RepoRoot, ".local", "outage-test-postgres");
        _cluster = await LocalPostgres.StartAsync(new LocalPostgresOptions { StateDirectory = _stateDirectory }, new TestLogger(), CancellationToken.None);
    }

    [OneTimeTearDown]
    public async Task StopPrivateClusterAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.StopAsync();
        }
    }

    [Test]
    public async Task Starting_again_while_running_reuses_the_cluster_on_its_remembered_port()
    {
        var again = await LocalPostgres.StartAsync(new LocalPostgresOptions { StateDirectory = _stateDirectory! }, new TestLogger(), CancellationToken.None);

        Assert.That(again.Reused, Is.True);
        Assert.That(again.Port, Is.EqualTo(_cluster!.Port));
        Assert.That(again.AdminConnectionString, Is.EqualTo(_cluster.AdminConnectionString));
        await using var connection = new NpgsqlConnection(again.AdminConnectionString);
        await connection.OpenAsync();
        Assert.That(connection.PostgreSqlVersion.Major, Is.GreaterThanOrEqualTo(15));
    }

    [Test]
    public async Task Concurrent_first_starts_on_one_state_directory_initialise_a_single_cluster()
    {
        var options = new LocalPostgresOptions { StateDirectory = Path.Combine(TestServer.RepoRoot, ".local", "concurrent-start-" + Guid.NewGuid().ToString("N")[..8]) };
        LocalPostgres[] clusters = [];
        try
        {
            clusters = await Task.WhenAll(
                LocalPostgres.StartAsync(options, new TestLogger(), CancellationToken.None),
                LocalPostgres.StartAsync(options, new TestLogger(), CancellationToken.None));

            Assert.That(clusters.Select(c => c.Port).Distinct().Count(), Is.EqualTo(1));
            Assert.That(clusters.Count(c => c.Reused), Is.EqualTo(1), "one initialised and started it, the other waited and reused it");
            await using var connection = new NpgsqlConnection(clusters[0].AdminConnectionString);
            await connection.OpenAsync();
        }
        finally
        {
            // If the starts failed, attach to whatever got started so no server outlives the test.
            var cluster = clusters.Length > 0 ? clusters[0] : await LocalPostgres.StartAsync(options, new TestLogger(), CancellationToken.None);
            await cluster.StopAsync();
            Directory.Delete(cluster.ClusterDirectory, recursive: true);
        }
    }

    [Test]
    public async Task A_batch_written_while_the_database_is_down_is_transient_and_succeeds_after_restart()
    {
        var connectionString = await _cluster!.CreateDatabaseAsync("outage_" + Guid.NewGuid().ToString("N")[..8]);
        var capabilities = await DatabaseMigrator.ApplyAsync(connectionString, new TestLogger(), CancellationToken.None);
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var writer = new TimescaleWriter(dataSource, capabilities, TimeProvider.System, new TestLogger());
        var db = new TestDatabase("outage", connectionString);

        var first = SampleData.Build(DateTimeOffset.UtcNow.AddHours(-1), samplesPerMetric: 30);
        await writer.WriteBatchAsync(first, "g1", [new SourceOffset("telemetry", 0, 100)], CancellationToken.None);

        await _cluster.StopAsync();
        var second = SampleData.Build(DateTimeOffset.UtcNow, samplesPerMetric: 30);
        SourceOffset[] secondOffsets = [new("telemetry", 0, 200)];
        var failure = Assert.CatchAsync(() => writer.WriteBatchAsync(second, "g1", secondOffsets, CancellationToken.None));
        Assert.That(TimescaleWriter.IsTransient(failure!), Is.True, failure!.ToString());

        _cluster = await LocalPostgres.StartAsync(new LocalPostgresOptions { StateDirectory = _stateDirectory! }, new TestLogger(), CancellationToken.None);

        // What the sink loop does: retry the same batch while failures are transient.
        var outcome = await RetryAsync(() => writer.WriteBatchAsync(second, "g1", secondOffsets, CancellationToken.None));

        Assert.That(outcome, Is.EqualTo(BatchOutcome.Written));
        Assert.That(await db.CountAsync("metrics"), Is.EqualTo(first.Metrics.Count + second.Metrics.Count));
        Assert.That(await db.CountAsync("alerts"), Is.EqualTo(first.Alerts.Count + second.Alerts.Count));
        Assert.That((await writer.LoadOffsetsAsync("g1", CancellationToken.None))[("telemetry", 0)], Is.EqualTo(200));
    }

    private static async Task<T> RetryAsync<T>(Func<Task<T>> action)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await action();
            }
            catch (Exception ex) when (TimescaleWriter.IsTransient(ex) && attempt < 5)
            {
                await Task.Delay(100 * attempt);
            }
        }
    }
}
