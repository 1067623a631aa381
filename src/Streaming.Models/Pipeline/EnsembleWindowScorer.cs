using Streaming.Contracts;
using Streaming.Models.Scoring;
using Streaming.Models.Serialization;
using Streaming.Processing.Scoring;
using Streaming.Processing.Scoring.Detection;
using Streaming.Processing.Windows;

namespace Streaming.Models.Pipeline;

public sealed record EnsembleOptions
{
    /// <summary>0 leaves the online detectors (robust baseline, random cut forest) out of the combination; any other value keeps them.</summary>
    public double BaselineWeight { get; init; } = 1;

    /// <summary>0 leaves the LSTM forecaster out of the combination.</summary>
    public double ForecasterWeight { get; init; } = 1;

    /// <summary>0 leaves the VAE out of the combination.</summary>
    public double VaeWeight { get; init; } = 1;

    public EnsembleOptions Validated()
    {
        if (BaselineWeight < 0 || ForecasterWeight < 0 || VaeWeight < 0 || BaselineWeight + ForecasterWeight + VaeWeight <= 0)
            throw new ArgumentException("Ensemble:*Weight must be non-negative and not all zero.");
        return this;
    }
}

/// <summary>
/// The production scorer: the online detectors (<see cref="OnlineWindowScorer"/>: robust baseline and random cut forest
/// per entity × metric) plus the active bundle's LSTM forecaster and VAE. Every member's raw score becomes a tail
/// probability through its own per-entity <see cref="AnomalyLikelihood"/> (the online detectors calibrate themselves), and
/// the window's score is the surprise that any member looks this unusual (Šidák over the members that spoke), so one
/// threshold — <see cref="DetectionOptions.Threshold"/> — means the same for every entity and model. A neural member joins
/// once its likelihood has learned the entity's scores; until then the online detectors score alone, from an entity's
/// first windows. The downtime predictor adds an outlook. A newly activated bundle takes over at the next window (its
/// members' likelihoods start over: another version's scores are on another scale); a shadow candidate is scored next to
/// the active one and recorded as a member.
/// </summary>
internal sealed partial class EnsembleWindowScorer : IWindowScorer
{
    public const string EnsembleName = "ensemble";
    private const string ForecasterName = "lstm-forecaster";
    private const string VaeName = "vae";
    private const string DowntimeName = "downtime-predictor";

    private readonly ModelSetProvider _models;
    private readonly EnsembleOptions _options;
    private readonly DetectionOptions _detection;
    private readonly int _topContributors;
    private readonly OnlineWindowScorer _online;
    private readonly Dictionary<string, EnsembleEntityState> _entities = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Loaded> _entityLoaded = new(StringComparer.Ordinal);
    private IReadOnlyDictionary<string, ModelBundle>? _entityBundles;
    private Loaded? _active;
    private Loaded? _candidate;

    public EnsembleWindowScorer(ModelSetProvider models, BaselineOptions baseline, DetectionOptions detection, EnsembleOptions options, int topContributors)
    {
        _models = models;
        _options = options.Validated();
        _detection = detection.Validated();
        _topContributors = topContributors;
        _online = new OnlineWindowScorer(baseline, detection, topContributors);
    }

    public string? ActiveVersion => _active?.Bundle.Version;

    public WindowAssessment? Assess(ClosedWindow window)
    {
        Refresh();
        // An entity's own bundle (Models:Scope=PerEntity) when one is active, the fleet's otherwise.
        var scoring = OwnBundle(window.Entity) ?? _active;
        // With BaselineWeight 0 the online detectors only score entities no bundle covers (they are no member then).
        var online = scoring is null || _options.BaselineWeight > 0 ? _online.Score(window) : null;
        if (!_entities.TryGetValue(window.Entity, out var entity))
        {
            entity = new EnsembleEntityState();
            _entities[window.Entity] = entity;
        }
        if (scoring is null)
            return online is null ? null : OnlineWindowScorer.ToAssessment(online, _topContributors);
        if (!ReferenceEquals(entity.ScoredBy, scoring.Bundle) && !entity.AdoptRestored(scoring.Bundle))
        {
            // Another version's scores are on another scale: its members' likelihoods start over.
            entity.ForgetLikelihoods();
            entity.ScoredBy = scoring.Bundle;
        }

        entity.Push(scoring.Bundle.Layout, window);
        var members = new List<MemberScore>(5);
        if (online is not null)
            members.Add(new MemberScore(OnlineWindowScorer.ModelName, OnlineWindowScorer.ModelVersion, online.Score, online.Threshold));
        var (score, contributions) = Combine(scoring, entity, online, members);
        if (members.Count == 0)
            return null;
        if (_candidate is not null)
        {
            var shadow = new List<MemberScore>(3);
            var (candidateScore, _) = Combine(_candidate, entity, online, shadow);
            members.Add(new MemberScore($"{EnsembleName}-candidate", _candidate.Bundle.Version, candidateScore, _detection.SurpriseThreshold));
        }
        var contributors = contributions is null
            ? online is null ? [] : OnlineWindowScorer.Contributors(online.Metrics, _topContributors)
            : Contributors(window, online, contributions);
        return new WindowAssessment(window, score, _detection.SurpriseThreshold, EnsembleName, scoring.Bundle.Version, contributors, members,
            Outlook(scoring, entity));
    }

    private Loaded? OwnBundle(string entity)
    {
        var bundles = _models.EntityBundles;
        if (bundles.Count == 0)
            return null;
        if (!ReferenceEquals(bundles, _entityBundles))
        {
            // A new set of per-entity bundles: keep the instances of versions still active, drop the rest.
            _entityBundles = bundles;
            var active = new HashSet<string>(bundles.Values.Select(b => b.Version), StringComparer.Ordinal);
            foreach (var version in _entityLoaded.Keys.Where(v => !active.Contains(v)).ToList())
                _entityLoaded.Remove(version);
        }
        if (!bundles.TryGetValue(entity, out var bundle))
            return null;
        if (!_entityLoaded.TryGetValue(bundle.Version, out var loaded))
            _entityLoaded[bundle.Version] = loaded = new Loaded(bundle, bundle.Instantiate());
        return loaded;
    }

    /// <summary>Picks up a newly activated or shadowed bundle between windows.</summary>
    private void Refresh()
    {
        var active = _models.Active;
        if (active?.Version != _active?.Bundle.Version)
            _active = active is null ? null : new Loaded(active, active.Instantiate());
        var candidate = _models.Candidate;
        if (candidate?.Version != _candidate?.Bundle.Version)
            _candidate = candidate is null ? null : new Loaded(candidate, candidate.Instantiate());
    }

    /// <summary>
    /// The surprise that any member is this unusual: the smallest member tail, Šidák-corrected for the members that spoke;
    /// per-metric shares of the neural member with the smallest tail when it is the most unusual.
    /// </summary>
    private (double Score, Dictionary<string, double>? Contributions) Combine(Loaded loaded, EnsembleEntityState entity, ScoredWindow? online, List<MemberScore> members)
    {
        var smallest = 1.0;
        var spoke = 0;
        Dictionary<string, double>? contributions = null;
        if (online is not null && _options.BaselineWeight > 0)
        {
            smallest = Math.Pow(10, -online.Score);
            spoke++;
        }
        Member(loaded.Scorers.Forecaster, loaded.Bundle.Forecaster?.Manifest, ForecasterName, _options.ForecasterWeight);
        Member(loaded.Scorers.Vae, loaded.Bundle.Vae?.Manifest, VaeName, _options.VaeWeight);
        return (spoke == 0 ? 0 : Surprise.Of(Gaussian.SmallestOf(smallest, spoke)), contributions);

        void Member(IAnomalyScorer? scorer, ModelManifest? manifest, string name, double weight)
        {
            if (scorer is null || manifest is null || weight <= 0 || entity.Count < scorer.SequenceLength)
                return;
            var sequence = entity.Sequence(scorer.SequenceLength, manifest, loaded.Scratch);
            var shares = loaded.Shares.AsSpan(0, scorer.InputSize);
            var score = scorer.Score(sequence, shares);
            var threshold = ThresholdOf(manifest);
            members.Add(new MemberScore(name, manifest.Version, score, threshold));
            // The score over its validation p99 as a raw score in [0, 1): 0.5 at that percentile.
            var ratio = Math.Max(0, score / threshold);
            var likelihood = entity.Likelihood($"{manifest.Version}/{name}", _detection.Likelihood);
            var tail = likelihood.Update(ratio / (ratio + 1));
            if (!likelihood.IsWarm)
                return;
            spoke++;
            if (tail >= smallest)
                return;
            smallest = tail;
            contributions = new Dictionary<string, double>(StringComparer.Ordinal);
            for (var i = 0; i < shares.Length; i++)
            {
                var metric = loaded.Bundle.Layout.MetricOf(i);
                contributions[metric] = contributions.GetValueOrDefault(metric) + shares[i];
            }
        }
    }

    // Validation data holds incidents too, so its far tail is anomalies; the 99th percentile marks "unusual".
    private static double ThresholdOf(ModelManifest manifest) =>
        manifest.Thresholds.TryGetValue("p99", out var p) && p > 0 ? p : 1;

    /// <summary>The neural member's per-metric shares, with what the baseline expected for each metric in this window.</summary>
    private IReadOnlyList<Contributor> Contributors(ClosedWindow window, ScoredWindow? online, Dictionary<string, double> neural)
    {
        var total = neural.Values.Sum();
        return neural.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(_topContributors).Select(kv =>
        {
            var actual = window.Features.FirstOrDefault(f => f.Metric == kv.Key)?.Mean ?? double.NaN;
            var expected = online?.Metrics.FirstOrDefault(m => m.Metric == kv.Key) is { Metric: not null } verdict ? verdict.Expected : actual;
            return new Contributor(kv.Key, total > 0 ? kv.Value / total : 0, expected, actual);
        }).ToArray();
    }

    private static DowntimeOutlook? Outlook(Loaded loaded, EnsembleEntityState entity)
    {
        if (loaded.Scorers.Downtime is not { } predictor || entity.Count < predictor.SequenceLength)
            return null;
        var manifest = loaded.Bundle.Downtime!.Manifest;
        var sequence = entity.Sequence(predictor.SequenceLength, manifest, loaded.Scratch);
        var probabilities = loaded.Probabilities.AsSpan(0, predictor.Horizons.Count);
        var minutes = predictor.Predict(sequence, probabilities);
        var horizons = new HorizonProbability[probabilities.Length];
        for (var i = 0; i < horizons.Length; i++)
            horizons[i] = new HorizonProbability(predictor.Horizons[i], Math.Round(probabilities[i], 4));
        return new DowntimeOutlook(Math.Max(0, minutes) * 60, horizons, DowntimeName, manifest.Version);
    }

    private sealed class Loaded(ModelBundle bundle, BundleScorers scorers)
    {
        public ModelBundle Bundle { get; } = bundle;
        public BundleScorers Scorers { get; } = scorers;
        // Raw and normalised copies of the longest member sequence.
        public float[] Scratch { get; } = new float[2 * bundle.Layout.Count * Math.Max(1, new[]
        {
            scorers.Forecaster?.SequenceLength ?? 0, scorers.Vae?.SequenceLength ?? 0, scorers.Downtime?.SequenceLength ?? 0,
        }.Max())];
        public float[] Shares { get; } = new float[bundle.Layout.Count];
        public float[] Probabilities { get; } = new float[16];
    }

}
