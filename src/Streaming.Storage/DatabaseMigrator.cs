using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Streaming.Storage;

/// <summary>
/// Applies the embedded timescaledb/NNN_*.sql migrations in order, each in its own transaction, recording
/// version and checksum in schema_migrations. A session advisory lock serialises concurrent start-ups.
/// </summary>
internal static class DatabaseMigrator
{
    // Arbitrary constant; advisory locks are per database, so only migrators of the same database contend.
    internal const long AdvisoryLockKey = 0x5354_524D_4D49_4752; // "STRMMIGR"

    private const string ResourcePrefix = "Migrations/";

    internal sealed record Migration(int Version, string Name, string Sql, string Checksum);

    public static async Task<StorageCapabilities> ApplyAsync(string connectionString, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentNullException.ThrowIfNull(logger);

        await using var connection = new NpgsqlConnection(connectionString);
        // Migrations report unavailable licensed features as NOTICEs; surface them in the application log.
        connection.Notice += (_, e) => StorageLog.ServerNotice(logger, e.Notice.MessageText);
        await connection.OpenAsync(cancellationToken);

        await ExecuteAsync(connection, $"SELECT pg_advisory_lock({AdvisoryLockKey})", cancellationToken);
        try
        {
            await ExecuteAsync(connection, """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                  version    integer     PRIMARY KEY,
                  name       text        NOT NULL,
                  checksum   text        NOT NULL,
                  applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, cancellationToken);

            var applied = (await connection.QueryAsync<(int Version, string Checksum)>(new CommandDefinition(
                    "SELECT version, checksum FROM schema_migrations", cancellationToken: cancellationToken)))
                .ToDictionary(m => m.Version, m => m.Checksum);

            var migrations = LoadMigrations();
            foreach (var migration in migrations)
            {
                if (applied.TryGetValue(migration.Version, out var checksum))
                {
                    if (!string.Equals(checksum, migration.Checksum, StringComparison.Ordinal))
                    {
                        throw new InvalidOperationException(
                            $"Migration {migration.Version:D3}_{migration.Name} was changed after it was applied to this database " +
                            $"(checksum {checksum} recorded, {migration.Checksum} embedded). Applied migrations are immutable: " +
                            "revert the edit and add a new migration file instead.");
                    }

                    continue;
                }

                var started = Stopwatch.GetTimestamp();
                await using var tx = await connection.BeginTransactionAsync(cancellationToken);
                await using (var cmd = new NpgsqlCommand(migration.Sql, connection, tx))
                {
                    await cmd.ExecuteNonQueryAsync(cancellationToken);
                }

                await using (var record = new NpgsqlCommand(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (@v, @n, @c)", connection, tx))
                {
                    record.Parameters.AddWithValue("v", migration.Version);
                    record.Parameters.AddWithValue("n", migration.Name);
                    record.Parameters.AddWithValue("c", migration.Checksum);
                    await record.ExecuteNonQueryAsync(cancellationToken);
                }

                await tx.CommitAsync(cancellationToken);
                StorageLog.MigrationApplied(logger, migration.Version, migration.Name, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }

            StorageLog.MigrationsUpToDate(logger, migrations.Count);
        }
        finally
        {
            // Closing the connection would release the lock too; unlocking keeps a pooled session clean.
            if (connection.State == System.Data.ConnectionState.Open)
            {
                await ExecuteAsync(connection, $"SELECT pg_advisory_unlock({AdvisoryLockKey})", CancellationToken.None);
            }
        }

        var capabilities = await StorageCapabilities.DetectAsync(connection, cancellationToken);
        StorageLog.Capabilities(logger, capabilities);
        return capabilities;
    }

    internal static IReadOnlyList<Migration> LoadMigrations()
    {
        var assembly = typeof(DatabaseMigrator).Assembly;
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal) || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }

            var fileName = resource[ResourcePrefix.Length..^".sql".Length];
            var underscore = fileName.IndexOf('_', StringComparison.Ordinal);
            if (underscore <= 0 || !int.TryParse(fileName.AsSpan(0, underscore), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                throw new InvalidOperationException($"Embedded migration '{resource}' must be named NNN_description.sql.");
            }

            var sql = ReadResource(assembly, resource);
            var checksum = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql)));
            migrations.Add(new Migration(version, fileName[(underscore + 1)..], sql, checksum));
        }

        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 1; i < migrations.Count; i++)
        {
            if (migrations[i].Version == migrations[i - 1].Version)
            {
                throw new InvalidOperationException($"Two embedded migrations share version {migrations[i].Version:D3}.");
            }
        }

        return migrations.Count > 0
            ? migrations
            : throw new InvalidOperationException("No migrations are embedded in Streaming.Storage; check the EmbeddedResource item in its csproj.");
    }

    private static string ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded migration '{name}' could not be opened.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        // Normalise line endings so a Windows checkout does not change checksums.
        return reader.ReadToEnd().Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        await cmd.ExecuteNonQueryAsync(cancellationToken);
    }
}
