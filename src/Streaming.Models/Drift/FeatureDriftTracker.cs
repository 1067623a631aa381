using Streaming.Models.Pipeline;
using Streaming.Models.Serialization;
using Streaming.Processing.Windows;

namespace Streaming.Models.Drift;

public enum DriftStatistic
{
    Psi,
    Ks,
}

/// <summary>Drift monitoring settings (section <c>Drift</c>).</summary>
public sealed record DriftOptions
{
    /// <summary>Live windows (all entities together) compared with the training reference: a sliding sample of the newest N.</summary>
    public int Windows { get; init; } = 500;

    /// <summary>
    /// Windows needed before the first comparison. PSI of a sample from the reference distribution itself is noisy (about
    /// 9 / N on average over 10 bins, with a long tail): at 100-200 windows it crosses 0.25 now and then, hence 500.
    /// </summary>
    public int MinWindows { get; init; } = 500;

    /// <summary>Compare after every this many new windows.</summary>
    public int EvaluateEvery { get; init; } = 50;

    /// <summary>Which statistic the metric reports and the threshold applies to.</summary>
    public DriftStatistic Statistic { get; init; } = DriftStatistic.Psi;

    /// <summary>A feature whose statistic reaches this has drifted (PSI: 0.1 is usually read as stable, 0.25 as a significant shift).</summary>
    public double Threshold { get; init; } = 0.25;

    /// <summary>An open drift resolves after this many comparisons in a row with every feature below the threshold.</summary>
    public int ResolveAfterEvaluations { get; init; } = 3;

    /// <summary>
    /// An entity's window enters the sample only this long after its previous one (zero: every window). The sample then
    /// spans more time: a fleet whose daily cycles are in phase needs it to span about a day, or the cycle itself reads
    /// as drift (e.g. 20 entities, 500 windows: 00:00 spans 25 minutes; 01:00 about a day).
    /// </summary>
    public TimeSpan SampleEvery { get; init; } = TimeSpan.Zero;

    /// <summary>After a resolve, no new drift opens for this long (event time), so a feature hovering at the threshold does not storm.</summary>
    public TimeSpan Cooldown { get; init; } = TimeSpan.FromHours(1);

    public DriftOptions Validated()
    {
        // PSI over 10 bins of a sample of N from the reference distribution itself is about 9 / N on average: with fewer
        // than 100 windows, noise alone would cross the customary 0.25.
        if (Windows < 100)
            throw new ArgumentException($"Drift:Windows must be at least 100 (PSI of a smaller sample is mostly noise), was {Windows}.");
        if (MinWindows < 100 || MinWindows > Windows)
            throw new ArgumentException($"Drift:MinWindows must be 100 to Drift:Windows ({Windows}), was {MinWindows}.");
        if (EvaluateEvery < 1)
            throw new ArgumentException($"Drift:EvaluateEvery must be at least 1, was {EvaluateEvery}.");
        if (!(Threshold > 0) || (Statistic == DriftStatistic.Ks && Threshold > 1))
            throw new ArgumentException($"Drift:Threshold must be positive (and at most 1 for Ks), was {Threshold}.");
        if (ResolveAfterEvaluations < 1)
            throw new ArgumentException($"Drift:ResolveAfterEvaluations must be at least 1, was {ResolveAfterEvaluations}.");
        if (SampleEvery < TimeSpan.Zero)
            throw new ArgumentException($"Drift:SampleEvery must be zero or positive, was {SampleEvery}.");
        if (Cooldown < TimeSpan.Zero)
            throw new ArgumentException($"Drift:Cooldown must be zero or positive, was {Cooldown}.");
        return this;
    }
}

public enum DriftTransition
{
    None,
    Opened,
    Resolved,
}

/// <summary>One comparison of the live sample with the reference: per-feature PSI and KS, and whether drift opened or resolved.</summary>
internal sealed record DriftEvaluation(
    IReadOnlyList<string> Features,
    double[] Psi,
    double[] Ks,
    double[] ReferenceMean,
    double[] LiveMean,
    int Windows,
    long FirstWindowEndMs,
    long LastWindowEndMs,
    DriftTransition Transition,
    bool IsOpen)
{
    public double[] Values(DriftStatistic statistic) => statistic == DriftStatistic.Psi ? Psi : Ks;
}

/// <summary>
/// Fleet-level input drift of one model bundle: the newest <see cref="DriftOptions.Windows"/> windows' feature vectors,
/// normalised as the models read them, against the training reference stored in the bundle's manifest
/// (<see cref="ModelManifest.Drift"/>), by PSI and KS per feature; opens when any feature reaches the threshold and
/// resolves after enough comparisons below it, with a cooldown before the next open. Not thread-safe: one per consumer.
/// </summary>
internal sealed class FeatureDriftTracker
{
    private readonly ModelBundle _bundle;
    private readonly ModelManifest _manifest;
    private readonly DriftReference[] _references;
    private readonly DriftOptions _options;
    private readonly float[] _ring;
    private readonly long[] _ends;
    private readonly float[] _raw;
    private readonly int _width;
    private readonly Dictionary<string, long> _lastSampled = new(StringComparer.Ordinal);
    private int _next;
    private int _count;
    private int _sinceEvaluation;
    private int _quietEvaluations;
    private long _resolvedAtMs = long.MinValue;

    private FeatureDriftTracker(ModelBundle bundle, ModelManifest manifest, DriftOptions options)
    {
        _bundle = bundle;
        _manifest = manifest;
        _options = options.Validated();
        _references = [.. manifest.Drift!.Features.Select(s => new DriftReference(s))];
        _width = bundle.Layout.Count;
        _ring = new float[options.Windows * _width];
        _ends = new long[options.Windows];
        _raw = new float[_width];
        // The first comparison comes with the window that completes the minimum sample.
        _sinceEvaluation = options.EvaluateEvery - 1;
    }

    public string Version => _bundle.Version;

    public bool IsOpen { get; private set; }

    /// <summary>A tracker for the bundle's reference, or null when its manifests carry none (bundles trained before drift references).</summary>
    public static FeatureDriftTracker? For(ModelBundle bundle, DriftOptions options)
    {
        var manifest = bundle.Forecaster?.Manifest ?? bundle.Vae?.Manifest;
        if (manifest?.Drift is not { } drift || drift.Features.Count != bundle.Layout.Count)
            return null;
        return new FeatureDriftTracker(bundle, manifest, options);
    }

    /// <summary>Adds one closed window (or skips it, see <see cref="DriftOptions.SampleEvery"/>); every <see cref="DriftOptions.EvaluateEvery"/> windows (once warm) compares and returns the result.</summary>
    public DriftEvaluation? Add(ClosedWindow window)
    {
        if (_options.SampleEvery > TimeSpan.Zero)
        {
            if (_lastSampled.TryGetValue(window.Entity, out var last) && window.Bounds.EndMs - last < (long)_options.SampleEvery.TotalMilliseconds)
                return null;
            _lastSampled[window.Entity] = window.Bounds.EndMs;
        }
        _bundle.Layout.Extract(window, _raw);
        FeatureLayout.FillMissing(_raw, _manifest.Normalization.Mean);
        _manifest.Normalize(_raw, _ring.AsSpan(_next * _width, _width));
        _ends[_next] = window.Bounds.EndMs;
        _next = (_next + 1) % _options.Windows;
        _count = Math.Min(_count + 1, _options.Windows);
        if (_count < _options.MinWindows || ++_sinceEvaluation < _options.EvaluateEvery)
            return null;
        _sinceEvaluation = 0;
        return Evaluate();
    }

    private DriftEvaluation Evaluate()
    {
        var psi = new double[_width];
        var ks = new double[_width];
        var liveMean = new double[_width];
        var referenceMean = new double[_width];
        var column = new double[_count];
        for (var f = 0; f < _width; f++)
        {
            for (var i = 0; i < _count; i++)
                column[i] = _ring[(i * _width) + f];
            psi[f] = _references[f].PopulationStabilityIndex(column);
            ks[f] = _references[f].KolmogorovSmirnov(column);
            // Reported in the metric's own units: normalised values back through the training mean and deviation.
            var std = _manifest.Normalization.Std[f];
            var mean = _manifest.Normalization.Mean[f];
            liveMean[f] = (column.Average() * std) + mean;
            referenceMean[f] = mean;
        }
        var first = long.MaxValue;
        var last = long.MinValue;
        for (var i = 0; i < _count; i++)
        {
            first = Math.Min(first, _ends[i]);
            last = Math.Max(last, _ends[i]);
        }

        var values = _options.Statistic == DriftStatistic.Psi ? psi : ks;
        var drifted = values.Any(v => v >= _options.Threshold);
        var transition = DriftTransition.None;
        if (!IsOpen && drifted && (_resolvedAtMs == long.MinValue || last - _resolvedAtMs >= (long)_options.Cooldown.TotalMilliseconds))
        {
            IsOpen = true;
            _quietEvaluations = 0;
            transition = DriftTransition.Opened;
        }
        else if (IsOpen)
        {
            _quietEvaluations = drifted ? 0 : _quietEvaluations + 1;
            if (_quietEvaluations >= _options.ResolveAfterEvaluations)
            {
                IsOpen = false;
                _resolvedAtMs = last;
                transition = DriftTransition.Resolved;
            }
        }
        return new DriftEvaluation(_bundle.Layout.Names, psi, ks, referenceMean, liveMean, _count, first, last, transition, IsOpen);
    }
}
