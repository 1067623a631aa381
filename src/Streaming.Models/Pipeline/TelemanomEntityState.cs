using Streaming.Contracts;
using Streaming.Models.Scoring;
using Streaming.Models.Serialization;
using Streaming.Models.Thresholds;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;

namespace Streaming.Models.Pipeline;

/// <summary>
/// A bundle's LSTM forecaster loaded once per partition for telemanom scoring, with the scratch its entities share
/// (a partition scores one window at a time).
/// </summary>
internal sealed class TelemanomModel
{
    private TelemanomModel(ModelBundle bundle, LstmForecaster forecaster)
    {
        Bundle = bundle;
        Forecaster = forecaster;
        // Mean residual variance over the predicted features: score × this is the mean squared error on the model's scale.
        ErrorScale = forecaster.Manifest.ErrorScale is { Length: > 0 } scale ? scale.Average() : 1;
        Scratch = new float[2 * bundle.Layout.Count * forecaster.SequenceLength];
        Shares = new float[bundle.Layout.Count];
    }

    public ModelBundle Bundle { get; }

    public LstmForecaster Forecaster { get; }

    public double ErrorScale { get; }

    /// <summary>Raw and normalised copies of one context.</summary>
    public float[] Scratch { get; }

    /// <summary>Each input feature's share of the last squared error.</summary>
    public float[] Shares { get; }

    /// <summary>The bundle's forecaster, or null when it has none or another kind (telemanom forecasts with an LSTM).</summary>
    public static TelemanomModel? TryLoad(ModelBundle bundle) =>
        bundle.Forecaster is { } artifact && ModelLoader.LoadScorer(artifact) is LstmForecaster forecaster
            ? new TelemanomModel(bundle, forecaster)
            : null;
}

/// <summary>
/// One entity under telemanom (Hundman et al., KDD 2018): the forecaster predicts each window's leading features from
/// the windows before it, and the absolute forecast error (root mean square over the predicted features, on the model's
/// normalised scale) goes through this entity's <see cref="DynamicErrorThreshold"/>. The score is that threshold's
/// evidence (smoothed error over the threshold in force, held over the error buffer), the threshold 1. Warming up (null)
/// until a full context and <see cref="TelemanomOptions.MinimumErrors"/> errors were seen.
/// </summary>
internal sealed partial class TelemanomEntityState(TelemanomModel model, TelemanomOptions options)
{
    private readonly EnsembleEntityState _history = new(model.Forecaster.SequenceLength);
    private readonly DynamicErrorThreshold _threshold = new(options);

    /// <summary>The model this entity's errors come from; another model's errors are on another scale.</summary>
    public TelemanomModel Model { get; } = model;

    public WindowAssessment? Assess(ClosedWindow window, int topContributors)
    {
        var forecaster = Model.Forecaster;
        _history.Push(Model.Bundle.Layout, window);
        var length = forecaster.SequenceLength;
        if (_history.Count < length)
            return null;

        var manifest = forecaster.Manifest;
        var sequence = _history.Sequence(length, manifest, Model.Scratch);
        var score = forecaster.Score(sequence, Model.Shares);
        var error = Math.Sqrt(Math.Max(0, score * Model.ErrorScale));
        var value = sequence[(length - 1) * forecaster.InputSize];
        if (_threshold.Update(error, value) is not { } verdict)
            return null;

        var name = TelemanomWindowScorer.ModelName;
        return new WindowAssessment(window, verdict.Evidence, 1, name, Model.Bundle.Version, Contributors(window, manifest, topContributors),
            [new MemberScore(name, manifest.Version, verdict.Evidence, 1)]);
    }

    /// <summary>The predicted metrics by share of the squared error, each with the value the forecaster expected.</summary>
    private Contributor[] Contributors(ClosedWindow window, ModelManifest manifest, int topContributors)
    {
        var forecast = Model.Forecaster.LastForecast;
        var shares = Model.Shares;
        var count = Math.Min(topContributors, forecast.Length);
        var order = Enumerable.Range(0, forecast.Length).OrderByDescending(i => shares[i]).ThenBy(i => i).Take(count);
        return [.. order.Select(i =>
        {
            var metric = Model.Bundle.Layout.MetricOf(i);
            var actual = window.Features.FirstOrDefault(f => f.Metric == metric)?.Mean ?? double.NaN;
            var expected = (Model.Forecaster.LastForecast[i] * manifest.Normalization.Std[i]) + manifest.Normalization.Mean[i];
            return new Contributor(metric, shares[i], expected, actual);
        })];
    }
}
