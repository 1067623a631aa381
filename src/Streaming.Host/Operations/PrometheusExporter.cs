using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Streaming.Host.Operations;

/// <summary>
/// Collects <see cref="System.Diagnostics.Metrics"/> instruments of the named meters with a <see cref="MeterListener"/> and
/// renders them in the Prometheus text exposition format (version 0.0.4). Counters become <c>_total</c> counters,
/// up-down counters and gauges become gauges, histograms get cumulative <c>_bucket{le}</c>, <c>_sum</c> and <c>_count</c>
/// series with the instrument's advised bucket boundaries. Recording an already-seen tag set allocates nothing.
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private static readonly double[] DefaultBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly MeterListener _listener = new();
    private readonly Func<Meter, bool> _include;
    private readonly List<InstrumentState> _instruments = [];
    private readonly Lock _collectLock = new();

    /// <summary>Exports the instruments of the meters <paramref name="include"/> selects (e.g. one pipeline's meter).</summary>
    public PrometheusExporter(Func<Meter, bool> include)
    {
        _include = include;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!_include(instrument.Meter))
                return;
            var state = new InstrumentState(instrument, BucketsOf(instrument));
            lock (_instruments)
                _instruments.Add(state);
            listener.EnableMeasurementEvents(instrument, state);
        };
        _listener.MeasurementsCompleted = (instrument, state) =>
        {
            // The meter was disposed: its series leave the exposition with it.
            lock (_instruments)
                _instruments.Remove((InstrumentState)state!);
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<float>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.Start();
    }

    /// <summary>Observes the observable instruments, then renders every series.</summary>
    public string Collect()
    {
        lock (_collectLock)
        {
            InstrumentState[] instruments;
            lock (_instruments)
                instruments = [.. _instruments];
            foreach (var state in instruments)
                state.BeginObservation();
            _listener.RecordObservableInstruments();
            var text = new StringBuilder(4096);
            // Several meters (several pipelines in one process, tests) may publish the same name: one family, merged series.
            foreach (var family in instruments.GroupBy(s => s.Name, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
                Render(text, family.ToList());
            return text.ToString();
        }
    }

    private static void Render(StringBuilder text, List<InstrumentState> family)
    {
        var first = family[0];
        text.Append("# HELP ").Append(first.Name).Append(' ').Append(EscapeHelp(first.Help)).Append('\n');
        text.Append("# TYPE ").Append(first.Name).Append(' ').Append(first.Kind switch
        {
            SeriesKind.Counter => "counter",
            SeriesKind.Histogram => "histogram",
            _ => "gauge",
        }).Append('\n');
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var state in family)
        {
            foreach (var series in state.Snapshot())
            {
                if (!seen.Add(series.Labels))
                    continue;
                if (state.Kind == SeriesKind.Histogram)
                {
                    var cumulative = 0L;
                    for (var i = 0; i < state.Buckets.Length; i++)
                    {
                        cumulative += series.BucketCounts[i];
                        AppendSample(text, state.BaseName + "_bucket", series.Labels, "le", FormatNumber(state.Buckets[i]), cumulative);
                    }
                    AppendSample(text, state.BaseName + "_bucket", series.Labels, "le", "+Inf", series.Count);
                    AppendSample(text, state.BaseName + "_sum", series.Labels, null, null, series.Value);
                    AppendSample(text, state.BaseName + "_count", series.Labels, null, null, series.Count);
                }
                else
                {
                    AppendSample(text, state.Name, series.Labels, null, null, series.Value);
                }
            }
        }
    }

    private static void AppendSample(StringBuilder text, string name, string labels, string? extraName, string? extraValue, double value)
    {
        text.Append(name);
        if (labels.Length > 0 || extraName is not null)
        {
            text.Append('{').Append(labels);
            if (extraName is not null)
                text.Append(labels.Length > 0 ? "," : "").Append(extraName).Append("=\"").Append(extraValue).Append('"');
            text.Append('}');
        }
        text.Append(' ').Append(FormatNumber(value)).Append('\n');
    }

    internal static string FormatNumber(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    /// <summary>Metric and label names allow [a-zA-Z_:][a-zA-Z0-9_:]* (labels without ':'); anything else becomes '_'.</summary>
    internal static string SanitizeName(string name, bool label)
    {
        var builder = new StringBuilder(name.Length + 1);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            var ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_' || (c == ':' && !label) || (i > 0 && c is >= '0' and <= '9');
            builder.Append(ok ? c : '_');
        }
        return builder.Length == 0 ? "_" : builder.ToString();
    }

    internal static string EscapeLabelValue(string value)
    {
        if (value.AsSpan().IndexOfAny("\\\"\n") < 0)
            return value;
        return value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
    }

    private static string EscapeHelp(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static double[] BucketsOf(Instrument instrument) => instrument switch
    {
        Histogram<double> { Advice.HistogramBucketBoundaries: { } b } => [.. b],
        Histogram<long> { Advice.HistogramBucketBoundaries: { } b } => [.. b.Select(v => (double)v)],
        Histogram<int> { Advice.HistogramBucketBoundaries: { } b } => [.. b.Select(v => (double)v)],
        _ => DefaultBuckets,
    };

    public void Dispose() => _listener.Dispose();

    private enum SeriesKind
    {
        Counter,
        Gauge,
        Histogram,
    }

    private sealed class Series(KeyValuePair<string, object?>[] tags, string labels, int buckets)
    {
        public KeyValuePair<string, object?>[] Tags { get; } = tags;
        public string Labels { get; } = labels;
        public long[] BucketCounts { get; } = new long[buckets];
        public double Value { get; set; }
        public long Count { get; set; }
        public bool Observed { get; set; }
    }

    private readonly record struct SeriesSnapshot(string Labels, double Value, long Count, long[] BucketCounts);

    private sealed class InstrumentState
    {
        private readonly List<Series> _series = [];
        private readonly bool _observable;
        private readonly bool _addsDeltas;

        public InstrumentState(Instrument instrument, double[] buckets)
        {
            var type = instrument.GetType();
            var generic = type.IsGenericType ? type.GetGenericTypeDefinition() : type;
            _observable = instrument.IsObservable;
            Kind = generic == typeof(Counter<>) || generic == typeof(ObservableCounter<>) ? SeriesKind.Counter
                : generic == typeof(Histogram<>) ? SeriesKind.Histogram
                : SeriesKind.Gauge;
            // Counters and up-down counters record deltas; gauges and every observable instrument report the current value.
            _addsDeltas = generic == typeof(Counter<>) || generic == typeof(UpDownCounter<>);
            BaseName = SanitizeName(instrument.Name, label: false);
            Name = Kind == SeriesKind.Counter && !BaseName.EndsWith("_total", StringComparison.Ordinal) ? BaseName + "_total" : BaseName;
            Help = string.IsNullOrWhiteSpace(instrument.Description) ? instrument.Name : instrument.Description;
            Buckets = buckets;
        }

        public SeriesKind Kind { get; }
        public string BaseName { get; }
        public string Name { get; }
        public string Help { get; }
        public double[] Buckets { get; }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            lock (_series)
            {
                var series = Find(tags);
                series.Observed = true;
                switch (Kind)
                {
                    case SeriesKind.Histogram:
                        var i = 0;
                        while (i < Buckets.Length && value > Buckets[i])
                            i++;
                        if (i < Buckets.Length)
                            series.BucketCounts[i]++;
                        series.Count++;
                        series.Value += value;
                        break;
                    case SeriesKind.Counter or SeriesKind.Gauge when _addsDeltas:
                        series.Value += value;
                        break;
                    default:
                        series.Value = value;
                        break;
                }
            }
        }

        /// <summary>Observable series not reported in this observation (a revoked partition) disappear.</summary>
        public void BeginObservation()
        {
            if (!_observable)
                return;
            lock (_series)
            {
                foreach (var series in _series)
                    series.Observed = false;
            }
        }

        public List<SeriesSnapshot> Snapshot()
        {
            lock (_series)
            {
                if (_observable)
                    _series.RemoveAll(s => !s.Observed);
                return _series.Select(s => new SeriesSnapshot(s.Labels, s.Value, s.Count, [.. s.BucketCounts])).ToList();
            }
        }

        private Series Find(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var series in _series)
            {
                if (SameTags(series.Tags, tags))
                    return series;
            }
            var copy = tags.ToArray();
            var created = new Series(copy, FormatLabels(copy), Kind == SeriesKind.Histogram ? Buckets.Length : 0);
            _series.Add(created);
            return created;
        }

        private static bool SameTags(KeyValuePair<string, object?>[] known, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (known.Length != tags.Length)
                return false;
            for (var i = 0; i < tags.Length; i++)
            {
                if (!string.Equals(known[i].Key, tags[i].Key, StringComparison.Ordinal) || !Equals(known[i].Value, tags[i].Value))
                    return false;
            }
            return true;
        }

        private static string FormatLabels(KeyValuePair<string, object?>[] tags)
        {
            var builder = new StringBuilder();
            foreach (var (key, value) in tags.OrderBy(t => t.Key, StringComparer.Ordinal))
            {
                if (builder.Length > 0)
                    builder.Append(',');
                var text = Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
                builder.Append(SanitizeName(key, label: true)).Append("=\"").Append(EscapeLabelValue(text)).Append('"');
            }
            return builder.ToString();
        }
    }
}
