using Streaming.Evaluation.Metrics;
using Streaming.Evaluation.Msl;

namespace Streaming.UnitTests;

public sealed class MslMetricsTests
{
    private static readonly bool[] Labels = [true, false, true, true, false, false];

    [Test]
    public void Online_decisions_count_each_row_once_without_point_adjustment()
    {
        var counts = PointMetrics.Count(Labels, [true, true, false, true, false, false]);

        Assert.That(counts, Is.EqualTo(new ConfusionCounts(TruePositives: 2, FalsePositives: 1, FalseNegatives: 1, TrueNegatives: 2)));
        Assert.That(counts.Precision, Is.EqualTo(2.0 / 3));
        Assert.That(counts.Recall, Is.EqualTo(2.0 / 3), "one hit inside a sequence does not mark the rest of it detected");
        Assert.That(PointMetrics.FalseAlarmsPerThousandRows(counts), Is.EqualTo(1000.0 / 6));
    }

    [Test]
    public void The_oracle_sweep_finds_the_best_threshold_by_hand()
    {
        // Thresholds 0.9, 0.8, 0.3, 0.1, 0.0 give F1 1/2, 2/3, 6/7, 3/4, 2/3.
        var best = PointMetrics.BestF1([0.9, 0.8, 0.8, 0.3, 0.1, 0.0], Labels);

        Assert.That(best.Threshold, Is.EqualTo(0.3));
        Assert.That(best.Counts, Is.EqualTo(new ConfusionCounts(3, 1, 0, 2)));
        Assert.That(best.Counts.F1, Is.EqualTo(6.0 / 7).Within(1e-12));
    }

    [Test]
    public void Rows_with_equal_scores_are_flagged_together_by_the_sweep()
    {
        var best = PointMetrics.BestF1([1.0, 1.0, 0.0], [true, false, false]);

        Assert.That(best.Threshold, Is.EqualTo(1.0));
        Assert.That(best.Counts, Is.EqualTo(new ConfusionCounts(1, 1, 0, 1)), "a threshold cannot split two rows of the same score");
    }

    [Test]
    public void Without_positive_rows_the_best_F1_is_zero_at_an_infinite_threshold()
    {
        var best = PointMetrics.BestF1([0.5, 0.2], [false, false]);

        Assert.That(best.Threshold, Is.EqualTo(double.PositiveInfinity));
        Assert.That(best.Counts, Is.EqualTo(new ConfusionCounts(0, 0, 0, 2)));
        Assert.That(() => PointMetrics.BestF1([double.NaN], [true]), Throws.ArgumentException);
    }

    [Test]
    public void A_sequence_is_detected_when_any_of_its_rows_is_flagged_online()
    {
        RowSequence[] sequences = [new(0, 0), new(2, 3)];

        Assert.That(PointMetrics.DetectedSequences(sequences, [true, true, false, true, false, false]), Is.EqualTo(2));
        Assert.That(PointMetrics.DetectedSequences(sequences, [false, true, false, false, true, true]), Is.EqualTo(0));
        Assert.That(PointMetrics.DetectedSequences(sequences, [false, false, false, true, false, false]), Is.EqualTo(1));
    }

    [Test]
    public void Row_counts_agree_with_the_shared_window_metrics_on_one_minute_windows()
    {
        var random = new Random(11);
        var labels = new bool[500];
        RowSequence[] sequences = [new(10, 40), new(100, 100), new(300, 499)];
        foreach (var s in sequences)
            labels.AsSpan(s.Start, s.Length).Fill(true);
        var predicted = Enumerable.Range(0, labels.Length).Select(_ => random.NextDouble() < 0.3).ToArray();
        const long Minute = 60_000;

        var windows = predicted.Select((p, i) => new WindowVerdictPoint("T-9", i * Minute, (i + 1) * Minute, p));
        var incidents = sequences.Select(s => new EntityInterval("T-9", s.Start * Minute, (s.End + 1) * Minute)).ToArray();

        Assert.That(PointMetrics.Count(labels, predicted), Is.EqualTo(ClassificationMetrics.PointWise(windows, incidents)));
    }

    [Test]
    public void Pooling_sums_the_channels_confusion_and_sweeps_one_threshold_over_all_their_rows()
    {
        // Alone, A is best at 0.9 (F1 1) and B at 4 (F1 2/3). Pooled: 5 (F), 4 (T), 0.9 (T), 0 (F) → best 0.8 at 0.9.
        var a = Channel("A", [0.9, 0.0], [true, false], [new(0, 0)]);
        var b = Channel("B", [5, 4], [true, true], [new(1, 1)]);
        var layout = new MslLayout("/data", "/data/labels.csv", ["A", "B"], 0);

        var pooled = MslEvaluation.Pool(layout, new MslEvaluationOptions { DataDirectory = "/data" }, [a, b], TimeSpan.Zero);

        Assert.That(a.Oracle.Counts.F1, Is.EqualTo(1.0));
        Assert.That(b.Oracle.Counts.F1, Is.EqualTo(2.0 / 3).Within(1e-12));
        Assert.That(pooled.Oracle.Threshold, Is.EqualTo(0.9));
        Assert.That(pooled.Oracle.Counts, Is.EqualTo(new ConfusionCounts(2, 1, 0, 1)));
        Assert.That(pooled.Online, Is.EqualTo(new ConfusionCounts(2, 1, 0, 1)), "A: TP, TN; B: FP, TP");
        Assert.That((pooled.TestRows, pooled.Sequences, pooled.DetectedSequences, pooled.EventRecall), Is.EqualTo((4L, 2, 2, 1.0)));
        Assert.That(pooled.FalseAlarmsPerThousandRows, Is.EqualTo(250.0));
        Assert.That(pooled.UnscoredRows, Is.EqualTo(1), "A's second row was not scored (score 0, not anomalous)");
    }

    private static MslChannelResult Channel(string name, double[] scores, bool[] online, RowSequence[] sequences)
    {
        var channel = new MslChannel(name, "MSL", new NpyMatrix(1, 1, [0.0]), new NpyMatrix(scores.Length, 1, new double[scores.Length]), sequences);
        bool[] scored = name == "A" ? [true, false] : [true, true];
        return MslEvaluation.Score(channel, new ChannelScores(scores, online, scored, new Dictionary<string, int>(), ["test v1"]));
    }
}
