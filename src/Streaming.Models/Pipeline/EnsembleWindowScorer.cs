using Streaming.Contracts;
using Streaming.Models.Scoring;
using Streaming.Models.Serialization;
using Streaming.Models.Thresholds;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;

namespace Streaming.Models.Pipeline;

public sealed record EnsembleOptions
{
    public double BaselineWeight { get; init; } = 1;
    public double ForecasterWeight { get; init; } = 1;
    public double VaeWeight { get; init; } = 1;

    /// <summary>SPOT risk level q for the per-entity adaptive threshold on the ensemble score.</summary>
    public double SpotRisk { get; init; } = 1e-3;

    /// <summary>Ensemble scores an entity needs before its SPOT threshold replaces the static one (1.0).</summary>
    public int SpotCalibrationWindows { get; init; } = 240;

    /// <summary>The adaptive threshold never drops below this (the static threshold is 1): SPOT may only make an entity stricter.</summary>
    public double MinimumThreshold { get; init; } = 1.0;

    /// <summary>…and never rises above this, so a noisy entity is not blinded.</summary>
    public double MaximumThreshold { get; init; } = 2.0;

    public EnsembleOptions Validated()
    {
        if (BaselineWeight < 0 || ForecasterWeight < 0 || VaeWeight < 0 || BaselineWeight + ForecasterWeight + VaeWeight <= 0)
            throw new ArgumentException("Ensemble:*Weight must be non-negative and not all zero.");
        if (SpotRisk is <= 0 or >= 0.5)
            throw new ArgumentException($"Ensemble:SpotRisk must be in (0, 0.5), was {SpotRisk}.");
        if (!(MinimumThreshold > 0) || MaximumThreshold < MinimumThreshold)
            throw new ArgumentException($"Ensemble:MinimumThreshold must be positive and at most Ensemble:MaximumThreshold; was {MinimumThreshold} and {MaximumThreshold}.");
        if (SpotCalibrationWindows < 50)
            throw new ArgumentException($"Ensemble:SpotCalibrationWindows must be at least 50, was {SpotCalibrationWindows}.");
        return this;
    }
}

/// <summary>
/// The production scorer: the robust baseline plus the active bundle's LSTM forecaster and VAE, each score divided by its
/// own calibrated threshold and averaged with configured weights, so the ensemble's static threshold is 1. Each entity's
/// threshold becomes adaptive (SPOT) once it has enough history; entities with fewer windows than a model's sequence are
/// scored by the baseline alone. The downtime predictor adds an outlook. A newly activated bundle takes over at the next
/// window; a shadow candidate is scored next to the active one and recorded as a member.
/// </summary>
internal sealed class EnsembleWindowScorer : IWindowScorer
{
    public const string EnsembleName = "ensemble";
    private const string ForecasterName = "lstm-forecaster";
    private const string VaeName = "vae";
    private const string DowntimeName = "downtime-predictor";

    private readonly ModelSetProvider _models;
    private readonly EnsembleOptions _options;
    private readonly int _topContributors;
    private readonly RobustBaselineScorer _baseline;
    private readonly Dictionary<string, EntityState> _entities = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Loaded> _entityLoaded = new(StringComparer.Ordinal);
    private IReadOnlyDictionary<string, ModelBundle>? _entityBundles;
    private Loaded? _active;
    private Loaded? _candidate;

    public EnsembleWindowScorer(ModelSetProvider models, BaselineOptions baseline, EnsembleOptions options, int topContributors)
    {
        _models = models;
        _options = options.Validated();
        _topContributors = topContributors;
        _baseline = new RobustBaselineScorer(baseline);
    }

    public string? ActiveVersion => _active?.Bundle.Version;

    public WindowAssessment? Assess(ClosedWindow window)
    {
        Refresh();
        var baseline = _baseline.ScoreAndLearn(window);
        if (!_entities.TryGetValue(window.Entity, out var entity))
        {
            entity = new EntityState();
            _entities[window.Entity] = entity;
        }
        // An entity's own bundle (Models:Scope=PerEntity) when one is active, the fleet's otherwise.
        var scoring = OwnBundle(window.Entity) ?? _active;
        if (scoring is null)
            return baseline is null ? null : BaselineOnly(window, baseline);
        if (!ReferenceEquals(entity.ScoredBy, scoring.Bundle))
        {
            // Another version's scores are on another scale: the adaptive threshold starts over.
            entity.ResetThreshold();
            entity.ScoredBy = scoring.Bundle;
        }

        entity.Push(scoring.Bundle.Layout, window);
        var members = new List<MemberScore>(4);
        if (baseline is not null)
            members.Add(new MemberScore(RobustBaselineScorer.ModelName, RobustBaselineScorer.ModelVersion, baseline.Score, baseline.Threshold));
        var (ratio, contributions) = Combine(scoring, entity, baseline, members);
        if (members.Count == 0)
            return null;
        if (_candidate is not null)
        {
            var shadow = new List<MemberScore>(3);
            var (candidateRatio, _) = Combine(_candidate, entity, baseline, shadow);
            members.Add(new MemberScore($"{EnsembleName}-candidate", _candidate.Bundle.Version, candidateRatio, 1));
        }

        var threshold = entity.Threshold(_options);
        entity.Learn(ratio, _options);
        var contributors = Contributors(window, baseline, contributions);
        return new WindowAssessment(window, ratio, threshold, EnsembleName, scoring.Bundle.Version, contributors, members,
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

    private WindowAssessment BaselineOnly(ClosedWindow window, BaselineScore baseline) =>
        new(window, baseline.Score / baseline.Threshold, 1, RobustBaselineScorer.ModelName, RobustBaselineScorer.ModelVersion,
            baseline.Contributors(_topContributors),
            [new MemberScore(RobustBaselineScorer.ModelName, RobustBaselineScorer.ModelVersion, baseline.Score, baseline.Threshold)]);

    /// <summary>Weighted mean of each member's score over its own threshold; per-metric shares of the strongest member.</summary>
    private (double Ratio, Dictionary<string, double>? Contributions) Combine(Loaded loaded, EntityState entity, BaselineScore? baseline, List<MemberScore> members)
    {
        var weighted = 0.0;
        var weights = 0.0;
        var strongest = 0.0;
        Dictionary<string, double>? contributions = null;
        if (baseline is not null && _options.BaselineWeight > 0)
        {
            var r = baseline.Score / baseline.Threshold;
            weighted += _options.BaselineWeight * r;
            weights += _options.BaselineWeight;
            strongest = r;
        }
        Member(loaded.Scorers.Forecaster, loaded.Bundle.Forecaster?.Manifest, ForecasterName, _options.ForecasterWeight);
        Member(loaded.Scorers.Vae, loaded.Bundle.Vae?.Manifest, VaeName, _options.VaeWeight);
        return (weights > 0 ? weighted / weights : 0, contributions);

        void Member(IAnomalyScorer? scorer, ModelManifest? manifest, string name, double weight)
        {
            if (scorer is null || manifest is null || weight <= 0 || entity.Count < scorer.SequenceLength)
                return;
            var sequence = entity.Sequence(scorer.SequenceLength, manifest, loaded.Scratch);
            var shares = loaded.Shares.AsSpan(0, scorer.InputSize);
            var score = scorer.Score(sequence, shares);
            var threshold = ThresholdOf(manifest);
            var r = score / threshold;
            members.Add(new MemberScore(name, manifest.Version, score, threshold));
            weighted += weight * r;
            weights += weight;
            if (r > strongest)
            {
                strongest = r;
                contributions = new Dictionary<string, double>(StringComparer.Ordinal);
                for (var i = 0; i < shares.Length; i++)
                {
                    var metric = loaded.Bundle.Layout.MetricOf(i);
                    contributions[metric] = contributions.GetValueOrDefault(metric) + shares[i];
                }
            }
        }
    }

    // Validation data holds incidents too, so its far tail is anomalies; the 99th percentile marks "unusual".
    private static double ThresholdOf(ModelManifest manifest) =>
        manifest.Thresholds.TryGetValue("p99", out var p) && p > 0 ? p : 1;

    private IReadOnlyList<Contributor> Contributors(ClosedWindow window, BaselineScore? baseline, Dictionary<string, double>? neural)
    {
        if (neural is null)
            return baseline?.Contributors(_topContributors) ?? [];
        var total = neural.Values.Sum();
        return neural.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(_topContributors).Select(kv =>
        {
            var expected = baseline?.Metrics.FirstOrDefault(m => m.Metric == kv.Key).Expected;
            var actual = window.Features.FirstOrDefault(f => f.Metric == kv.Key)?.Mean ?? double.NaN;
            return new Contributor(kv.Key, total > 0 ? kv.Value / total : 0, expected ?? actual, actual);
        }).ToArray();
    }

    private static DowntimeOutlook? Outlook(Loaded loaded, EntityState entity)
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

    /// <summary>An entity's recent raw feature vectors (a ring of the last 64 windows) and its adaptive threshold.</summary>
    private sealed class EntityState
    {
        private const int Capacity = 64;
        private float[] _ring = [];
        private int _width;
        private int _next;
        private Spot? _spot;
        private readonly List<double> _calibration = [];

        public int Count { get; private set; }

        /// <summary>The bundle this entity's last window was scored with; a change resets its adaptive threshold.</summary>
        public ModelBundle? ScoredBy { get; set; }

        public void Push(FeatureLayout layout, ClosedWindow window)
        {
            if (_width != layout.Count)
            {
                // A bundle with another feature layout: the old vectors mean nothing to it.
                _width = layout.Count;
                _ring = new float[Capacity * _width];
                Count = 0;
                _next = 0;
            }
            layout.Extract(window, _ring.AsSpan(_next * _width, _width));
            _next = (_next + 1) % Capacity;
            Count = Math.Min(Count + 1, Capacity);
        }

        /// <summary>The last <paramref name="length"/> vectors, oldest first, missing values filled and normalised.</summary>
        public ReadOnlySpan<float> Sequence(int length, ModelManifest manifest, float[] scratch)
        {
            var raw = scratch.AsSpan(0, length * _width);
            for (var i = 0; i < length; i++)
            {
                var slot = ((_next - length + i) % Capacity + Capacity) % Capacity;
                _ring.AsSpan(slot * _width, _width).CopyTo(raw.Slice(i * _width, _width));
            }
            FeatureLayout.FillMissing(raw, manifest.Normalization.Mean);
            var normalized = scratch.AsSpan(length * _width, length * _width);
            manifest.Normalize(raw, normalized);
            return normalized;
        }

        public double Threshold(EnsembleOptions options) =>
            _spot is null ? 1 : Math.Clamp(_spot.Threshold, options.MinimumThreshold, options.MaximumThreshold);

        public void Learn(double score, EnsembleOptions options)
        {
            if (_spot is not null)
            {
                _spot.Step(score);
                return;
            }
            // The tail SPOT fits must be the normal scores' tail: incidents in the calibration set would lift the
            // threshold above the next incident.
            if (score < 1)
                _calibration.Add(score);
            if (_calibration.Count < options.SpotCalibrationWindows)
                return;
            var spot = new Spot(options.SpotRisk, initialQuantile: 0.95);
            spot.Initialize(_calibration.ToArray());
            if (double.IsFinite(spot.Threshold))
                _spot = spot;
            _calibration.Clear();
        }

        public void ResetThreshold()
        {
            _spot = null;
            _calibration.Clear();
        }
    }
}
