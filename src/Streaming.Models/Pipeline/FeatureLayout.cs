using Streaming.Processing.Windows;

namespace Streaming.Models.Pipeline;

/// <summary>
/// Which window features, in which order, form a model's input vector: names like <c>cpu_usage.mean</c>. A metric missing
/// from a window yields NaN, which <see cref="FillMissing"/> replaces with the training mean (zero once normalised).
/// </summary>
internal sealed class FeatureLayout
{
    public static readonly string[] DefaultStatistics = ["mean", "std", "slope"];

    private readonly (string Metric, string Statistic)[] _parts;

    public FeatureLayout(IReadOnlyList<string> names)
    {
        Names = names;
        _parts = names.Select(n =>
        {
            var dot = n.LastIndexOf('.');
            if (dot <= 0 || dot == n.Length - 1)
                throw new ArgumentException($"Model feature '{n}' must be '<metric>.<statistic>', e.g. cpu_usage.mean.");
            return (n[..dot], n[(dot + 1)..]);
        }).ToArray();
    }

    public IReadOnlyList<string> Names { get; }

    public int Count => _parts.Length;

    public string MetricOf(int index) => _parts[index].Metric;

    public static FeatureLayout For(IEnumerable<string> metrics) =>
        new(metrics.SelectMany(m => DefaultStatistics.Select(s => $"{m}.{s}")).ToArray());

    public void Extract(ClosedWindow window, Span<float> destination)
    {
        for (var i = 0; i < _parts.Length; i++)
        {
            var (metric, statistic) = _parts[i];
            destination[i] = float.NaN;
            foreach (var f in window.Features)
            {
                if (f.Metric != metric)
                    continue;
                destination[i] = (float)(statistic switch
                {
                    "mean" => f.Mean,
                    "std" => f.Std,
                    "min" => f.Min,
                    "max" => f.Max,
                    "first" => f.First,
                    "last" => f.Last,
                    "slope" => f.Slope,
                    "ewma" => f.Ewma,
                    "p50" => f.P50 ?? f.Mean,
                    "p95" => f.P95 ?? f.Max,
                    "count" => f.Count,
                    _ => throw new ArgumentException($"Unknown window statistic '{statistic}' in model feature '{metric}.{statistic}'."),
                });
                break;
            }
        }
    }

    /// <summary>Replaces NaN (a metric the window lacked) with the training mean of that feature.</summary>
    public static void FillMissing(Span<float> raw, IReadOnlyList<float> means)
    {
        for (var i = 0; i < raw.Length; i++)
        {
            if (float.IsNaN(raw[i]))
                raw[i] = means[i % means.Count];
        }
    }
}
