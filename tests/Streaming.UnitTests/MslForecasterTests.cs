using Streaming.Evaluation.Msl;

namespace Streaming.UnitTests;

public sealed class MslForecasterTests
{
    private string _temp = "";

    [SetUp]
    public void CreateTemp() => _temp = Directory.CreateTempSubdirectory("msl-forecaster-").FullName;

    [TearDown]
    public void DeleteTemp() => Directory.Delete(_temp, recursive: true);

    // A small network and two epochs: the test checks the wiring and determinism, not accuracy.
    private MslEvaluationOptions Options(MslDetector detector, string? models = null) => new()
    {
        DataDirectory = Datasets.Msl, Channels = ["T-9"], Detector = detector,
        Forecaster = new MslForecasterOptions { HiddenSize = 8, Epochs = 2, ModelsDirectory = models },
    };

    [Test]
    public void The_forecaster_detector_trains_per_channel_scores_every_test_row_and_repeats_itself_exactly()
    {
        var first = MslEvaluation.Run(Options(MslDetector.Forecaster));
        var second = MslEvaluation.Run(Options(MslDetector.Forecaster));

        Assert.That(first.Models, Is.EqualTo(new[] { "lstm-telemanom vmsl-T-9-s42" }));
        Assert.That(first.UnscoredRows, Is.Zero, "the train rows give the forecaster its context and the threshold its history");
        Assert.That(first.Training, Is.GreaterThan(TimeSpan.Zero));
        Assert.That(second.Channels[0].Rows.Scores, Is.EqualTo(first.Channels[0].Rows.Scores), "seeded, one LibTorch thread");
        Assert.That(second.Online, Is.EqualTo(first.Online));
    }

    [Test]
    public void A_saved_bundle_is_loaded_instead_of_retrained_and_scores_the_same()
    {
        var trained = MslEvaluation.Run(Options(MslDetector.Forecaster, _temp));
        var loaded = MslEvaluation.Run(Options(MslDetector.Forecaster, _temp));

        Assert.That(File.Exists(Path.Combine(_temp, "T-9", "bundle.json")), Is.True);
        Assert.That((trained.LoadedModels, loaded.LoadedModels), Is.EqualTo((0, 1)));
        Assert.That(loaded.Training, Is.EqualTo(TimeSpan.Zero));
        Assert.That(loaded.Channels[0].Rows.Scores, Is.EqualTo(trained.Channels[0].Rows.Scores));
    }

    [Test]
    public void The_likelihood_variant_scores_the_same_forecaster_through_the_production_ensemble()
    {
        MslEvaluation.Run(Options(MslDetector.Forecaster, _temp));
        var result = MslEvaluation.Run(Options(MslDetector.ForecasterLikelihood, _temp));

        Assert.That(result.Models, Is.EqualTo(new[] { "ensemble vmsl-T-9-s42" }));
        Assert.That(result.LoadedModels, Is.EqualTo(1));
    }
}
