using System.Buffers.Binary;
using System.Text;
using Confluent.Kafka;
using Streaming.Contracts;
using Streaming.Processing.Windows;
using Streamiz.Kafka.Net.SerDes;

namespace Streaming.Streamiz.Bench;

/// <summary>
/// The Streamiz side's aggregate: one entity's tumbling window, the same running statistics our
/// <see cref="WindowAggregator"/> keeps (<see cref="MetricAccumulator"/> per metric, fed in arrival order) plus each
/// metric's values for the exact percentiles. <see cref="ToEvent"/> builds the features exactly as
/// <c>WindowAggregator</c>'s window state does, so both engines' outputs can be compared byte for byte.
/// </summary>
internal sealed class SampleWindow
{
    public int SampleCount { get; set; }

    public List<MetricWindow> Metrics { get; } = [];

    /// <summary>Adds one sample at <paramref name="t"/> seconds after the window's start.</summary>
    public SampleWindow Add(TelemetrySample sample, double t, double ewmaAlpha)
    {
        SampleCount++;
        foreach (var metric in sample.Metrics)
        {
            MetricWindow? state = null;
            foreach (var existing in Metrics)
            {
                if (ReferenceEquals(existing.Name, metric.Name) || existing.Name == metric.Name)
                {
                    state = existing;
                    break;
                }
            }
            if (state is null)
            {
                state = new MetricWindow(metric.Name);
                Metrics.Add(state);
            }
            state.Add(t, metric.Value, ewmaAlpha);
        }
        return this;
    }

    public FeatureVectorEvent ToEvent(string entity, long startMs, long endMs)
    {
        var features = new MetricFeatures[Metrics.Count];
        for (var i = 0; i < features.Length; i++)
        {
            var m = Metrics[i];
            ref readonly var acc = ref m.Accumulator;
            var values = m.Values.AsSpan(0, acc.Count);
            values.Sort();
            // No expected sampling interval in either engine's settings, so no missing ratio.
            features[i] = new MetricFeatures(m.Name, acc.Count, acc.Mean, acc.Std, acc.Min, acc.Max, acc.First, acc.Last, acc.Slope,
                acc.Ewma, Percentile(values, 0.50), Percentile(values, 0.95), acc.RateOfChange, null);
        }
        Array.Sort(features, static (a, b) => string.CompareOrdinal(a.Metric, b.Metric));
        return new FeatureVectorEvent(entity, DateTimeOffset.FromUnixTimeMilliseconds(startMs), DateTimeOffset.FromUnixTimeMilliseconds(endMs),
            SampleCount, features);
    }

    // Same as WindowAggregator's: linear interpolation between closest ranks (NumPy's default), over sorted values.
    private static double Percentile(ReadOnlySpan<double> sorted, double q)
    {
        var position = q * (sorted.Length - 1);
        var lower = (int)Math.Floor(position);
        var upper = Math.Min(lower + 1, sorted.Length - 1);
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
    }
}

internal sealed class MetricWindow(string name)
{
    private MetricAccumulator _accumulator;

    public string Name { get; } = name;

    public ref MetricAccumulator Accumulator => ref _accumulator;

    public double[] Values { get; set; } = new double[8];

    public void Add(double t, double value, double ewmaAlpha)
    {
        var index = _accumulator.Count;
        _accumulator.Add(t, value, ewmaAlpha);
        if (index == Values.Length)
        {
            var grown = Values;
            Array.Resize(ref grown, Values.Length * 2);
            Values = grown;
        }
        Values[index] = value;
    }
}

/// <summary>
/// A compact binary serde for <see cref="SampleWindow"/>: Streamiz keeps every store value (and every changelog record) as
/// bytes, so the aggregate is read and written once per record. Metric names are interned per thread.
/// </summary>
internal sealed class SampleWindowSerDes : AbstractSerDes<SampleWindow>
{
    private const int DoublesPerMetric = 12;

    [ThreadStatic]
    private static HashSet<string>? t_names;

    public override byte[] Serialize(SampleWindow data, SerializationContext context)
    {
        var size = 8;
        foreach (var m in data.Metrics)
            size += 2 + Encoding.UTF8.GetByteCount(m.Name) + 4 + 8 * (DoublesPerMetric + m.Accumulator.Count);
        var bytes = new byte[size];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, data.SampleCount);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], data.Metrics.Count);
        var at = 8;
        foreach (var m in data.Metrics)
        {
            var nameLength = Encoding.UTF8.GetBytes(m.Name, span[(at + 2)..]);
            BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)nameLength);
            at += 2 + nameLength;
            ref readonly var a = ref m.Accumulator;
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], a.Count);
            at += 4;
            ReadOnlySpan<double> fields = [a.Mean, a.M2, a.Min, a.Max, a.FirstT, a.First, a.LastT, a.Last, a.MeanT, a.M2T, a.CoMoment, a.Ewma];
            foreach (var f in fields)
            {
                BinaryPrimitives.WriteDoubleLittleEndian(span[at..], f);
                at += 8;
            }
            foreach (var v in m.Values.AsSpan(0, a.Count))
            {
                BinaryPrimitives.WriteDoubleLittleEndian(span[at..], v);
                at += 8;
            }
        }
        return bytes;
    }

    public override SampleWindow Deserialize(byte[] data, SerializationContext context)
    {
        var span = data.AsSpan();
        var window = new SampleWindow { SampleCount = BinaryPrimitives.ReadInt32LittleEndian(span) };
        var metrics = BinaryPrimitives.ReadInt32LittleEndian(span[4..]);
        var at = 8;
        for (var i = 0; i < metrics; i++)
        {
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(span[at..]);
            var name = Intern(span.Slice(at + 2, nameLength));
            at += 2 + nameLength;
            var m = new MetricWindow(name);
            ref var a = ref m.Accumulator;
            a.Count = BinaryPrimitives.ReadInt32LittleEndian(span[at..]);
            at += 4;
            a.Mean = Read(span, ref at);
            a.M2 = Read(span, ref at);
            a.Min = Read(span, ref at);
            a.Max = Read(span, ref at);
            a.FirstT = Read(span, ref at);
            a.First = Read(span, ref at);
            a.LastT = Read(span, ref at);
            a.Last = Read(span, ref at);
            a.MeanT = Read(span, ref at);
            a.M2T = Read(span, ref at);
            a.CoMoment = Read(span, ref at);
            a.Ewma = Read(span, ref at);
            var values = new double[Math.Max(8, a.Count + 1)];
            for (var v = 0; v < a.Count; v++)
                values[v] = Read(span, ref at);
            m.Values = values;
            window.Metrics.Add(m);
        }
        return window;
    }

    private static double Read(ReadOnlySpan<byte> span, ref int at)
    {
        var value = BinaryPrimitives.ReadDoubleLittleEndian(span[at..]);
        at += 8;
        return value;
    }

    private static string Intern(ReadOnlySpan<byte> utf8)
    {
        var names = t_names ??= new HashSet<string>(StringComparer.Ordinal);
        Span<char> chars = stackalloc char[256];
        var n = Encoding.UTF8.GetChars(utf8, chars);
        var lookup = names.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(chars[..n], out var existing))
            return existing;
        var created = new string(chars[..n]);
        names.Add(created);
        return created;
    }
}
