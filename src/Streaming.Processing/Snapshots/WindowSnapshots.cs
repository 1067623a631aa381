using System.Buffers;
using Streaming.Processing.Snapshots;

namespace Streaming.Processing.Windows;

// The window aggregator's state codec: stream time, metric ids in order, the event times each entity has sent in open
// windows, and every open window with its running statistics and raw values (for the exact percentiles).

public sealed partial class WindowAggregator : IStateSnapshot
{
    private const uint Tag = 0x57494E31; // "WIN1"

    public void WriteState(BinaryWriter writer)
    {
        writer.WriteTag(Tag);
        writer.Write(StreamTimeMs);
        writer.Write(_pruneCutoff);
        writer.Write(_nextUpdateMs);
        writer.Write(_metricNames.Count);
        foreach (var name in _metricNames)
            writer.Write(name);
        writer.Write(_seenTimestamps.Count);
        foreach (var (entity, seen) in _seenTimestamps)
        {
            writer.Write(entity);
            writer.Write(seen.Count);
            foreach (var ts in seen)
                writer.Write(ts);
        }
        writer.Write(_open.Count);
        foreach (var (key, state) in _open)
        {
            writer.Write(key.Entity);
            writer.Write(key.StartMs);
            state.WriteState(writer);
        }
    }

    public void ReadState(BinaryReader reader)
    {
        reader.ExpectTag(Tag, "windows");
        foreach (var state in _open.Values)
            state.ReleaseBuffers();
        _open.Clear();
        _metricIds.Clear();
        _metricNames.Clear();
        _seenTimestamps.Clear();
        StreamTimeMs = reader.ReadInt64();
        _pruneCutoff = reader.ReadInt64();
        _nextUpdateMs = reader.ReadInt64();
        var metrics = reader.ReadLength("metric names");
        for (var i = 0; i < metrics; i++)
            MetricId(reader.ReadString());
        StateCodec.Check(_metricNames.Count == metrics, "The snapshot names a metric twice.");
        var entities = reader.ReadLength("entities");
        for (var i = 0; i < entities; i++)
        {
            var entity = reader.ReadString();
            var count = reader.ReadLength("event times");
            var seen = new HashSet<long>(count);
            for (var j = 0; j < count; j++)
                seen.Add(reader.ReadInt64());
            _seenTimestamps[entity] = seen;
        }
        var open = reader.ReadLength("open windows");
        for (var i = 0; i < open; i++)
        {
            var key = new WindowKey(reader.ReadString(), reader.ReadInt64());
            var state = _pool.Count > 0 ? _pool.Pop() : new WindowState();
            state.ReadState(reader, metrics);
            StateCodec.Check(state.Entity == key.Entity && state.StartMs == key.StartMs, "An open window's key and state disagree.");
            _open[key] = state;
        }
    }

    private sealed partial class WindowState
    {
        public void WriteState(BinaryWriter writer)
        {
            writer.Write(Entity);
            writer.Write(StartMs);
            writer.Write(SampleCount);
            writer.Write(ChangedSinceUpdate);
            writer.Write(_metricCount);
            for (var i = 0; i < _metricCount; i++)
            {
                ref readonly var a = ref _metrics[i];
                writer.Write(a.Count);
                writer.Write(a.Mean);
                writer.Write(a.M2);
                writer.Write(a.Min);
                writer.Write(a.Max);
                writer.Write(a.FirstT);
                writer.Write(a.First);
                writer.Write(a.LastT);
                writer.Write(a.Last);
                writer.Write(a.MeanT);
                writer.Write(a.M2T);
                writer.Write(a.CoMoment);
                writer.Write(a.Ewma);
                // The values in their current order (sorted by an early result, or as they arrived): percentiles sort them anyway.
                writer.WriteSpan<double>(a.Count == 0 ? [] : _values[i].AsSpan(0, a.Count));
            }
        }

        public void ReadState(BinaryReader reader, int metricNames)
        {
            Reset(reader.ReadString(), reader.ReadInt64());
            ReleaseBuffers();
            SampleCount = reader.ReadInt32();
            ChangedSinceUpdate = reader.ReadBoolean();
            var count = reader.ReadLength("window metrics", metricNames);
            if (count > _metrics.Length)
            {
                _metrics = new MetricAccumulator[count];
                _values = new double[]?[count];
            }
            _metricCount = count;
            for (var i = 0; i < count; i++)
            {
                ref var a = ref _metrics[i];
                a.Count = reader.ReadInt32();
                a.Mean = reader.ReadDouble();
                a.M2 = reader.ReadDouble();
                a.Min = reader.ReadDouble();
                a.Max = reader.ReadDouble();
                a.FirstT = reader.ReadDouble();
                a.First = reader.ReadDouble();
                a.LastT = reader.ReadDouble();
                a.Last = reader.ReadDouble();
                a.MeanT = reader.ReadDouble();
                a.M2T = reader.ReadDouble();
                a.CoMoment = reader.ReadDouble();
                a.Ewma = reader.ReadDouble();
                var values = reader.ReadArray<double>("window values");
                StateCodec.Check(values.Length == a.Count, "A window metric's value count disagrees with its statistics.");
                if (values.Length > 0)
                {
                    var buffer = ArrayPool<double>.Shared.Rent(Math.Max(16, values.Length * 2));
                    values.CopyTo(buffer, 0);
                    _values[i] = buffer;
                }
            }
        }
    }
}
