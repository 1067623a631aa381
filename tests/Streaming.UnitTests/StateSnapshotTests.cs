using System.Globalization;
using System.Text;
using Streaming.Contracts;
using Streaming.Processing.Alerts;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Scoring.Detection;
using Streaming.Processing.Snapshots;
using Streaming.Processing.Windows;
using Streaming.Simulation;

namespace Streaming.UnitTests;

/// <summary>
/// Each part of a partition's state, written to a snapshot and read back into a fresh instance mid-stream, gives outputs
/// identical to the instance that kept running, for the same further input.
/// </summary>
public sealed class StateSnapshotTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);

    [Test]
    public void A_partition_processor_restored_mid_stream_gives_the_outputs_of_an_uninterrupted_one()
    {
        var settings = new ProcessorSettings
        {
            Windows = new WindowOptions { Size = TimeSpan.FromMinutes(1), Grace = TimeSpan.FromSeconds(20) },
            Baseline = new BaselineOptions { MinHistory = 5, HistoryWindows = 20 },
            Detection = new DetectionOptions { Likelihood = new LikelihoodOptions { LearningPeriod = 30 }, RangeSettledWindows = 30 },
        };
        var samples = Simulate(entities: 6, hours: 4, incidentsPerDay: 40);
        var clock = new FixedClock();
        var original = new PartitionProcessor(settings, clock);
        var half = samples.Count / 2;
        var ignored = new TranscriptOutput();
        Feed(original, samples.Take(half), ignored);

        var restored = new PartitionProcessor(settings, clock);
        RoundTrip(original, restored);
        var expected = new TranscriptOutput();
        var actual = new TranscriptOutput();
        Feed(original, samples.Skip(half), expected);
        Feed(restored, samples.Skip(half), actual);

        Assert.That(expected.Alerts, Is.GreaterThan(0), "the second half has alerts to compare");
        Assert.That(expected.Windows, Is.GreaterThan(100));
        Assert.That(actual.Lines, Is.EqualTo(expected.Lines));
    }

    [Test]
    public void Open_windows_with_early_results_are_restored_with_their_values_and_update_schedule()
    {
        var options = new WindowOptions
        {
            Size = TimeSpan.FromMinutes(5), Advance = TimeSpan.FromMinutes(1), Grace = TimeSpan.FromSeconds(30),
            EarlyResults = TimeSpan.FromSeconds(40), ExpectedSampleInterval = TimeSpan.FromSeconds(10),
        };
        var samples = Simulate(entities: 4, hours: 1, incidentsPerDay: 10);
        var original = new WindowAggregator(options);
        var half = samples.Count / 2 + 7;
        foreach (var sample in samples.Take(half))
            original.Add(sample);
        original.CollectUpdates([]);
        Assert.That(original.OpenWindowCount, Is.GreaterThan(4), "hopping windows are open when the snapshot is taken");

        var restored = new WindowAggregator(options);
        RoundTrip(original, restored);
        Assert.That(Continue(restored, samples.Skip(half)), Is.EqualTo(Continue(original, samples.Skip(half))));

        static List<string> Continue(WindowAggregator windows, IEnumerable<TelemetrySample> rest)
        {
            var lines = new List<string>();
            var results = new List<ClosedWindow>();
            foreach (var sample in rest)
            {
                lines.Add(windows.Add(sample).ToString());
                results.Clear();
                windows.CollectUpdates(results);
                windows.CollectClosed(results);
                lines.AddRange(results.Select(Describe));
            }
            return lines;
        }
    }

    [Test]
    public void A_forest_restored_from_a_snapshot_scores_further_points_as_the_original_does()
    {
        var random = new Random(3);
        var original = new RandomCutForest(dimensions: 3, trees: 12, sampleSize: 64, seed: 99);
        // Past the sample size, so trees have deleted points and recycled nodes through their free lists.
        for (var i = 0; i < 300; i++)
            original.ScoreAndInsert(Point(random, i));

        var restored = new RandomCutForest(dimensions: 3, trees: 12, sampleSize: 64, seed: 99);
        RoundTrip(original, restored);
        var expected = new List<double>();
        var actual = new List<double>();
        for (var i = 300; i < 700; i++)
        {
            var point = Point(random, i);
            expected.Add(original.ScoreAndInsert(point));
            actual.Add(restored.ScoreAndInsert(point));
        }

        Assert.That(actual, Is.EqualTo(expected));
        Assert.That(expected.Distinct().Count(), Is.GreaterThan(50), "the scores vary, so equal lists say something");

        static double[] Point(Random random, int i) => [Math.Sin(i / 7.0) + random.NextDouble() * 0.1, i % 13 == 0 ? 5 : random.NextDouble(), random.NextDouble()];
    }

    [Test]
    public void A_forest_restored_into_one_with_another_seed_continues_with_the_snapshot_cuts()
    {
        var random = new Random(8);
        var original = new RandomCutForest(2, 5, 32, seed: 1);
        for (var i = 0; i < 100; i++)
            original.ScoreAndInsert([random.NextDouble(), random.NextDouble()]);
        // The random generators' states travel in the snapshot: the seed a forest was built with no longer matters.
        var restored = new RandomCutForest(2, 5, 32, seed: 12345);
        RoundTrip(original, restored);
        for (var i = 0; i < 100; i++)
        {
            double[] point = [random.NextDouble(), random.NextDouble()];
            Assert.That(restored.ScoreAndInsert(point), Is.EqualTo(original.ScoreAndInsert(point)));
        }
    }

    [Test]
    public void A_seasonal_model_that_has_found_its_cycle_continues_identically_after_a_restore()
    {
        var options = new SeasonalOptions { MaxPeriod = 200, MinPeriod = 8 };
        var random = new Random(1);
        var original = new SeasonalModel(options, levelWindows: 30);
        for (var t = 0; t < 620; t++)
            original.Update(Cycle(t, random));
        Assert.That(original.Period, Is.EqualTo(48), "the cycle was found before the snapshot");

        var restored = new SeasonalModel(options, levelWindows: 30);
        RoundTrip(original, restored);
        Assert.That(restored.Period, Is.EqualTo(48));
        for (var t = 620; t < 1400; t++)
        {
            var value = Cycle(t, random) + (t is >= 1000 and < 1010 ? 40 : 0);
            Assert.That(restored.Update(value), Is.EqualTo(original.Update(value)), $"window {t}");
            Assert.That(restored.Period, Is.EqualTo(original.Period));
        }

        static double Cycle(int t, Random random) => (t % 48 < 16 ? 80 : 20) + random.NextDouble();
    }

    [Test]
    public void An_anomaly_likelihood_restored_while_its_history_grows_and_after_it_wrapped_continues_identically()
    {
        var options = new LikelihoodOptions { HistoryWindow = 200, LearningPeriod = 20, AveragingWindow = 3 };
        foreach (var cut in new[] { 70, 450 })
        {
            var random = new Random(cut);
            var original = new AnomalyLikelihood(options);
            for (var i = 0; i < cut; i++)
                original.Update(random.NextDouble());
            var restored = new AnomalyLikelihood(options);
            RoundTrip(original, restored);
            for (var i = 0; i < 500; i++)
            {
                var raw = i % 97 == 0 ? 3 : random.NextDouble();
                Assert.That(restored.Update(raw), Is.EqualTo(original.Update(raw)), $"cut {cut}, update {i}");
            }
        }
    }

    [Test]
    public void Online_detectors_with_forest_and_cycles_on_continue_identically_after_a_restore()
    {
        var detection = new DetectionOptions
        {
            Forest = new ForestOptions { Enabled = true, Trees = 4, SampleSize = 32, ShingleSize = 3 },
            Seasonal = new SeasonalOptions { MaxPeriod = 60, MinPeriod = 8 },
            Likelihood = new LikelihoodOptions { LearningPeriod = 20, HistoryWindow = 300 },
            RangeSettledWindows = 40,
        };
        var baseline = new BaselineOptions { MinHistory = 5, HistoryWindows = 20 };
        var windows = Windows(Simulate(entities: 3, hours: 6, incidentsPerDay: 30));
        var original = new OnlineWindowScorer(baseline, detection, topContributors: 3);
        var half = windows.Count / 2;
        foreach (var window in windows.Take(half))
            original.Score(window);

        var restored = new OnlineWindowScorer(baseline, detection, topContributors: 3);
        RoundTrip(original, restored);
        var expected = windows.Skip(half).Select(w => Describe(original.Score(w))).ToList();
        var actual = windows.Skip(half).Select(w => Describe(restored.Score(w))).ToList();

        Assert.That(actual, Is.EqualTo(expected));
        Assert.That(expected.Distinct().Count(), Is.GreaterThan(100));
    }

    [Test]
    public void The_baseline_scorer_and_the_alert_lifecycle_continue_identically_after_a_restore()
    {
        var settings = new ProcessorSettings
        {
            Windows = new WindowOptions { Size = TimeSpan.FromMinutes(1), Grace = TimeSpan.FromSeconds(20) },
            Baseline = new BaselineOptions { MinHistory = 5, HistoryWindows = 20, Threshold = 4 },
            ScorerFactory = () => new BaselineWindowScorer(new BaselineOptions { MinHistory = 5, HistoryWindows = 20, Threshold = 4 }, 3),
        };
        var windows = Windows(Simulate(entities: 4, hours: 3, incidentsPerDay: 40));
        var clock = new FixedClock();
        var original = new ScoringStage(settings, clock);
        var half = windows.Count / 2;
        foreach (var window in windows.Take(half))
            original.Score(window, new TranscriptOutput());
        var restored = new ScoringStage(settings, clock);
        RoundTrip(original, restored);
        var expected = new TranscriptOutput();
        var actual = new TranscriptOutput();
        foreach (var window in windows.Skip(half))
        {
            original.Score(window, expected);
            restored.Score(window, actual);
        }

        Assert.That(expected.Alerts, Is.GreaterThan(0));
        Assert.That(actual.Lines, Is.EqualTo(expected.Lines));
    }

    [Test]
    public void An_open_downtime_prediction_is_restored_and_resolves_as_the_original_does()
    {
        var clock = new FixedClock();
        var original = new DowntimeTracker(new PredictionOptions(), clock);
        var window = new ClosedWindow("pump-1", new WindowBounds(0, 60_000), 6, []);
        DowntimeOutlook Outlook(double p) => new(600, [new HorizonProbability(10, p / 2), new HorizonProbability(30, p)], "downtime", "1");
        WindowAssessment Assessment(double p) => new(window, 1, 5, "m", "1", [], [], Outlook(p));
        Assert.That(original.Observe(Assessment(0.9))?.Status, Is.EqualTo(AlertStatus.Open));
        original.Observe(Assessment(0.1));

        var restored = new DowntimeTracker(new PredictionOptions(), clock);
        RoundTrip(original, restored);
        var events = 0;
        foreach (var p in new[] { 0.1, 0.1, 0.95, 0.2, 0.1, 0.1, 0.1, 0.8 })
        {
            var assessment = Assessment(p);
            var expected = original.Observe(assessment);
            events += expected is null ? 0 : 1;
            Assert.That(restored.Observe(assessment), Is.EqualTo(expected));
        }
        Assert.That(events, Is.GreaterThanOrEqualTo(2), "the prediction resolved and another opened");
    }

    [Test]
    public void A_snapshot_read_with_other_settings_or_cut_short_is_refused()
    {
        var likelihood = new AnomalyLikelihood(new LikelihoodOptions { AveragingWindow = 3 });
        likelihood.Update(0.5);
        var bytes = Write(likelihood);

        Assert.Throws<SnapshotFormatException>(() => Read(new AnomalyLikelihood(new LikelihoodOptions { AveragingWindow = 5 }), bytes));
        Assert.Catch(() => Read(new AnomalyLikelihood(new LikelihoodOptions { AveragingWindow = 3 }), bytes[..(bytes.Length - 5)]));
        Assert.Throws<SnapshotFormatException>(() => Read(new SeasonalModel(new SeasonalOptions(), 30), bytes), "a section of another kind");
    }

    /// <summary>Writes <paramref name="original"/>, reads it into <paramref name="restored"/>, and checks the copy writes the same bytes.</summary>
    private static void RoundTrip(IStateSnapshot original, IStateSnapshot restored)
    {
        var bytes = Write(original);
        Read(restored, bytes);
        Assert.That(Write(restored), Is.EqualTo(bytes), "the restored state writes the same snapshot");
    }

    private static byte[] Write(IStateSnapshot state)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            state.WriteState(writer);
        return stream.ToArray();
    }

    private static void Read(IStateSnapshot state, byte[] bytes)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8);
        state.ReadState(reader);
        Assert.That(reader.BaseStream.Position, Is.EqualTo(bytes.Length), "the whole snapshot was read");
    }

    private static List<TelemetrySample> Simulate(int entities, int hours, double incidentsPerDay)
    {
        var simulator = new FleetSimulator(new SimulatorOptions
        {
            Entities = entities, Seed = 11, Start = Start, IncidentsPerEntityDay = incidentsPerDay, WarmUp = TimeSpan.FromMinutes(20),
        });
        var samples = new List<TelemetrySample>();
        while (simulator.Now < Start.AddHours(hours))
            simulator.NextTick(samples);
        return samples;
    }

    private static List<ClosedWindow> Windows(List<TelemetrySample> samples)
    {
        var aggregator = new WindowAggregator(new WindowOptions { Size = TimeSpan.FromMinutes(1), Grace = TimeSpan.FromSeconds(20) });
        var windows = new List<ClosedWindow>();
        foreach (var sample in samples)
        {
            aggregator.Add(sample);
            aggregator.CollectClosed(windows);
        }
        return windows;
    }

    private static void Feed(PartitionProcessor processor, IEnumerable<TelemetrySample> samples, IProcessorOutput output)
    {
        var n = 0;
        foreach (var sample in samples)
        {
            processor.Process(sample, output);
            // Closed windows are emitted every so often, as the worker does after each batch.
            if (++n % 50 == 0)
                processor.EmitClosed(output);
        }
        processor.EmitClosed(output);
    }

    private static string Describe(ClosedWindow window) =>
        $"{window.Entity} {window.Bounds} n={window.SampleCount} final={window.IsFinal} " + string.Join("; ", window.Features.Select(f => f.ToString()));

    private static string Describe(ScoredWindow? scored) => scored is null
        ? "warming up"
        : string.Create(CultureInfo.InvariantCulture, $"{scored.Window.Entity} {scored.Window.Bounds} {scored.Score:R} ") +
          string.Join("; ", scored.Metrics.Select(m => m.ToString()));

    private sealed class FixedClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => Start;
    }

    /// <summary>Every output as a line, in order.</summary>
    private sealed class TranscriptOutput : IProcessorOutput
    {
        public List<string> Lines { get; } = [];

        public int Alerts { get; private set; }

        public int Windows { get; private set; }

        public void Rejected(Rejection rejection) => Lines.Add($"rejected {rejection.Reason} {rejection.Detail}");

        public void WindowClosed(ClosedWindow window)
        {
            Windows++;
            Lines.Add("window " + Describe(window));
        }

        public void Scored(WindowAssessment a) => Lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"score {a.Window.Entity} {a.Window.Bounds} {a.Score:R} {a.Threshold:R} {a.Model} {string.Join(",", a.Contributors)} {string.Join(",", a.Members)}"));

        public void Alert(AnomalyEvent alert)
        {
            Alerts++;
            Lines.Add($"alert {alert with { Contributors = [] }} {string.Join(",", alert.Contributors)}");
        }

        public void Prediction(DowntimePredictionEvent prediction) => Lines.Add($"prediction {prediction}");
    }
}
