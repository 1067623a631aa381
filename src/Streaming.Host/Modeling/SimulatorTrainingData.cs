using Streaming.Contracts;
using Streaming.Models.Pipeline;
using Streaming.Models.Training;
using Streaming.Processing.Windows;
using Streaming.Simulation;

namespace Streaming.Host.Modeling;

/// <summary>
/// Training data made by the production windowing code: per entity, its closed windows' feature vectors in time order,
/// plus (for the simulator) the labelled downtime starts that turn them into downtime-predictor samples. The source is the
/// fleet simulator (<see cref="Generate"/>) or recorded history: the database's metrics table or a file (<see cref="FromSamples"/>).
/// </summary>
internal sealed class SimulatorTrainingData
{
    private SimulatorTrainingData(string source, FeatureLayout layout, List<EntitySeries> series, IReadOnlyList<FailureLabel> labels, DateTimeOffset from, DateTimeOffset to)
    {
        Source = source;
        Layout = layout;
        Series = series;
        Labels = labels;
        From = from;
        To = to;
    }

    /// <summary>Where the windows came from ("simulator", "database", "csv"), recorded in each manifest's training range.</summary>
    public string Source { get; }

    public FeatureLayout Layout { get; }

    public List<EntitySeries> Series { get; }

    public IReadOnlyList<FailureLabel> Labels { get; }

    public DateTimeOffset From { get; }

    public DateTimeOffset To { get; }

    public int Windows => Series.Sum(s => s.Count);

    internal sealed record EntitySeries(string Entity, List<long> WindowEnds, List<float[]> Vectors)
    {
        public int Count => Vectors.Count;
    }

    public static SimulatorTrainingData Generate(SimulatorOptions simulator, WindowOptions windows, TimeSpan span, IProgress<double>? progress = null)
    {
        var fleet = new FleetSimulator(simulator);
        var aggregator = new WindowAggregator(windows);
        var layout = FeatureLayout.For(FleetSimulator.MetricNames);
        var series = new Dictionary<string, EntitySeries>(StringComparer.Ordinal);
        var samples = new List<TelemetrySample>(simulator.Entities);
        var closed = new List<ClosedWindow>();
        var end = simulator.Start + span;
        var ticks = 0;
        while (fleet.Now < end)
        {
            samples.Clear();
            fleet.NextTick(samples);
            foreach (var sample in samples)
                aggregator.Add(sample);
            if (++ticks % 60 == 0)
            {
                Collect();
                progress?.Report((fleet.Now - simulator.Start) / span);
            }
        }
        aggregator.AdvanceStreamTime(end.ToUnixTimeMilliseconds() + (long)(windows.Size + windows.Grace).TotalMilliseconds);
        Collect();
        progress?.Report(1);
        return new SimulatorTrainingData("simulator", layout, [.. series.Values.OrderBy(s => s.Entity, StringComparer.Ordinal)], fleet.Labels, simulator.Start, end);

        void Collect()
        {
            closed.Clear();
            aggregator.CollectClosed(closed);
            foreach (var window in closed)
            {
                if (!series.TryGetValue(window.Entity, out var s))
                    series[window.Entity] = s = new EntitySeries(window.Entity, [], []);
                var vector = new float[layout.Count];
                layout.Extract(window, vector);
                s.WindowEnds.Add(window.Bounds.EndMs);
                s.Vectors.Add(vector);
            }
        }
    }

    /// <summary>
    /// Windows recorded samples, in event-time order, with the production <see cref="WindowAggregator"/> (late samples are
    /// counted in <paramref name="late"/>, never silently dropped); the layout covers every metric seen, sorted by name.
    /// </summary>
    public static SimulatorTrainingData FromSamples(string source, IEnumerable<TelemetrySample> samples, WindowOptions windows, out long late)
    {
        var aggregator = new WindowAggregator(windows);
        var raw = new Dictionary<string, List<ClosedWindow>>(StringComparer.Ordinal);
        var metrics = new SortedSet<string>(StringComparer.Ordinal);
        var closed = new List<ClosedWindow>();
        long first = long.MaxValue, last = long.MinValue, count = 0;
        late = 0;
        foreach (var sample in samples)
        {
            if (aggregator.Add(sample) == AddOutcome.Late)
                late++;
            foreach (var m in sample.Metrics)
                metrics.Add(m.Name);
            first = Math.Min(first, sample.TimestampMs);
            last = Math.Max(last, sample.TimestampMs);
            if (++count % 10_000 == 0)
                Collect();
        }
        aggregator.AdvanceStreamTime(aggregator.StreamTimeMs == long.MinValue ? 0 : aggregator.StreamTimeMs + (long)(windows.Size + windows.Grace).TotalMilliseconds);
        Collect();
        var layout = FeatureLayout.For(metrics);
        var series = raw.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv =>
        {
            var s = new EntitySeries(kv.Key, [], []);
            foreach (var window in kv.Value)
            {
                var vector = new float[layout.Count];
                layout.Extract(window, vector);
                s.WindowEnds.Add(window.Bounds.EndMs);
                s.Vectors.Add(vector);
            }
            return s;
        }).ToList();
        return count == 0
            ? new SimulatorTrainingData(source, layout, [], [], DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch)
            : new SimulatorTrainingData(source, layout, series, [], DateTimeOffset.FromUnixTimeMilliseconds(first), DateTimeOffset.FromUnixTimeMilliseconds(last));

        void Collect()
        {
            closed.Clear();
            aggregator.CollectClosed(closed);
            foreach (var window in closed)
            {
                if (!raw.TryGetValue(window.Entity, out var list))
                    raw[window.Entity] = list = [];
                list.Add(window);
            }
        }
    }

    /// <summary>Only the entities with at least <paramref name="minimum"/> windows; the rest are named in <paramref name="dropped"/>.</summary>
    public SimulatorTrainingData WithMinimumWindows(int minimum, out IReadOnlyList<(string Entity, int Windows)> dropped)
    {
        dropped = Series.Where(s => s.Count < minimum).Select(s => (s.Entity, s.Count)).ToList();
        return new SimulatorTrainingData(Source, Layout, Series.Where(s => s.Count >= minimum).ToList(), Labels, From, To);
    }

    /// <summary>All entities' vectors back to back, [rows, F], missing values filled with the feature's mean.</summary>
    public float[] Matrix()
    {
        var f = Layout.Count;
        var matrix = new float[Windows * f];
        var row = 0;
        foreach (var s in Series)
        {
            foreach (var v in s.Vectors)
                v.CopyTo(matrix, row++ * f);
        }
        var means = new float[f];
        var counts = new int[f];
        for (var i = 0; i < matrix.Length; i++)
        {
            if (!float.IsNaN(matrix[i]))
            {
                means[i % f] += matrix[i];
                counts[i % f]++;
            }
        }
        for (var j = 0; j < f; j++)
            means[j] = counts[j] > 0 ? means[j] / counts[j] : 0;
        FeatureLayout.FillMissing(matrix, means);
        return matrix;
    }

    /// <summary>
    /// Downtime-predictor samples: each window with a full sequence behind it, labelled with minutes to the entity's next
    /// labelled downtime (capped at <paramref name="capMinutes"/>, scaled to [0, 1]) and whether it falls within each horizon.
    /// Far-from-failure windows are thinned by <paramref name="negativeStride"/> to keep the classes closer to balance.
    /// </summary>
    public List<DowntimeSample> DowntimeSamples(IReadOnlyList<float> means, Func<float[], float[]> normalize, int sequenceLength,
        IReadOnlyList<double> horizons, double capMinutes, int negativeStride)
    {
        var f = Layout.Count;
        var samples = new List<DowntimeSample>();
        foreach (var s in Series)
        {
            var downtimes = Labels.Where(l => l.Entity == s.Entity && l.DowntimeStart is not null)
                .Select(l => l.DowntimeStart!.Value.ToUnixTimeMilliseconds()).Order().ToArray();
            var raw = new float[s.Count * f];
            for (var i = 0; i < s.Count; i++)
                s.Vectors[i].CopyTo(raw, i * f);
            FeatureLayout.FillMissing(raw, means);
            var normalized = normalize(raw);
            for (var end = sequenceLength - 1; end < s.Count; end++)
            {
                var t = s.WindowEnds[end];
                var next = Array.Find(downtimes, d => d >= t);
                var minutes = next == 0 ? double.PositiveInfinity : (next - t) / 60_000.0;
                if (minutes > capMinutes && end % negativeStride != 0)
                    continue;
                var sequence = normalized.AsSpan((end - sequenceLength + 1) * f, sequenceLength * f).ToArray();
                var labels = horizons.Select(h => minutes <= h ? 1f : 0f).ToArray();
                samples.Add(new DowntimeSample(sequence, (float)(Math.Min(minutes, capMinutes) / capMinutes), labels));
            }
        }
        return samples;
    }
}
