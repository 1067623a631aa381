using Streaming.Contracts;
using Streaming.Models.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Scoring.Detection;
using Streaming.Processing.Windows;

namespace Streaming.Host.Api;

/// <summary>
/// One metric of a supplied window: its mean, and optionally the other window statistics the models read. A statistic not
/// supplied is NaN, which the models replace with its training mean (the value that says nothing).
/// </summary>
internal readonly record struct WindowStatistics(double Mean, double Std = double.NaN, double Slope = double.NaN, double Min = double.NaN, double Max = double.NaN)
{
    public static readonly string[] Names = ["mean", "std", "slope", "min", "max"];
}

/// <summary>
/// A window to score on demand: the entity's recent windows (oldest first) and the window itself, each as metric → window
/// statistics (at least the mean).
/// </summary>
internal sealed record WindowScoreRequest(string Entity, IReadOnlyList<IReadOnlyDictionary<string, WindowStatistics>> History, IReadOnlyDictionary<string, WindowStatistics> Window);

internal sealed record WindowScoreResult(string Model, string ModelVersion, double Score, double Threshold, bool IsAnomaly, IReadOnlyList<Contributor> Contributors,
    IReadOnlyList<MemberScore> Members);

/// <summary>The model behind <c>POST /api/v1/score</c> and readiness; the neural ensemble plugs in here.</summary>
internal interface IWindowScorer
{
    string Model { get; }

    string Version { get; }

    /// <summary>False until the model's parameters are loaded; readiness reports it.</summary>
    bool IsLoaded { get; }

    /// <summary>History windows the model needs before it can score.</summary>
    int MinHistory { get; }

    WindowScoreResult Score(WindowScoreRequest request);
}

/// <summary>The online detectors with the pipeline's own settings, over the supplied history: the verdict the processor gives without a model bundle.</summary>
internal sealed class BaselineWindowScorer(BaselineOptions options, DetectionOptions detection, int topContributors) : IWindowScorer
{
    private readonly BaselineOptions _options = options.Validated();
    private readonly DetectionOptions _detection = detection.Validated();

    public string Model => OnlineWindowScorer.ModelName;

    public string Version => OnlineWindowScorer.ModelVersion;

    public bool IsLoaded => true;

    public int MinHistory => _options.MinHistory;

    public WindowScoreResult Score(WindowScoreRequest request)
    {
        // A fresh scorer per request: the supplied history is the whole reference, nothing leaks between callers.
        var scorer = new OnlineWindowScorer(_options, _detection, topContributors);
        var i = 0;
        foreach (var past in request.History)
            scorer.Assess(ToWindow(request.Entity, i++, past));
        var assessment = scorer.Assess(ToWindow(request.Entity, i, request.Window));
        return assessment is null
            ? new WindowScoreResult(Model, Version, 0, _detection.SurpriseThreshold, false, [], [])
            : new WindowScoreResult(Model, Version, assessment.Score, assessment.Threshold, assessment.IsAnomaly, assessment.Contributors, assessment.Members);
    }

    /// <summary>The <paramref name="index"/>-th supplied window as a closed window, one minute apart (only the order matters).</summary>
    internal static ClosedWindow ToWindow(string entity, int index, IReadOnlyDictionary<string, WindowStatistics> metrics) =>
        new(entity, new WindowBounds(index * 60_000L, (index + 1) * 60_000L), 1, metrics.OrderBy(m => m.Key, StringComparer.Ordinal)
            .Select(m => new MetricFeatures(m.Key, 1, m.Value.Mean, m.Value.Std, m.Value.Min, m.Value.Max, m.Value.Mean, m.Value.Mean, m.Value.Slope,
                m.Value.Mean, null, null, null, null))
            .ToArray());
}

/// <summary>
/// The registry's active model bundle, as the processor scores with it: the <see cref="EnsembleWindowScorer"/> (online
/// detectors + forecaster + VAE) over the supplied history and window; the robust baseline alone, named as the model, while
/// no bundle is active. Each request gets a fresh scorer, so the supplied history is the whole reference and nothing leaks
/// between callers; the networks read the supplied windows' statistics, so history shorter than a member's sequence
/// leaves that member out (the response lists the members that scored).
/// </summary>
internal sealed class EnsembleApiScorer(ModelSetProvider models, BaselineOptions baseline, DetectionOptions detection, EnsembleOptions ensemble, int topContributors) : IWindowScorer
{
    private readonly BaselineWindowScorer _fallback = new(baseline, detection, topContributors);
    private readonly BaselineOptions _baseline = baseline.Validated();
    private readonly EnsembleOptions _ensemble = ensemble.Validated();

    public string Model => models.Active is null ? _fallback.Model : EnsembleWindowScorer.EnsembleName;

    public string Version => models.Active?.Version ?? _fallback.Version;

    public bool IsLoaded => true;

    public int MinHistory => _baseline.MinHistory;

    public WindowScoreResult Score(WindowScoreRequest request)
    {
        if (models.Active is not { } active)
            return _fallback.Score(request);
        // Pin this request to one version even if an activation lands meanwhile.
        var pinned = new ModelSetProvider();
        pinned.Activate(active);
        var scorer = new EnsembleWindowScorer(pinned, _baseline, detection, _ensemble, topContributors);
        var i = 0;
        foreach (var past in request.History)
            scorer.Assess(BaselineWindowScorer.ToWindow(request.Entity, i++, past));
        var assessment = scorer.Assess(BaselineWindowScorer.ToWindow(request.Entity, i, request.Window));
        return assessment is null
            ? new WindowScoreResult(EnsembleWindowScorer.EnsembleName, active.Version, 0, detection.SurpriseThreshold, false, [], [])
            : new WindowScoreResult(assessment.Model, assessment.ModelVersion, assessment.Score, assessment.Threshold, assessment.IsAnomaly,
                assessment.Contributors, assessment.Members);
    }
}
