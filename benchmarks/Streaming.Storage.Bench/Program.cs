using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Streaming.Storage;

namespace Streaming.Storage.Bench;

/// <summary>
/// Sink throughput vs psql \copy of the same rows into the same table, in one run, alternating rounds.
/// Usage: Streaming.Storage.Bench [--rows N] [--batch N] [--rounds N] [--state DIR]. STREAMING_PG (superuser connection string) overrides the local cluster.
/// </summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        var rows = Option(args, "--rows", 1_000_000);
        var batchSize = Option(args, "--batch", 50_000);
        var rounds = Option(args, "--rounds", 3);
        var state = OptionText(args, "--state", Path.Combine(Environment.CurrentDirectory, ".local", "bench-postgres"));
        // Npgsql's default write buffer is 8 KiB; the sink's data source may use a larger one (e.g. 65536).
        var writeBuffer = Option(args, "--write-buffer", 0);

        var admin = Environment.GetEnvironmentVariable("STREAMING_PG");
        LocalPostgres? startedHere = null;
        if (string.IsNullOrWhiteSpace(admin))
        {
            var cluster = await LocalPostgres.StartAsync(new LocalPostgresOptions { StateDirectory = state }, NullLogger.Instance, CancellationToken.None);
            admin = cluster.AdminConnectionString;
            startedHere = cluster.Reused ? null : cluster;
        }

        var dbName = "bench_" + DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        var connectionString = await PostgresAdmin.CreateDatabaseAsync(admin, dbName, withTimescale: true, CancellationToken.None);
        try
        {
            var capabilities = await DatabaseMigrator.ApplyAsync(connectionString, NullLogger.Instance, CancellationToken.None);
            Console.WriteLine($"server: {capabilities}");
            Console.WriteLine($"rows per round: {rows:N0}, sink batch size: {batchSize:N0}, rounds: {rounds}");

            var batches = BuildBatches(rows, batchSize);
            var csv = Path.Combine(Path.GetTempPath(), $"streaming-bench-{Environment.ProcessId}.csv");
            WriteCsv(batches, csv);

            var sinkConnectionString = writeBuffer > 0
                ? new NpgsqlConnectionStringBuilder(connectionString) { WriteBufferSize = writeBuffer }.ConnectionString
                : connectionString;
            Console.WriteLine($"sink write buffer: {(writeBuffer > 0 ? writeBuffer : 8192)} bytes");
            await using var dataSource = NpgsqlDataSource.Create(sinkConnectionString);
            var writer = new TimescaleWriter(dataSource, capabilities, TimeProvider.System, NullLogger<TimescaleWriter>.Instance);

            // Warm-up: JIT, connection pool, first chunk creation.
            await writer.WriteBatchAsync(batches[0], "warmup", [], CancellationToken.None);

            var sinkRates = new List<double>();
            var copyRates = new List<double>();
            for (var round = 1; round <= rounds; round++)
            {
                await TruncateAsync(dataSource);
                var sw = Stopwatch.StartNew();
                for (var i = 0; i < batches.Count; i++)
                {
                    await writer.WriteBatchAsync(batches[i], $"bench-{round}", [new SourceOffset("telemetry", 0, (i + 1L) * batchSize)], CancellationToken.None);
                }

                sw.Stop();
                await CheckCountAsync(dataSource, rows);
                sinkRates.Add(rows / sw.Elapsed.TotalSeconds);

                await TruncateAsync(dataSource);
                var copyTime = await PsqlCopyAsync(connectionString, csv);
                await CheckCountAsync(dataSource, rows);
                copyRates.Add(rows / copyTime.TotalSeconds);
                Console.WriteLine($"round {round}: sink {sinkRates[^1]:N0} rows/s, psql \\copy {copyRates[^1]:N0} rows/s, ratio {sinkRates[^1] / copyRates[^1]:F2}");
            }

            File.Delete(csv);
            var sink = Median(sinkRates);
            var copy = Median(copyRates);
            Console.WriteLine($"median: sink {sink:N0} rows/s, psql \\copy {copy:N0} rows/s, sink/copy = {sink / copy:F2}x");
            return 0;
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await PostgresAdmin.DropDatabaseAsync(admin, dbName, CancellationToken.None);
            if (startedHere is not null)
            {
                await startedHere.StopAsync();
            }
        }
    }

    private static List<SinkBatch> BuildBatches(int rows, int batchSize)
    {
        var batches = new List<SinkBatch>();
        var start = DateTimeOffset.UtcNow.AddHours(-2);
        var current = new SinkBatch();
        for (var i = 0; i < rows; i++)
        {
            // 200 entities x 25 metrics, one sample per second per series: a realistic interleaving for the indexes.
            var series = i % 5000;
            var entity = EntityNames[series / 25];
            var metric = MetricNames[series % 25];
            current.Metrics.Add(new MetricRow(start.AddSeconds(i / 5000), entity, metric, Math.Sin(i * 0.001) * 100));
            if (current.Metrics.Count == batchSize)
            {
                batches.Add(current);
                current = new SinkBatch();
            }
        }

        if (current.RowCount > 0)
        {
            batches.Add(current);
        }

        return batches;
    }

    private static readonly string[] EntityNames = Enumerable.Range(0, 200).Select(i => $"machine-{i:D3}").ToArray();
    private static readonly string[] MetricNames = Enumerable.Range(0, 25).Select(i => $"sensor_{i:D2}").ToArray();

    private static void WriteCsv(List<SinkBatch> batches, string path)
    {
        using var file = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        foreach (var batch in batches)
        {
            foreach (var row in batch.Metrics)
            {
                file.Write(row.Time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.ffffff+00", CultureInfo.InvariantCulture));
                file.Write(',');
                file.Write(row.Entity);
                file.Write(',');
                file.Write(row.Metric);
                file.Write(',');
                file.Write(row.Value.ToString("R", CultureInfo.InvariantCulture));
                file.Write('\n');
            }
        }
    }

    private static async Task<TimeSpan> PsqlCopyAsync(string connectionString, string csv)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        var psi = new ProcessStartInfo("psql") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-X", "-v", "ON_ERROR_STOP=1", "-c", $"\\copy metrics (time, entity, metric, value) FROM '{csv}' WITH (FORMAT csv)" })
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["PGHOST"] = b.Host;
        psi.Environment["PGPORT"] = b.Port.ToString(CultureInfo.InvariantCulture);
        psi.Environment["PGUSER"] = b.Username;
        psi.Environment["PGPASSWORD"] = b.Password;
        psi.Environment["PGDATABASE"] = b.Database;
        var sw = Stopwatch.StartNew();
        using var process = Process.Start(psi)!;
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        sw.Stop();
        return process.ExitCode == 0 ? sw.Elapsed : throw new InvalidOperationException($"psql failed ({process.ExitCode}): {output}");
    }

    private static async Task TruncateAsync(NpgsqlDataSource dataSource)
    {
        await using var cmd = dataSource.CreateCommand("TRUNCATE metrics, sink_offsets, sink_batches; CHECKPOINT");
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task CheckCountAsync(NpgsqlDataSource dataSource, int expected)
    {
        await using var cmd = dataSource.CreateCommand("SELECT count(*) FROM metrics");
        var count = (long)(await cmd.ExecuteScalarAsync())!;
        if (count != expected)
        {
            throw new InvalidOperationException($"metrics holds {count} rows, expected {expected}.");
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    private static int Option(string[] args, string name, int fallback) =>
        int.Parse(OptionText(args, name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

    private static string OptionText(string[] args, string name, string fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }
}
