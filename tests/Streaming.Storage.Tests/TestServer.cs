using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Npgsql;
using Streaming.Storage;

namespace Streaming.Storage.Tests;

/// <summary>
/// The server every fixture creates its databases on: the one in STREAMING_PG (a superuser connection string) when
/// set, otherwise the private local cluster under .local/test-postgres, started once for the run and stopped at the end.
/// </summary>
[SetUpFixture]
public sealed class TestServer
{
    private static LocalPostgres? s_local;
    private static string? s_admin;

    public static string AdminConnectionString => s_admin ?? throw new InvalidOperationException("TestServer was not set up.");

    public static string RepoRoot { get; } = FindRepoRoot();

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        var external = Environment.GetEnvironmentVariable("STREAMING_PG");
        if (!string.IsNullOrWhiteSpace(external))
        {
            s_admin = external;
            return;
        }

        s_local = await LocalPostgres.StartAsync(
            new LocalPostgresOptions { StateDirectory = Path.Combine(RepoRoot, ".local", "test-postgres") },
            new TestLogger(),
            CancellationToken.None);
        s_admin = s_local.AdminConnectionString;
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (s_local is not null)
        {
            await s_local.StopAsync();
        }
    }

    /// <summary>A fresh, uniquely named database; drop it with <see cref="DropDatabaseAsync"/>.</summary>
    internal static async Task<TestDatabase> CreateDatabaseAsync(string prefix, bool withTimescale)
    {
        var name = $"t_{prefix}_{Guid.NewGuid():N}"[..(prefix.Length + 18)].ToLowerInvariant();
        var connectionString = await PostgresAdmin.CreateDatabaseAsync(AdminConnectionString, name, withTimescale, CancellationToken.None);
        return new TestDatabase(name, connectionString);
    }

    internal static async Task DropDatabaseAsync(TestDatabase? database)
    {
        if (database is not null)
        {
            NpgsqlConnection.ClearAllPools();
            await PostgresAdmin.DropDatabaseAsync(AdminConnectionString, database.Name, CancellationToken.None);
        }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Streaming.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Streaming.sln above {AppContext.BaseDirectory}.");
    }
}

internal sealed record TestDatabase(string Name, string ConnectionString)
{
    public async Task<long> CountAsync(string table)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand($"SELECT count(*) FROM {table}", connection);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    public async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        return await cmd.ExecuteScalarAsync();
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        await cmd.ExecuteNonQueryAsync();
    }
}

/// <summary>Collects log lines so tests can assert what was reported, and echoes them to the NUnit progress stream.</summary>
internal sealed class TestLogger : ILogger<TimescaleWriter>, ILogger<MaintenanceLoop>
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var line = $"{logLevel}: {formatter(state, exception)}";
        Lines.Enqueue(line);
        TestContext.Progress.WriteLine(line);
    }
}
