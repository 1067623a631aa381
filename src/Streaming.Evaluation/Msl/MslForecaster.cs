using System.Diagnostics;
using System.Globalization;
using Streaming.Models.Pipeline;
using Streaming.Models.Serialization;
using Streaming.Models.Thresholds;
using Streaming.Models.Training;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;

namespace Streaming.Evaluation.Msl;

/// <summary>Which detector <c>eval msl</c> streams the test rows through.</summary>
internal enum MslDetector
{
    /// <summary>The production default online detectors (no training), column 0 only unless commands are asked for.</summary>
    Online,

    /// <summary>The per-channel LSTM forecaster with telemanom's dynamic thresholding of smoothed errors.</summary>
    Forecaster,

    /// <summary>The same forecaster as the production ensemble's only member: its errors' anomaly likelihood.</summary>
    ForecasterLikelihood,
}

/// <summary>
/// The per-channel forecaster of <c>eval msl --detector forecaster</c>: telemanom's setup at a size this machine trains in
/// minutes. One LSTM per channel, trained on that channel's train file only, predicts the telemetry value (column 0) of
/// the next row from the last <see cref="Context"/> rows of all columns (the value and the one-hot commands), on the
/// data's own scale (MSL is already scaled: value in [-1, 1], commands 0/1), as telemanom does. Telemanom's training
/// defaults (35 epochs, batch 70, early stopping after 10 epochs without validation gain on the last 20%, Adam 1e-3);
/// a smaller network than its two layers of 80 and 250 rows of context, so all 27 channels train in minutes on 2 cores.
/// </summary>
internal sealed record MslForecasterOptions
{
    public int Context { get; init; } = 50;

    public int HiddenSize { get; init; } = 64;

    public int Layers { get; init; } = 1;

    public int Epochs { get; init; } = 35;

    public int BatchSize { get; init; } = 70;

    public double LearningRate { get; init; } = 1e-3;

    public int Patience { get; init; } = 10;

    public int Seed { get; init; } = 42;

    public TelemanomOptions Telemanom { get; init; } = new();

    /// <summary>Where trained bundles are saved as <c>DIR/&lt;channel&gt;</c> and, when present, loaded from instead of training.</summary>
    public string? ModelsDirectory { get; init; }

    public TrainingOptions Training => new()
    {
        Epochs = Epochs, BatchSize = BatchSize, LearningRate = LearningRate, Patience = Patience, Seed = Seed, Threads = 1,
    };
}

/// <summary>A channel's trained (or loaded) bundle and how long training took (zero when loaded).</summary>
internal sealed record MslChannelModel(ModelBundle Bundle, TimeSpan Training, bool Loaded);

/// <summary>Trains a channel's forecaster bundle and builds the scorer that streams its test file.</summary>
internal static class MslForecaster
{
    // Two TorchSharp trainings at once failed inside Adam.step ("Unknown scalar type", measured here): one at a time.
    private static readonly Lock TrainingGate = new();

    /// <summary>The bundle's input features, as the replay's metrics: <c>value.mean</c>, <c>cmd_01.mean</c>, ….</summary>
    public static string[] Features(int columns) =>
        [.. Enumerable.Range(0, columns).Select(c => (c == 0 ? MslReplay.ValueMetric : MslReplay.CommandMetric(c)) + ".mean")];

    public static MslChannelModel Prepare(MslChannel channel, MslForecasterOptions options)
    {
        var directory = options.ModelsDirectory is null ? null : Path.Combine(options.ModelsDirectory, channel.Name);
        if (directory is not null && File.Exists(Path.Combine(directory, ModelBundle.InfoFile)))
            return new MslChannelModel(ModelBundle.Load(directory), TimeSpan.Zero, true);
        lock (TrainingGate)
            return Train(channel, options, directory);
    }

    private static MslChannelModel Train(MslChannel channel, MslForecasterOptions options, string? directory)
    {
        var started = Stopwatch.StartNew();
        var columns = channel.Train.Columns;
        var raw = Array.ConvertAll(channel.Train.Data, v => (float)v);
        var features = Features(columns);
        // Identity scaling: the data is scaled already, and a one-hot command seen a few times would get a tiny std.
        var identity = new NormalizationStatistics(new float[columns], Enumerable.Repeat(1f, columns).ToArray());
        var trained = ModelTraining.TrainForecaster(raw, features, options.HiddenSize, options.Layers, options.Context, options.Training,
            range: new TrainingDataRange($"msl {channel.Name} train", null, null, channel.Train.Rows), outputSize: 1, statistics: identity);
        var version = $"msl-{channel.Name}-s{options.Seed.ToString(CultureInfo.InvariantCulture)}";
        var info = new BundleInfo(version, trained.Artifact.Manifest.CreatedAt, "eval msl --detector forecaster", features, ["forecaster"],
            trained.Artifact.Manifest.ValidationMetrics, channel.Name);
        var bundle = new ModelBundle(info, trained.Artifact, null, null);
        if (directory is not null)
            bundle.Save(directory);
        return new MslChannelModel(bundle, started.Elapsed, false);
    }

    /// <summary>
    /// The scorer of one channel's processor, built by the production selection (<c>Models:Scorer</c>) over a model set
    /// with the channel's bundle active: Telemanom thresholding, or the ensemble with the forecaster alone.
    /// </summary>
    public static Func<IWindowScorer> Scorer(ModelBundle bundle, MslDetector detector, MslForecasterOptions options, ProcessorSettings settings)
    {
        var scorer = detector switch
        {
            MslDetector.Forecaster => BundleScorer.Telemanom,
            MslDetector.ForecasterLikelihood => BundleScorer.Ensemble,
            _ => throw new ArgumentOutOfRangeException(nameof(detector), detector, "Only the forecaster detectors train a bundle."),
        };
        var models = new ModelSetProvider();
        models.Activate(bundle);
        return ScorerSelection.Factory(models, new ScorerSettings(scorer, settings.Baseline, settings.Detection,
            new EnsembleOptions { BaselineWeight = 0, ForecasterWeight = 1, VaeWeight = 0 }, options.Telemanom, settings.Alerts.TopContributors));
    }
}
