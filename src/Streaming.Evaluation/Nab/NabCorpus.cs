using System.Globalization;
using System.Text.Json;

namespace Streaming.Evaluation.Nab;

/// <summary>One NAB data file with its labelled windows. <see cref="RelativePath"/> is "category/file.csv", as in the labels.</summary>
internal sealed record NabFile(string RelativePath, long[] TimestampsMs, double[] Values, IReadOnlyList<NabWindow> Windows)
{
    public string Category => RelativePath[..RelativePath.IndexOf('/', StringComparison.Ordinal)];

    public string Name => Path.GetFileNameWithoutExtension(RelativePath);

    /// <summary>1 for rows inside a labelled window, 0 elsewhere: the "label" column of NAB result files.</summary>
    public int[] RowLabels()
    {
        var labels = new int[TimestampsMs.Length];
        foreach (var window in Windows)
        {
            for (var i = 0; i < TimestampsMs.Length; i++)
            {
                if (TimestampsMs[i] >= window.StartMs && TimestampsMs[i] <= window.EndMs)
                    labels[i] = 1;
            }
        }
        return labels;
    }
}

/// <summary>Reads NAB's data files, combined_windows.json and profiles.json.</summary>
internal static class NabCorpus
{
    private static readonly string[] TimestampFormats = ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.ffffff", "yyyy-MM-dd HH:mm:ss.FFFFFFF"];

    /// <summary>The NAB profiles, as published, for when no --profiles file is given.</summary>
    public static IReadOnlyList<NabProfile> StandardProfiles { get; } =
    [
        new("standard", new NabCostMatrix(1.0, 0.11, 1.0)),
        new("reward_low_FP_rate", new NabCostMatrix(1.0, 0.22, 1.0)),
        new("reward_low_FN_rate", new NabCostMatrix(1.0, 0.11, 2.0)),
    ];

    /// <summary>
    /// Every CSV under <paramref name="dataDirectory"/> (optionally only those in <paramref name="only"/>, as "category/file.csv"),
    /// ordered by path. Each must have an entry in the windows file: an unlabelled file cannot be scored.
    /// </summary>
    public static IReadOnlyList<NabFile> Load(string dataDirectory, string windowsFile, IReadOnlyCollection<string>? only = null)
    {
        if (!Directory.Exists(dataDirectory))
            throw new DirectoryNotFoundException($"NAB data directory '{dataDirectory}' does not exist.");
        var windows = ReadWindows(windowsFile);
        var files = new List<NabFile>();
        foreach (var path in Directory.EnumerateFiles(dataDirectory, "*.csv", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(dataDirectory, path).Replace('\\', '/');
            if (only is not null && !only.Contains(relative))
                continue;
            if (!windows.TryGetValue(relative, out var fileWindows))
                throw new InvalidDataException($"'{relative}' has no entry in '{windowsFile}'.");
            var (timestamps, values) = ReadSeries(path);
            files.Add(new NabFile(relative, timestamps, values, fileWindows));
        }
        if (files.Count == 0)
            throw new InvalidDataException($"No NAB data files found under '{dataDirectory}'{(only is null ? "" : $" matching {string.Join(", ", only)}")}.");
        return files;
    }

    public static (long[] TimestampsMs, double[] Values) ReadSeries(string path)
    {
        var timestamps = new List<long>();
        var values = new List<double>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (lineNumber == 1 || line.Length == 0)
                continue;
            var comma = line.IndexOf(',', StringComparison.Ordinal);
            if (comma < 0 || !double.TryParse(line.AsSpan(comma + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                throw new InvalidDataException($"{path}:{lineNumber}: expected 'timestamp,value', got '{line}'.");
            timestamps.Add(ParseTimestamp(line[..comma], path));
            values.Add(value);
        }
        return ([.. timestamps], [.. values]);
    }

    public static Dictionary<string, IReadOnlyList<NabWindow>> ReadWindows(string path)
    {
        using var stream = File.OpenRead(path);
        var raw = JsonSerializer.Deserialize<Dictionary<string, string[][]>>(stream)
            ?? throw new InvalidDataException($"'{path}' is not a NAB windows file.");
        var result = new Dictionary<string, IReadOnlyList<NabWindow>>(StringComparer.Ordinal);
        foreach (var (file, pairs) in raw)
        {
            var windows = new List<NabWindow>(pairs.Length);
            foreach (var pair in pairs)
            {
                if (pair.Length != 2)
                    throw new InvalidDataException($"'{path}': a window of '{file}' has {pair.Length} bounds, expected 2.");
                windows.Add(new NabWindow(ParseTimestamp(pair[0], path), ParseTimestamp(pair[1], path)));
            }
            windows.Sort(static (a, b) => a.StartMs.CompareTo(b.StartMs));
            result[file] = windows;
        }
        return result;
    }

    public static IReadOnlyList<NabProfile> ReadProfiles(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var profiles = new List<NabProfile>();
        foreach (var profile in document.RootElement.EnumerateObject())
        {
            var costs = profile.Value.GetProperty("CostMatrix");
            profiles.Add(new NabProfile(profile.Name, new NabCostMatrix(
                costs.GetProperty("tpWeight").GetDouble(), costs.GetProperty("fpWeight").GetDouble(), costs.GetProperty("fnWeight").GetDouble())));
        }
        if (profiles.Count == 0)
            throw new InvalidDataException($"'{path}' defines no profiles.");
        return profiles;
    }

    public static string FormatTimestamp(long ms) =>
        DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static long ParseTimestamp(string text, string source)
    {
        if (!DateTime.TryParseExact(text, TimestampFormats, CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
            throw new InvalidDataException($"'{source}': '{text}' is not a NAB timestamp (yyyy-MM-dd HH:mm:ss).");
        return new DateTimeOffset(time, TimeSpan.Zero).ToUnixTimeMilliseconds();
    }
}
