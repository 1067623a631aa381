using Streaming.Processing.Snapshots;

namespace Streaming.Processing.Pipeline;

// The state codecs of a partition's processing path: windows, then (when scoring inline) scorer, alerts and predictions.

public sealed partial class ScoringStage : IStateSnapshot
{
    private const uint Tag = 0x53434F31; // "SCO1"

    /// <summary>Whether the scorer's state can be snapshotted (every built-in scorer's can; a custom one may not).</summary>
    public bool CanSnapshot => _scorer is IStateSnapshot;

    public void WriteState(BinaryWriter writer)
    {
        if (_scorer is not IStateSnapshot scorer)
            throw new NotSupportedException($"The scorer {_scorer.GetType().Name} cannot write its state.");
        writer.WriteTag(Tag);
        scorer.WriteState(writer);
        _alerts.WriteState(writer);
        _predictions.WriteState(writer);
    }

    public void ReadState(BinaryReader reader)
    {
        if (_scorer is not IStateSnapshot scorer)
            throw new NotSupportedException($"The scorer {_scorer.GetType().Name} cannot read its state.");
        reader.ExpectTag(Tag, "scoring stage");
        scorer.ReadState(reader);
        _alerts.ReadState(reader);
        _predictions.ReadState(reader);
    }
}

public sealed partial class PartitionProcessor : IStateSnapshot
{
    private const uint Tag = 0x50524F31; // "PRO1"

    /// <summary>Whether this processor's whole state can be snapshotted.</summary>
    public bool CanSnapshot => _scoring?.CanSnapshot ?? true;

    public void WriteState(BinaryWriter writer)
    {
        writer.WriteTag(Tag);
        _windows.WriteState(writer);
        writer.Write(_scoring is not null);
        _scoring?.WriteState(writer);
    }

    public void ReadState(BinaryReader reader)
    {
        reader.ExpectTag(Tag, "partition processor");
        _windows.ReadState(reader);
        var scoring = reader.ReadBoolean();
        StateCodec.Check(scoring == _scoring is not null, "The snapshot was written with another scoring mode (Processor:Scoring).");
        _scoring?.ReadState(reader);
    }
}

public static class ProcessorSettingsSnapshots
{
    /// <summary>
    /// Every setting that shapes a partition's state, as text (records print their values): a snapshot is only read back
    /// under the settings it was written with, since the codecs do not write settings and other settings mean other state.
    /// </summary>
    public static string Fingerprint(this ProcessorSettings settings) =>
        $"windows={settings.Windows}|baseline={settings.Baseline}|detection={settings.Detection}|alerts={settings.Alerts}|" +
        $"predictions={settings.Predictions}|limits={settings.Limits}|inline={settings.ScoreInline}|" +
        $"scorer={(settings.ScorerFactory is null ? "online" : "factory")}|online={Scoring.Detection.OnlineWindowScorer.ModelVersion}";
}
