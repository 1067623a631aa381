using System.Globalization;
using System.Text;
using Streaming.Contracts;

namespace Streaming.Host.Cli;

internal enum ReplayFormat
{
    Auto,
    Nab,
    Cmapss,
    JsonLines,
}

/// <summary>One input line's outcome: a sample, or the reason the line cannot become one.</summary>
internal readonly record struct ReplayRecord(int Line, TelemetrySample? Sample, string? Error);

/// <summary>Reads recorded telemetry files as samples: NAB CSV, NASA C-MAPSS text, and telemetry JSON lines.</summary>
internal static class ReplaySources
{
    public static ReplayFormat Detect(string path, string? firstLine)
    {
        var extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension is ".jsonl" or ".ndjson" or ".json" || firstLine?.TrimStart().StartsWith('{') == true)
            return ReplayFormat.JsonLines;
        if (extension == ".csv" || firstLine?.Contains(',', StringComparison.Ordinal) == true)
            return ReplayFormat.Nab;
        return ReplayFormat.Cmapss;
    }

    /// <summary>NAB: a <c>timestamp,value</c> header, then <c>YYYY-MM-DD HH:MM:SS,number</c> rows (UTC).</summary>
    public static IEnumerable<ReplayRecord> ReadNab(TextReader reader, string entity, string metric)
    {
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0 || (lineNumber == 1 && line.StartsWith("timestamp", StringComparison.OrdinalIgnoreCase)))
                continue;
            var comma = line.IndexOf(',', StringComparison.Ordinal);
            if (comma < 0)
            {
                yield return new ReplayRecord(lineNumber, null, "expected 'timestamp,value'");
                continue;
            }
            if (!DateTimeOffset.TryParse(line.AsSpan(0, comma), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
            {
                yield return new ReplayRecord(lineNumber, null, $"timestamp '{line[..comma]}' is not a date and time");
                continue;
            }
            if (!double.TryParse(line.AsSpan(comma + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
            {
                yield return new ReplayRecord(lineNumber, null, $"value '{line[(comma + 1)..]}' is not a finite number");
                continue;
            }
            yield return new ReplayRecord(lineNumber, new TelemetrySample(entity, time.ToUnixTimeMilliseconds(), [new MetricValue(metric, value)]), null);
        }
    }

    private static readonly string[] CmapssMetrics = BuildCmapssMetrics();

    private static string[] BuildCmapssMetrics()
    {
        var names = new List<string> { "setting_1", "setting_2", "setting_3" };
        for (var i = 1; i <= 21; i++)
            names.Add(string.Create(CultureInfo.InvariantCulture, $"sensor_{i}"));
        return [.. names];
    }

    /// <summary>
    /// C-MAPSS: space-separated unit, cycle, 3 operational settings and 21 sensors per row. Unit n becomes entity
    /// <c>{prefix}{n:000}</c>, cycle c the event time <c>start + c × interval</c>, settings and sensors the metrics.
    /// </summary>
    public static IEnumerable<ReplayRecord> ReadCmapss(TextReader reader, string entityPrefix, DateTimeOffset start, TimeSpan cycleInterval)
    {
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0)
                continue;
            if (fields.Length != 2 + CmapssMetrics.Length)
            {
                yield return new ReplayRecord(lineNumber, null, $"expected {2 + CmapssMetrics.Length} columns (unit, cycle, 3 settings, 21 sensors), found {fields.Length}");
                continue;
            }
            if (!int.TryParse(fields[0], CultureInfo.InvariantCulture, out var unit) || !int.TryParse(fields[1], CultureInfo.InvariantCulture, out var cycle))
            {
                yield return new ReplayRecord(lineNumber, null, $"unit '{fields[0]}' and cycle '{fields[1]}' must be integers");
                continue;
            }
            var metrics = new MetricValue[CmapssMetrics.Length];
            string? error = null;
            for (var i = 0; i < metrics.Length && error is null; i++)
            {
                if (double.TryParse(fields[i + 2], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
                    metrics[i] = new MetricValue(CmapssMetrics[i], value);
                else
                    error = $"{CmapssMetrics[i]} '{fields[i + 2]}' is not a finite number";
            }
            var time = start + cycle * cycleInterval;
            yield return error is null
                ? new ReplayRecord(lineNumber, new TelemetrySample(string.Create(CultureInfo.InvariantCulture, $"{entityPrefix}{unit:000}"), time.ToUnixTimeMilliseconds(), metrics), null)
                : new ReplayRecord(lineNumber, null, error);
        }
    }

    /// <summary>
    /// Merges time-ordered sources into one event-time order (invalid lines first, as soon as read; ties keep source order).
    /// The processor's windows follow each partition's stream time, so a replay that went back in time (the next file, the
    /// next C-MAPSS unit) would arrive as late data.
    /// </summary>
    public static IEnumerable<(int Source, ReplayRecord Record)> MergeByEventTime(IReadOnlyList<IEnumerator<ReplayRecord>> sources)
    {
        var queue = new PriorityQueue<int, (long Time, int Source)>();
        for (var i = 0; i < sources.Count; i++)
        {
            if (sources[i].MoveNext())
                queue.Enqueue(i, (TimeOf(sources[i].Current), i));
        }
        while (queue.TryDequeue(out var index, out _))
        {
            yield return (index, sources[index].Current);
            if (sources[index].MoveNext())
                queue.Enqueue(index, (TimeOf(sources[index].Current), index));
        }
    }

    /// <summary>C-MAPSS lists each unit's whole life before the next unit's; ordered by cycle, the units advance together.</summary>
    public static IEnumerable<ReplayRecord> InEventTimeOrder(IEnumerable<ReplayRecord> records) => records.OrderBy(TimeOf);

    private static long TimeOf(ReplayRecord record) => record.Sample?.TimestampMs ?? long.MinValue;

    /// <summary>Telemetry JSON, one sample per line, validated with the pipeline's parser; old data is fine, the future is not.</summary>
    public static IEnumerable<ReplayRecord> ReadJsonLines(TextReader reader, TelemetryLimits limits, DateTimeOffset now)
    {
        var replayLimits = limits with { MaxAge = null };
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            yield return TelemetryParser.TryParse(Encoding.UTF8.GetBytes(line), replayLimits, now, out var sample, out var rejection)
                ? new ReplayRecord(lineNumber, sample, null)
                : new ReplayRecord(lineNumber, null, rejection.ToString());
        }
    }
}
