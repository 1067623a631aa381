using Streaming.Models.Scoring;
using Streaming.Models.Serialization;
using Streaming.Models.Training;

namespace Streaming.Models.Tests;

/// <summary>The trainer's refit schedule: a fixed epoch count, the first fit's learning-rate halvings replayed, the last weights kept.</summary>
public sealed class RefitTests
{
    private const int Length = 12;
    private static readonly string[] Features = ["a", "b", "c"];
    private static readonly NormalizationStatistics Identity = new(new float[3], [1, 1, 1]);

    /// <summary>
    /// Windows whose slope grows as failure nears, with seeded noise: learnable, and noisy enough on a small validation set
    /// that its loss does not improve every epoch, so a one-epoch plateau halves the rate during the first fit.
    /// </summary>
    private static List<DowntimeSample> Samples(int count, int seed)
    {
        var random = new Random(seed);
        var samples = new List<DowntimeSample>();
        for (var i = 0; i < count; i++)
        {
            var rul = (float)random.NextDouble();
            var sequence = new float[Length * 3];
            for (var t = 0; t < Length; t++)
            {
                sequence[t * 3] = ((1 - rul) * t / Length) + (0.3f * (float)Gaussian.Next(random));
                sequence[(t * 3) + 1] = (1 - rul) + (0.3f * (float)Gaussian.Next(random));
                sequence[(t * 3) + 2] = (float)Gaussian.Next(random);
            }

            samples.Add(new DowntimeSample(sequence, rul, [rul < 0.1f ? 1 : 0, rul < 0.3f ? 1 : 0]));
        }

        return samples;
    }

    private static TrainedModel<DowntimePredictor> Fit(List<DowntimeSample> train, List<DowntimeSample> validation, TrainingOptions options) =>
        ModelTraining.TrainDowntimePredictor(train, validation, Features, Identity, [5, 10], 50, Length, 8, 1, options,
            head: new DowntimeHead(ConvChannels: 4, ConvKernel: 3, HiddenSize: 6, Dropout: 0.2, TimeWeight: 10));

    private static float[] Times(DowntimePredictor model, IReadOnlyList<DowntimeSample> samples)
    {
        var times = new float[samples.Count];
        model.PredictBatch([.. samples.SelectMany(s => s.Sequence)], times, new float[samples.Count * 2]);
        return times;
    }

    private static readonly TrainingOptions FirstFit = new() { Epochs = 20, BatchSize = 16, LearningRate = 1e-2, Patience = 6, PlateauEpochs = 1, Seed = 11 };

    [Test]
    public void A_refit_on_the_first_fits_own_data_reproduces_its_best_epoch_weights_halvings_included()
    {
        var train = Samples(160, 1);
        var validation = Samples(24, 2);
        var first = Fit(train, validation, FirstFit);
        var refitOptions = first.Result.RefitOptions(FirstFit);
        Assert.That(first.Result.BestEpoch, Is.GreaterThan(1));
        Assert.That(refitOptions.DecayEpochs, Is.Not.Empty, "the first fit halved the rate before its best epoch, so the replay is exercised");
        Assert.That(refitOptions.DecayEpochs, Is.All.LessThan(first.Result.BestEpoch));

        // Same seed, same samples, the best epoch count and the same halvings: the same weights as the restored best epoch.
        var refit = Fit(train, [], refitOptions);
        Assert.That(Times(refit.Model, validation), Is.EqualTo(Times(first.Model, validation)));

        // Without the halvings the same epochs end elsewhere, so the replay is what makes them match.
        var unscheduled = Fit(train, [], refitOptions with { DecayEpochs = [] });
        Assert.That(Times(unscheduled.Model, validation), Is.Not.EqualTo(Times(first.Model, validation)));
    }

    [Test]
    public void A_refit_runs_exactly_the_given_epochs_without_validation_and_halves_the_rate_after_the_listed_ones()
    {
        var progress = new List<TrainingProgress>();
        var options = FirstFit with { Epochs = 5, DecayEpochs = [2, 4, 9] };
        var refit = ModelTraining.TrainDowntimePredictor(Samples(96, 3), [], Features, Identity, [5, 10], 50, Length, 8, 1, options,
            new SynchronousProgress(progress.Add));

        Assert.That(refit.Result.EpochsRun, Is.EqualTo(5));
        Assert.That(refit.Result.BestEpoch, Is.EqualTo(5), "the last epoch's weights are the model");
        Assert.That(refit.Result.StoppedEarly, Is.False);
        Assert.That(refit.Result.TrainLoss, Has.Count.EqualTo(5));
        Assert.That(refit.Result.ValidationLoss, Is.Empty);
        Assert.That(refit.Result.DecayEpochs, Is.EqualTo(new[] { 2, 4 }), "epoch 9 is never reached");
        Assert.That(progress.Select(p => p.Epoch).Distinct(), Is.EqualTo(new[] { 1, 2, 3, 4, 5 }));
        Assert.That(refit.Artifact.Manifest.ValidationMetrics.ContainsKey("validation_rmse"), Is.False, "no validation engines left to report on");
        Assert.That(refit.Artifact.Manifest.Architecture.TrainingHyperParameters["refit"], Is.EqualTo(1));
    }

    [Test]
    public void A_refit_is_deterministic_for_a_seed()
    {
        var train = Samples(96, 4);
        var probe = Samples(16, 5);
        var options = FirstFit with { Epochs = 4, DecayEpochs = [2] };
        var first = Fit(train, [], options);
        var second = Fit(train, [], options);
        var otherSeed = Fit(train, [], options with { Seed = 12 });

        Assert.That(second.Result.TrainLoss, Is.EqualTo(first.Result.TrainLoss));
        Assert.That(Times(second.Model, probe), Is.EqualTo(Times(first.Model, probe)));
        Assert.That(Times(otherSeed.Model, probe), Is.Not.EqualTo(Times(first.Model, probe)));
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; tests need the reports in order and before Train returns.</summary>
    private sealed class SynchronousProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
