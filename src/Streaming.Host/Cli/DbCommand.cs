using System.CommandLine;
using System.Diagnostics;
using Npgsql;
using Microsoft.Extensions.Logging;
using Streaming.Host.Configuration;
using Streaming.Host.Pipeline;
using Streaming.Kafka;
using Streaming.Storage;

namespace Streaming.Host.Cli;

/// <summary>`streaming db start|stop|status|psql`: the private PostgreSQL cluster (Storage:StateDirectory, default .local/pg).</summary>
internal static class DbCommand
{
    public static Command Create()
    {
        var start = new Command("start", "Starts the private database and leaves it running (until `streaming db stop`).");
        start.SetAction((_, ct) => WithLocalAsync(async (settings, logger) =>
        {
            var local = await LocalDatabases.StartAsync(settings.Storage, logger, ct).ConfigureAwait(false);
            LocalDatabases.KeepRunning("streaming db start");
            Console.WriteLine($"Private database {(local.Reused ? "already running" : "started")}: 127.0.0.1:{local.Port} ({local.ClusterDirectory})");
            return 0;
        }));

        var stop = new Command("stop", "Stops the private database (its data stays), e.g. one that `streaming run` or `db start` left running.");
        stop.SetAction((_, ct) => WithLocalAsync(async (settings, logger) =>
        {
            var options = LocalDatabases.Options(settings.Storage);
            Console.WriteLine(await LocalPostgres.StopIfRunningAsync(options, logger, ct).ConfigureAwait(false)
                ? $"Stopped the private database in {options.StateDirectory}; its data stays."
                : $"The private database in {options.StateDirectory} is not running.");
            return 0;
        }));

        var status = new Command("status", "Says whether the private database runs (exit 0) or not (exit 3, as pg_ctl status).");
        status.SetAction((_, ct) => WithLocalAsync(async (settings, _) =>
        {
            var options = LocalDatabases.Options(settings.Storage);
            var running = await LocalPostgres.IsRunningAsync(options, ct).ConfigureAwait(false);
            Console.WriteLine($"The private database in {options.StateDirectory} is {(running ? "running" : "not running")}.");
            return running ? 0 : 3;
        }));

        var psql = new Command("psql", """
            Opens psql on the private database's streaming database (password supplied), starting the database for as long as
            psql runs if it was not running. Arguments go to psql:

              streaming db psql
              streaming db psql -c "SELECT count(*) FROM metrics"
            """) { TreatUnmatchedTokensAsErrors = false };
        psql.SetAction((parse, ct) => WithLocalAsync(async (settings, logger) =>
        {
            var local = await LocalDatabases.StartAsync(settings.Storage, logger, ct).ConfigureAwait(false);
            var connection = new NpgsqlConnectionStringBuilder(await local.CreateDatabaseAsync(settings.Storage.Database, withTimescale: true, ct).ConfigureAwait(false));
            var info = new ProcessStartInfo(Path.Combine(new LocalPostgresOptions().BinDirectory, "psql")) { UseShellExecute = false };
            foreach (var argument in new[] { "-h", connection.Host!, "-p", connection.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                         "-U", connection.Username!, "-d", connection.Database! }.Concat(parse.UnmatchedTokens))
                info.ArgumentList.Add(argument);
            info.Environment["PGPASSWORD"] = connection.Password;
            using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start psql.");
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
            return process.ExitCode;
        }));

        return new Command("db", """
            The private PostgreSQL/TimescaleDB cluster that `demo`, `run`, `load`, `train` and `models` use when STREAMING_PG is not
            set (Storage:StateDirectory, default .local/pg). Commands stop the cluster they started when they exit, keeping
            the data; `run` leaves it running for other `run` processes, and `db stop` stops it.

              streaming db status
              streaming db psql -c "SELECT count(*) FROM metrics"
              streaming db stop
            """) { start, stop, status, psql };
    }

    private static async Task<int> WithLocalAsync(Func<StreamingSettings, ILogger, Task<int>> action)
    {
        StreamingSettings settings;
        try
        {
            settings = StreamingSettings.Load();
        }
        catch (OptionsException ex)
        {
            return CliSupport.ReportConfigurationError(ex);
        }
        if (!string.IsNullOrWhiteSpace(settings.Storage.ConnectionString))
        {
            Console.Error.WriteLine("STREAMING_PG (Storage:ConnectionString) names a database of your own: `streaming db` only manages the private " +
                                    "cluster; use psql \"$STREAMING_PG\" for yours.");
            return 2;
        }
        using var loggers = CliSupport.CreateLoggerFactory(verbose: false);
        return await action(settings, loggers.CreateLogger("Streaming.Db")).ConfigureAwait(false);
    }
}
