using Streaming.Contracts;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;

namespace Streaming.Host.Api;

/// <summary>
/// A window to score on demand: the entity's recent windows (oldest first) and the window itself, each as metric → window
/// mean, the feature the active model reads.
/// </summary>
internal sealed record WindowScoreRequest(string Entity, IReadOnlyList<IReadOnlyDictionary<string, double>> History, IReadOnlyDictionary<string, double> Window);

internal sealed record WindowScoreResult(string Model, string ModelVersion, double Score, double Threshold, bool IsAnomaly, IReadOnlyList<Contributor> Contributors);

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

/// <summary>The robust baseline (median/MAD z-score) with the pipeline's own settings: the same verdict the processor gives.</summary>
internal sealed class BaselineWindowScorer(BaselineOptions options, int topContributors) : IWindowScorer
{
    private readonly BaselineOptions _options = options.Validated();

    public string Model => RobustBaselineScorer.ModelName;

    public string Version => RobustBaselineScorer.ModelVersion;

    public bool IsLoaded => true;

    public int MinHistory => _options.MinHistory;

    public WindowScoreResult Score(WindowScoreRequest request)
    {
        // A fresh scorer per request: the supplied history is the whole reference, nothing leaks between callers.
        var scorer = new RobustBaselineScorer(_options);
        var bounds = new WindowBounds(0, 1);
        foreach (var past in request.History)
            scorer.ScoreAndLearn(ToWindow(request.Entity, bounds, past));
        var score = scorer.ScoreAndLearn(ToWindow(request.Entity, bounds, request.Window));
        return score is null
            ? new WindowScoreResult(Model, Version, 0, _options.Threshold, false, [])
            : new WindowScoreResult(Model, Version, score.Score, score.Threshold, score.IsAnomaly, score.Contributors(topContributors));
    }

    private static ClosedWindow ToWindow(string entity, WindowBounds bounds, IReadOnlyDictionary<string, double> means) =>
        new(entity, bounds, 1, means.OrderBy(m => m.Key, StringComparer.Ordinal)
            .Select(m => new MetricFeatures(m.Key, 1, m.Value, 0, m.Value, m.Value, m.Value, m.Value, 0, m.Value, m.Value, m.Value, null, null))
            .ToArray());
}
