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

    /// <summary>Seed of the hold-out split and truncation points, and of training unless <see cref="Seeds"/> is set.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Training seeds: one model each, reported one by one and as their mean-prediction ensemble (null: <see cref="Seed"/>).</summary>
    public IReadOnlyList<int>? Seeds { get; init; }

    public double HoldOutFraction { get; init; } = 0.2;

    /// <summary>Training engines (after the hold-out) kept aside for early stopping and model selection.</summary>
    public double ValidationFraction { get; init; } = 0.15;

    /// <summary>
    /// Chosen on the validation engines (mean of seeds 1-3, see docs/accuracy.md): 50-cycle windows, Conv1d(16, k=9),
    /// LSTM 64, attention, a 32-wide ReLU layer, dropout 0.3; the time-to-downtime error weighted 10 against the horizons'
    /// cross-entropy; Adam 1e-3 halved after 3 epochs without improvement, up to 60 epochs with patience 10.
    /// </summary>
    public int SequenceLength { get; init; } = 50;

    /// <summary>Fewest cycles a held-out engine keeps before its cut, whatever the window (shorter windows are padded).</summary>
    public int HoldOutMinimumCycles { get; init; } = 30;
    public double RulCap { get; init; } = 125;

    /// <summary>
    /// Training windows start once this many cycles are observed, padded with the first cycle like a short test engine
    /// (null: full windows only, the behaviour before the padded windows).
    /// </summary>
    public int? TrainMinimumHistory { get; init; } = 30;
    public IReadOnlyList<double> Horizons { get; init; } = [10, 20, 30];
    public int HiddenSize { get; init; } = 64;
    public int NumLayers { get; init; } = 1;
    public DowntimeHead Head { get; init; } = new(ConvChannels: 16, ConvKernel: 9, Attention: true, HiddenSize: 32, Dropout: 0.3, TimeWeight: 10);
    public int Epochs { get; init; } = 60;
    public int BatchSize { get; init; } = 32;
    public double LearningRate { get; init; } = 1e-3;
    public int Patience { get; init; } = 10;

    /// <summary>Halve the learning rate after this many epochs without validation improvement (0: constant rate).</summary>
    public int PlateauEpochs { get; init; } = 3;

    /// <summary>Every second window: neighbouring windows overlap by all but one cycle, so this halves training time at little cost.</summary>
    public int Stride { get; init; } = 2;

    /// <summary>
    /// After each seed's first fit (68 engines, early stopping on the 12 validation engines), retrain that seed from
    /// scratch on all 80 non-test engines for its best epoch count, the learning rate halved after the same epochs as in
    /// the first fit, z-scored with all 80 engines' statistics; the refit models are the ones scored on the test engines.
    /// </summary>
    public bool Refit { get; init; } = true;

    /// <summary>Min-max scaling of every feature to [-1, 1] over the training engines (as Li et al. 2018) instead of z-scores.</summary>
    public bool MinMax { get; init; }

    public IReadOnlyList<int> TrainingSeeds => Seeds is { Count: > 0 } ? Seeds : [Seed];
}

/// <summary>A seed's refit on all non-test engines: its epoch count and the epochs after which the rate was halved (from the first fit).</summary>
internal sealed record CmapssRefit(int Epochs, IReadOnlyList<int> DecayEpochs, int TrainSamples, TrainingResult Result);

/// <summary>One model's results on the test engines (a seed's model, or the ensemble of all seeds).</summary>
internal sealed record CmapssModelResult(
    string Name, double ValidationRmse, RulMetrics Rul, RulMetrics RulVsCapped, IReadOnlyList<DowntimeHorizonMetrics> Downtime,
    IReadOnlyList<HorizonCalibration> Calibration, IReadOnlyList<float[]> ProbabilityRows, TrainingResult? Training, CmapssRefit? Refit = null);

internal sealed record CmapssEvaluationResult(
    string TestSource, int TrainEngines, int ValidationEngines, int TestEngines, int TrainSamples, int? RefitSamples,
    RulMetrics MeanBaseline, RulMetrics MeanBaselineVsCapped, double MeanPrediction, string DowntimeScope,
    IReadOnlyList<CmapssModelResult> Seeds, CmapssModelResult? Ensemble, TimeSpan Elapsed)
{
    /// <summary>The first (or only) seed's model.</summary>
    public CmapssModelResult First => Seeds[0];
}

/// <summary>
/// Trains the models layer's downtime predictor (RUL regression + a monotone hazard head over the horizons) on C-MAPSS
/// training engines, once per training seed, and evaluates each model and their ensemble on test engines: RUL RMSE and
/// NASA score at each engine's last observed cycle, next to a baseline that always predicts the mean training target;
/// and over every cycle, per horizon, downtime alarms (probability ≥ 0.5) for precision, recall and lead time, and the
/// Brier score with a reliability table against the training base rate.
/// </summary>
internal static class CmapssEvaluation
{
    public const double AlarmProbability = 0.5;

    public static CmapssEvaluationResult Run(CmapssEvaluationOptions options, IProgress<TrainingProgress>? progress = null)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var data = Prepare(options);
        var trained = options.TrainingSeeds.Select(seed => Train(data, options, seed, progress)).ToList();
        if (data.Refit is { } refitData)
            trained = [.. trained.Select(t => Refit(t, refitData, data, options, progress))];

        // The scored models read inputs z-scored with the statistics they were trained with (all 80 engines' after a refit).
        var scoring = data.Refit?.Normalize ?? data.Normalize;
        var test = data.Test!;
        var f = data.Features.Count;
        var k = options.Horizons.Count;

        // Every cycle of each test engine: the whole run to failure when known (hold-out), else the observed cycles.
        var runs = test.Select(e => scoring(Cmapss.Select([e.FullRun ?? e.Observed], data.Features))).ToArray();
        var lastWindows = test.Select(e => LastWindow(e.Observed, data.Features, scoring, options.SequenceLength)).ToArray();
        var actual = test.Select(e => (double)e.Rul).ToArray();

        // Many published FD001 results compare against the true RUL capped like the training target; both are reported.
        var capped = actual.Select(r => Math.Min(r, options.RulCap)).ToArray();
        var scoredTrain = data.Refit?.Train ?? data.Train;
        var mean = scoredTrain.Average(s => (double)s.ScaledTimeToDowntime) * options.RulCap;
        var baseRates = Enumerable.Range(0, k).Select(j => scoredTrain.Average(s => (double)s.WithinHorizon[j])).ToArray();

        CmapssModelResult Evaluate(string name, IReadOnlyList<DowntimePredictor> models, double validationRmse, TrainingResult? training, CmapssRefit? refit)
        {
            var predicted = lastWindows.Select(w => Average(models, w, k).Times[0]).Select(t => (double)t).ToArray();
            var alarms = new List<DowntimeAlarm>();
            var downtimes = new List<DowntimeStart>();
            var rows = new List<float[]>();
            var probabilities = Enumerable.Range(0, k).Select(_ => new List<double>()).ToArray();
            var outcomes = Enumerable.Range(0, k).Select(_ => new List<bool>()).ToArray();
            for (var e = 0; e < test.Count; e++)
            {
                var engine = test[e];
                var cycles = runs[e].Length / f;
                var failure = engine.FullRun is { } full ? full.Cycles - 1 : engine.Observed.Cycles - 1 + engine.Rul;
                var name2 = engine.Observed.Unit.ToString(System.Globalization.CultureInfo.InvariantCulture);
                var windows = cycles - options.SequenceLength + 1;
                var sequences = new float[windows * options.SequenceLength * f];
                for (var w = 0; w < windows; w++)
                    runs[e].AsSpan(w * f, options.SequenceLength * f).CopyTo(sequences.AsSpan(w * options.SequenceLength * f));
                var (_, p) = Average(models, sequences, k);
                for (var w = 0; w < windows; w++)
                {
                    var end = w + options.SequenceLength - 1;
                    var row = p.AsSpan(w * k, k).ToArray();
                    rows.Add(row);
                    for (var j = 0; j < k; j++)
                    {
                        if (row[j] >= AlarmProbability)
                            alarms.Add(new DowntimeAlarm(name2, end, (long)options.Horizons[j]));
                        probabilities[j].Add(row[j]);
                        outcomes[j].Add(failure - end <= options.Horizons[j]);
                    }
                }
                downtimes.Add(new DowntimeStart(name2, failure));
            }
            var downtime = DowntimeMetrics.Evaluate(alarms, downtimes, [.. options.Horizons.Select(h => (long)h)]);
            var calibration = Enumerable.Range(0, k).Select(j => HorizonCalibration.Of(options.Horizons[j], probabilities[j], outcomes[j], baseRates[j])).ToArray();
            return new CmapssModelResult(name, validationRmse, RulMetrics.Of(predicted, actual), RulMetrics.Of(predicted, capped), downtime, calibration, rows, training, refit);
        }

        // Validation RMSEs are always the first fits' (a refit has trained on the validation engines).
        var seeds = trained.Select(t => Evaluate($"seed {t.Seed}", [t.Scored.Model], t.ValidationRmse, t.Model.Result, t.Refit)).ToList();
        var ensemble = trained.Count > 1
            ? Evaluate($"ensemble of {trained.Count} seeds", [.. trained.Select(t => t.Scored.Model)], ValidationRmse(data, [.. trained.Select(t => t.Model.Model)], options), null, null)
            : null;
        var scope = test.All(e => e.FullRun is not null) ? "every cycle of each held-out engine's run to failure" : "the observed cycles of each test engine";
        return new CmapssEvaluationResult(data.Source, data.TrainEngines, data.ValidationEngines, test.Count, data.Train.Count, data.Refit?.Train.Count,
            RulMetrics.Of([.. actual.Select(_ => mean)], actual), RulMetrics.Of([.. actual.Select(_ => mean)], capped), mean, scope,
            seeds, ensemble, started.Elapsed);
    }

    /// <summary>
    /// Trains one model per seed and reports only the validation engines' RMSE (every window, against the capped RUL), each
    /// seed's and the ensemble's: what model selection may look at. The test engines are neither read into a model nor scored.
    /// </summary>
    public static (IReadOnlyList<(int Seed, double Rmse, int BestEpoch, IReadOnlyList<int> DecayEpochs)> Seeds, double EnsembleRmse) Validate(CmapssEvaluationOptions options, IProgress<TrainingProgress>? progress = null)
    {
        var data = Prepare(options with { TestFile = null, RulFile = null, Refit = false });
        var trained = options.TrainingSeeds.Select(seed => Train(data, options, seed, progress)).ToList();
        return ([.. trained.Select(t => (t.Seed, t.ValidationRmse, t.Model.Result.BestEpoch, (IReadOnlyList<int>)[.. t.Model.Result.DecayEpochs.Where(e => e < t.Model.Result.BestEpoch)]))], ValidationRmse(data, [.. trained.Select(t => t.Model.Model)], options));
    }

    private sealed record Prepared(
        string Source, IReadOnlyList<string> Features, NormalizationStatistics Statistics, Func<float[], float[]> Normalize,
        List<DowntimeSample> Train, List<DowntimeSample> Validation, IReadOnlyList<CmapssTestEngine>? Test, int TrainEngines, int ValidationEngines,
        RefitData? Refit);

    /// <summary>
    /// Checks the refit protocol on the validation engines, without the test engines: the 12 validation engines play the
    /// test set; 12 of the 68 training engines (another seeded draw) early-stop a first fit on the other 56, which is then
    /// refit on all 68. Both are scored on the 12 (every cut, against the capped RUL, as the validation RMSE), each seed
    /// and the ensemble: does retraining on the early-stopping engines at the selected epoch count help, on engines neither saw?
    /// </summary>
    public static (IReadOnlyList<(int Seed, double Fit, double Refit, int Epochs)> Seeds, double FitEnsemble, double RefitEnsemble) CheckRefit(
        CmapssEvaluationOptions options, IProgress<TrainingProgress>? progress = null)
    {
        var outer = Prepare(options with { TestFile = null, RulFile = null, Refit = false });
        var all = Cmapss.Read(options.TrainFile);
        var (pool, _) = CmapssSplit.HoldOut(all, options.HoldOutFraction, options.HoldOutMinimumCycles, options.Seed);
        var validationCount = outer.ValidationEngines;
        var (trainEngines, heldOut) = Split(pool, validationCount, options.Seed + 1);
        var (innerTrain, innerValidation) = Split(trainEngines, validationCount, options.Seed + 2);
        var inner = Build("nested", innerTrain, innerValidation, null, options with { Refit = true });
        var refitData = inner.Refit!;

        List<DowntimeSample> Scored(Func<float[], float[]> normalize) =>
            Cmapss.BuildSamples(heldOut, inner.Features, normalize, options.SequenceLength, options.Horizons, options.RulCap, 1, options.HoldOutMinimumCycles);
        var fitSamples = Scored(inner.Normalize);
        var refitSamples = Scored(refitData.Normalize);
        var models = options.TrainingSeeds.Select(seed => Refit(Train(inner, options, seed, progress), refitData, inner, options, progress)).ToList();
        double Rmse(List<DowntimeSample> samples, IReadOnlyList<DowntimePredictor> m) => ValidationRmse(inner with { Validation = samples }, m, options);
        return ([.. models.Select(m => (m.Seed, Rmse(fitSamples, [m.Model.Model]), Rmse(refitSamples, [m.Scored.Model]), m.Refit!.Epochs))],
            Rmse(fitSamples, [.. models.Select(m => m.Model.Model)]), Rmse(refitSamples, [.. models.Select(m => m.Scored.Model)]));
    }

    /// <summary>The refit's training set: every non-test engine's windows, z-scored with all of their statistics.</summary>
    private sealed record RefitData(NormalizationStatistics Statistics, Func<float[], float[]> Normalize, List<DowntimeSample> Train);

    /// <summary>A seed's first fit (selection, validation RMSE) and, after a refit, the refit model that is scored instead.</summary>
    private sealed record SeedModel(int Seed, TrainedModel<DowntimePredictor> Model, double ValidationRmse, TrainedModel<DowntimePredictor>? RefitModel = null, CmapssRefit? Refit = null)
    {
        public TrainedModel<DowntimePredictor> Scored => RefitModel ?? Model;
    }

    private static Prepared Prepare(CmapssEvaluationOptions options)
    {
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
            (trainPool, test) = CmapssSplit.HoldOut(all, options.HoldOutFraction, options.HoldOutMinimumCycles, options.Seed);
            source = $"{test.Count} engines held out of {Path.GetFileName(options.TrainFile)} (seed {options.Seed}), each cut at a random cycle";
        }

        // Validation engines are whole engines, so early stopping never sees windows of an engine it trains on.
        var validationCount = Math.Max(1, (int)Math.Round(trainPool.Count * options.ValidationFraction));
        var (trainEngines, validationEngines) = Split(trainPool, validationCount, options.Seed + 1);
        return Build(source, trainEngines, validationEngines, test, options);
    }

    private static (CmapssEngine[] Train, CmapssEngine[] Validation) Split(IReadOnlyList<CmapssEngine> pool, int validationCount, int seed)
    {
        var shuffled = pool.ToArray();
        new Random(seed).Shuffle(shuffled);
        return (shuffled.Skip(validationCount).OrderBy(e => e.Unit).ToArray(), shuffled.Take(validationCount).ToArray());
    }

    private static Prepared Build(string source, CmapssEngine[] trainEngines, CmapssEngine[] validationEngines, IReadOnlyList<CmapssTestEngine>? test, CmapssEvaluationOptions options)
    {
        var features = Cmapss.InformativeFd001;
        var statistics = Statistics(Cmapss.Select(trainEngines, features), features.Count, options.MinMax);
        var normalize = Normalizer(features, statistics);
        var train = Cmapss.BuildSamples(trainEngines, features, normalize, options.SequenceLength, options.Horizons, options.RulCap, options.Stride, options.TrainMinimumHistory);

        // Validation mirrors the test engines: every cut with at least the hold-out's minimum history, padded like them.
        var validation = Cmapss.BuildSamples(validationEngines, features, normalize, options.SequenceLength, options.Horizons, options.RulCap, 1, options.HoldOutMinimumCycles);

        RefitData? refit = null;
        if (options.Refit)
        {
            // Training and validation engines together, windowed exactly as the training engines are.
            var all80 = trainEngines.Concat(validationEngines).OrderBy(e => e.Unit).ToArray();
            var refitStatistics = Statistics(Cmapss.Select(all80, features), features.Count, options.MinMax);
            var refitNormalize = Normalizer(features, refitStatistics);
            refit = new RefitData(refitStatistics, refitNormalize,
                Cmapss.BuildSamples(all80, features, refitNormalize, options.SequenceLength, options.Horizons, options.RulCap, options.Stride, options.TrainMinimumHistory));
        }

        return new Prepared(source, features, statistics, normalize, train, validation, test, trainEngines.Length, validationEngines.Length, refit);
    }

    /// <summary>
    /// The manifest's (x − mean) / std: z-scores, or with <paramref name="minMax"/> the midrange and half-range, which map
    /// the training engines' minimum and maximum to −1 and 1 (so scored models need nothing new to apply it).
    /// </summary>
    private static NormalizationStatistics Statistics(float[] raw, int features, bool minMax)
    {
        if (!minMax)
            return ModelTraining.ComputeStatistics(raw, features);
        var low = Enumerable.Repeat(float.MaxValue, features).ToArray();
        var high = Enumerable.Repeat(float.MinValue, features).ToArray();
        for (var i = 0; i < raw.Length; i++)
        {
            low[i % features] = Math.Min(low[i % features], raw[i]);
            high[i % features] = Math.Max(high[i % features], raw[i]);
        }
        return new NormalizationStatistics(
            [.. low.Zip(high, (l, h) => (l + h) / 2)], [.. low.Zip(high, (l, h) => Math.Max((h - l) / 2, 1e-6f))]);
    }

    private static TrainingOptions FitOptions(CmapssEvaluationOptions options, int seed) => new()
    {
        Epochs = options.Epochs, BatchSize = options.BatchSize, LearningRate = options.LearningRate, Patience = options.Patience, PlateauEpochs = options.PlateauEpochs, Seed = seed,
    };

    private static SeedModel Train(Prepared data, CmapssEvaluationOptions options, int seed, IProgress<TrainingProgress>? progress)
    {
        var trainingOptions = FitOptions(options, seed);
        var trained = ModelTraining.TrainDowntimePredictor(data.Train, data.Validation, data.Features, data.Statistics, options.Horizons, options.RulCap,
            options.SequenceLength, options.HiddenSize, options.NumLayers, trainingOptions, progress, head: options.Head);
        return new SeedModel(seed, trained, trained.Artifact.Manifest.ValidationMetrics["validation_rmse"]);
    }

    /// <summary>
    /// Retrains a seed from scratch (same seed, so the same initial weights and shuffling generator) on every non-test
    /// engine for its first fit's best epoch count, halving the rate after the epochs the first fit's plateau did.
    /// </summary>
    private static SeedModel Refit(SeedModel fit, RefitData refit, Prepared data, CmapssEvaluationOptions options, IProgress<TrainingProgress>? progress)
    {
        var refitOptions = fit.Model.Result.RefitOptions(FitOptions(options, fit.Seed));
        var trained = ModelTraining.TrainDowntimePredictor(refit.Train, [], data.Features, refit.Statistics, options.Horizons, options.RulCap,
            options.SequenceLength, options.HiddenSize, options.NumLayers, refitOptions, progress, head: options.Head);
        return fit with { RefitModel = trained, Refit = new CmapssRefit(refitOptions.Epochs, refitOptions.DecayEpochs!, refit.Train.Count, trained.Result) };
    }

    private static double ValidationRmse(Prepared data, IReadOnlyList<DowntimePredictor> models, CmapssEvaluationOptions options)
    {
        var (times, _) = Average(models, [.. data.Validation.SelectMany(s => s.Sequence)], options.Horizons.Count);
        return Math.Sqrt(data.Validation.Select((s, i) => Math.Pow(times[i] - (s.ScaledTimeToDowntime * options.RulCap), 2)).Average());
    }

    /// <summary>Mean prediction of several models over consecutive sequences: times [n] and probabilities [n, K] (a mean of monotone rows stays monotone).</summary>
    private static (float[] Times, float[] Probabilities) Average(IReadOnlyList<DowntimePredictor> models, float[] sequences, int horizons)
    {
        var n = sequences.Length / (models[0].SequenceLength * models[0].InputSize);
        var times = new float[n];
        var probabilities = new float[n * horizons];
        var t = new float[n];
        var p = new float[n * horizons];
        foreach (var model in models)
        {
            model.PredictBatch(sequences, t, p);
            for (var i = 0; i < n; i++)
                times[i] += t[i] / models.Count;
            for (var i = 0; i < p.Length; i++)
                probabilities[i] += p[i] / models.Count;
        }
        return (times, probabilities);
    }

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
    private static float[] LastWindow(CmapssEngine engine, IReadOnlyList<string> features, Func<float[], float[]> normalize, int length) =>
        Cmapss.Window(normalize(Cmapss.Select([engine], features)), features.Count, engine.Cycles - 1, length);
}
