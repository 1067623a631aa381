using Streaming.Processing.Snapshots;

namespace Streaming.Models.Thresholds;

// The threshold's state codec: the smoothing, the window of smoothed errors and values, the held evidence, and the
// thresholds in force. The settings are written too and must match: other settings mean another threshold.
internal sealed partial class DynamicErrorThreshold
{
    public void WriteState(BinaryWriter writer)
    {
        writer.Write(_options.ToString());
        _smoothing.WriteState(writer);
        writer.WriteSpan<double>(_errors);
        writer.WriteSpan<double>(_values);
        writer.WriteSpan<double>(_evidence);
        writer.Write(_seen);
        writer.Write(_sinceEvaluation);
        writer.Write(_threshold);
        writer.Write(_invertedThreshold);
        writer.Write(_mean);
    }

    public void ReadState(BinaryReader reader)
    {
        StateCodec.Check(reader.ReadString() == _options.ToString(), "The telemanom threshold was written with other Telemanom:* settings.");
        _smoothing.ReadState(reader);
        reader.ReadExactly<double>(_errors, "telemanom errors");
        reader.ReadExactly<double>(_values, "telemanom values");
        reader.ReadExactly<double>(_evidence, "telemanom evidence");
        _seen = reader.ReadInt64();
        _sinceEvaluation = reader.ReadInt32();
        _threshold = reader.ReadDouble();
        _invertedThreshold = reader.ReadDouble();
        _mean = reader.ReadDouble();
        StateCodec.Check(_seen >= 0 && _sinceEvaluation >= 0, "The telemanom threshold's counts are negative.");
    }
}
