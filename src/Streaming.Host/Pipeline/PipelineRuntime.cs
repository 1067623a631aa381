using Microsoft.Extensions.Logging;
using Npgsql;
using Streaming.Host.Configuration;
using Streaming.Kafka;
using Streaming.Storage;

namespace Streaming.Host.Pipeline;

/// <summary>
/// The real components a pipeline runs on: Kafka (embedded unless configured) and PostgreSQL/TimescaleDB (the private local
/// cluster unless a connection string is configured), migrated and ready.
/// </summary>
internal sealed class PipelineRuntime : IAsyncDisposable
{
    private PipelineRuntime(KafkaCluster kafka, LocalPostgres? localPostgres, string connectionString, NpgsqlDataSource dataSource,
        StorageCapabilities capabilities, TimescaleWriter writer)
    {
        Kafka = kafka;
        LocalPostgres = localPostgres;
        ConnectionString = connectionString;
        DataSource = dataSource;
        Capabilities = capabilities;
        Writer = writer;
    }

    public KafkaCluster Kafka { get; }

    public LocalPostgres? LocalPostgres { get; }

    public string ConnectionString { get; }

    public NpgsqlDataSource DataSource { get; }

    public StorageCapabilities Capabilities { get; }

    public TimescaleWriter Writer { get; }

    /// <summary>
    /// Database maintenance for what the sink writes: rollups (including rows older than the lookback, which the writer
    /// reports) and retention where the server has no policies for them. Run by whichever role runs the sink.
    /// </summary>
    public MaintenanceLoop CreateMaintenance(ILoggerFactory loggers, TimeProvider clock) =>
        new(DataSource, Capabilities, new MaintenanceOptions(), clock, loggers.CreateLogger<MaintenanceLoop>(), Writer.Backfill);

    public static async Task<PipelineRuntime> StartAsync(StreamingSettings settings, ILoggerFactory loggers, TimeProvider clock, CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger("Streaming.Runtime");
        var kafka = KafkaCluster.Connect(settings.Kafka);
        try
        {
            await kafka.EnsureTopicsAsync(settings.Topics.Layout, message => RuntimeLog.TopicCheckLimited(logger, message), cancellationToken).ConfigureAwait(false);
            LocalPostgres? local = null;
            var connectionString = settings.Storage.ConnectionString;
            if (string.IsNullOrWhiteSpace(connectionString))
            {
                local = await LocalDatabases.StartAsync(settings.Storage, logger, cancellationToken).ConfigureAwait(false);
                connectionString = await local.CreateDatabaseAsync(settings.Storage.Database, withTimescale: true, cancellationToken).ConfigureAwait(false);
            }
            var capabilities = await DatabaseMigrator.ApplyAsync(connectionString, logger, cancellationToken).ConfigureAwait(false);
            var dataSource = NpgsqlDataSource.Create(connectionString);
            // Stored with every sink offset, so offsets of another cluster's topics are recognised (SinkWorker).
            var writer = new TimescaleWriter(dataSource, capabilities, clock, loggers.CreateLogger<TimescaleWriter>()) { ClusterId = kafka.Identity().ClusterId, Backfill = new RollupBackfill() };
            return new PipelineRuntime(kafka, local, connectionString, dataSource, capabilities, writer);
        }
        catch
        {
            kafka.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync().ConfigureAwait(false);
        Kafka.Dispose();
    }
}

internal static class RepositoryPaths
{
    /// <summary>The checkout's root (the directory holding Streaming.sln), or the working directory when run elsewhere.</summary>
    public static string Root { get; } = FindRoot();

    public static string Resolve(string path) => Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(Root, path));

    private static string FindRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Streaming.sln")))
                    return dir.FullName;
            }
        }
        return Directory.GetCurrentDirectory();
    }
}

internal static partial class RuntimeLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "{Message}")]
    public static partial void TopicCheckLimited(ILogger logger, string message);
}
