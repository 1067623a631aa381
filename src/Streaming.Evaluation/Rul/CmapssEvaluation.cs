using Streaming.Evaluation.Metrics;
using Streaming.Models.Data;
using Streaming.Models.Scoring;
using Streaming.Models.Serialization;
using Streaming.Models.Training;

namespace Streaming.Evaluation.Rul;

internal sealed record CmapssEvaluationOptions
{
    public required string TrainFile { get; init; }
    public string? TestFile { get; init; }
    public string? RulFile { get; init; }
    public int Seed { get; init; } = 42;
    public double HoldOutFraction { get; init; } = 0.2;

    /// <summary>Training engines (after the hold-out) kept aside for early stopping.</summary>
    public double ValidationFraction { get; init; } = 0.15;

    public int SequenceLength { get; init; } = 30;
    public double RulCap { get; init; } = 125;
    public IReadOnlyList<double> Horizons { get; init; } = [10, 20, 30];
    public int HiddenSize { get; init; } = 32;
    public int Epochs { get; init; } = 20;
    /// <summary>Every second window: neighbouring windows overlap by all but one cycle, so this halves training time at little cost.</summary>
    public int Stride { get; init; } = 2;
}

internal sealed record CmapssEvaluationResult(
    string TestSource, int TrainEngines, int ValidationEngines, int TestEngines, int TrainSamples,
    RulMetrics Model, RulMetrics MeanBaseline, RulMetrics ModelVsCapped, RulMetrics MeanBaselineVsCapped, double MeanPrediction,
    IReadOnlyList<DowntimeHorizonMetrics> Downtime, string DowntimeScope, TrainingResult Training, TimeSpan Elapsed);

/// <summary>
/// Trains the models layer's downtime predictor (LSTM: RUL regression + per-horizon failure probabilities) on C-MAPSS
/// training engines and evaluates it on test engines: RUL RMSE and NASA score at each engine's last observed cycle, next
/// to a baseline that always predicts the mean training target; and, per horizon, downtime alarms (probability ≥ 0.5)
/// scored for precision, recall and lead time in cycles.
/// </summary>
internal static class CmapssEvaluation
{
    public const double AlarmProbability = 0.5;

    public static CmapssEvaluationResult Run(CmapssEvaluationOptions options, IProgress<TrainingProgress>? progress = null)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var all = Cmapss.Read(options.TrainFile);
        IReadOnlyList<CmapssEngine> trainPool;
        IReadOnlyList<CmapssTestEngine> test;
        string source;
        if (options.TestFile is not null || options.RulFile is not null)
        {
            if (options.TestFile is null || options.RulFile is null)
                throw new ArgumentException("--test and --rul go together.");
            trainPool = all;
            test = CmapssSplit.FromFiles(options.TestFile, options.RulFile);
            source = $"{Path.GetFileName(options.TestFile)} + {Path.GetFileName(options.RulFile)}";
        }
        else
        {
            (trainPool, test) = CmapssSplit.HoldOut(all, options.HoldOutFraction, options.SequenceLength, options.Seed);
            source = $"{test.Count} engines held out of {Path.GetFileName(options.TrainFile)} (seed {options.Seed}), each cut at a random cycle";
        }

        // Validation engines are whole engines, so early stopping never sees windows of an engine it trains on.
        var validationCount = Math.Max(1, (int)Math.Round(trainPool.Count * options.ValidationFraction));
        var shuffled = trainPool.ToArray();
        new Random(options.Seed + 1).Shuffle(shuffled);
        var validationEngines = shuffled.Take(validationCount).ToArray();
        var trainEngines = shuffled.Skip(validationCount).OrderBy(e => e.Unit).ToArray();

        var features = Cmapss.InformativeFd001;
        var statistics = ModelTrainingStatistics(trainEngines, features);
        var normalizer = Normalizer(features, statistics);
        var train = Cmapss.BuildSamples(trainEngines, features, normalizer, options.SequenceLength, options.Horizons, options.RulCap, options.Stride);
        var validation = Cmapss.BuildSamples(validationEngines, features, normalizer, options.SequenceLength, options.Horizons, options.RulCap, options.Stride);
        var trainingOptions = new TrainingOptions { Epochs = options.Epochs, BatchSize = 32, LearningRate = 5e-3, Patience = 4, Seed = options.Seed };
        var trained = ModelTraining.TrainDowntimePredictor(train, validation, features, statistics, options.Horizons, options.RulCap,
            options.SequenceLength, options.HiddenSize, 1, trainingOptions, progress);
        var model = trained.Model;

        var probabilities = new float[options.Horizons.Count];
        var predicted = new List<double>(test.Count);
        foreach (var engine in test)
            predicted.Add(model.Predict(LastWindow(engine.Observed, features, normalizer, options.SequenceLength), probabilities));
        var actual = test.Select(e => (double)e.Rul).ToArray();
        // Many published FD001 results compare against the true RUL capped like the training target; both are reported.
        var capped = actual.Select(r => Math.Min(r, options.RulCap)).ToArray();
        var mean = train.Average(s => (double)s.ScaledTimeToDowntime) * options.RulCap;

        // Alarms over every cycle of each test engine: the whole run to failure when it is known (hold-out), otherwise
        // the observed cycles, with the failure at the last observed cycle + RUL. The failure cycle is the downtime start.
        var alarms = new List<DowntimeAlarm>();
        var downtimes = new List<DowntimeStart>();
        foreach (var engine in test)
        {
            var run = engine.FullRun ?? engine.Observed;
            var name = engine.Observed.Unit.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var normalized = normalizer(Cmapss.Select([run], features));
            for (var end = options.SequenceLength - 1; end < run.Cycles; end++)
            {
                model.Predict(normalized.AsSpan((end - options.SequenceLength + 1) * features.Count, options.SequenceLength * features.Count), probabilities);
                for (var k = 0; k < probabilities.Length; k++)
                {
                    if (probabilities[k] >= AlarmProbability)
                        alarms.Add(new DowntimeAlarm(name, end, (long)options.Horizons[k]));
                }
            }
            downtimes.Add(new DowntimeStart(name, engine.FullRun is { } full ? full.Cycles - 1 : engine.Observed.Cycles - 1 + engine.Rul));
        }
        var downtime = DowntimeMetrics.Evaluate(alarms, downtimes, [.. options.Horizons.Select(h => (long)h)]);
        var scope = test.All(e => e.FullRun is not null) ? "every cycle of each held-out engine's run to failure" : "the observed cycles of each test engine";

        return new CmapssEvaluationResult(source, trainEngines.Length, validationEngines.Length, test.Count, train.Count,
            RulMetrics.Of(predicted, actual), RulMetrics.Of([.. actual.Select(_ => mean)], actual),
            RulMetrics.Of(predicted, capped), RulMetrics.Of([.. actual.Select(_ => mean)], capped),
            mean, downtime, scope, trained.Result, started.Elapsed);
    }

    private static NormalizationStatistics ModelTrainingStatistics(IReadOnlyList<CmapssEngine> engines, IReadOnlyList<string> features) =>
        ModelTraining.ComputeStatistics(Cmapss.Select(engines, features), features.Count);

    private static Func<float[], float[]> Normalizer(IReadOnlyList<string> features, NormalizationStatistics statistics)
    {
        // The manifest's normalisation, without training anything: only Features and Normalization are used.
        var manifest = new ModelManifest
        {
            Kind = ModelKind.DowntimePredictor,
            Version = ModelTraining.Version,
            Architecture = new ModelArchitecture { InputSize = features.Count, HiddenSize = 1, SequenceLength = 1 },
            Features = [.. features],
            Normalization = statistics,
        };
        return raw =>
        {
            var output = new float[raw.Length];
            manifest.Normalize(raw, output);
            return output;
        };
    }

    /// <summary>The last <paramref name="length"/> cycles, normalised; a shorter engine is padded with its first cycle.</summary>
    private static float[] LastWindow(CmapssEngine engine, IReadOnlyList<string> features, Func<float[], float[]> normalize, int length)
    {
        var normalized = normalize(Cmapss.Select([engine], features));
        var f = features.Count;
        var window = new float[length * f];
        for (var t = 0; t < length; t++)
        {
            var cycle = Math.Max(0, engine.Cycles - length + t);
            normalized.AsSpan(cycle * f, f).CopyTo(window.AsSpan(t * f, f));
        }
        return window;
    }
}
