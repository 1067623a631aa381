using System.Globalization;
using System.Runtime.CompilerServices;
using Dapper;
using Npgsql;
using Streaming.Contracts;
using Streaming.Host.Cli;
using Streaming.Storage;

namespace Streaming.Host.Modeling;

/// <summary>Which recorded history to train on: a time range and, optionally, some entities.</summary>
internal sealed record HistoryQuery(DateTimeOffset? Since, DateTimeOffset? Until, IReadOnlyList<string> Entities)
{
    public string Describe() =>
        $"{(Since is { } s ? s.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) : "the beginning")} to " +
        $"{(Until is { } u ? u.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) : "now")}" +
        (Entities.Count > 0 ? $", entities {string.Join(", ", Entities)}" : ", every entity");

    public bool Includes(TelemetrySample sample) =>
        (Since is not { } since || sample.TimestampMs >= since.ToUnixTimeMilliseconds())
        && (Until is not { } until || sample.TimestampMs < until.ToUnixTimeMilliseconds())
        && (Entities.Count == 0 || Entities.Contains(sample.Entity, StringComparer.Ordinal));
}

/// <summary>
/// Recorded telemetry as samples in event-time order, for training through the production windowing code.
/// The database source reads the raw <c>metrics</c> table (not <c>features</c>): raw samples run through the same
/// <see cref="Streaming.Processing.Windows.WindowAggregator"/> as the processor, with the current Windows settings, so a
/// model trained from history sees exactly the features it will be scored on, including statistics (slope, std) that a
/// features row from an older run with other window settings would not match; the file source is the same path.
/// </summary>
internal static class HistorySources
{
    static HistorySources() => DapperTypes.Register();

    /// <summary>Rows in the range, for the progress bar.</summary>
    public static async Task<long> CountDatabaseRowsAsync(NpgsqlDataSource dataSource, HistoryQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<long>(Command("SELECT count(*) FROM metrics", query, "", cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>The entities with metric history in the range, by name.</summary>
    public static async Task<IReadOnlyList<string>> ListDatabaseEntitiesAsync(NpgsqlDataSource dataSource, HistoryQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var entities = await connection.QueryAsync<string>(Command("SELECT DISTINCT entity FROM metrics", query, " ORDER BY entity", cancellationToken))
            .ConfigureAwait(false);
        return entities.AsList();
    }

    /// <summary>
    /// The metrics table's rows in the range, one sample per (time, entity), oldest first. Synchronous on purpose: the
    /// caller windows the stream as it is read, on a worker thread, without holding the whole history in memory (Dapper
    /// reads unbuffered here).
    /// </summary>
    public static IEnumerable<TelemetrySample> ReadDatabase(NpgsqlDataSource dataSource, HistoryQuery query, Action<long>? rowsRead = null)
    {
        using var connection = dataSource.OpenConnection();
        var rows = connection.Query<MetricRow>(Command("SELECT time, entity, metric, value FROM metrics", query, " ORDER BY time, entity",
            CancellationToken.None, CommandFlags.None));
        var metrics = new List<MetricValue>();
        string? entity = null;
        var time = 0L;
        var count = 0L;
        foreach (var row in rows)
        {
            var t = row.Time.ToUnixTimeMilliseconds();
            if (entity is not null && (t != time || !string.Equals(row.Entity, entity, StringComparison.Ordinal)))
            {
                yield return new TelemetrySample(entity, time, [.. metrics]);
                metrics.Clear();
            }
            entity = row.Entity;
            time = t;
            metrics.Add(new MetricValue(row.Metric, row.Value));
            if (++count % 50_000 == 0)
                rowsRead?.Invoke(count);
        }
        if (entity is not null)
            yield return new TelemetrySample(entity, time, [.. metrics]);
        rowsRead?.Invoke(count);
    }

    /// <summary>One row of the metrics table.</summary>
    private sealed record MetricRow(DateTimeOffset Time, string Entity, string Metric, double Value);

    private static CommandDefinition Command(string select, HistoryQuery query, string suffix, CancellationToken cancellationToken,
        CommandFlags flags = CommandFlags.Buffered)
    {
        var conditions = new List<string>();
        if (query.Since is not null)
            conditions.Add("time >= @Since");
        if (query.Until is not null)
            conditions.Add("time < @Until");
        if (query.Entities.Count > 0)
            conditions.Add("entity = ANY(@Entities)");
        var sql = select + (conditions.Count > 0 ? " WHERE " + string.Join(" AND ", conditions) : "") + suffix;
        // Dapper sends only the parameters the text names; Npgsql takes the entity list as one text[] parameter.
        var parameters = new { query.Since, query.Until, Entities = query.Entities.ToArray() };
        return new CommandDefinition(sql, parameters, commandTimeout: 0, flags: flags, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// A recorded file in a format <c>streaming replay</c> reads (NAB CSV <c>timestamp,value</c> with the file name as the
    /// entity and <paramref name="metric"/> as the metric; C-MAPSS text; telemetry JSON lines), in event-time order.
    /// Invalid lines are counted in <paramref name="invalid"/> with the first few reasons kept in <paramref name="errors"/>.
    /// </summary>
    public static IEnumerable<TelemetrySample> ReadFile(string path, HistoryQuery query, string metric, TelemetryLimits limits, DateTimeOffset now,
        List<string> errors, StrongBox<long> invalid)
    {
        string? firstLine;
        using (var peek = new StreamReader(path))
            firstLine = peek.ReadLine();
        using var reader = new StreamReader(path);
        // A file is read whole and put in event-time order (JSON lines from several producers need not be).
        var records = ReplaySources.InEventTimeOrder(ReplaySources.Detect(path, firstLine) switch
        {
            ReplayFormat.Nab => ReplaySources.ReadNab(reader, Path.GetFileNameWithoutExtension(path), metric),
            ReplayFormat.Cmapss => ReplaySources.ReadCmapss(reader, "engine-", DateTimeOffset.UnixEpoch.AddYears(40), TimeSpan.FromMinutes(1)),
            _ => ReplaySources.ReadJsonLines(reader, limits, now),
        });
        foreach (var record in records)
        {
            if (record.Sample is null)
            {
                invalid.Value++;
                if (errors.Count < 5)
                    errors.Add($"line {record.Line}: {record.Error}");
                continue;
            }
            if (query.Includes(record.Sample))
                yield return record.Sample;
        }
    }
}
