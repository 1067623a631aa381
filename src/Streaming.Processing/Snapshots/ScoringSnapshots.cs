using Streaming.Processing.Snapshots;

namespace Streaming.Processing.Scoring;

// The robust baseline's state codec: each entity × metric's ring of window means and its frozen streak.

public sealed partial class RobustBaselineScorer : IStateSnapshot
{
    private const uint Tag = 0x42534C31; // "BSL1"

    public void WriteState(BinaryWriter writer)
    {
        writer.WriteTag(Tag);
        writer.WritePerMetric(_history, history => history.WriteState(writer));
    }

    public void ReadState(BinaryReader reader)
    {
        reader.ExpectTag(Tag, "robust baseline");
        reader.ReadPerMetric(_history, "baseline", (_, _) =>
        {
            var history = new History(_options.HistoryWindows);
            history.ReadState(reader);
            return history;
        });
    }

    private sealed partial class History
    {
        public void WriteState(BinaryWriter writer)
        {
            writer.WriteSpan<double>(_values);
            writer.Write(_next);
            writer.Write(Count);
            writer.Write(Frozen);
        }

        public void ReadState(BinaryReader reader)
        {
            reader.ReadExactly<double>(_values, "baseline history");
            _next = reader.ReadInt32();
            Count = reader.ReadInt32();
            Frozen = reader.ReadInt32();
            StateCodec.Check(_next >= 0 && _next < _values.Length && Count >= 0 && Count <= _values.Length && Frozen >= 0,
                "A baseline history's positions are out of range.");
            // The ordered copy is derived from the ring, not written.
            Reorder();
        }
    }
}

public sealed partial class BaselineWindowScorer : IStateSnapshot
{
    public void WriteState(BinaryWriter writer) => _baseline.WriteState(writer);

    public void ReadState(BinaryReader reader) => _baseline.ReadState(reader);
}
