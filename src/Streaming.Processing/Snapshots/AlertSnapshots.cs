using Streaming.Processing.Snapshots;

namespace Streaming.Processing.Alerts;

// The alert and downtime lifecycles' state codecs: per entity, the open alert (or prediction) and its streaks.

public sealed partial class AlertTracker : IStateSnapshot
{
    private const uint Tag = 0x414C5431; // "ALT1"

    public void WriteState(BinaryWriter writer)
    {
        writer.WriteTag(Tag);
        writer.Write(_entities.Count);
        foreach (var (entity, state) in _entities)
        {
            writer.Write(entity);
            writer.Write(state.AlertId.ToByteArray());
            writer.Write(state.IsOpen);
            writer.Write(state.PeakScore);
            writer.Write(state.Severity);
            writer.Write(state.NormalStreak);
            writer.Write(state.WindowsSinceResolve);
        }
    }

    public void ReadState(BinaryReader reader)
    {
        reader.ExpectTag(Tag, "alerts");
        _entities.Clear();
        var count = reader.ReadLength("alert entities");
        for (var i = 0; i < count; i++)
        {
            var entity = reader.ReadString();
            _entities[entity] = new EntityAlert
            {
                AlertId = new Guid(reader.ReadBytes(16)),
                IsOpen = reader.ReadBoolean(),
                PeakScore = reader.ReadDouble(),
                Severity = SnapshotStrings.Severity(reader.ReadString()),
                NormalStreak = reader.ReadInt32(),
                WindowsSinceResolve = reader.ReadInt32(),
            };
        }
    }
}

public sealed partial class DowntimeTracker : IStateSnapshot
{
    private const uint Tag = 0x444F5731; // "DOW1"

    public void WriteState(BinaryWriter writer)
    {
        writer.WriteTag(Tag);
        writer.Write(_entities.Count);
        foreach (var (entity, state) in _entities)
        {
            writer.Write(entity);
            writer.Write(state.AlertId.ToByteArray());
            writer.Write(state.IsOpen);
            writer.Write(state.Severity);
            writer.Write(state.LowStreak);
        }
    }

    public void ReadState(BinaryReader reader)
    {
        reader.ExpectTag(Tag, "downtime predictions");
        _entities.Clear();
        var count = reader.ReadLength("prediction entities");
        for (var i = 0; i < count; i++)
        {
            var entity = reader.ReadString();
            _entities[entity] = new State
            {
                AlertId = new Guid(reader.ReadBytes(16)),
                IsOpen = reader.ReadBoolean(),
                Severity = SnapshotStrings.Severity(reader.ReadString()),
                LowStreak = reader.ReadInt32(),
            };
        }
    }
}

internal static class SnapshotStrings
{
    public static string Severity(string value) => value switch
    {
        Contracts.Severity.Warning => Contracts.Severity.Warning,
        Contracts.Severity.Critical => Contracts.Severity.Critical,
        _ => throw new SnapshotFormatException($"Unknown severity '{value}' in a snapshot."),
    };
}
