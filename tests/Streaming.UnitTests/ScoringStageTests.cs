using System.Text.Json;
using Streaming.Contracts;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;
using Streaming.Simulation;

namespace Streaming.UnitTests;

/// <summary>
/// The scorer role's contract with the processor: a closed window survives the features topic (ToEvent → JSON → FromEvent)
/// unchanged, and scoring those decoded windows separately gives exactly the events inline scoring gives.
/// </summary>
public sealed class ScoringStageTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);

    private static ProcessorSettings Settings(bool inline) => new()
    {
        Windows = new WindowOptions { Size = TimeSpan.FromMinutes(1), Grace = TimeSpan.FromSeconds(30), ExpectedSampleInterval = TimeSpan.FromSeconds(10) },
        Baseline = new BaselineOptions { MinHistory = 5, HistoryWindows = 20 },
        ScoreInline = inline,
    };

    private static List<TelemetrySample> Simulate()
    {
        var simulator = new FleetSimulator(new SimulatorOptions
        {
            Entities = 4, Seed = 11, Start = Start, IncidentsPerEntityDay = 60, WarmUp = TimeSpan.FromMinutes(10),
        });
        var samples = new List<TelemetrySample>();
        while (simulator.Now < Start.AddHours(2))
            simulator.NextTick(samples);
        return samples;
    }

    private static FeatureVectorEvent ThroughTheTopic(ClosedWindow window)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(window.ToEvent(), ContractsJsonContext.Default.FeatureVectorEvent);
        return JsonSerializer.Deserialize(bytes, ContractsJsonContext.Default.FeatureVectorEvent)!;
    }

    [Test]
    public void A_closed_window_survives_the_features_topic_round_trip_unchanged()
    {
        var processor = new PartitionProcessor(Settings(inline: false), TimeProvider.System);
        var output = new CollectingOutput();
        foreach (var sample in Simulate())
            processor.Process(sample, output);
        processor.AdvanceStreamTime(long.MaxValue / 2);
        processor.EmitClosed(output);
        Assert.That(output.Windows, Has.Count.GreaterThan(400), "a few hundred real windows to compare");
        // And the edge cases a simulator does not produce: undefined (null) optional features, extreme and negative values.
        var edges = new ClosedWindow("db-1", new WindowBounds(Start.ToUnixTimeMilliseconds(), Start.ToUnixTimeMilliseconds() + 60_000), 1,
        [
            new MetricFeatures("disk_io", 1, 1e-300, 0, -5.5, 1e300, 0.1 + 0.2, -0.0, double.Epsilon, 1 / 3.0, null, null, null, null),
            new MetricFeatures("error_rate", 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1.25, 0.5),
        ]);

        foreach (var window in output.Windows.Append(edges))
        {
            var back = ClosedWindow.FromEvent(ThroughTheTopic(window));
            Assert.That((back.Entity, back.Bounds, back.SampleCount), Is.EqualTo((window.Entity, window.Bounds, window.SampleCount)));
            Assert.That(back.Features, Is.EqualTo(window.Features), $"every feature of {window.Entity} {window.Bounds.Start:HH:mm}, bit for bit");
        }
    }

    [Test]
    public void Scoring_windows_read_back_from_the_features_topic_gives_the_inline_scores_alerts_and_predictions()
    {
        var samples = Simulate();
        var inline = new PartitionProcessor(Settings(inline: true), TimeProvider.System);
        var windowsOnly = new PartitionProcessor(Settings(inline: false), TimeProvider.System);
        var stage = new ScoringStage(Settings(inline: false), TimeProvider.System);
        var inlineOut = new CollectingOutput();
        var windowsOut = new CollectingOutput();
        var separateOut = new CollectingOutput();
        foreach (var sample in samples)
        {
            inline.Process(sample, inlineOut);
            windowsOnly.Process(sample, windowsOut);
        }
        foreach (var processor in new[] { inline, windowsOnly })
        {
            processor.AdvanceStreamTime(long.MaxValue / 2);
        }
        inline.EmitClosed(inlineOut);
        windowsOnly.EmitClosed(windowsOut);
        foreach (var window in windowsOut.Windows)
            stage.Score(ClosedWindow.FromEvent(ThroughTheTopic(window)), separateOut);

        Assert.That(windowsOut.Assessments, Is.Empty, "a processor that does not score inline emits windows only");
        Assert.That(inlineOut.Alerts, Is.Not.Empty, "the inline run has alerts to compare");
        Assert.Multiple(() =>
        {
            Assert.That(separateOut.Assessments.Select(Describe), Is.EqualTo(inlineOut.Assessments.Select(Describe)), "same scores, same order");
            Assert.That(separateOut.Alerts.Select(a => a with { DetectedAt = default }),
                Is.EqualTo(inlineOut.Alerts.Select(a => a with { DetectedAt = default })).Using<AnomalyEvent>(SameAlert), "same alert events");
            Assert.That(separateOut.Predictions.Select(p => (p.EventId, p.Status, p.WindowEnd)),
                Is.EqualTo(inlineOut.Predictions.Select(p => (p.EventId, p.Status, p.WindowEnd))), "same downtime predictions");
        });
    }

    private static string Describe(WindowAssessment a) =>
        $"{a.Window.Entity} {a.Window.Bounds.StartMs} {a.Model} {a.Score:R} {a.Threshold:R} {string.Join(",", a.Contributors.Select(c => $"{c.Metric}:{c.Share:R}"))}";

    private static bool SameAlert(AnomalyEvent x, AnomalyEvent y) =>
        JsonSerializer.Serialize(x, ContractsJsonContext.Default.AnomalyEvent) == JsonSerializer.Serialize(y, ContractsJsonContext.Default.AnomalyEvent);

    private sealed class CollectingOutput : IProcessorOutput
    {
        public List<ClosedWindow> Windows { get; } = [];
        public List<WindowAssessment> Assessments { get; } = [];
        public List<AnomalyEvent> Alerts { get; } = [];
        public List<DowntimePredictionEvent> Predictions { get; } = [];

        public void Rejected(Rejection rejection) => throw new AssertionException($"no simulated sample is rejected: {rejection.Detail}");

        public void WindowClosed(ClosedWindow window) => Windows.Add(window);

        public void Scored(WindowAssessment assessment) => Assessments.Add(assessment);

        public void Alert(AnomalyEvent alert) => Alerts.Add(alert);

        public void Prediction(DowntimePredictionEvent prediction) => Predictions.Add(prediction);
    }
}
