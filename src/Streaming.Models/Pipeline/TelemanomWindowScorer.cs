using Streaming.Contracts;
using Streaming.Models.Scoring;
using Streaming.Models.Thresholds;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;

namespace Streaming.Models.Pipeline;

/// <summary>
/// Telemanom (Hundman et al., KDD 2018) on the production path: a bundle's LSTM forecaster predicts each window's
/// leading features from the windows before it, and the absolute forecast error (root mean square over the predicted
/// features, on the model's normalised scale) goes through <see cref="DynamicErrorThreshold"/> per entity. The score is
/// that threshold's evidence (smoothed error over the threshold in force, held over the error buffer), the threshold 1.
/// An entity is warming up (null) until it has a full context and <see cref="TelemanomOptions.MinimumErrors"/> errors.
/// Per partition, like every <see cref="IWindowScorer"/>.
/// </summary>
internal sealed class TelemanomWindowScorer : IWindowScorer
{
    public const string ModelName = "lstm-telemanom";

    private readonly ModelBundle _bundle;
    private readonly LstmForecaster _forecaster;
    private readonly TelemanomOptions _options;
    private readonly int _topContributors;
    private readonly double _errorScale;
    private readonly float[] _scratch;
    private readonly float[] _shares;
    private readonly Dictionary<string, (EnsembleEntityState History, DynamicErrorThreshold Threshold)> _entities = new(StringComparer.Ordinal);

    public TelemanomWindowScorer(ModelBundle bundle, TelemanomOptions options, int topContributors)
    {
        _bundle = bundle;
        _forecaster = bundle.Instantiate().Forecaster as LstmForecaster
            ?? throw new ArgumentException($"Bundle {bundle.Version} has no LSTM forecaster: telemanom scoring needs one.", nameof(bundle));
        _options = options.Validated();
        _topContributors = topContributors;
        // Mean residual variance over the predicted features: score × this is the mean squared error on the model's scale.
        _errorScale = _forecaster.Manifest.ErrorScale is { Length: > 0 } scale ? scale.Average() : 1;
        _scratch = new float[2 * bundle.Layout.Count * _forecaster.SequenceLength];
        _shares = new float[bundle.Layout.Count];
    }

    public WindowAssessment? Assess(ClosedWindow window)
    {
        if (!_entities.TryGetValue(window.Entity, out var entity))
        {
            entity = (new EnsembleEntityState(_forecaster.SequenceLength), new DynamicErrorThreshold(_options));
            _entities[window.Entity] = entity;
        }

        entity.History.Push(_bundle.Layout, window);
        var length = _forecaster.SequenceLength;
        if (entity.History.Count < length)
        {
            return null;
        }

        var manifest = _forecaster.Manifest;
        var sequence = entity.History.Sequence(length, manifest, _scratch);
        var score = _forecaster.Score(sequence, _shares);
        var error = Math.Sqrt(Math.Max(0, score * _errorScale));
        var value = sequence[(length - 1) * _forecaster.InputSize];
        if (entity.Threshold.Update(error, value) is not { } verdict)
        {
            return null;
        }

        var contributors = Contributors(window, manifest);
        var version = manifest.Version;
        return new WindowAssessment(window, verdict.Evidence, 1, ModelName, _bundle.Version, contributors,
            [new MemberScore(ModelName, version, verdict.Evidence, 1)]);
    }

    /// <summary>The predicted metrics by share of the squared error, each with the value the forecaster expected.</summary>
    private Contributor[] Contributors(ClosedWindow window, Serialization.ModelManifest manifest)
    {
        var forecast = _forecaster.LastForecast;
        var count = Math.Min(_topContributors, forecast.Length);
        var order = Enumerable.Range(0, forecast.Length).OrderByDescending(i => _shares[i]).ThenBy(i => i).Take(count);
        return [.. order.Select(i =>
        {
            var metric = _bundle.Layout.MetricOf(i);
            var actual = window.Features.FirstOrDefault(f => f.Metric == metric)?.Mean ?? double.NaN;
            var expected = (_forecaster.LastForecast[i] * manifest.Normalization.Std[i]) + manifest.Normalization.Mean[i];
            return new Contributor(metric, _shares[i], expected, actual);
        })];
    }
}
