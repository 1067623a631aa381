using System.Globalization;
using Streaming.Models.Training;

namespace Streaming.Models.Data;

/// <summary>One C-MAPSS engine run to failure: rows of the 3 settings and 21 sensors, one per cycle.</summary>
internal sealed record CmapssEngine(int Unit, float[] Values, int Cycles)
{
    public const int Columns = 24;

    public ReadOnlySpan<float> Row(int cycle) => Values.AsSpan(cycle * Columns, Columns);
}

/// <summary>Reader and sample builder for NASA C-MAPSS files (26 space-separated columns: unit, cycle, 3 settings, 21 sensors).</summary>
internal static class Cmapss
{
    public static readonly IReadOnlyList<string> ColumnNames =
        [.. Enumerable.Range(1, 3).Select(i => $"setting{i}"), .. Enumerable.Range(1, 21).Select(i => $"s{i}")];

    /// <summary>The FD001 sensors that vary with degradation (the others are constant in FD001).</summary>
    public static readonly IReadOnlyList<string> InformativeFd001 =
        ["s2", "s3", "s4", "s7", "s8", "s9", "s11", "s12", "s13", "s14", "s15", "s17", "s20", "s21"];

    public static IReadOnlyList<CmapssEngine> Read(string path)
    {
        var rows = new Dictionary<int, List<float>>();
        foreach (var line in File.ReadLines(path))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0)
            {
                continue;
            }

            if (parts.Length != 26)
            {
                throw new InvalidDataException($"Expected 26 columns in C-MAPSS data, got {parts.Length}: '{line}'.");
            }

            var unit = int.Parse(parts[0], CultureInfo.InvariantCulture);
            if (!rows.TryGetValue(unit, out var values))
            {
                rows[unit] = values = [];
            }

            values.AddRange(parts.Skip(2).Select(p => float.Parse(p, CultureInfo.InvariantCulture)));
        }

        return [.. rows.OrderBy(r => r.Key).Select(r => new CmapssEngine(r.Key, [.. r.Value], r.Value.Count / CmapssEngine.Columns))];
    }

    /// <summary>Extracts the named columns of every engine as a raw matrix [Σ cycles, features].</summary>
    public static float[] Select(IEnumerable<CmapssEngine> engines, IReadOnlyList<string> features)
    {
        var indices = features.Select(f => ColumnNames.ToList().IndexOf(f)).ToArray();
        var values = new List<float>();
        foreach (var engine in engines)
        {
            for (var c = 0; c < engine.Cycles; c++)
            {
                var row = engine.Row(c);
                foreach (var i in indices)
                {
                    values.Add(row[i]);
                }
            }
        }

        return [.. values];
    }

    /// <summary>
    /// Sliding windows ending at every <paramref name="stride"/>-th cycle, labelled with the remaining cycles to failure
    /// (capped at <paramref name="rulCap"/>, the usual piecewise-linear target, then divided by it) and with
    /// whether failure falls within each horizon (uncapped). Windows start once <paramref name="minimumHistory"/> cycles
    /// are observed (at most the window length): a shorter history is padded with its first cycle, as a test engine
    /// observed for fewer cycles than the window is (null: full windows only).
    /// </summary>
    public static List<DowntimeSample> BuildSamples(
        IEnumerable<CmapssEngine> engines, IReadOnlyList<string> features, Func<float[], float[]> normalize,
        int sequenceLength, IReadOnlyList<double> horizons, double rulCap, int stride, int? minimumHistory = null)
    {
        var first = Math.Clamp(minimumHistory ?? sequenceLength, 1, sequenceLength) - 1;
        var samples = new List<DowntimeSample>();
        foreach (var engine in engines)
        {
            var raw = Select([engine], features);
            var normalized = normalize(raw);
            var f = features.Count;
            for (var end = first; end < engine.Cycles; end += stride)
            {
                var rul = engine.Cycles - 1 - end;
                var labels = horizons.Select(h => rul <= h ? 1f : 0f).ToArray();
                samples.Add(new DowntimeSample(Window(normalized, f, end, sequenceLength), (float)(Math.Min(rul, rulCap) / rulCap), labels));
            }
        }

        return samples;
    }

    /// <summary>
    /// The <paramref name="length"/> cycles ending at cycle <paramref name="end"/> of a normalised engine [cycles, F];
    /// cycles before the first are the first cycle repeated.
    /// </summary>
    public static float[] Window(ReadOnlySpan<float> normalized, int features, int end, int length)
    {
        var window = new float[length * features];
        for (var t = 0; t < length; t++)
        {
            var cycle = Math.Max(0, end - length + 1 + t);
            normalized.Slice(cycle * features, features).CopyTo(window.AsSpan(t * features, features));
        }

        return window;
    }
}
