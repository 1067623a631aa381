using Prometheus;

namespace Streaming.Host.Operations;

/// <summary>
/// A prometheus-net gauge whose series are read from the owner's state at collection time: every reported label set is
/// set to its value, and a label set no longer reported (a revoked partition, a replaced model version) leaves the
/// exposition.
/// </summary>
internal sealed class ObservedGauge(Gauge gauge, Func<IEnumerable<(string[] Labels, double Value)>> observe)
{
    private readonly Lock _gate = new();
    private readonly HashSet<string[]> _published = new(LabelValuesComparer.Instance);

    public void Observe()
    {
        lock (_gate)
        {
            var reported = new HashSet<string[]>(LabelValuesComparer.Instance);
            foreach (var (labels, value) in observe())
            {
                gauge.WithLabels(labels).Set(value);
                reported.Add(labels);
            }
            foreach (var gone in _published.Where(labels => !reported.Contains(labels)))
                gauge.RemoveLabelled(gone);
            _published.Clear();
            _published.UnionWith(reported);
        }
    }

    private sealed class LabelValuesComparer : IEqualityComparer<string[]>
    {
        public static readonly LabelValuesComparer Instance = new();

        public bool Equals(string[]? x, string[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(string[] labels)
        {
            var hash = new HashCode();
            foreach (var label in labels)
                hash.Add(label, StringComparer.Ordinal);
            return hash.ToHashCode();
        }
    }
}
