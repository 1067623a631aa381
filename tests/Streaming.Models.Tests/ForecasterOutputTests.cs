using Streaming.Models.Scoring;
using Streaming.Models.Serialization;
using Streaming.Models.Training;

namespace Streaming.Models.Tests;

public sealed class ForecasterOutputTests
{
    [Test]
    public void A_forecaster_of_the_first_feature_only_judges_that_feature_and_scores_the_same_after_a_save_and_load()
    {
        // A value that follows a one-hot command with a lag of two rows, plus a second, unrelated command column.
        const int Rows = 800;
        var data = new float[Rows * 3];
        for (var r = 0; r < Rows; r++)
        {
            var command = r / 40 % 2 == 0 ? 1f : 0f;
            data[(r * 3) + 1] = command;
            data[(r * 3) + 2] = r % 7 == 0 ? 1f : 0f;
            data[r * 3] = r >= 2 ? 0.8f * data[((r - 2) * 3) + 1] : 0;
        }

        var identity = new NormalizationStatistics([0, 0, 0], [1, 1, 1]);
        var trained = ModelTraining.TrainForecaster(data, ["value.mean", "cmd_01.mean", "cmd_02.mean"], 8, 1, 10,
            new TrainingOptions { Epochs = 2, Seed = 5 }, outputSize: 1, statistics: identity);

        var manifest = trained.Artifact.Manifest;
        Assert.That(manifest.Architecture.OutputSize, Is.EqualTo(1));
        Assert.That(manifest.ErrorScale, Has.Length.EqualTo(1));
        Assert.That(manifest.Normalization.Std, Is.EqualTo(new[] { 1f, 1f, 1f }), "the given scaling, not the measured one");
        var window = data.AsSpan(300, 11 * 3).ToArray();
        var contribution = new float[3];
        var score = trained.Model.Score(window, contribution);
        Assert.That(contribution, Is.EqualTo(new[] { 1f, 0f, 0f }), "input-only features take no share");
        Assert.That(trained.Model.LastForecast.Length, Is.EqualTo(1));

        var directory = Path.Combine(Path.GetTempPath(), "streaming-output-" + Guid.NewGuid().ToString("N"));
        try
        {
            trained.Artifact.Save(directory);
            var loaded = LstmForecaster.FromArtifact(ModelArtifact.Load(directory));
            Assert.That(loaded.OutputSize, Is.EqualTo(1));
            Assert.That(loaded.Score(window, new float[3]), Is.EqualTo(score));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public void A_forecaster_cannot_predict_more_features_than_it_reads()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new Networks.ForecasterNetwork(3, 4, 1, 5, outputSize: 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new Networks.ForecasterNetwork(3, 4, 1, 5, outputSize: 0));
    }
}
