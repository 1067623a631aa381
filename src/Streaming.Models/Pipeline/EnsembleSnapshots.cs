using Streaming.Processing.Scoring.Detection;
using Streaming.Processing.Snapshots;

namespace Streaming.Models.Pipeline;

// The ensemble's state codec: the online detectors, and per entity the ring of raw feature vectors, each neural member's
// likelihood, and the version of the bundle that scored it last. Loaded bundles are not state: they come from the model
// registry. A restored entity whose version is the one active now continues as if never interrupted; otherwise its members'
// likelihoods start over, as they would have when that bundle was activated.

internal sealed partial class EnsembleWindowScorer : IStateSnapshot
{
    private const uint Tag = 0x454E5331; // "ENS1"

    public void WriteState(BinaryWriter writer)
    {
        writer.WriteTag(Tag);
        _online.WriteState(writer);
        writer.Write(_entities.Count);
        foreach (var (entity, state) in _entities)
        {
            writer.Write(entity);
            state.WriteState(writer);
        }
    }

    public void ReadState(BinaryReader reader)
    {
        reader.ExpectTag(Tag, "ensemble");
        _online.ReadState(reader);
        _entities.Clear();
        var count = reader.ReadLength("ensemble entities");
        for (var i = 0; i < count; i++)
        {
            var entity = reader.ReadString();
            var state = new EnsembleEntityState();
            state.ReadState(reader, _detection.Likelihood);
            _entities[entity] = state;
        }
    }
}

internal sealed partial class EnsembleEntityState
{
    // The version of ScoredBy when this state was read from a snapshot, until the first window after it.
    private string? _restoredVersion;

    /// <summary>
    /// After a restore: true (and <paramref name="bundle"/> becomes <see cref="ScoredBy"/>) when the snapshot's state was
    /// scored by this very version, so nothing starts over that an uninterrupted run would have kept.
    /// </summary>
    public bool AdoptRestored(ModelBundle bundle)
    {
        var restored = _restoredVersion;
        _restoredVersion = null;
        if (ScoredBy is not null || restored is null || !string.Equals(restored, bundle.Version, StringComparison.Ordinal))
            return false;
        ScoredBy = bundle;
        return true;
    }

    public void WriteState(BinaryWriter writer)
    {
        writer.Write(_width);
        writer.Write(_next);
        writer.Write(Count);
        writer.WriteSpan<float>(_ring);
        writer.Write(ScoredBy?.Version ?? _restoredVersion ?? "");
        writer.Write(_likelihoods.Count);
        foreach (var (member, likelihood) in _likelihoods)
        {
            writer.Write(member);
            likelihood.WriteState(writer);
        }
    }

    public void ReadState(BinaryReader reader, LikelihoodOptions options)
    {
        _width = reader.ReadInt32();
        _next = reader.ReadInt32();
        Count = reader.ReadInt32();
        _ring = reader.ReadArray<float>("ensemble ring");
        StateCodec.Check(_width >= 0 && _ring.Length == Capacity * _width && _next >= 0 && _next < Capacity && Count >= 0 && Count <= Capacity,
            "An ensemble entity's ring is out of shape.");
        var version = reader.ReadString();
        _restoredVersion = version.Length == 0 ? null : version;
        ScoredBy = null;
        _likelihoods.Clear();
        var count = reader.ReadLength("ensemble members");
        for (var i = 0; i < count; i++)
        {
            var member = reader.ReadString();
            var likelihood = new AnomalyLikelihood(options);
            likelihood.ReadState(reader);
            _likelihoods[member] = likelihood;
        }
    }
}
