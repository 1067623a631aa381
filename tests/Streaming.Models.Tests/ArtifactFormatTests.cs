using Streaming.Models.Networks;
using Streaming.Models.Scoring;
using Streaming.Models.Serialization;
using Streaming.Models.Training;

namespace Streaming.Models.Tests;

public sealed class ArtifactFormatTests
{
    private static string TempDirectory() => Path.Combine(Path.GetTempPath(), "streaming-format-" + Guid.NewGuid().ToString("N"));

    /// <summary>Rewrites a saved manifest as the hand-written engine (format 1, version 1.0.0) wrote it: no formatVersion.</summary>
    private static void MakeFormatOne(string directory)
    {
        var path = Path.Combine(directory, ModelArtifact.ManifestFile);
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.That(node.Remove("formatVersion"), Is.True, "a format 2 manifest names its format");
        node["version"] = "1.0.0";
        File.WriteAllText(path, node.ToJsonString());
    }

    [Test]
    public void A_format_one_forecaster_loads_and_scores_like_the_model_it_was_saved_from()
    {
        var data = Enumerable.Range(0, 900).Select(i => (float)Math.Sin(i * 0.1)).ToArray();
        var trained = ModelTraining.TrainForecaster(data, ["a", "b", "c"], 8, 1, 6, new TrainingOptions { Epochs = 1, Seed = 2 });
        var directory = TempDirectory();
        try
        {
            trained.Artifact.Save(directory);
            MakeFormatOne(directory);
            var loaded = ModelLoader.LoadScorer(directory);
            Assert.That(((LstmForecaster)loaded).Manifest.FormatVersion, Is.EqualTo(1));
            var window = data.AsSpan(30, 21).ToArray();
            float[] a = new float[3], b = new float[3];
            Assert.That(loaded.Score(window, a), Is.EqualTo(trained.Model.Score(window, b)));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public void A_format_one_downtime_predictor_fails_with_a_message_naming_the_version_to_retrain()
    {
        var manifest = TestManifests.Downtime();
        var network = new DowntimeNetwork(manifest.Architecture.DowntimeShape());
        var directory = TempDirectory();
        try
        {
            ModelArtifact.FromNetwork(manifest, network).Save(directory);
            Assert.That(ModelLoader.LoadDowntimePredictor(directory).Horizons, Is.EqualTo(new[] { 5.0, 15, 30 }));
            MakeFormatOne(directory);
            var error = Assert.Throws<InvalidDataException>(() => ModelLoader.LoadDowntimePredictor(directory))!;
            Assert.That(error.Message, Does.Contain("format 1").And.Contain("version 1.0.0").And.Contain(ModelTraining.Version).And.Contain("streaming train"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public void Batched_forecaster_scores_equal_one_window_at_a_time()
    {
        var random = new Random(3);
        var scorer = new LstmForecaster(TestManifests.Forecaster(4, 8, 10), new ForecasterNetwork(4, 8, 2, 9));
        var windows = TestSupport.RandomArray(random, 7 * 40).Select(v => (float)v).ToArray();
        var scores = new float[7];
        var contributions = new float[28];
        scorer.ScoreBatch(windows, scores, contributions);
        var one = new float[4];
        for (var b = 0; b < 7; b++)
        {
            var score = scorer.Score(windows.AsSpan(b * 40, 40), one);
            Assert.That(scores[b], Is.EqualTo(score).Within(1e-5 * score), $"window {b}");
            TestSupport.AssertClose(contributions.AsSpan(b * 4, 4), one, $"contributions {b}", 1e-4);
        }
    }
}
