using System.Text;
using Streaming.Processing.Scoring.Detection;
using Streaming.Processing.Snapshots;

namespace Streaming.Models.Pipeline;

// The telemanom scorer's state codec: the online detectors, and per entity the version of the bundle that scored it with
// its feature ring and threshold. Loaded forecasters are not state: they come from the model registry. A restored entity
// continues as if never interrupted when the bundle covering it at its next window is that version; otherwise it starts
// over, as it would have when that bundle was activated.

internal sealed partial class TelemanomWindowScorer : IStateSnapshot
{
    private const uint Tag = 0x544D5331; // "TMS1"

    // Restored entities by name: the version that scored them and their state, adopted at their next window.
    private readonly Dictionary<string, (string Version, byte[] State)> _restored = new(StringComparer.Ordinal);

    public void WriteState(BinaryWriter writer)
    {
        writer.WriteTag(Tag);
        writer.Write(_options.ToString());
        _online.WriteState(writer);
        writer.Write(_entities.Count + _restored.Count);
        foreach (var (name, entity) in _entities)
        {
            writer.Write(name);
            writer.Write(entity.Model.Bundle.Version);
            writer.WriteSpan<byte>(Serialize(entity));
        }
        foreach (var (name, (version, state)) in _restored)
        {
            writer.Write(name);
            writer.Write(version);
            writer.WriteSpan<byte>(state);
        }
    }

    public void ReadState(BinaryReader reader)
    {
        reader.ExpectTag(Tag, "telemanom scorer");
        StateCodec.Check(reader.ReadString() == _options.ToString(), "The telemanom scorer was written with other Telemanom:* settings.");
        _online.ReadState(reader);
        _entities.Clear();
        _restored.Clear();
        var count = reader.ReadLength("telemanom entities");
        for (var i = 0; i < count; i++)
        {
            var name = reader.ReadString();
            var version = reader.ReadString();
            _restored[name] = (version, reader.ReadArray<byte>("telemanom entity"));
        }
    }

    /// <summary>The entity's restored state when <paramref name="model"/> is the version that scored it; null otherwise.</summary>
    private TelemanomEntityState? Restored(string name, TelemanomModel model)
    {
        if (!_restored.Remove(name, out var restored) || !string.Equals(restored.Version, model.Bundle.Version, StringComparison.Ordinal))
            return null;
        var entity = new TelemanomEntityState(model, _options);
        try
        {
            using var reader = new BinaryReader(new MemoryStream(restored.State), Encoding.UTF8);
            entity.ReadState(reader);
            return entity;
        }
        catch (Exception ex) when (ex is SnapshotFormatException or EndOfStreamException)
        {
            // Cannot happen for the same version and settings; starting over is what an activation would do.
            return null;
        }
    }

    private static byte[] Serialize(TelemanomEntityState entity)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            entity.WriteState(writer);
        return stream.ToArray();
    }
}

internal sealed partial class TelemanomEntityState
{
    public void WriteState(BinaryWriter writer)
    {
        _history.WriteState(writer);
        _threshold.WriteState(writer);
    }

    public void ReadState(BinaryReader reader)
    {
        // The ring carries no likelihoods here: telemanom thresholds the errors itself.
        _history.ReadState(reader, new LikelihoodOptions());
        _threshold.ReadState(reader);
    }
}
