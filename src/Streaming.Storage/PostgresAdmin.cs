using System.Text.RegularExpressions;
using Npgsql;

namespace Streaming.Storage;

/// <summary>Database-level administration through a superuser connection (local cluster or any server).</summary>
internal static partial class PostgresAdmin
{
    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex DatabaseName();

    /// <summary>
    /// Creates database <paramref name="name"/> (if absent) and, when <paramref name="withTimescale"/>, the timescaledb
    /// extension in it - that needs superuser, which is why it happens here and not in the migrations.
    /// Returns a connection string for the new database with the admin credentials.
    /// </summary>
    public static async Task<string> CreateDatabaseAsync(string adminConnectionString, string name, bool withTimescale, CancellationToken cancellationToken)
    {
        CheckName(name);
        await using (var admin = new NpgsqlConnection(adminConnectionString))
        {
            await admin.OpenAsync(cancellationToken);
            await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @n", admin);
            exists.Parameters.AddWithValue("n", name);
            if (await exists.ExecuteScalarAsync(cancellationToken) is null)
            {
                await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
                await create.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        var connectionString = new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = name }.ConnectionString;
        if (withTimescale)
        {
            await using var db = new NpgsqlConnection(connectionString);
            await db.OpenAsync(cancellationToken);
            await using var ext = new NpgsqlCommand("CREATE EXTENSION IF NOT EXISTS timescaledb", db);
            await ext.ExecuteNonQueryAsync(cancellationToken);
        }

        return connectionString;
    }

    public static async Task DropDatabaseAsync(string adminConnectionString, string name, CancellationToken cancellationToken)
    {
        CheckName(name);
        await using var admin = new NpgsqlConnection(adminConnectionString);
        await admin.OpenAsync(cancellationToken);
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void CheckName(string name)
    {
        if (!DatabaseName().IsMatch(name))
        {
            throw new ArgumentException($"Database name '{name}' must match ^[a-z_][a-z0-9_]{{0,62}}$ (it is interpolated into SQL).", nameof(name));
        }
    }
}
