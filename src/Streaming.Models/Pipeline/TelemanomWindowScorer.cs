using Streaming.Models.Thresholds;
using Streaming.Processing.Scoring;
using Streaming.Processing.Scoring.Detection;
using Streaming.Processing.Windows;

namespace Streaming.Models.Pipeline;

/// <summary>
/// <c>Models:Scorer=Telemanom</c>: each entity that an active bundle covers (its own with <c>Models:Scope=PerEntity</c>,
/// the fleet's otherwise, as <see cref="ModelSetProvider.For"/> picks) is scored by telemanom over that bundle's LSTM
/// forecaster (<see cref="TelemanomEntityState"/>); an entity no bundle covers, or whose bundle has no LSTM forecaster, by
/// the online detectors, as the ensemble scores it. A newly activated bundle takes over at the entity's next window, its
/// history and threshold starting over (another model's errors are on another scale). A shadow candidate is not scored.
/// Snapshots: <c>TelemanomSnapshots.cs</c>. Per partition, like every <see cref="IWindowScorer"/>.
/// </summary>
internal sealed partial class TelemanomWindowScorer : IWindowScorer
{
    public const string ModelName = "lstm-telemanom";

    private readonly ModelSetProvider _models;
    private readonly TelemanomOptions _options;
    private readonly int _topContributors;
    private readonly OnlineWindowScorer _online;
    private readonly Dictionary<string, TelemanomEntityState> _entities = new(StringComparer.Ordinal);
    // Loaded forecasters by bundle version (null: the bundle has no LSTM forecaster), pruned when the active set changes.
    private readonly Dictionary<string, TelemanomModel?> _loaded = new(StringComparer.Ordinal);
    private ModelBundle? _seenActive;
    private IReadOnlyDictionary<string, ModelBundle>? _seenEntityBundles;

    public TelemanomWindowScorer(ModelSetProvider models, BaselineOptions baseline, DetectionOptions detection, TelemanomOptions options, int topContributors)
    {
        _models = models;
        _options = options.Validated();
        _topContributors = topContributors;
        _online = new OnlineWindowScorer(baseline, detection, topContributors);
    }

    public WindowAssessment? Assess(ClosedWindow window)
    {
        Prune();
        var model = _models.For(window.Entity) is { } bundle ? Load(bundle) : null;
        if (model is null)
        {
            _entities.Remove(window.Entity);
            _restored.Remove(window.Entity);
            return _online.Score(window) is { } online ? OnlineWindowScorer.ToAssessment(online, _topContributors) : null;
        }
        if (!_entities.TryGetValue(window.Entity, out var entity) || !ReferenceEquals(entity.Model, model))
            _entities[window.Entity] = entity = Restored(window.Entity, model) ?? new TelemanomEntityState(model, _options);
        return entity.Assess(window, _topContributors);
    }

    private TelemanomModel? Load(ModelBundle bundle)
    {
        if (!_loaded.TryGetValue(bundle.Version, out var model))
            _loaded[bundle.Version] = model = TelemanomModel.TryLoad(bundle);
        return model;
    }

    /// <summary>After an activation (hot reload), forgets the forecasters of versions no longer active.</summary>
    private void Prune()
    {
        var active = _models.Active;
        var bundles = _models.EntityBundles;
        if (ReferenceEquals(active, _seenActive) && ReferenceEquals(bundles, _seenEntityBundles))
            return;
        (_seenActive, _seenEntityBundles) = (active, bundles);
        var versions = new HashSet<string>(bundles.Values.Select(b => b.Version), StringComparer.Ordinal);
        if (active is not null)
            versions.Add(active.Version);
        foreach (var version in _loaded.Keys.Where(v => !versions.Contains(v)).ToList())
            _loaded.Remove(version);
    }
}
