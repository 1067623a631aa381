using Npgsql;
using Streaming.Storage;

namespace Streaming.Storage.Tests;

/// <summary>The grants of migration 004, exercised through LOGIN roles that are members of the group roles.</summary>
public sealed class RoleTests
{
    private TestDatabase? _db;
    private StorageCapabilities? _capabilities;
    private readonly List<string> _roles = [];

    [OneTimeSetUp]
    public async Task CreateDatabaseAsync()
    {
        _db = await TestServer.CreateDatabaseAsync("roles", withTimescale: true);
        _capabilities = await DatabaseMigrator.ApplyAsync(_db.ConnectionString, new TestLogger(), CancellationToken.None);
    }

    [OneTimeTearDown]
    public async Task DropAsync()
    {
        await TestServer.DropDatabaseAsync(_db);
        await using var admin = new NpgsqlConnection(TestServer.AdminConnectionString);
        await admin.OpenAsync();
        foreach (var role in _roles)
        {
            await using var drop = new NpgsqlCommand($"DROP ROLE IF EXISTS {role}", admin);
            await drop.ExecuteNonQueryAsync();
        }
    }

    [Test]
    public async Task A_streaming_writer_member_can_write_batches_and_offsets()
    {
        await using var dataSource = NpgsqlDataSource.Create(await LoginAsAsync("streaming_writer"));
        var writer = new TimescaleWriter(dataSource, _capabilities!, TimeProvider.System, new TestLogger());
        var batch = SampleData.Build(DateTimeOffset.UtcNow, samplesPerMetric: 12);

        Assert.That(await writer.WriteBatchAsync(batch, "as-writer", [new SourceOffset("telemetry", 0, 12)], CancellationToken.None),
            Is.EqualTo(BatchOutcome.Written));
        Assert.That(await writer.WriteBatchAsync(batch, "as-writer", [new SourceOffset("telemetry", 0, 24)], CancellationToken.None),
            Is.EqualTo(BatchOutcome.Written), "advancing an existing offset row needs UPDATE on sink_offsets");
        Assert.That((await writer.LoadOffsetsAsync("as-writer", CancellationToken.None))[("telemetry", 0)], Is.EqualTo(24));
    }

    [Test]
    public async Task A_streaming_writer_member_cannot_delete_rows()
    {
        await using var connection = new NpgsqlConnection(await LoginAsAsync("streaming_writer"));
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand("DELETE FROM metrics", connection);

        var error = Assert.ThrowsAsync<PostgresException>(() => cmd.ExecuteNonQueryAsync());
        Assert.That(error!.SqlState, Is.EqualTo(PostgresErrorCodes.InsufficientPrivilege));
    }

    [Test]
    public async Task A_streaming_reader_member_can_read_every_table_but_write_none()
    {
        await using var connection = new NpgsqlConnection(await LoginAsAsync("streaming_reader"));
        await connection.OpenAsync();
        foreach (var table in new[] { "metrics", "features", "anomaly_scores", "alerts", "predictions", "dead_letters", "sink_batches",
                     "model_registry", "sink_offsets", "metrics_1m", "metrics_1h" })
        {
            await using var select = new NpgsqlCommand($"SELECT count(*) FROM {table}", connection);
            Assert.That(await select.ExecuteScalarAsync(), Is.Not.Null, table);
        }

        await using var insert = new NpgsqlCommand("INSERT INTO metrics VALUES (now(), 'e', 'm', 1)", connection);
        var error = Assert.ThrowsAsync<PostgresException>(() => insert.ExecuteNonQueryAsync());
        Assert.That(error!.SqlState, Is.EqualTo(PostgresErrorCodes.InsufficientPrivilege));
    }

    private async Task<string> LoginAsAsync(string groupRole)
    {
        var role = $"{groupRole}_{Guid.NewGuid():N}"[..(groupRole.Length + 9)];
        var password = Guid.NewGuid().ToString("N");
        await using (var admin = new NpgsqlConnection(TestServer.AdminConnectionString))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE {groupRole}", admin);
            await create.ExecuteNonQueryAsync();
        }

        _roles.Add(role);
        return new NpgsqlConnectionStringBuilder(_db!.ConnectionString) { Username = role, Password = password }.ConnectionString;
    }
}
