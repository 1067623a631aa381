using Streaming.Kafka;
using Streaming.Models.Networks;
using Streaming.Models.Pipeline;
using Streaming.Models.Serialization;
using Streaming.Models.Training;

namespace Streaming.Host.Modeling;

/// <summary>Training settings (section <c>Training</c>); the defaults train all three models on this machine in well under a minute.</summary>
public sealed class TrainingSettings
{
    public int Entities { get; set; } = 8;
    public TimeSpan SimulatedSpan { get; set; } = TimeSpan.FromDays(1.5);
    public int Seed { get; set; } = 7;
    public int Epochs { get; set; } = 6;
    public int HiddenSize { get; set; } = 32;
    public int SequenceLength { get; set; } = 16;
    public double[] HorizonsMinutes { get; set; } = [5, 15, 30];
    public double CapMinutes { get; set; } = 120;

    /// <summary>Denser than live defaults, so the downtime predictor sees enough failures to learn from.</summary>
    public double IncidentsPerEntityDay { get; set; } = 6;

    /// <summary>
    /// Windows an entity needs in recorded history (<c>train --from-db</c> / <c>--csv</c>) to be trained on; entities with
    /// fewer are left out (and are scored by the robust baseline until they have enough history).
    /// </summary>
    public int MinWindowsPerEntity { get; set; } = 60;

    /// <summary>
    /// After the downtime predictor's first fit (early stopping on the last 20% of its samples), retrain it from scratch on
    /// all samples for the first fit's best epoch count and ship that model (the bundle's validation metrics stay the
    /// first fit's, since the refit has trained on those samples). Off by default: measured only on C-MAPSS so far
    /// (docs/accuracy.md), where <c>eval cmapss</c> refits by default.
    /// </summary>
    public bool RefitDowntime { get; set; }

    /// <summary>
    /// How many of the bundle's leading features the forecaster predicts (null: all of them). The features are the layout's
    /// (each metric's mean, std and slope, metric by metric), so 1 predicts the first metric's mean alone: telemanom's
    /// single-output forecaster (Hundman et al.), what <c>Models:Scorer=Telemanom</c> thresholds and <c>eval msl</c> trains.
    /// </summary>
    public int? ForecasterOutputs { get; set; }

    /// <summary>Fails at start-up with the setting's name and the fix.</summary>
    public void Validate()
    {
        if (SequenceLength < 2)
            throw new OptionsException("Training:SequenceLength", $"must be at least 2, was {SequenceLength}");
        if (MinWindowsPerEntity < 2 * SequenceLength)
            throw new OptionsException("Training:MinWindowsPerEntity",
                $"must be at least twice Training:SequenceLength ({2 * SequenceLength}) so an entity yields training and validation sequences, was {MinWindowsPerEntity}");
        if (Epochs < 1)
            throw new OptionsException("Training:Epochs", $"must be at least 1, was {Epochs}");
        if (HiddenSize < 1)
            throw new OptionsException("Training:HiddenSize", $"must be at least 1, was {HiddenSize}");
        if (ForecasterOutputs < 1)
            throw new OptionsException("Training:ForecasterOutputs", $"must be at least 1 when set (unset: every feature), was {ForecasterOutputs}");
    }
}

/// <summary>Progress of one training stage, for the CLI's progress bars.</summary>
internal readonly record struct StageProgress(string Stage, double Fraction, string Detail);

/// <summary>Trains a bundle (forecaster, VAE, downtime predictor) from simulator data made by the production windowing path.</summary>
internal static class BundleTrainer
{
    public static ModelBundle Train(SimulatorTrainingData data, TrainingSettings settings, string version, IProgress<StageProgress> progress)
    {
        var features = data.Layout.Names;
        var matrix = data.Matrix();
        var options = new TrainingOptions { Epochs = settings.Epochs, Patience = 3, Seed = settings.Seed, BatchSize = 64 };
        var range = new TrainingDataRange(data.Source, data.From, data.To, data.Windows);

        if (settings.ForecasterOutputs > features.Count)
            throw new Cli.TrainingDataException($"Training:ForecasterOutputs is {settings.ForecasterOutputs}, more than the {features.Count} features this data gives ({string.Join(", ", features.Take(6))}, ...).");
        var forecaster = ModelTraining.TrainForecaster(matrix, features, settings.HiddenSize, 1, settings.SequenceLength - 1, options,
            Reporter("forecaster", progress), range, settings.ForecasterOutputs);
        var vae = ModelTraining.TrainVae(matrix, features, VaeEncoderKind.Lstm, settings.SequenceLength, settings.HiddenSize, 8, 4, options,
            Reporter("vae", progress), range);

        // The predictor learns from labelled downtimes, which only the simulator provides; recorded history trains the
        // anomaly members alone.
        Streaming.Models.Serialization.ModelArtifact? downtimeArtifact = null;
        var samplesCount = 0;
        double? downtimeLoss = null, downtimeRmse = null;
        int? refitEpochs = null;
        if (data.Labels.Any(l => l.DowntimeStart is not null))
        {
            // The predictor shares the forecaster's normalisation, so all members read the same vectors.
            var statistics = forecaster.Artifact.Manifest.Normalization;
            var normalizer = forecaster.Artifact.Manifest;
            var samples = data.DowntimeSamples(statistics.Mean, raw =>
            {
                var normalized = new float[raw.Length];
                normalizer.Normalize(raw, normalized);
                return normalized;
            }, settings.SequenceLength, settings.HorizonsMinutes, settings.CapMinutes, negativeStride: 4);
            // Hold out whole entities' worth of time at the end: the last 20% of samples in each entity's order.
            var split = (int)(samples.Count * 0.8);
            var downtime = ModelTraining.TrainDowntimePredictor(samples[..split], samples[split..], features, statistics, settings.HorizonsMinutes,
                settings.CapMinutes, settings.SequenceLength, settings.HiddenSize, 1, options, Reporter("downtime", progress), range);
            downtimeArtifact = downtime.Artifact;
            samplesCount = samples.Count;
            downtimeLoss = downtime.Result.BestValidationLoss;
            downtimeRmse = downtime.Artifact.Manifest.ValidationMetrics.GetValueOrDefault("validation_rmse");

            // Epoch 0 means no epoch beat the initial weights: nothing to refit.
            if (settings.RefitDowntime && downtime.Result.BestEpoch > 0)
            {
                var refit = ModelTraining.TrainDowntimePredictor(samples, [], features, statistics, settings.HorizonsMinutes, settings.CapMinutes,
                    settings.SequenceLength, settings.HiddenSize, 1, downtime.Result.RefitOptions(options), Reporter("downtime refit", progress), range);
                downtimeArtifact = refit.Artifact;
                refitEpochs = refit.Result.EpochsRun;
            }
        }

        var metrics = new Dictionary<string, double>
        {
            ["forecaster_validation_loss"] = forecaster.Result.BestValidationLoss,
            ["vae_validation_loss"] = vae.Result.BestValidationLoss,
            ["windows"] = data.Windows,
            ["entities"] = data.Series.Count,
            ["downtime_samples"] = samplesCount,
            ["downtimes"] = data.Labels.Count(l => l.DowntimeStart is not null),
        };
        if (downtimeLoss is { } loss)
            metrics["downtime_validation_loss"] = loss;
        if (downtimeRmse is { } rmse)
            metrics["downtime_validation_rmse_minutes"] = rmse;
        if (refitEpochs is { } refitted)
            metrics["downtime_refit_epochs"] = refitted;
        var source = data.Source == "simulator"
            ? $"simulator seed {settings.Seed}, {settings.Entities} entities, {settings.SimulatedSpan}"
            : $"{data.Source} history {data.From:yyyy-MM-dd HH:mm}..{data.To:yyyy-MM-dd HH:mm} UTC, {data.Series.Count} entities";
        var info = new BundleInfo(version, DateTimeOffset.UtcNow, source,
            features, downtimeArtifact is null ? ["lstm-forecaster", "vae"] : ["lstm-forecaster", "vae", "downtime-predictor"], metrics);
        return new ModelBundle(info, forecaster.Artifact, vae.Artifact, downtimeArtifact);
    }

    private static IProgress<TrainingProgress> Reporter(string stage, IProgress<StageProgress> progress) =>
        new Progress<TrainingProgress>(p => progress.Report(new StageProgress(stage,
            Math.Min(1, ((p.Epoch - 1) + (double)p.Batch / Math.Max(1, p.Batches)) / p.Epochs),
            p.ValidationLoss is { } v ? $"epoch {p.Epoch}/{p.Epochs} loss {p.Loss:0.0000} val {v:0.0000}" : $"epoch {p.Epoch}/{p.Epochs} loss {p.Loss:0.0000}")));
}
