using Streaming.Models.Data;
using Streaming.Models.Networks;
using Streaming.Models.Scoring;
using Streaming.Models.Serialization;
using Streaming.Models.Training;

namespace Streaming.Models.Tests;

public sealed class TrainingTests
{
    private static string Dataset(params string[] parts)
    {
        var directory = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Directory.Packages.props")))
        {
            directory = directory.Parent;
        }

        // STREAMING_DATASETS, else ../shared/datasets beside the repository, else the machine's /work/shared/datasets.
        string?[] roots = [Environment.GetEnvironmentVariable("STREAMING_DATASETS"), Path.Combine(directory?.FullName ?? "/", "..", "shared", "datasets"), "/work/shared/datasets"];
        var path = roots.Where(r => !string.IsNullOrEmpty(r)).Select(r => Path.GetFullPath(Path.Combine([r!, .. parts]))).FirstOrDefault(File.Exists);
        if (path is null)
        {
            // A missing dataset is a broken environment, not a reason to pass or skip.
            Assert.Fail($"Development dataset {Path.Combine(parts)} not found under {string.Join(", ", roots.Where(r => !string.IsNullOrEmpty(r)))}; set STREAMING_DATASETS.");
        }

        return path!;
    }

    /// <summary>Three sine features with seeded noise; a slow, learnable multivariate signal.</summary>
    private static float[] Sines(int rows, int seed)
    {
        var random = new Random(seed);
        var values = new float[rows * 3];
        for (var t = 0; t < rows; t++)
        {
            values[t * 3] = (float)(Math.Sin(t * 0.2) + (0.05 * Gaussian.Next(random)));
            values[(t * 3) + 1] = (float)(Math.Cos(t * 0.2) + (0.05 * Gaussian.Next(random)));
            values[(t * 3) + 2] = (float)((0.5 * Math.Sin(t * 0.05)) + (0.05 * Gaussian.Next(random)));
        }

        return values;
    }

    [Test]
    public void Downtime_predictor_trained_on_a_cmapss_slice_beats_the_mean_baseline()
    {
        var engines = Cmapss.Read(Dataset("cmapss", "train_FD001.txt"));
        var trainEngines = engines.Take(12).ToList();
        var validationEngines = engines.Skip(12).Take(4).ToList();
        var features = Cmapss.InformativeFd001;
        var statistics = ModelTraining.ComputeStatistics(Cmapss.Select(trainEngines, features), features.Count);
        var normalizer = new ModelManifest
        {
            Kind = ModelKind.DowntimePredictor,
            Version = "test",
            Architecture = new ModelArchitecture { InputSize = features.Count, HiddenSize = 1, SequenceLength = 1 },
            Features = features,
            Normalization = statistics,
        };
        float[] Normalize(float[] raw)
        {
            var output = new float[raw.Length];
            normalizer.Normalize(raw, output);
            return output;
        }

        double[] horizons = [10, 30, 50];
        const double rulCap = 125;
        var train = Cmapss.BuildSamples(trainEngines, features, Normalize, 20, horizons, rulCap, stride: 2);
        var validation = Cmapss.BuildSamples(validationEngines, features, Normalize, 20, horizons, rulCap, stride: 2);
        var progress = new List<TrainingProgress>();
        var options = new TrainingOptions { Epochs = 12, BatchSize = 16, LearningRate = 5e-3, Patience = 4, Seed = 1 };

        var trained = ModelTraining.TrainDowntimePredictor(
            train, validation, features, statistics, horizons, rulCap, 20, 16, 1, options, new SynchronousProgress(progress.Add));

        Assert.That(trained.Result.BestValidationLoss, Is.LessThan(trained.Result.ValidationLoss[0]));
        Assert.That(progress.Count(p => p.ValidationLoss is not null), Is.EqualTo(trained.Result.EpochsRun));

        var meanTarget = train.Average(s => s.ScaledTimeToDowntime) * rulCap;
        var baseline = Math.Sqrt(validation.Average(s => Math.Pow((s.ScaledTimeToDowntime * rulCap) - meanTarget, 2)));
        var rmse = trained.Artifact.Manifest.ValidationMetrics["validation_rmse"];
        TestContext.Out.WriteLine($"C-MAPSS validation RUL RMSE {rmse:F1} cycles vs mean baseline {baseline:F1}");
        Assert.That(rmse, Is.LessThan(0.8 * baseline));

        // Near failure the "within 10 cycles" probability must exceed the one far from failure.
        var probabilities = new float[3];
        var near = validation.Where(s => s.WithinHorizon[0] == 1).Average(s => { trained.Model.Predict(s.Sequence, probabilities); return probabilities[0]; });
        var far = validation.Where(s => s.WithinHorizon[2] == 0).Average(s => { trained.Model.Predict(s.Sequence, probabilities); return probabilities[0]; });
        Assert.That(near, Is.GreaterThan(far + 0.3));
    }

    [Test]
    public void Forecaster_trains_on_a_nab_series_and_flags_the_labelled_jump_up()
    {
        // jumpsup overshoots the usual daily rise, which a one-step forecaster with an hour of context can see; jumpsdown
        // (a rise that does not come) needs daily context and is not caught by this small model.
        var series = NabSeries.Read(Dataset("nab-dev", "data", "artificialWithAnomaly", "art_daily_jumpsup.csv"));

        // NAB labels the anomaly window 2014-04-10 16:15 – 2014-04-12 01:45; the first 2,500 rows (to 2014-04-09 16:15) precede it.
        var options = new TrainingOptions { Epochs = 4, BatchSize = 32, LearningRate = 1e-2, Seed = 3 };
        var trained = ModelTraining.TrainForecaster(series.Values[..2500], ["value"], 8, 1, 12, options);
        Assert.That(trained.Result.BestValidationLoss, Is.LessThan(trained.Result.ValidationLoss[0]).Or.LessThan(0.05));

        var manifest = trained.Artifact.Manifest;
        var normalized = new float[series.Values.Length];
        manifest.Normalize(series.Values, normalized);
        var contribution = new float[1];
        var scores = Enumerable.Range(0, normalized.Length - 13)
            .Select(i => trained.Model.Score(normalized.AsSpan(i, 13), contribution)).ToArray();
        var windowStart = Array.FindIndex(series.Timestamps, t => t >= new DateTimeOffset(2014, 4, 10, 16, 15, 0, TimeSpan.Zero));
        var windowEnd = Array.FindIndex(series.Timestamps, t => t >= new DateTimeOffset(2014, 4, 12, 1, 45, 0, TimeSpan.Zero));

        // Score i judges row i + 12, the newest row of its window.
        var peakInside = scores.Skip(windowStart - 12).Take(windowEnd - windowStart).Max();
        Assert.That(peakInside, Is.GreaterThan(manifest.Thresholds["p99.9"]));
        Assert.That(contribution[0], Is.EqualTo(1f));
    }

    [TestCase("Dense")]
    [TestCase("Lstm")]
    public void Vae_trains_reproducibly_and_scores_an_injected_spike_above_its_calibrated_threshold(string encoder)
    {
        var kind = Enum.Parse<VaeEncoderKind>(encoder);
        var data = Sines(1500, 4);
        var options = new TrainingOptions { Epochs = 6, BatchSize = 16, LearningRate = 5e-3, Seed = 5 };
        var first = ModelTraining.TrainVae(data, ["a", "b", "c"], kind, 16, 16, 4, 4, options);
        var second = ModelTraining.TrainVae(data, ["a", "b", "c"], kind, 16, 16, 4, 4, options);
        Assert.That(second.Result.ValidationLoss, Is.EqualTo(first.Result.ValidationLoss), "same seed, same losses");
        Assert.That(first.Result.BestValidationLoss, Is.LessThan(first.Result.ValidationLoss[0]));

        var window = new float[16 * 3];
        first.Artifact.Manifest.Normalize(data.AsSpan(600, 48), window);
        var contribution = new float[3];
        var normal = first.Model.Score(window, contribution);
        window[(10 * 3) + 1] += 6;
        var spiked = first.Model.Score(window, contribution);

        Assert.That(spiked, Is.GreaterThan(first.Artifact.Manifest.Thresholds["p99"]).And.GreaterThan(normal));
        Assert.That(contribution[1], Is.GreaterThan(0.5), "the spiked feature carries most of the score");
    }

    [Test]
    public void Saved_artifact_reloads_with_identical_scores_and_manifest()
    {
        var data = Sines(600, 6);
        var trained = ModelTraining.TrainForecaster(data, ["a", "b", "c"], 8, 2, 10, new TrainingOptions { Epochs = 2, Seed = 7 });
        var directory = Path.Combine(Path.GetTempPath(), "streaming-models-" + Guid.NewGuid().ToString("N"));
        try
        {
            trained.Artifact.Save(directory);
            var reloaded = LstmForecaster.FromArtifact(ModelArtifact.Load(directory));
            var window = new float[11 * 3];
            trained.Artifact.Manifest.Normalize(data.AsSpan(300, 33), window);
            var a = new float[3];
            var b = new float[3];
            Assert.That(reloaded.Score(window, b), Is.EqualTo(trained.Model.Score(window, a)));
            Assert.That(b, Is.EqualTo(a));
            Assert.That(reloaded.Manifest.ErrorScale, Is.EqualTo(trained.Artifact.Manifest.ErrorScale));
            Assert.That(reloaded.Manifest.Thresholds, Is.EqualTo(trained.Artifact.Manifest.Thresholds));
            Assert.That(reloaded.Manifest.Architecture.NumLayers, Is.EqualTo(2));
            Assert.That(reloaded.Manifest.Drift!.Features, Has.Count.EqualTo(3));
            Assert.That(reloaded.Manifest.Drift.Score.Percentiles, Is.EqualTo(trained.Artifact.Manifest.Drift!.Score.Percentiles));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public void Model_loader_rebuilds_a_saved_lstm_vae_by_kind_and_rejects_a_wrong_kind()
    {
        var data = Sines(400, 8);
        var trained = ModelTraining.TrainVae(data, ["a", "b", "c"], VaeEncoderKind.Lstm, 8, 8, 2, 4, new TrainingOptions { Epochs = 1, Seed = 9 });
        var directory = Path.Combine(Path.GetTempPath(), "streaming-models-" + Guid.NewGuid().ToString("N"));
        try
        {
            trained.Artifact.Save(directory);
            var scorer = ModelLoader.LoadScorer(directory);
            Assert.That(scorer, Is.TypeOf<VaeScorer>());
            var window = new float[24];
            trained.Artifact.Manifest.Normalize(data.AsSpan(30, 24), window);
            var contribution = new float[3];
            Assert.That(scorer.Score(window, contribution), Is.EqualTo(trained.Model.Score(window, contribution)));
            Assert.Throws<InvalidDataException>(() => ModelLoader.LoadDowntimePredictor(directory));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; tests need the reports in order and before Train returns.</summary>
    private sealed class SynchronousProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}

public sealed class NoCollectionRegionTests
{
    [Test]
    public void Training_steps_on_several_threads_share_the_region_and_leave_none_behind()
    {
        // The region is process-wide: before it was shared, a second thread's step threw "The NoGCRegion mode was already
        // in progress" (eval nab trains its files' forecasters side by side).
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            for (var step = 0; step < 50; step++)
            {
                using (new NoCollectionRegion())
                    GC.KeepAlive(new byte[1024]);
            }
        });

        Assert.That(System.Runtime.GCSettings.LatencyMode, Is.Not.EqualTo(System.Runtime.GCLatencyMode.NoGCRegion));
    }
}
