using Streaming.Host.Configuration;
using Streaming.Host.Modeling;
using Streaming.Simulation;

// Outside Streaming.IntegrationTests on purpose: this test needs neither the broker nor the database, so TestStack (that
// namespace's set-up fixture) does not start them for it.
namespace Streaming.OfflineTests;

/// <summary>`train --refit-downtime` (Training:RefitDowntime): the bundle's downtime predictor retrained on all its samples.</summary>
public sealed class BundleRefitTests
{
    private static SimulatorTrainingData Data() => SimulatorTrainingData.Generate(
        new SimulatorOptions { Entities = 4, Seed = 3, IncidentsPerEntityDay = 24, WarmUp = TimeSpan.FromMinutes(10) },
        new StreamingSettings().Windows.ToOptions(), TimeSpan.FromHours(8));

    [Test]
    public void The_refit_downtime_predictor_trains_on_all_samples_for_the_first_fits_best_epoch_count()
    {
        var data = Data();
        Assume.That(data.Labels.Any(l => l.DowntimeStart is not null), "the simulated fleet has labelled downtimes");
        var settings = new TrainingSettings { Epochs = 3, HiddenSize = 8, SequenceLength = 8, Seed = 1 };
        var fit = BundleTrainer.Train(data, settings, "fit", new Progress<StageProgress>());
        settings.RefitDowntime = true;
        var refit = BundleTrainer.Train(data, settings, "refit", new Progress<StageProgress>());

        var fitManifest = fit.Downtime!.Manifest;
        var refitManifest = refit.Downtime!.Manifest;
        var bestEpoch = fitManifest.ValidationMetrics["best_epoch"];
        Assert.That(fit.Info.Metrics.ContainsKey("downtime_refit_epochs"), Is.False);
        Assert.That(fitManifest.Architecture.TrainingHyperParameters["refit"], Is.Zero);
        Assert.That(refit.Info.Metrics["downtime_refit_epochs"], Is.EqualTo(bestEpoch));
        Assert.That(refitManifest.Architecture.TrainingHyperParameters["refit"], Is.EqualTo(1));
        Assert.That(refitManifest.Architecture.TrainingHyperParameters["epochs"], Is.EqualTo(bestEpoch));

        // The bundle's validation metrics stay the first fit's: the refit has trained on the validation samples.
        Assert.That(refit.Info.Metrics["downtime_validation_rmse_minutes"], Is.EqualTo(fit.Info.Metrics["downtime_validation_rmse_minutes"]));
        Assert.That(refit.Forecaster!.Manifest.Normalization.Mean, Is.EqualTo(fit.Forecaster!.Manifest.Normalization.Mean));
    }

    [Test]
    public void With_one_forecaster_output_the_bundle_forecasts_the_first_metrics_mean_alone_and_telemanom_scores_it()
    {
        var data = Data();
        var settings = new TrainingSettings { Epochs = 1, HiddenSize = 8, SequenceLength = 8, Seed = 1, ForecasterOutputs = 1 };
        var bundle = BundleTrainer.Train(data, settings, "single", new Progress<StageProgress>());

        var forecaster = bundle.Forecaster!.Manifest;
        Assert.That(forecaster.Architecture.OutputSize, Is.EqualTo(1));
        Assert.That(forecaster.Features[0], Is.EqualTo(FleetSimulator.MetricNames[0] + ".mean"), "the first feature is the first metric's mean");
        Assert.That(Streaming.Models.Pipeline.TelemanomModel.TryLoad(bundle)!.Forecaster.LastForecast.Length, Is.EqualTo(1));
        Assert.That(() => BundleTrainer.Train(data, new TrainingSettings { Epochs = 1, HiddenSize = 8, SequenceLength = 8, ForecasterOutputs = 10_000 },
            "too-many", new Progress<StageProgress>()), Throws.InstanceOf<Host.Cli.TrainingDataException>().With.Message.Contains("Training:ForecasterOutputs"));
    }
}
