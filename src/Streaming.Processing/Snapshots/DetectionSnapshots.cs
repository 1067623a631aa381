using Streaming.Processing.Snapshots;

namespace Streaming.Processing.Scoring.Detection;

// The state codecs of the online detectors, kept out of the detector files so that changes to the detectors and to their
// snapshots merge independently. Every field that affects a future output is written; scratch buffers are not. A field
// added to a detector must be added here too: SnapshotCoverageTests lists each class's fields and fails on a new one.

public sealed partial class AnomalyLikelihood : IStateSnapshot
{
    private const uint Tag = 0x4C4B4C31; // "LKL1"

    public void WriteState(BinaryWriter writer)
    {
        writer.WriteTag(Tag);
        writer.WriteSpan<double>(_recent);
        writer.Write(_history.Length);
        writer.WriteSpan<float>(_history.AsSpan(0, _historyCount));
        writer.Write(_recentSum);
        writer.Write(_recentNext);
        writer.Write(_recentCount);
        writer.Write(_historyNext);
        writer.Write(_sum);
        writer.Write(_sumSquares);
        writer.Write(_seen);
    }

    public void ReadState(BinaryReader reader)
    {
        reader.ExpectTag(Tag, "likelihood");
        reader.ReadExactly<double>(_recent, "likelihood's recent scores");
        var capacity = reader.ReadLength("likelihood history capacity", _options.HistoryWindow);
        var history = reader.ReadArray<float>("likelihood history", capacity);
        _history = new float[capacity];
        history.CopyTo(_history, 0);
        _historyCount = history.Length;
        _recentSum = reader.ReadDouble();
        _recentNext = reader.ReadInt32();
        _recentCount = reader.ReadInt32();
        _historyNext = reader.ReadInt32();
        _sum = reader.ReadDouble();
        _sumSquares = reader.ReadDouble();
        _seen = reader.ReadInt64();
        StateCodec.Check(_recentNext >= 0 && _recentNext < _recent.Length && _recentCount >= 0 && _recentCount <= _recent.Length
                         && _historyNext >= 0 && _historyNext < _options.HistoryWindow, "The likelihood's ring positions are out of range.");
    }
}

internal sealed partial class SustainedDeviation : IStateSnapshot
{
    private const uint Tag = 0x53555331; // "SUS1"

    public void WriteState(BinaryWriter writer)
    {
        writer.WriteTag(Tag);
        writer.WriteSpan<double>(_recent);
        writer.Write(_next);
        writer.Write(_count);
    }

    public void ReadState(BinaryReader reader)
    {
        reader.ExpectTag(Tag, "sustained deviation");
        reader.ReadExactly<double>(_recent, "sustained deviation's recent z-scores");
        _next = reader.ReadInt32();
        _count = reader.ReadInt32();
        StateCodec.Check(_next >= 0 && _next < _recent.Length && _count >= 0 && _count <= _recent.Length, "The sustained deviation's positions are out of range.");
    }
}

internal sealed partial class SeasonalModel : IStateSnapshot
{
    private const uint Tag = 0x53534E32; // "SSN2": version 6 added the confirmations count

    public void WriteState(BinaryWriter writer)
    {
        writer.WriteTag(Tag);
        writer.Write(_values.Length);
        writer.WriteSpan<float>(_values.AsSpan(0, Math.Min(_count, _values.Length)));
        writer.Write(_next);
        writer.Write(_count);
        writer.Write(_seen);
        writer.Write(_nextEstimate);
        writer.Write(_meanAbsoluteResidual);
        writer.Write(Period);
        writer.Write(_confirmations);
    }

    public void ReadState(BinaryReader reader)
    {
        reader.ExpectTag(Tag, "seasonal model");
        var capacity = reader.ReadLength("seasonal capacity", _capacity);
        var values = reader.ReadArray<float>("seasonal values", capacity);
        _values = new float[capacity];
        values.CopyTo(_values, 0);
        _next = reader.ReadInt32();
        _count = reader.ReadInt32();
        _seen = reader.ReadInt64();
        _nextEstimate = reader.ReadInt64();
        _meanAbsoluteResidual = reader.ReadDouble();
        Period = reader.ReadInt32();
        _confirmations = reader.ReadInt32();
        StateCodec.Check(_count == values.Length && _next >= 0 && (_next < capacity || capacity == 0) && Period >= 0 && Period <= _options.MaxPeriod && _confirmations >= 0,
            "The seasonal model's positions are out of range.");
    }
}

internal partial struct SplitMix64
{
    /// <summary>The generator's whole state: a generator given it continues the same sequence.</summary>
    internal ulong State
    {
        readonly get => _state;
        set => _state = value;
    }
}

internal sealed partial class RandomCutTree : IStateSnapshot
{
    private const uint Tag = 0x52435431; // "RCT1"

    public void WriteState(BinaryWriter writer)
    {
        writer.WriteTag(Tag);
        writer.Write(_dims);
        writer.WriteSpan<int>(_parent);
        writer.WriteSpan<int>(_left);
        writer.WriteSpan<int>(_right);
        writer.WriteSpan<int>(_mass);
        writer.WriteSpan<int>(_cutDim);
        writer.WriteSpan<double>(_cutValue);
        writer.WriteSpan<float>(_min);
        writer.WriteSpan<float>(_max);
        writer.WriteSpan<int>(_leafOfSlot);
        // Top of the stack first: pushed back in reverse, the same nodes are handed out in the same order.
        writer.WriteSpan<int>(_free.ToArray());
        writer.Write(_random.State);
        writer.Write(_root);
    }

    public void ReadState(BinaryReader reader)
    {
        reader.ExpectTag(Tag, "random cut tree");
        StateCodec.Check(reader.ReadInt32() == _dims, "The random cut tree has another dimension count: the settings differ.");
        _parent = reader.ReadArray<int>("tree parents", _maxNodes);
        var nodes = _parent.Length;
        _left = reader.ReadArray<int>("tree left children", _maxNodes);
        _right = reader.ReadArray<int>("tree right children", _maxNodes);
        _mass = reader.ReadArray<int>("tree masses", _maxNodes);
        _cutDim = reader.ReadArray<int>("tree cut dimensions", _maxNodes);
        _cutValue = reader.ReadArray<double>("tree cut values", _maxNodes);
        _min = reader.ReadArray<float>("tree box minima", _maxNodes * _dims);
        _max = reader.ReadArray<float>("tree box maxima", _maxNodes * _dims);
        _leafOfSlot = reader.ReadArray<int>("tree leaves by slot", _capacity);
        var free = reader.ReadArray<int>("tree free nodes", _maxNodes);
        _free.Clear();
        for (var i = free.Length - 1; i >= 0; i--)
            _free.Push(free[i]);
        _random.State = reader.ReadUInt64();
        _root = reader.ReadInt32();
        StateCodec.Check(_left.Length == nodes && _right.Length == nodes && _mass.Length == nodes && _cutDim.Length == nodes
                         && _cutValue.Length == nodes && _min.Length == nodes * _dims && _max.Length == nodes * _dims
                         && _root >= -1 && _root < nodes && Array.TrueForAll(free, n => n >= 0 && n < nodes),
            "The random cut tree's node arrays do not agree.");
    }
}

public sealed partial class RandomCutForest : IStateSnapshot
{
    private const uint Tag = 0x52434631; // "RCF1"

    public void WriteState(BinaryWriter writer)
    {
        writer.WriteTag(Tag);
        writer.Write(_trees.Length);
        writer.Write(_next);
        writer.Write(Count);
        foreach (var tree in _trees)
            tree.WriteState(writer);
    }

    public void ReadState(BinaryReader reader)
    {
        reader.ExpectTag(Tag, "random cut forest");
        StateCodec.Check(reader.ReadInt32() == _trees.Length, "The forest has another tree count: the settings differ.");
        _next = reader.ReadInt32();
        Count = reader.ReadInt32();
        StateCodec.Check(_next >= 0 && _next < SampleSize && Count >= 0 && Count <= SampleSize, "The forest's positions are out of range.");
        foreach (var tree in _trees)
            tree.ReadState(reader);
    }
}

internal sealed partial class MetricDetector : IStateSnapshot
{
    private const uint Tag = 0x4D455431; // "MET1"

    public void WriteState(BinaryWriter writer)
    {
        writer.WriteTag(Tag);
        writer.Write(_forest is not null);
        writer.Write(_forestPeriod);
        if (_forest is not null)
        {
            _forest.WriteState(writer);
            _forestLikelihood!.WriteState(writer);
        }
        writer.WriteSpan<double>(_shingle);
        writer.Write(_shingleNext);
        writer.Write(_shingleCount);
        writer.Write(_min);
        writer.Write(_max);
        writer.Write(_seen);
        writer.Write(_rangeGrewAt);
        writer.Write(_baselineLikelihood is not null);
        _baselineLikelihood?.WriteState(writer);
        writer.Write(_seasonalLikelihood is not null);
        _seasonalLikelihood?.WriteState(writer);
        writer.Write(_seasonal is not null);
        _seasonal?.WriteState(writer);
        writer.Write(_sustained is not null);
        _sustained?.WriteState(writer);
        writer.WriteSpan<double>(_rangeDelay);
        writer.Write(_rangeDelayNext);
    }

    public void ReadState(BinaryReader reader)
    {
        reader.ExpectTag(Tag, "metric detector");
        var hasForest = reader.ReadBoolean();
        StateCodec.Check(hasForest == _options.Forest.Enabled, "The snapshot's forest setting differs from this one.");
        _forestPeriod = reader.ReadInt32();
        if (hasForest)
        {
            // A fresh forest of this entity × metric's seed, then overwritten with the written one (cuts, RNG and all).
            StartForest();
            _forest!.ReadState(reader);
            _forestLikelihood!.ReadState(reader);
        }
        reader.ReadExactly<double>(_shingle, "shingle");
        _shingleNext = reader.ReadInt32();
        _shingleCount = reader.ReadInt32();
        _min = reader.ReadDouble();
        _max = reader.ReadDouble();
        _seen = reader.ReadInt64();
        _rangeGrewAt = reader.ReadInt64();
        ReadOptional(reader, _baselineLikelihood, "baseline likelihood");
        ReadOptional(reader, _seasonalLikelihood, "seasonal likelihood");
        ReadOptional(reader, _seasonal, "seasonal model");
        ReadOptional(reader, _sustained, "sustained deviation");
        reader.ReadExactly<double>(_rangeDelay, "range delay");
        _rangeDelayNext = reader.ReadInt32();
        StateCodec.Check(_shingleNext >= 0 && _shingleNext < _shingle.Length && _shingleCount >= 0 && _shingleCount <= _shingle.Length
                         && _rangeDelayNext >= 0 && _rangeDelayNext < _rangeDelay.Length,
            "The shingle's or the range delay's positions are out of range.");
    }

    private static void ReadOptional(BinaryReader reader, IStateSnapshot? part, string what)
    {
        var present = reader.ReadBoolean();
        StateCodec.Check(present == part is not null, $"The snapshot's {what} setting differs from this one.");
        part?.ReadState(reader);
    }
}

public sealed partial class OnlineWindowScorer : IStateSnapshot
{
    private const uint Tag = 0x4F4E4C31; // "ONL1"

    public void WriteState(BinaryWriter writer)
    {
        writer.WriteTag(Tag);
        _baseline.WriteState(writer);
        writer.WritePerMetric(_entities, detector => detector.WriteState(writer));
    }

    public void ReadState(BinaryReader reader)
    {
        reader.ExpectTag(Tag, "online detectors");
        _baseline.ReadState(reader);
        reader.ReadPerMetric(_entities, "online detector", (entity, metric) =>
        {
            var detector = new MetricDetector(_options, _baseline.Threshold, _baselineWindows, SeedOf(entity, metric));
            detector.ReadState(reader);
            return detector;
        });
    }
}
