using System.Globalization;
using System.Text.RegularExpressions;

namespace Streaming.Storage.Tests;

/// <summary>
/// Expands SQL the way Grafana's PostgreSQL datasource does before sending it (pkg/tsdb/grafana-postgresql-datasource/macros.go):
/// template variables and $__interval first, then the $__ macros; $__timeGroup uses time_bucket in TimescaleDB mode.
/// </summary>
internal static partial class GrafanaMacros
{
    [GeneratedRegex(@"\$__(\w+)\(([^()]*)\)")]
    private static partial Regex Macro();

    [GeneratedRegex(@"\$\{(\w+)(?::\w+)?\}|\$(\w+)")]
    private static partial Regex Variable();

    public static string Expand(
        string sql, DateTimeOffset from, DateTimeOffset to, TimeSpan interval, IReadOnlyDictionary<string, string> variables, bool timescaleMode)
    {
        var withVariables = Variable().Replace(sql, m =>
        {
            var name = m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value;
            return name switch
            {
                "__interval" => Duration(interval),
                "__interval_ms" => ((long)interval.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
                _ when name.StartsWith("__", StringComparison.Ordinal) => m.Value, // a macro, expanded below
                _ => variables.TryGetValue(name, out var value)
                    ? value
                    : throw new InvalidOperationException($"Query uses template variable ${name}, which the test does not define: {sql}"),
            };
        });

        return Macro().Replace(withVariables, m =>
        {
            var args = m.Groups[2].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            return m.Groups[1].Value switch
            {
                "time" => $"{args[0]} AS \"time\"",
                "timeEpoch" => $"extract(epoch from {args[0]}) AS \"time\"",
                "timeFilter" => $"{args[0]} BETWEEN '{Rfc3339(from)}' AND '{Rfc3339(to)}'",
                "timeFrom" => $"'{Rfc3339(from)}'",
                "timeTo" => $"'{Rfc3339(to)}'",
                "timeGroup" => TimeGroup(args, timescaleMode),
                "timeGroupAlias" => TimeGroup(args, timescaleMode) + " AS \"time\"",
                "unixEpochFilter" => $"{args[0]} >= {from.ToUnixTimeSeconds()} AND {args[0]} <= {to.ToUnixTimeSeconds()}",
                var other => throw new InvalidOperationException($"Macro $__{other} is not expanded by this test; add it: {sql}"),
            };
        });
    }

    private static string TimeGroup(string[] args, bool timescaleMode)
    {
        if (args.Length < 2)
        {
            throw new InvalidOperationException("$__timeGroup needs a column and an interval.");
        }

        var seconds = ParseDuration(args[1]).TotalSeconds.ToString(CultureInfo.InvariantCulture);
        return timescaleMode
            ? $"time_bucket('{seconds}s',{args[0]})"
            : $"floor(extract(epoch from {args[0]})/{seconds})*{seconds}";
    }

    private static string Rfc3339(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Duration(TimeSpan value) =>
        value.TotalHours >= 1 && value.TotalHours % 1 == 0 ? $"{value.TotalHours}h"
        : value.TotalMinutes >= 1 && value.TotalMinutes % 1 == 0 ? $"{value.TotalMinutes}m"
        : $"{value.TotalSeconds}s";

    private static TimeSpan ParseDuration(string text)
    {
        var number = double.Parse(text[..^1], CultureInfo.InvariantCulture);
        return text[^1] switch
        {
            's' => TimeSpan.FromSeconds(number),
            'm' => TimeSpan.FromMinutes(number),
            'h' => TimeSpan.FromHours(number),
            'd' => TimeSpan.FromDays(number),
            _ => throw new FormatException($"Unsupported Grafana interval '{text}'."),
        };
    }
}
