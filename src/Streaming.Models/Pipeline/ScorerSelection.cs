using Streaming.Models.Thresholds;
using Streaming.Processing.Scoring;
using Streaming.Processing.Scoring.Detection;

namespace Streaming.Models.Pipeline;

/// <summary>How a partition scores windows with the registry's active bundles (<c>Models:Scorer</c>).</summary>
public enum BundleScorer
{
    /// <summary>The online detectors plus the bundle's neural members, combined by their anomaly likelihoods (<see cref="EnsembleWindowScorer"/>).</summary>
    Ensemble,

    /// <summary>The bundle's LSTM forecaster under telemanom's dynamic error threshold (<see cref="TelemanomWindowScorer"/>).</summary>
    Telemanom,
}

/// <summary>The settings that shape a partition's bundle scorer.</summary>
internal sealed record ScorerSettings(
    BundleScorer Scorer, BaselineOptions Baseline, DetectionOptions Detection, EnsembleOptions Ensemble, TelemanomOptions Telemanom, int TopContributors);

/// <summary>
/// The one place a partition's scorer over <see cref="ModelSetProvider"/> is chosen: <c>run</c>'s processors and scorers
/// and <c>eval msl</c>'s forecaster detectors build theirs here, so an evaluation scores as production does.
/// </summary>
internal static class ScorerSelection
{
    public static Func<IWindowScorer> Factory(ModelSetProvider models, ScorerSettings settings) => settings.Scorer switch
    {
        BundleScorer.Ensemble => () => new EnsembleWindowScorer(models, settings.Baseline, settings.Detection, settings.Ensemble, settings.TopContributors),
        BundleScorer.Telemanom => () => new TelemanomWindowScorer(models, settings.Baseline, settings.Detection, settings.Telemanom, settings.TopContributors),
        _ => throw new ArgumentOutOfRangeException(nameof(settings), settings.Scorer, "Models:Scorer must be Ensemble or Telemanom."),
    };
}
