using Microsoft.Extensions.Logging;

namespace Streaming.Storage;

internal static partial class StorageLog
{
    [LoggerMessage(EventId = 7100, Level = LogLevel.Information, Message = "PostgreSQL notice: {Notice}")]
    public static partial void ServerNotice(ILogger logger, string notice);

    [LoggerMessage(EventId = 7101, Level = LogLevel.Information, Message = "Applied migration {Version:D3} {Name} in {ElapsedMs:F0} ms")]
    public static partial void MigrationApplied(ILogger logger, int version, string name, double elapsedMs);

    [LoggerMessage(EventId = 7102, Level = LogLevel.Information, Message = "Storage capabilities: {Capabilities}")]
    public static partial void Capabilities(ILogger logger, StorageCapabilities capabilities);

    [LoggerMessage(EventId = 7103, Level = LogLevel.Debug, Message = "Migrations up to date ({Count} applied)")]
    public static partial void MigrationsUpToDate(ILogger logger, int count);

    [LoggerMessage(EventId = 7110, Level = LogLevel.Debug, Message = "Sink batch committed: {Rows} rows in {DurationMs:F1} ms for {ConsumerGroup}")]
    public static partial void BatchWritten(ILogger logger, int rows, double durationMs, string consumerGroup);

    [LoggerMessage(EventId = 7111, Level = LogLevel.Warning, Message = "Sink batch skipped: stored offsets for {ConsumerGroup} already cover it (retry after a committed attempt)")]
    public static partial void BatchAlreadyCommitted(ILogger logger, string consumerGroup);

    [LoggerMessage(EventId = 7120, Level = LogLevel.Information, Message = "Local PostgreSQL {Action} at 127.0.0.1:{Port} (data {DataDirectory})")]
    public static partial void LocalPostgresReady(ILogger logger, string action, int port, string dataDirectory);

    [LoggerMessage(EventId = 7121, Level = LogLevel.Warning, Message = "The postgres OS user cannot traverse {Requested}; using {Fallback} for the local cluster instead")]
    public static partial void LocalPostgresFallbackDirectory(ILogger logger, string requested, string fallback);

    [LoggerMessage(EventId = 7122, Level = LogLevel.Information, Message = "Local PostgreSQL stopped (data {DataDirectory})")]
    public static partial void LocalPostgresStopped(ILogger logger, string dataDirectory);

    [LoggerMessage(EventId = 7130, Level = LogLevel.Debug, Message = "Maintenance: refreshed {Rollup} from {From:o} to {To:o}")]
    public static partial void RollupRefreshed(ILogger logger, string rollup, DateTimeOffset from, DateTimeOffset to);

    [LoggerMessage(EventId = 7131, Level = LogLevel.Debug, Message = "Maintenance: retention on {Table} older than {Cutoff:o} removed {Removed} {Unit}")]
    public static partial void RetentionApplied(ILogger logger, string table, DateTimeOffset cutoff, long removed, string unit);

    [LoggerMessage(EventId = 7133, Level = LogLevel.Debug, Message = "Maintenance: another instance holds the maintenance lock; skipping this run")]
    public static partial void MaintenanceSkipped(ILogger logger);

    [LoggerMessage(EventId = 7132, Level = LogLevel.Error, Message = "Maintenance run failed (transient: {Transient}); retrying at the next interval")]
    public static partial void MaintenanceFailed(ILogger logger, Exception exception, bool transient);
}
