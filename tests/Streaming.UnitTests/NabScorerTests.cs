using Streaming.Evaluation.Nab;

namespace Streaming.UnitTests;

public sealed class NabScorerTests
{
    private const long Minute = 60_000;
    private static readonly NabCostMatrix Standard = new(1.0, 0.11, 1.0);
    private static readonly NabCostMatrix LowFn = new(1.0, 0.11, 2.0);

    // 100 rows one minute apart: rows 0-14 are probationary (15%), one window spans rows 50-59 (width 10).
    private static readonly long[] Timestamps = Enumerable.Range(0, 100).Select(i => i * Minute).ToArray();
    private static readonly NabWindow[] OneWindow = [new(50 * Minute, 59 * Minute)];

    private static double RawScore(NabCostMatrix costs, params int[] firing)
    {
        var rows = NabScorer.SweepScores(Timestamps, OneWindow, costs);
        var scores = new double[Timestamps.Length];
        foreach (var i in firing)
            scores[i] = 1;
        return NabScorer.ScoreAt(rows, scores, OneWindow.Length, 0.5, costs).Raw;
    }

    // 2·sigmoid(−5x) − 1, written out by hand.
    private static double Sigmoid(double x) => 2 * (1 / (1 + Math.Exp(5 * x))) - 1;

    [Test]
    public void A_detection_at_the_window_start_scores_the_full_true_positive_weight()
    {
        Assert.That(RawScore(Standard, 50), Is.EqualTo(1.0).Within(1e-12));
    }

    [Test]
    public void A_detection_halfway_into_the_window_scores_the_scaled_sigmoid_of_its_position()
    {
        // Row 55: position −(59 − 55 + 1) / 10 = −0.5; weight S(−0.5) / S(−1) = 0.848284 / 0.986614.
        Assert.That(RawScore(Standard, 55), Is.EqualTo(Sigmoid(-0.5) / Sigmoid(-1)).Within(1e-12));
        Assert.That(RawScore(Standard, 55), Is.EqualTo(0.85979).Within(1e-5));
    }

    [Test]
    public void Only_the_earliest_detection_in_a_window_counts()
    {
        Assert.That(RawScore(Standard, 50, 52, 57), Is.EqualTo(1.0).Within(1e-12));
        Assert.That(RawScore(Standard, 52, 57), Is.EqualTo(RawScore(Standard, 52)).Within(1e-12));
    }

    [Test]
    public void A_missed_window_costs_the_false_negative_weight()
    {
        Assert.That(RawScore(Standard), Is.EqualTo(-1.0).Within(1e-12));
        Assert.That(RawScore(LowFn), Is.EqualTo(-2.0).Within(1e-12));
    }

    [Test]
    public void A_false_positive_before_any_window_costs_the_full_false_positive_weight()
    {
        // Row 20 precedes every window: −A_FP, plus the missed window's −A_FN.
        Assert.That(RawScore(Standard, 20), Is.EqualTo(-0.11 - 1.0).Within(1e-12));
    }

    [Test]
    public void A_false_positive_just_after_a_window_costs_less_than_one_far_from_it()
    {
        // Row 60: (60 − 59) / (10 − 1) = 1/9 past the window; row 86: 27/9 = 3 window-widths past, the full −A_FP.
        Assert.That(RawScore(Standard, 50, 60), Is.EqualTo(1.0 + 0.11 * Sigmoid(1.0 / 9)).Within(1e-12));
        Assert.That(RawScore(Standard, 50, 86), Is.EqualTo(1.0 - 0.11).Within(1e-12));
        Assert.That(Sigmoid(1.0 / 9), Is.EqualTo(-0.27).Within(0.01));
    }

    [Test]
    public void Detections_in_the_probationary_period_are_not_scored()
    {
        Assert.That(RawScore(Standard, 3, 10, 14), Is.EqualTo(-1.0).Within(1e-12));
        Assert.That(RawScore(Standard, 15), Is.EqualTo(-1.11).Within(1e-12));
    }

    [Test]
    public void The_probationary_period_is_fifteen_percent_of_the_rows_capped_at_750()
    {
        Assert.That(NabScorer.ProbationaryLength(100), Is.EqualTo(15));
        Assert.That(NabScorer.ProbationaryLength(4032), Is.EqualTo(604));
        Assert.That(NabScorer.ProbationaryLength(22695), Is.EqualTo(750));
    }

    [Test]
    public void A_window_bound_that_is_not_a_timestamp_of_the_file_is_rejected()
    {
        NabWindow[] misaligned = [new(50 * Minute, 59 * Minute + 1)];
        Assert.Throws<ArgumentException>(() => NabScorer.SweepScores(Timestamps, misaligned, Standard));
    }

    [Test]
    public void Normalisation_gives_100_to_the_perfect_detector_and_0_to_the_one_that_never_fires()
    {
        var files = new[] { File("a/one.csv", OneWindow), File("a/two.csv", [new(30 * Minute, 39 * Minute), new(70 * Minute, 79 * Minute)]) };
        var profile = new NabProfile("standard", Standard);

        var perfect = files.Select(f => Fire(f, f.Windows.Select(w => (int)(w.StartMs / Minute)).ToArray())).ToArray();
        var never = files.Select(f => new double[f.TimestampsMs.Length]).ToArray();

        var best = NabBenchmark.Score(files, perfect, profile);
        var worst = NabBenchmark.Score(files, never, profile);
        Assert.That(best.Score, Is.EqualTo(100).Within(1e-9));
        Assert.That(best.RawScore, Is.EqualTo(3).Within(1e-9));
        Assert.That(worst.Score, Is.EqualTo(0).Within(1e-9));
        Assert.That(worst.RawScore, Is.EqualTo(-3).Within(1e-9));
        Assert.That(best.Files.Select(f => f.Normalized), Is.EqualTo(new double?[] { 100, 100 }).Within(1e-9));
    }

    [Test]
    public void Normalisation_places_a_partial_detector_between_null_and_perfect()
    {
        // Two windows: one caught at its start (+1), one missed (−1): raw 0, null −2, perfect 2, so 100 · 2 / 4 = 50.
        var files = new[] { File("a/two.csv", [new(30 * Minute, 39 * Minute), new(70 * Minute, 79 * Minute)]) };
        var result = NabBenchmark.Score(files, [Fire(files[0], 30)], new NabProfile("standard", Standard));
        Assert.That(result.Score, Is.EqualTo(50).Within(1e-9));
        Assert.That(result.DetectedWindows, Is.EqualTo(1));
    }

    [Test]
    public void The_threshold_sweep_keeps_a_detection_when_it_outweighs_the_false_positives_above_it()
    {
        var file = File("a/one.csv", OneWindow);
        var scores = new double[100];
        scores[20] = 0.9; // false positive, −0.11
        scores[50] = 0.8; // window start, +1 instead of −1
        var (threshold, raw) = NabScorer.OptimizeThreshold([(NabScorer.SweepScores(file.TimestampsMs, file.Windows, Standard), scores)], Standard);
        Assert.That(threshold, Is.EqualTo(0.8));
        Assert.That(raw, Is.EqualTo(1 - 0.11).Within(1e-12));
    }

    [Test]
    public void The_threshold_sweep_stops_above_false_positives_that_cost_more_than_they_gain()
    {
        var file = File("a/one.csv", OneWindow);
        var scores = new double[100];
        scores[50] = 0.9;
        for (var i = 20; i < 40; i++)
            scores[i] = 0.8; // 20 false positives: −2.2 would outweigh nothing gained
        var (threshold, raw) = NabScorer.OptimizeThreshold([(NabScorer.SweepScores(file.TimestampsMs, file.Windows, Standard), scores)], Standard);
        Assert.That(threshold, Is.EqualTo(0.9));
        Assert.That(raw, Is.EqualTo(1.0).Within(1e-12));
    }

    [Test]
    public void The_threshold_sweep_over_a_silent_detector_keeps_the_never_firing_threshold()
    {
        var file = File("a/one.csv", OneWindow);
        var constant = Enumerable.Repeat(0.5, 100).ToArray();
        var (threshold, raw) = NabScorer.OptimizeThreshold([(NabScorer.SweepScores(file.TimestampsMs, file.Windows, Standard), constant)], Standard);
        Assert.That(threshold, Is.EqualTo(NabScorer.NeverFires));
        Assert.That(raw, Is.EqualTo(-1.0).Within(1e-12));
    }

    private static NabFile File(string path, NabWindow[] windows) => new(path, Timestamps, new double[Timestamps.Length], windows);

    private static double[] Fire(NabFile file, params int[] rows)
    {
        var scores = new double[file.TimestampsMs.Length];
        foreach (var row in rows)
            scores[row] = 1;
        return scores;
    }
}
