using System.Buffers;
using Streaming.Contracts;

namespace Streaming.Processing.Windows;

/// <summary>What happened to one sample.</summary>
public enum AddOutcome
{
    Accepted,
    /// <summary>Every window the sample belongs to had already closed (end + grace ≤ stream time).</summary>
    Late,
    /// <summary>The entity already sent a sample with this exact event time in an open window.</summary>
    Duplicate,
}

/// <summary>
/// A window's features for one entity: the final result once it has closed, or, with early results on, a provisional
/// (<see cref="IsFinal"/> false) snapshot of a window still open.
/// </summary>
public sealed record ClosedWindow(string Entity, WindowBounds Bounds, int SampleCount, MetricFeatures[] Features, bool IsFinal = true)
{
    public FeatureVectorEvent ToEvent() => new(Entity, Bounds.Start, Bounds.End, SampleCount, Features);

    /// <summary>The window a features-topic record describes: the inverse of <see cref="ToEvent"/> (the scorer role reads it).</summary>
    public static ClosedWindow FromEvent(FeatureVectorEvent e) =>
        new(e.Entity, new WindowBounds(e.WindowStart.ToUnixTimeMilliseconds(), e.WindowEnd.ToUnixTimeMilliseconds()), e.SampleCount, [.. e.Features]);
}

/// <summary>
/// Event-time windows keyed by entity for one partition, in the manner of Kafka Streams: stream time is the largest event
/// time seen, a window closes when stream time ≥ end + grace, and emits one final result. Not thread-safe: one instance per
/// partition, driven by that partition's consume loop. Adding a sample allocates nothing once the entity's window exists
/// (window states and value buffers are pooled).
/// </summary>
public sealed partial class WindowAggregator
{
    private readonly WindowOptions _options;
    private readonly long _sizeMs;
    private readonly long _advanceMs;
    private readonly long _graceMs;
    private readonly Dictionary<string, int> _metricIds = new(StringComparer.Ordinal);
    private readonly List<string> _metricNames = [];
    private readonly Dictionary<WindowKey, WindowState> _open = [];
    private readonly Dictionary<string, HashSet<long>> _seenTimestamps = new(StringComparer.Ordinal);
    private readonly Stack<WindowState> _pool = new();
    private readonly List<WindowKey> _closing = [];

    private readonly Predicate<long> _isBeforeCutoff;
    private long _pruneCutoff;
    private long _nextUpdateMs = long.MinValue;

    public WindowAggregator(WindowOptions options)
    {
        _isBeforeCutoff = ts => ts < _pruneCutoff;
        _options = options.Validated();
        _sizeMs = options.SizeMs;
        _advanceMs = options.AdvanceMs;
        _graceMs = options.GraceMs;
    }

    /// <summary>Largest event time seen (or advanced to by the idle policy); <see cref="long.MinValue"/> before any.</summary>
    public long StreamTimeMs { get; private set; } = long.MinValue;

    public int OpenWindowCount => _open.Count;

    public AddOutcome Add(TelemetrySample sample) => Add(sample.Entity, sample.TimestampMs, sample.Metrics);

    /// <summary>Adds one entity's readings at one event time; allocation-free once the entity's window exists.</summary>
    public AddOutcome Add(string entity, long timestampMs, ReadOnlySpan<MetricValue> metrics)
    {
        var ts = timestampMs;
        if (ts > StreamTimeMs)
            StreamTimeMs = ts;

        if (!_seenTimestamps.TryGetValue(entity, out var seen))
        {
            seen = [];
            _seenTimestamps[entity] = seen;
        }

        // Windows containing ts start at multiples of advance in (ts - size, ts].
        var lastStart = FloorDiv(ts, _advanceMs) * _advanceMs;
        var accepted = false;
        for (var start = lastStart; start > ts - _sizeMs; start -= _advanceMs)
        {
            if (start + _sizeMs + _graceMs <= StreamTimeMs)
                continue;
            if (!accepted && !seen.Add(ts))
                return AddOutcome.Duplicate;
            accepted = true;
            var key = new WindowKey(entity, start);
            if (!_open.TryGetValue(key, out var state))
            {
                state = _pool.Count > 0 ? _pool.Pop() : new WindowState();
                state.Reset(entity, start);
                _open[key] = state;
            }
            state.SampleCount++;
            state.ChangedSinceUpdate = true;
            var t = (ts - start) / 1000.0;
            foreach (var metric in metrics)
                state.Add(MetricId(metric.Name), t, metric.Value, _options.EwmaAlpha);
        }
        return accepted ? AddOutcome.Accepted : AddOutcome.Late;
    }

    /// <summary>
    /// Moves stream time forward without data, for the idle-partition policy: a quiet entity's last window must still close.
    /// Never moves it backwards.
    /// </summary>
    public void AdvanceStreamTime(long timestampMs)
    {
        if (timestampMs > StreamTimeMs)
            StreamTimeMs = timestampMs;
    }

    /// <summary>Appends every window that has closed, ordered by end time then entity, and forgets them.</summary>
    public int CollectClosed(List<ClosedWindow> output)
    {
        _closing.Clear();
        foreach (var (key, state) in _open)
        {
            if (key.StartMs + _sizeMs + _graceMs <= StreamTimeMs)
                _closing.Add(key);
        }
        if (_closing.Count == 0)
            return 0;
        _closing.Sort(static (a, b) => a.StartMs != b.StartMs ? a.StartMs.CompareTo(b.StartMs) : string.CompareOrdinal(a.Entity, b.Entity));
        foreach (var key in _closing)
        {
            var state = _open[key];
            _open.Remove(key);
            output.Add(state.ToClosedWindow(new WindowBounds(key.StartMs, key.StartMs + _sizeMs), _metricNames, _options, isFinal: true));
            // The state keeps its value buffers for the next window it holds: ArrayPool's per-thread cache holds far fewer
            // arrays than a partition has windows open, so renting one per window and metric allocated (~30 MB per 200k samples).
            state.TrimBuffers();
            _pool.Push(state);
        }
        PruneSeenTimestamps();
        return _closing.Count;
    }

    /// <summary>
    /// With early results on, appends a provisional result of every open window that received data since its last one, at
    /// most once per <see cref="WindowOptions.EarlyResults"/> of stream time; windows that have closed are left to
    /// <see cref="CollectClosed"/>, so a window's last word is always its final result.
    /// </summary>
    public int CollectUpdates(List<ClosedWindow> output)
    {
        if (_options.EarlyResultsMs is not { } everyMs || StreamTimeMs < _nextUpdateMs || StreamTimeMs == long.MinValue)
            return 0;
        _nextUpdateMs = StreamTimeMs > long.MaxValue - everyMs ? long.MaxValue : (FloorDiv(StreamTimeMs, everyMs) + 1) * everyMs;
        _closing.Clear();
        foreach (var (key, state) in _open)
        {
            if (state.ChangedSinceUpdate && key.StartMs + _sizeMs + _graceMs > StreamTimeMs)
                _closing.Add(key);
        }
        _closing.Sort(static (a, b) => a.StartMs != b.StartMs ? a.StartMs.CompareTo(b.StartMs) : string.CompareOrdinal(a.Entity, b.Entity));
        foreach (var key in _closing)
        {
            var state = _open[key];
            state.ChangedSinceUpdate = false;
            output.Add(state.ToClosedWindow(new WindowBounds(key.StartMs, key.StartMs + _sizeMs), _metricNames, _options, isFinal: false));
        }
        return _closing.Count;
    }

    private void PruneSeenTimestamps()
    {
        // A timestamp older than every open window can no longer be accepted, so it need not be remembered.
        _pruneCutoff = StreamTimeMs - _sizeMs - _graceMs;
        foreach (var set in _seenTimestamps.Values)
        {
            if (set.Count > 0)
                set.RemoveWhere(_isBeforeCutoff);
        }
    }

    private int MetricId(string name)
    {
        if (_metricIds.TryGetValue(name, out var id))
            return id;
        id = _metricNames.Count;
        _metricIds[name] = id;
        _metricNames.Add(name);
        return id;
    }

    private static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    private readonly record struct WindowKey(string Entity, long StartMs);

    private sealed partial class WindowState
    {
        // Value buffers up to this length stay with a pooled state (a minute of one-second samples fits).
        private const int KeptBufferLength = 1024;

        private MetricAccumulator[] _metrics = new MetricAccumulator[8];
        private double[]?[] _values = new double[]?[8];
        private int _metricCount;

        public string Entity { get; private set; } = "";

        public long StartMs { get; private set; }

        public int SampleCount { get; set; }

        /// <summary>Received data since its last early result (or since it opened).</summary>
        public bool ChangedSinceUpdate { get; set; }

        public void Reset(string entity, long startMs)
        {
            Entity = entity;
            StartMs = startMs;
            SampleCount = 0;
            ChangedSinceUpdate = false;
            Array.Clear(_metrics, 0, _metricCount);
            _metricCount = 0;
        }

        public void Add(int metricId, double t, double value, double alpha)
        {
            if (metricId >= _metrics.Length)
            {
                var size = Math.Max(metricId + 1, _metrics.Length * 2);
                Array.Resize(ref _metrics, size);
                Array.Resize(ref _values, size);
            }
            if (metricId >= _metricCount)
                _metricCount = metricId + 1;
            ref var acc = ref _metrics[metricId];
            var index = acc.Count;
            acc.Add(t, value, alpha);
            // Exact percentiles need the values; the buffer comes from the pool and goes back when the window closes.
            var buffer = _values[metricId];
            if (buffer is null || buffer.Length <= index)
            {
                var grown = ArrayPool<double>.Shared.Rent(Math.Max(16, index * 2));
                if (buffer is not null)
                {
                    buffer.AsSpan(0, index).CopyTo(grown);
                    ArrayPool<double>.Shared.Return(buffer);
                }
                _values[metricId] = buffer = grown;
            }
            buffer[index] = value;
        }

        public ClosedWindow ToClosedWindow(WindowBounds bounds, List<string> metricNames, WindowOptions options, bool isFinal)
        {
            var present = 0;
            for (var i = 0; i < _metricCount; i++)
            {
                if (_metrics[i].Count > 0)
                    present++;
            }
            var features = new MetricFeatures[present];
            var n = 0;
            double? expected = options.ExpectedSampleInterval is { } interval ? options.Size / interval : null;
            for (var i = 0; i < _metricCount; i++)
            {
                ref readonly var acc = ref _metrics[i];
                if (acc.Count == 0)
                    continue;
                var values = _values[i]!.AsSpan(0, acc.Count);
                values.Sort();
                features[n++] = new MetricFeatures(
                    metricNames[i], acc.Count, acc.Mean, acc.Std, acc.Min, acc.Max, acc.First, acc.Last, acc.Slope, acc.Ewma,
                    Percentile(values, 0.50), Percentile(values, 0.95), acc.RateOfChange,
                    expected is { } e ? Math.Clamp(1 - acc.Count / e, 0, 1) : null);
            }
            Array.Sort(features, static (a, b) => string.CompareOrdinal(a.Metric, b.Metric));
            return new ClosedWindow(Entity, bounds, SampleCount, features, isFinal);
        }

        /// <summary>Returns only the value buffers larger than a usual window needs, keeping the others for the next window.</summary>
        public void TrimBuffers()
        {
            for (var i = 0; i < _values.Length; i++)
            {
                if (_values[i] is { Length: > KeptBufferLength } buffer)
                {
                    ArrayPool<double>.Shared.Return(buffer);
                    _values[i] = null;
                }
            }
        }

        public void ReleaseBuffers()
        {
            for (var i = 0; i < _values.Length; i++)
            {
                if (_values[i] is { } buffer)
                {
                    ArrayPool<double>.Shared.Return(buffer);
                    _values[i] = null;
                }
            }
        }

        /// <summary>Linear interpolation between closest ranks (NumPy's default), over sorted values.</summary>
        private static double Percentile(ReadOnlySpan<double> sorted, double q)
        {
            var position = q * (sorted.Length - 1);
            var lower = (int)Math.Floor(position);
            var upper = Math.Min(lower + 1, sorted.Length - 1);
            return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
        }
    }
}
