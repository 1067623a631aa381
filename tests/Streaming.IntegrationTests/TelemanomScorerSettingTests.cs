using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Models.Pipeline;
using Streaming.Models.Training;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;

// Outside Streaming.IntegrationTests on purpose: these tests need neither the broker nor the database, so TestStack (that
// namespace's set-up fixture) does not start them for them.
namespace Streaming.OfflineTests;

/// <summary>
/// <c>Models:Scorer</c>: validated at start-up, and with <c>Telemanom</c> the partition processor that <c>run</c> builds
/// (<see cref="StreamingSettings.ToProcessorSettings(ModelSetProvider)"/>) scores a covered entity by telemanom over its
/// bundle, explained alerts included, and the others by the online detectors.
/// </summary>
public sealed class TelemanomScorerSettingTests
{
    [Test]
    public void Models_Scorer_with_a_value_that_names_no_scorer_is_refused_at_start_up_naming_the_setting()
    {
        var unbound = Assert.Throws<Streaming.Kafka.OptionsException>(() => StreamingSettings.Load([new("Models:Scorer", "Forest")]))!;
        Assert.That(unbound.Message, Does.Contain("Models:Scorer").And.Contain("Forest"), unbound.Message);

        var settings = new StreamingSettings();
        settings.Models.Scorer = (BundleScorer)7;
        var undefined = Assert.Throws<Streaming.Kafka.OptionsException>(() => settings.Validated())!;
        Assert.That(undefined.Setting, Is.EqualTo("Models:Scorer"));
        Assert.That(undefined.Message, Does.Contain("must be Ensemble or Telemanom"));

        Assert.That(StreamingSettings.Load([new("Models:Scorer", "Telemanom")]).Models.Scorer, Is.EqualTo(BundleScorer.Telemanom), "bound by name");
    }

    [Test]
    public void With_Models_Scorer_Telemanom_the_processor_alerts_on_a_covered_entity_with_the_forecast_and_scores_the_others_online()
    {
        string[] features = ["cpu.mean", "memory.mean"];
        var random = new Random(3);
        var data = new float[1500 * 2];
        for (var i = 0; i < 1500; i++)
        {
            data[2 * i] = (float)(50 + (5 * Gaussian(random)));
            data[(2 * i) + 1] = (float)(40 + (3 * Gaussian(random)));
        }
        var trained = ModelTraining.TrainForecaster(data, features, 4, 1, 8, new TrainingOptions { Epochs = 1, Seed = 1 });
        var bundle = new ModelBundle(new BundleInfo("tm-host-1", DateTimeOffset.UnixEpoch, "test", features, ["lstm-forecaster"],
            new Dictionary<string, double>(), "host-1"), trained.Artifact, null, null);
        var models = new ModelSetProvider();
        models.SetEntityBundles(new Dictionary<string, ModelBundle>(StringComparer.Ordinal) { ["host-1"] = bundle });
        var settings = StreamingSettings.Load(
        [
            new("Models:Scorer", "Telemanom"), new("Telemanom:WindowSize", "200"), new("Telemanom:EvaluateEvery", "10"),
            new("Telemanom:ErrorBuffer", "5"), new("Telemanom:MinimumErrors", "40"),
        ]);
        var processor = new PartitionProcessor(settings.ToProcessorSettings(models).Validated(), TimeProvider.System);
        var output = new CollectingOutput();
        var start = DateTimeOffset.UtcNow.AddDays(-1).ToUnixTimeMilliseconds() / 60_000 * 60_000;
        for (var minute = 0; minute < 400; minute++)
        {
            var spike = minute is >= 300 and < 304;
            foreach (var entity in new[] { "host-1", "host-2" })
            {
                var cpu = entity == "host-1" && spike ? 95 : 50 + (5 * Gaussian(random));
                processor.Process(new TelemetrySample(entity, start + (minute * 60_000L),
                    [new MetricValue("cpu", cpu), new MetricValue("memory", 40 + (3 * Gaussian(random)))]), output);
            }
        }
        processor.AdvanceStreamTime(start + (500 * 60_000L));
        processor.EmitClosed(output);

        var byEntity = output.Assessments.GroupBy(a => a.Window.Entity).ToDictionary(g => g.Key, g => g.Select(a => (a.Model, a.ModelVersion)).Distinct().ToArray());
        Assert.That(byEntity["host-1"], Is.EqualTo(new[] { (TelemanomWindowScorer.ModelName, "tm-host-1") }));
        Assert.That(byEntity["host-2"].Select(m => m.Model), Is.EqualTo(new[] { Processing.Scoring.Detection.OnlineWindowScorer.ModelName }));
        var alert = output.Alerts.FirstOrDefault(a => a.Entity == "host-1" && a.Model == TelemanomWindowScorer.ModelName);
        Assert.That(alert, Is.Not.Null, "the spike raises an alert");
        Assert.That(alert!.WindowStart.ToUnixTimeMilliseconds(), Is.InRange(start + (300 * 60_000L), start + (303 * 60_000L)));
        Assert.That(alert.Contributors[0].Metric, Is.EqualTo("cpu"));
        Assert.That(alert.Contributors[0].Actual, Is.EqualTo(95), "what was seen");
        Assert.That(alert.Contributors[0].Expected, Is.InRange(30, 70), "what the forecaster expected, on the metric's scale");
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private sealed class CollectingOutput : IProcessorOutput
    {
        public List<WindowAssessment> Assessments { get; } = [];
        public List<AnomalyEvent> Alerts { get; } = [];

        public void Rejected(Rejection rejection) => throw new AssertionException($"no sample is rejected: {rejection.Detail}");

        public void WindowClosed(ClosedWindow window)
        {
        }

        public void Scored(WindowAssessment assessment) => Assessments.Add(assessment);

        public void Alert(AnomalyEvent alert) => Alerts.Add(alert);

        public void Prediction(DowntimePredictionEvent prediction)
        {
        }
    }
}
