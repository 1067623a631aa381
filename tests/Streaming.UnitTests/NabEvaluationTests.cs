using System.Globalization;
using Streaming.Evaluation.Nab;

namespace Streaming.UnitTests;

public sealed class NabEvaluationTests
{
    private static readonly string[] Subset =
    [
        "artificialNoAnomaly/art_noisy.csv",
        "artificialWithAnomaly/art_daily_jumpsup.csv",
        "realKnownCause/rogue_agent_key_hold.csv",
    ];

    private string _output = "";

    [SetUp]
    public void CreateOutput() => _output = Directory.CreateTempSubdirectory("nab-eval-").FullName;

    [TearDown]
    public void DeleteOutput() => Directory.Delete(_output, recursive: true);

    [Test]
    public void The_production_detectors_on_real_NAB_files_writes_result_files_of_the_NAB_shape_and_a_finite_deterministic_score()
    {
        var files = NabCorpus.Load(Datasets.NabData, Datasets.NabWindows, Subset);
        var profiles = NabCorpus.ReadProfiles(Datasets.NabProfiles);
        Assert.That(files, Has.Count.EqualTo(3));
        Assert.That(profiles.Select(p => p.Name), Is.EquivalentTo(new[] { "standard", "reward_low_FP_rate", "reward_low_FN_rate" }));

        var first = NabBenchmark.Run(PipelineNabDetector.Production(PipelineSignal.EveryWindow), files, profiles, Path.Combine(_output, "first"));
        var second = NabBenchmark.Run(PipelineNabDetector.Production(PipelineSignal.EveryWindow), files, profiles, Path.Combine(_output, "second"));

        Assert.That(first.ResultFiles, Has.Count.EqualTo(3));
        foreach (var file in files)
        {
            var path = NabResultWriter.PathFor(Path.Combine(_output, "first"), "streaming_online", file);
            Assert.That(path, Does.EndWith(Path.Combine("streaming_online", file.Category, $"streaming_online_{file.Name}.csv")));
            var lines = File.ReadAllLines(path);
            Assert.That(lines[0], Is.EqualTo("timestamp,value,anomaly_score,label"));
            Assert.That(lines, Has.Length.EqualTo(file.TimestampsMs.Length + 1));
            var columns = lines.Skip(1).Select(l => l.Split(',')).ToArray();
            Assert.That(columns.Select(c => c.Length), Is.All.EqualTo(4));
            Assert.That(columns.Select(c => double.Parse(c[2], CultureInfo.InvariantCulture)), Is.All.InRange(0.0, 1.0));
            Assert.That(columns.Count(c => c[3] == "1"), Is.EqualTo(file.RowLabels().Sum()));
            Assert.That(columns[0][0], Is.EqualTo(File.ReadLines(Path.Combine(Datasets.NabData, file.RelativePath)).ElementAt(1).Split(',')[0]));
            Assert.That(File.ReadAllBytes(path), Is.EqualTo(File.ReadAllBytes(NabResultWriter.PathFor(Path.Combine(_output, "second"), "streaming_online", file))));
        }
        Assert.That(files.Sum(f => f.Windows.Count), Is.EqualTo(3), "art_daily_jumpsup has one window, rogue_agent_key_hold two");
        foreach (var (a, b) in first.Profiles.Zip(second.Profiles))
        {
            Assert.That(double.IsFinite(a.Score), Is.True, a.Profile);
            Assert.That(a.Score, Is.InRange(-1000.0, 100.0), a.Profile);
            Assert.That(b.Score, Is.EqualTo(a.Score), a.Profile);
            Assert.That(b.Threshold, Is.EqualTo(a.Threshold), a.Profile);
            Assert.That(a.Windows, Is.EqualTo(3));
        }
    }

    [Test]
    public void The_production_detectors_flag_a_spike_at_its_own_row_and_nothing_before_it()
    {
        var random = new Random(7);
        var timestamps = Enumerable.Range(0, 400).Select(i => 1_400_000_000_000L + i * 300_000L).ToArray();
        var values = timestamps.Select(_ => 10 + random.NextDouble()).ToArray();
        values[300] = 40;
        var file = new NabFile("synthetic/spike.csv", timestamps, values, []);

        var scores = PipelineNabDetector.Production(PipelineSignal.EveryWindow).Detect(file);

        Assert.That(scores[300], Is.GreaterThan(0.5), "a 30-unit spike on unit noise is far beyond the production threshold");
        Assert.That(scores.Take(300), Is.All.LessThan(0.5), "unit noise alone never reaches the alert threshold");
        Assert.That(scores.Take(300).Max(), Is.LessThan(scores[300]));
        Assert.That(scores.Take(12), Is.All.EqualTo(0.0), "no score while the baseline warms up");
    }

    [Test]
    public void The_alert_signal_scores_only_the_row_that_opened_the_alert()
    {
        var random = new Random(7);
        var timestamps = Enumerable.Range(0, 400).Select(i => 1_400_000_000_000L + i * 300_000L).ToArray();
        var values = timestamps.Select(_ => 10 + random.NextDouble()).ToArray();
        for (var i = 300; i < 310; i++)
            values[i] = 40; // a sustained shift: many anomalous windows, one alert

        var detector = PipelineNabDetector.Production(PipelineSignal.AlertOpenings);
        var scores = detector.Detect(new NabFile("synthetic/shift.csv", timestamps, values, []));

        Assert.That(detector.Name, Is.EqualTo("streaming_alerts"));
        Assert.That(scores.Select((s, i) => (s, i)).Where(x => x.s > 0).Select(x => x.i), Is.EqualTo(new[] { 300 }));
    }

    [Test]
    public void The_anomaly_score_mapping_is_monotone_and_half_at_the_threshold()
    {
        Assert.That(PipelineNabDetector.ToAnomalyScore(0, 5), Is.EqualTo(0));
        Assert.That(PipelineNabDetector.ToAnomalyScore(5, 5), Is.EqualTo(0.5));
        Assert.That(PipelineNabDetector.ToAnomalyScore(60, 5), Is.GreaterThan(PipelineNabDetector.ToAnomalyScore(12, 5)).And.LessThan(1));
    }
}
