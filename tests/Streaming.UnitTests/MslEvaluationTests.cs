using Streaming.Evaluation.Msl;
using Streaming.Processing.Scoring;

namespace Streaming.UnitTests;

public sealed class MslEvaluationTests
{
    private static readonly string[] Subset = ["T-9", "S-2", "C-2"];

    private string _temp = "";

    [SetUp]
    public void CreateTemp() => _temp = Directory.CreateTempSubdirectory("msl-eval-").FullName;

    [TearDown]
    public void DeleteTemp() => Directory.Delete(_temp, recursive: true);

    private static MslEvaluationOptions Options(Func<IWindowScorer>? scorer = null) =>
        new() { DataDirectory = Datasets.Msl, Channels = Subset, ScorerFactory = scorer };

    [Test]
    public void Eval_msl_on_real_channels_is_well_formed_deterministic_and_pools_the_sums_of_its_channels()
    {
        var first = MslEvaluation.Run(Options());
        var second = MslEvaluation.Run(Options());

        Assert.That(first.Channels.Select(c => c.Channel), Is.EqualTo(new[] { "C-2", "S-2", "T-9" }), "ordinal order, whatever the scheduling");
        Assert.That(first.Models, Is.Not.Empty);
        Assert.That(first.Rejections, Is.Empty, "one row per window at distinct times: nothing is late or repeated");
        foreach (var c in first.Channels)
        {
            var test = NpyReader.Read(Path.Combine(Datasets.Msl, "test", c.Channel + ".npy"));
            var train = NpyReader.Read(Path.Combine(Datasets.Msl, "train", c.Channel + ".npy"));
            Assert.That((c.TestRows, c.TrainRows), Is.EqualTo((test.Rows, train.Rows)), c.Channel);
            Assert.That(c.Rows.Scores, Has.Length.EqualTo(test.Rows));
            var o = c.Online;
            Assert.That(o.TruePositives + o.FalsePositives + o.FalseNegatives + o.TrueNegatives, Is.EqualTo(test.Rows), c.Channel);
            Assert.That(o.TruePositives + o.FalseNegatives, Is.EqualTo(c.Sequences.Sum(s => s.Length)), c.Channel);
            Assert.That(o.TruePositives + o.FalsePositives, Is.EqualTo(c.Rows.Online.Count(x => x)), c.Channel);
            Assert.That(c.DetectedSequences, Is.InRange(0, c.Sequences.Count));
            Assert.That(c.DetectedSequences > 0, Is.EqualTo(o.TruePositives > 0), "a detected sequence has a true-positive row and back");
            Assert.That(c.Rows.Scores.All(double.IsFinite), Is.True);
            for (var i = 0; i < c.TestRows; i++)
            {
                if (!c.Rows.Scored[i])
                    Assert.That((c.Rows.Scores[i], c.Rows.Online[i]), Is.EqualTo((0.0, false)), $"{c.Channel} unscored row {i}");
            }
            Assert.That(c.Oracle.Counts.F1, Is.InRange(0.0, 1.0));
        }
        Assert.That(first.TestRows, Is.EqualTo(first.Channels.Sum(c => c.TestRows)));
        Assert.That(first.Online.TruePositives, Is.EqualTo(first.Channels.Sum(c => c.Online.TruePositives)));
        Assert.That(first.Online.FalsePositives, Is.EqualTo(first.Channels.Sum(c => c.Online.FalsePositives)));
        Assert.That(first.UnscoredRows, Is.EqualTo(first.Channels.Sum(c => c.Rows.UnscoredRows)));
        Assert.That(first.Sequences, Is.EqualTo(5), "T-9 two, S-2 one, C-2 two");
        Assert.That(first.EventRecall, Is.EqualTo((double)first.DetectedSequences / 5));
        Assert.That(first.FalseAlarmsPerThousandRows, Is.EqualTo(1000.0 * first.Online.FalsePositives / first.TestRows));
        foreach (var (a, b) in first.Channels.Zip(second.Channels))
        {
            Assert.That(b.Rows.Scores, Is.EqualTo(a.Rows.Scores), a.Channel);
            Assert.That(b.Rows.Online, Is.EqualTo(a.Rows.Online), a.Channel);
        }
        Assert.That(second.Oracle, Is.EqualTo(first.Oracle));
    }

    [Test]
    public void With_the_robust_baseline_the_online_decision_is_one_threshold_the_oracle_also_sweeps()
    {
        var options = new BaselineOptions();
        var result = MslEvaluation.Run(Options(() => new BaselineWindowScorer(options, 3)));

        foreach (var c in result.Channels)
        {
            Assert.That(c.Rows.Online, Is.EqualTo(c.Rows.Scores.Select(s => s >= options.Threshold).ToArray()), c.Channel);
            Assert.That(c.Oracle.Counts.F1, Is.GreaterThanOrEqualTo(c.Online.F1), c.Channel);
        }
        Assert.That(result.Oracle.Counts.F1, Is.GreaterThanOrEqualTo(result.Online.F1));
        Assert.That(result.Models, Is.EqualTo(new[] { "robust-baseline v1" }));
    }

    [Test]
    public void Test_rows_before_the_detector_has_enough_history_are_unscored_counted_and_score_zero()
    {
        // T-9 has 439 train rows; a baseline that needs 1,024 rows of history first scores test row 1024 - 439 = 585.
        var baseline = new BaselineOptions { HistoryWindows = 1024, MinHistory = 1024 };
        var result = MslEvaluation.Run(new MslEvaluationOptions
        {
            DataDirectory = Datasets.Msl, Channels = ["T-9"], ScorerFactory = () => new BaselineWindowScorer(baseline, 3),
        });

        var t9 = result.Channels.Single();
        Assert.That(t9.TrainRows, Is.EqualTo(439));
        Assert.That(result.UnscoredRows, Is.EqualTo(585));
        Assert.That(t9.Rows.Scored.Take(585), Is.All.False);
        Assert.That(t9.Rows.Scored.Skip(585), Is.All.True);
        Assert.That(t9.Rows.Scores.Take(585), Is.All.EqualTo(0.0));
        Assert.That(t9.Rows.Online.Take(585), Is.All.False);
    }

    [Test]
    public void Passing_the_commands_adds_54_metrics_per_row_and_changes_what_the_detector_sees()
    {
        var values = MslEvaluation.Run(Options() with { Channels = ["T-9"] });
        var withCommands = MslEvaluation.Run(Options() with { Channels = ["T-9"], IncludeCommands = true });

        Assert.That(MslReplay.CommandMetric(1), Is.EqualTo("cmd_01"));
        Assert.That(MslReplay.CommandMetric(54), Is.EqualTo("cmd_54"));
        Assert.That(withCommands.Channels[0].Rows.Scores, Is.Not.EqualTo(values.Channels[0].Rows.Scores));
    }

    [Test]
    public void The_labels_file_is_found_inside_the_data_directory_or_one_level_up()
    {
        var data = CopyChannel("inside", "T-9");
        File.Copy(Path.Combine(Datasets.Msl, "labeled_anomalies.csv"), Path.Combine(data, "labeled_anomalies.csv"));
        Assert.That(MslCorpus.LocateLabels(data, null), Is.EqualTo(Path.Combine(data, "labeled_anomalies.csv")));

        Assert.That(MslCorpus.LocateLabels(Path.Combine(Datasets.Msl), null), Is.EqualTo(Path.Combine(Datasets.Msl, "labeled_anomalies.csv")));
        var nested = Path.Combine(Datasets.Msl, "test");
        Assert.That(MslCorpus.LocateLabels(nested, null), Is.EqualTo(Path.Combine(Datasets.Msl, "labeled_anomalies.csv")), "one level up");
        Assert.That(() => MslCorpus.LocateLabels(CopyChannel("none", "T-9"), null), Throws.TypeOf<FileNotFoundException>().With.Message.Contains("--labels"));
    }

    [Test]
    public void Without_a_spacecraft_every_test_file_is_used_and_with_one_every_label_row_of_it_must_have_its_files()
    {
        var data = CopyChannel("layout", "T-9");
        var labels = TelemanomLabels.Parse(
            ["chan_id,spacecraft,anomaly_sequences,class,num_values", "T-9,MSL,\"[[780, 810]]\",[point],1096", "A-1,SMAP,\"[[1, 2]]\",[point],100"], "labels.csv");

        var all = MslCorpus.Plan(data, "labels.csv", null, labels);
        Assert.That(all.Channels, Is.EqualTo(new[] { "T-9" }));
        Assert.That(all.LabelRowsWithoutTestFile, Is.EqualTo(1));
        Assert.That(MslCorpus.Plan(data, "labels.csv", "msl", labels).Channels, Is.EqualTo(new[] { "T-9" }));
        Assert.That(() => MslCorpus.Plan(data, "labels.csv", "SMAP", labels), Throws.TypeOf<FileNotFoundException>().With.Message.Contains("A-1"));

        File.Delete(Path.Combine(data, "train", "T-9.npy"));
        Assert.That(() => MslCorpus.Plan(data, "labels.csv", null, labels), Throws.TypeOf<FileNotFoundException>().With.Message.Contains("train file(s) of T-9"));
        Assert.That(() => MslCorpus.Plan(_temp, "labels.csv", null, labels), Throws.TypeOf<DirectoryNotFoundException>());
    }

    private string CopyChannel(string name, string channel)
    {
        var data = Path.Combine(_temp, name);
        foreach (var part in new[] { "train", "test" })
        {
            Directory.CreateDirectory(Path.Combine(data, part));
            File.Copy(Path.Combine(Datasets.Msl, part, channel + ".npy"), Path.Combine(data, part, channel + ".npy"));
        }
        return data;
    }
}
