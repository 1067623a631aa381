using Streaming.Models.Drift;
using Streaming.Models.Networks;
using Streaming.Models.Scoring;
using Streaming.Models.Serialization;
using Streaming.Models.Thresholds;

namespace Streaming.Models.Training;

/// <summary>A trained model ready to score, its artifact (manifest + weights) and the training history.</summary>
internal sealed record TrainedModel<TModel>(TModel Model, ModelArtifact Artifact, TrainingResult Result);

/// <summary>End-to-end training entry points: normalisation, training, score calibration and the manifest.</summary>
internal static class ModelTraining
{
    /// <summary>The models layer's version, stamped into every manifest; 2.0.0 is the first on TorchSharp (manifest format 2).</summary>
    public const string Version = "2.0.0";

    private static readonly Lock InitialWeightsGate = new();

    /// <summary>Mean and standard deviation per feature of a raw [rows, features] matrix (std floored to avoid dividing by 0).</summary>
    public static NormalizationStatistics ComputeStatistics(ReadOnlySpan<float> raw, int features)
    {
        var rows = raw.Length / features;
        var mean = new double[features];
        var squares = new double[features];
        for (var i = 0; i < raw.Length; i++)
        {
            mean[i % features] += raw[i];
        }

        for (var f = 0; f < features; f++)
        {
            mean[f] /= rows;
        }

        for (var i = 0; i < raw.Length; i++)
        {
            var d = raw[i] - mean[i % features];
            squares[i % features] += d * d;
        }

        return new NormalizationStatistics(
            [.. mean.Select(m => (float)m)],
            [.. squares.Select(s => (float)Math.Max(Math.Sqrt(s / rows), 1e-6))]);
    }

    /// <summary>
    /// Trains the LSTM forecaster on a raw series [rows, F]; the most recent rows validate and calibrate thresholds.
    /// <paramref name="outputSize"/> predicts only the first features (null: all); <paramref name="statistics"/> replaces
    /// the normalisation measured on the training rows (e.g. identity for data already scaled, with one-hot columns whose
    /// measured std would blow rare values up).
    /// </summary>
    public static TrainedModel<LstmForecaster> TrainForecaster(
        float[] raw, IReadOnlyList<string> features, int hiddenSize, int numLayers, int contextLength,
        TrainingOptions options, IProgress<TrainingProgress>? progress = null, TrainingDataRange? range = null,
        int? outputSize = null, NormalizationStatistics? statistics = null)
    {
        var f = features.Count;
        var trainRows = (int)(raw.Length / f * (1 - options.ValidationFraction));
        statistics ??= ComputeStatistics(raw.AsSpan(0, trainRows * f), f);
        var manifest = BaseManifest(ModelKind.LstmForecaster, features, statistics, range, options, new ModelArchitecture
        {
            InputSize = f,
            HiddenSize = hiddenSize,
            NumLayers = numLayers,
            SequenceLength = contextLength + 1,
            OutputSize = outputSize,
        });
        var series = new float[raw.Length];
        manifest.Normalize(raw, series);

        ForecasterNetwork network;
        // LibTorch's generator is global: concurrent trainings (e.g. one per channel) draw their initial weights in turn.
        lock (InitialWeightsGate)
        {
            SeedInitialWeights(options);
            network = new ForecasterNetwork(f, hiddenSize, numLayers, contextLength, outputSize);
        }
        var task = new ForecasterTrainingTask(network, series, options.ValidationFraction);
        var result = Trainer.Train(task, options, progress);

        manifest = manifest with { ErrorScale = task.ValidationResidualVariance() };
        var scorer = new LstmForecaster(manifest, network);
        var scores = ScoreAll(scorer, task.ValidationCount, i => task.Window(task.TrainCount + i));
        manifest = Complete(manifest, result, scores, series.AsSpan(0, trainRows * f));
        var model = new LstmForecaster(manifest, network);
        return new TrainedModel<LstmForecaster>(model, ModelArtifact.FromNetwork(manifest, network), result);
    }

    /// <summary>Trains a (LSTM-)VAE on sliding windows of a raw series [rows, F].</summary>
    public static TrainedModel<VaeScorer> TrainVae(
        float[] raw, IReadOnlyList<string> features, VaeEncoderKind encoder, int sequenceLength, int hiddenSize, int latentSize, int stride,
        TrainingOptions options, IProgress<TrainingProgress>? progress = null, TrainingDataRange? range = null)
    {
        var f = features.Count;
        var trainRows = (int)(raw.Length / f * (1 - options.ValidationFraction));
        var statistics = ComputeStatistics(raw.AsSpan(0, trainRows * f), f);
        var manifest = BaseManifest(ModelKind.Vae, features, statistics, range, options, new ModelArchitecture
        {
            InputSize = f,
            HiddenSize = hiddenSize,
            SequenceLength = sequenceLength,
            LatentSize = latentSize,
            Encoder = encoder,
        });
        var series = new float[raw.Length];
        manifest.Normalize(raw, series);

        SeedInitialWeights(options);
        var network = new VaeNetwork(encoder, f, sequenceLength, hiddenSize, latentSize);
        var task = new VaeTrainingTask(network, series, stride, options.ValidationFraction);
        var result = Trainer.Train(task, options, progress);

        var scores = ScoreAll(new VaeScorer(manifest, network), task.ValidationCount, i => task.Window(task.TrainCount + i));
        manifest = Complete(manifest, result, scores, series.AsSpan(0, trainRows * f));
        return new TrainedModel<VaeScorer>(new VaeScorer(manifest, network), ModelArtifact.FromNetwork(manifest, network), result);
    }

    /// <summary>
    /// Trains the downtime predictor on prepared samples (already normalised with <paramref name="statistics"/>);
    /// <paramref name="targetScale"/> converts the network's first output back to time units. <paramref name="head"/>
    /// adds the optional convolution, attention, hidden layer and dropout (none by default).
    /// </summary>
    public static TrainedModel<DowntimePredictor> TrainDowntimePredictor(
        IReadOnlyList<DowntimeSample> train, IReadOnlyList<DowntimeSample> validation, IReadOnlyList<string> features,
        NormalizationStatistics statistics, IReadOnlyList<double> horizons, double targetScale, int sequenceLength, int hiddenSize, int numLayers,
        TrainingOptions options, IProgress<TrainingProgress>? progress = null, TrainingDataRange? range = null, DowntimeHead? head = null)
    {
        head ??= new DowntimeHead();
        var manifest = BaseManifest(ModelKind.DowntimePredictor, features, statistics, range, options, new ModelArchitecture
        {
            InputSize = features.Count,
            HiddenSize = hiddenSize,
            NumLayers = numLayers,
            SequenceLength = sequenceLength,
            Horizons = horizons,
            TargetScale = targetScale,
            ConvChannels = head.ConvChannels,
            ConvKernel = head.ConvKernel,
            Attention = head.Attention,
            HeadHiddenSize = head.HiddenSize,
            Dropout = head.Dropout,
            Smoothing = head.Smoothing,
        });
        SeedInitialWeights(options);
        var network = new DowntimeNetwork(manifest.Architecture.DowntimeShape());
        var result = Trainer.Train(new DowntimeTrainingTask(network, train, validation, head.TimeWeight), options, progress);

        var metrics = Metrics(result);

        // A refit may have no validation samples left (they were trained on): then there is no validation RMSE to report.
        if (validation.Count > 0)
        {
            var predictor = new DowntimePredictor(manifest, network);
            var times = new float[validation.Count];
            predictor.PredictBatch([.. validation.SelectMany(s => s.Sequence)], times, new float[validation.Count * horizons.Count]);
            var squared = validation.Select((s, i) => Math.Pow(times[i] - (s.ScaledTimeToDowntime * targetScale), 2)).Sum();
            metrics["validation_rmse"] = Math.Sqrt(squared / validation.Count);
        }

        manifest = manifest with { ValidationMetrics = metrics };
        return new TrainedModel<DowntimePredictor>(new DowntimePredictor(manifest, network), ModelArtifact.FromNetwork(manifest, network), result);
    }

    /// <summary>Initial weights come from LibTorch's generator (PyTorch's default initialisers), seeded per model.</summary>
    private static void SeedInitialWeights(TrainingOptions options)
    {
        Torch.TorchRuntime.EnsureLoaded();
        TorchSharp.torch.manual_seed(options.Seed);
    }

    private static ModelManifest BaseManifest(
        ModelKind kind, IReadOnlyList<string> features, NormalizationStatistics statistics, TrainingDataRange? range, TrainingOptions options, ModelArchitecture architecture) =>
        new()
        {
            FormatVersion = ModelManifest.CurrentFormatVersion,
            Kind = kind,
            Version = Version,
            CreatedAt = DateTimeOffset.UtcNow,
            Architecture = architecture with
            {
                TrainingHyperParameters = new Dictionary<string, double>
                {
                    ["epochs"] = options.Epochs,
                    ["batch_size"] = options.BatchSize,
                    ["learning_rate"] = options.LearningRate,
                    ["clip_norm"] = options.ClipNorm,
                    ["patience"] = options.Patience,
                    ["plateau_epochs"] = options.PlateauEpochs,
                    ["seed"] = options.Seed,
                    ["validation_fraction"] = options.ValidationFraction,
                    ["refit"] = options.DecayEpochs is null ? 0 : 1,
                },
            },
            Features = [.. features],
            Normalization = statistics,
            TrainingData = range,
        };

    private delegate ReadOnlySpan<float> WindowAccessor(int index);

    private static double[] ScoreAll(IAnomalyScorer scorer, int count, WindowAccessor window)
    {
        var contribution = new float[scorer.InputSize];
        var scores = new double[count];
        for (var i = 0; i < count; i++)
        {
            scores[i] = scorer.Score(window(i), contribution);
        }

        return scores;
    }

    private static ModelManifest Complete(ModelManifest manifest, TrainingResult result, double[] validationScores, ReadOnlySpan<float> trainingFeatures)
    {
        var drift = new DriftMonitor(trainingFeatures, manifest.Features.Count, validationScores).ToBaseline();
        var thresholds = new Dictionary<string, double>
        {
            ["p99"] = Percentile.Of(validationScores, 99),
            ["p99.9"] = Percentile.Of(validationScores, 99.9),
        };

        // A SPOT fit needs a reasonable number of excesses over its initial quantile.
        if (validationScores.Length >= 500)
        {
            var spot = new Spot(risk: 1e-3, initialQuantile: 0.95);
            spot.Initialize(validationScores);
            thresholds["spot_q0.001"] = spot.Threshold;
        }

        return manifest with { Thresholds = thresholds, ValidationMetrics = Metrics(result), Drift = drift };
    }

    private static Dictionary<string, double> Metrics(TrainingResult result)
    {
        var metrics = new Dictionary<string, double>
        {
            ["best_epoch"] = result.BestEpoch,
            ["epochs_run"] = result.EpochsRun,
        };

        // A refit without validation samples has no validation loss (NaN, which JSON cannot carry).
        if (double.IsFinite(result.BestValidationLoss))
        {
            metrics["validation_loss"] = result.BestValidationLoss;
        }

        // Epoch 0 means no epoch beat the initial weights, so there is no training loss that belongs to them.
        if (result.BestEpoch > 0)
        {
            metrics["train_loss"] = result.TrainLoss[result.BestEpoch - 1];
        }

        return metrics;
    }
}
