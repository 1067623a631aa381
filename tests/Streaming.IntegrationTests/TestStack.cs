using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Streaming.Kafka;
using Streaming.Storage;

namespace Streaming.IntegrationTests;

/// <summary>
/// The real components every integration test runs on, started once per test run: a Kafka protocol endpoint (the embedded
/// mock cluster, or KAFKA_BOOTSTRAP_SERVERS) and a PostgreSQL/TimescaleDB server (the private cluster under
/// .local/pg-integration, or the superuser connection string in STREAMING_PG). Each test gets its own topics and database.
/// </summary>
[SetUpFixture]
public sealed class TestStack
{
    private static KafkaCluster? _kafka;
    private static LocalPostgres? _postgres;
    private static string? _adminConnectionString;
    private static int _sequence;

    public static KafkaCluster Kafka => _kafka ?? throw new InvalidOperationException("The test stack is not started.");

    public static ILoggerFactory Loggers { get; } = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        var bootstrap = Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS");
        _kafka = KafkaCluster.Connect(new KafkaOptions { BootstrapServers = bootstrap, Partitions = 4 });
        var external = Environment.GetEnvironmentVariable("STREAMING_PG");
        if (!string.IsNullOrWhiteSpace(external))
        {
            _adminConnectionString = external;
        }
        else
        {
            _postgres = await LocalPostgres.StartAsync(
                new LocalPostgresOptions { StateDirectory = Path.Combine(RepoRoot, ".local", "pg-integration") },
                NullLogger.Instance, CancellationToken.None);
            _adminConnectionString = _postgres.AdminConnectionString;
        }
    }

    [OneTimeTearDown]
    public void Stop()
    {
        // The local PostgreSQL cluster stays up for the next run (it is reused); Kafka lives in this process and goes with it.
        _kafka?.Dispose();
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>A unique name for this test's topics, groups and database.</summary>
    public static string UniqueName(string prefix) =>
        $"{prefix}_{Environment.ProcessId}_{Interlocked.Increment(ref _sequence)}_{DateTime.UtcNow:HHmmssfff}".ToLowerInvariant();

    public static Task<string> CreateDatabaseAsync(string name) =>
        PostgresAdmin.CreateDatabaseAsync(_adminConnectionString!, name, withTimescale: true, CancellationToken.None);

    public static string RepoRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Streaming.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("Cannot find the repository root (Streaming.sln) above " + AppContext.BaseDirectory);
    }
}
