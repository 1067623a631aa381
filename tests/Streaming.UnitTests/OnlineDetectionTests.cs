using Streaming.Contracts;
using Streaming.Processing.Alerts;
using Streaming.Processing.Scoring;
using Streaming.Processing.Scoring.Detection;
using Streaming.Processing.Windows;

namespace Streaming.UnitTests;

public sealed class RandomCutForestTests
{
    [Test]
    public void A_point_far_from_a_cluster_displaces_more_than_any_point_of_the_cluster()
    {
        var random = new Random(3);
        var forest = new RandomCutForest(dimensions: 2, trees: 40, sampleSize: 128, seed: 1);
        var clusterScores = new List<double>();
        for (var i = 0; i < 300; i++)
            clusterScores.Add(forest.ScoreAndInsert([random.NextDouble(), random.NextDouble()]));

        var outlier = forest.ScoreAndInsert([8.0, 8.0]);

        Assert.That(outlier, Is.GreaterThan(clusterScores.Skip(128).Max()));
        Assert.That(outlier, Is.GreaterThan(20), "an isolated point is cut off near the root of nearly every tree");
    }

    [Test]
    public void The_same_seed_gives_the_same_scores_and_another_seed_other_ones()
    {
        static double[] Run(ulong seed)
        {
            var random = new Random(11);
            var forest = new RandomCutForest(dimensions: 3, trees: 10, sampleSize: 32, seed: seed);
            return Enumerable.Range(0, 200).Select(_ => forest.ScoreAndInsert([random.NextDouble(), random.NextDouble(), random.NextDouble()])).ToArray();
        }

        Assert.That(Run(5), Is.EqualTo(Run(5)));
        Assert.That(Run(6), Is.Not.EqualTo(Run(5)));
    }

    [Test]
    public void Repeated_points_are_held_as_duplicates_and_a_new_value_among_them_stands_out()
    {
        var forest = new RandomCutForest(dimensions: 1, trees: 20, sampleSize: 64, seed: 2);
        for (var i = 0; i < 500; i++)
            Assert.That(forest.ScoreAndInsert([45.0]), Is.EqualTo(0), "a flat line displaces nothing");

        Assert.That(forest.ScoreAndInsert([46.0]), Is.EqualTo(63).Within(1e-9), "one new value among 63 copies displaces all of them");
        Assert.That(forest.Count, Is.EqualTo(64));
    }

    [Test]
    public void Memory_is_bounded_by_the_sample_size_whatever_the_stream_length()
    {
        var forest = new RandomCutForest(dimensions: 4, trees: 5, sampleSize: 16, seed: 9);
        var random = new Random(1);
        for (var i = 0; i < 5_000; i++)
            forest.ScoreAndInsert([random.NextDouble(), random.NextDouble(), random.NextDouble(), random.NextDouble()]);

        Assert.That(forest.Count, Is.EqualTo(16));
        Assert.That(RandomCutForest.BytesFor(4, 5, 16), Is.LessThan(20_000));
    }

    [Test]
    public void A_point_of_the_wrong_dimension_is_refused_with_both_sizes()
    {
        var forest = new RandomCutForest(dimensions: 3, trees: 2, sampleSize: 16, seed: 1);

        var ex = Assert.Throws<ArgumentException>(() => forest.ScoreAndInsert([1.0, 2.0]));
        Assert.That(ex!.Message, Does.Contain("3-dimensional").And.Contain("got 2"));
    }
}

public sealed class AnomalyLikelihoodTests
{
    private static readonly LikelihoodOptions Options = new() { AveragingWindow = 3, HistoryWindow = 1000, LearningPeriod = 100, MinimumStd = 0.01 };

    [Test]
    public void While_learning_the_likelihood_says_nothing_is_known()
    {
        var likelihood = new AnomalyLikelihood(Options);
        for (var i = 0; i < 100; i++)
            Assert.That(likelihood.Update(i % 2 == 0 ? 0.1 : 0.9), Is.EqualTo(0.5));
        Assert.That(likelihood.IsWarm, Is.True);
    }

    [Test]
    public void A_burst_of_high_raw_scores_has_a_tiny_tail_and_ordinary_scores_do_not()
    {
        var random = new Random(4);
        var likelihood = new AnomalyLikelihood(Options);
        var ordinary = new List<double>();
        for (var i = 0; i < 600; i++)
            ordinary.Add(likelihood.Update(0.1 + 0.02 * random.NextDouble()));

        var burst = 1.0;
        for (var i = 0; i < 3; i++)
            burst = likelihood.Update(0.9);

        Assert.That(ordinary.Skip(100).Min(), Is.GreaterThan(1e-3), "no ordinary score is extreme");
        Assert.That(burst, Is.LessThan(1e-10));
    }

    [Test]
    public void A_stream_whose_raw_scores_are_always_high_is_not_always_anomalous()
    {
        var random = new Random(5);
        var likelihood = new AnomalyLikelihood(Options);
        var tails = Enumerable.Range(0, 800).Select(_ => likelihood.Update(0.8 + 0.1 * random.NextDouble())).Skip(100).ToArray();

        Assert.That(tails.Count(t => t < 1e-5), Is.Zero);
        Assert.That(tails.Average(), Is.InRange(0.3, 0.7), "a tail probability of an ordinary stream is about uniform");
    }

    [Test]
    public void A_non_finite_raw_score_is_refused()
    {
        var likelihood = new AnomalyLikelihood(Options);
        Assert.Throws<ArgumentOutOfRangeException>(() => likelihood.Update(double.NaN));
    }

    [Test]
    public void The_normal_tail_and_the_Sidak_correction_match_their_closed_forms()
    {
        Assert.That(Gaussian.UpperTail(0), Is.EqualTo(0.5).Within(1e-7));
        Assert.That(Gaussian.UpperTail(1.959964), Is.EqualTo(0.025).Within(1e-6));
        Assert.That(Gaussian.UpperTail(-1.959964), Is.EqualTo(0.975).Within(1e-6));
        Assert.That(Gaussian.SmallestOf(0.01, 1), Is.EqualTo(0.01));
        Assert.That(Gaussian.SmallestOf(0.01, 7), Is.EqualTo(1 - Math.Pow(0.99, 7)).Within(1e-12));
        Assert.That(Gaussian.SmallestOf(1e-12, 7), Is.EqualTo(7e-12).Within(1e-20), "tiny tails keep their precision");
    }

    [Test]
    public void Settings_that_cannot_work_are_refused_naming_the_setting()
    {
        var ex = Assert.Throws<ArgumentException>(() => new LikelihoodOptions { LearningPeriod = 5 }.Validated());
        Assert.That(ex!.Message, Does.StartWith("Detection:Likelihood:LearningPeriod"));
        ex = Assert.Throws<ArgumentException>(() => new DetectionOptions { Threshold = 1 }.Validated());
        Assert.That(ex!.Message, Does.StartWith("Detection:Threshold"));
    }
}

public sealed class OnlineWindowScorerTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    private static ClosedWindow Window(int index, params (string Metric, double Mean)[] metrics)
    {
        var start = Start.AddMinutes(index).ToUnixTimeMilliseconds();
        return new ClosedWindow("host-1", new WindowBounds(start, start + 60_000), 6,
            metrics.Select(m => new MetricFeatures(m.Metric, 6, m.Mean, 0.1, m.Mean, m.Mean, m.Mean, m.Mean, 0, m.Mean, m.Mean, m.Mean, 0, 0)).ToArray());
    }

    [Test]
    public void Blame_goes_to_the_metric_that_left_its_expected_value_not_to_the_one_that_wobbled()
    {
        // The case from issue 12: cpu_usage fell from an expected 93 to 34, memory_usage moved 50.9 → 49.1 within its spread.
        var scorer = new OnlineWindowScorer(new BaselineOptions(), new DetectionOptions(), topContributors: 3);
        var random = new Random(8);
        for (var i = 0; i < 60; i++)
            scorer.Assess(Window(i, ("cpu_usage", 93 + 2 * (random.NextDouble() - 0.5)), ("memory_usage", 50.9 + 3 * (random.NextDouble() - 0.5))));

        var assessment = scorer.Assess(Window(60, ("cpu_usage", 34), ("memory_usage", 49.1)))!;

        Assert.That(assessment.IsAnomaly, Is.True);
        var cpu = assessment.Contributors.Single(c => c.Metric == "cpu_usage");
        var memory = assessment.Contributors.Single(c => c.Metric == "memory_usage");
        Assert.That(assessment.Contributors[0].Metric, Is.EqualTo("cpu_usage"));
        Assert.That(cpu.Share, Is.GreaterThan(0.9));
        Assert.That(memory.Share, Is.LessThan(0.1));
        Assert.That(cpu.Expected, Is.EqualTo(93).Within(1), "expected is what the model expected for this window");
        Assert.That(cpu.Actual, Is.EqualTo(34));
        Assert.That(memory.Expected, Is.EqualTo(50.9).Within(1.5));
        Assert.That(assessment.Contributors.Sum(c => c.Share), Is.EqualTo(1).Within(1e-9));
    }

    [Test]
    public void Scores_are_surprise_and_the_threshold_is_the_configured_probability()
    {
        var scorer = new OnlineWindowScorer(new BaselineOptions(), new DetectionOptions { Threshold = 0.9999 }, topContributors: 3);
        WindowAssessment? last = null;
        for (var i = 0; i < 40; i++)
            last = scorer.Assess(Window(i, ("cpu_usage", 50 + (i % 3))));

        Assert.That(last!.Threshold, Is.EqualTo(4).Within(1e-9), "−log10(1 − 0.9999)");
        Assert.That(Surprise.ToProbability(last.Threshold), Is.EqualTo(0.9999).Within(1e-12));
        Assert.That(last.Score, Is.GreaterThanOrEqualTo(0));
        Assert.That(last.Model, Is.EqualTo(OnlineWindowScorer.ModelName));
    }

    [Test]
    public void A_new_entity_is_scored_from_its_first_windows_of_history()
    {
        var scorer = new OnlineWindowScorer(new BaselineOptions { MinHistory = 12 }, new DetectionOptions(), topContributors: 3);
        var assessed = Enumerable.Range(0, 20).Select(i => scorer.Assess(Window(i, ("cpu_usage", 50 + (i % 2))))).ToArray();

        Assert.That(assessed.Take(12), Is.All.Null, "warming up");
        Assert.That(assessed.Skip(12), Is.All.Not.Null);
    }

    [Test]
    public void Sidak_combination_needs_more_evidence_than_the_strongest_metric_alone()
    {
        MetricVerdict[] verdicts = [new("a", 1e-6, 0, 0, 0), new("b", 0.5, 0, 0, 0), new("c", 0.5, 0, 0, 0)];

        var strongest = OnlineWindowScorer.Combine(verdicts, MetricCombination.Strongest);
        var sidak = OnlineWindowScorer.Combine(verdicts, MetricCombination.Sidak);

        Assert.That(strongest, Is.EqualTo(6).Within(1e-9));
        Assert.That(sidak, Is.EqualTo(-Math.Log10(3e-6)).Within(1e-6));
    }
}

public sealed class OneDetectionPerIncidentTests
{
    [Test]
    public void Re_firing_within_the_cooldown_after_a_resolve_updates_the_same_alert_instead_of_opening_another()
    {
        var tracker = new AlertTracker(new AlertOptions { ResolveAfterWindows = 3, CooldownWindows = 100 }, TimeProvider.System);
        var start = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        var events = new List<AnomalyEvent>();
        for (var i = 0; i < 200; i++)
        {
            // Two bursts 60 windows apart: one incident to an operator (and to NAB, one detection).
            var score = i is >= 10 and < 15 or >= 75 and < 80 ? 8.0 : 1.0;
            if (tracker.Observe(new WindowVerdict("host-1", start.AddMinutes(i), start.AddMinutes(i + 1), score, 5, "m", "1", [])) is { } e)
                events.Add(e);
        }

        Assert.That(events.Count(e => e.Status == AlertStatus.Open), Is.EqualTo(1));
        Assert.That(events.Select(e => e.AlertId).Distinct().Count(), Is.EqualTo(1));
        Assert.That(events.Count(e => e.Status == AlertStatus.Resolved), Is.EqualTo(2));
    }

    [Test]
    public void Critical_means_twice_the_threshold_in_surprise_a_squared_tail()
    {
        var verdict = new WindowVerdict("h", default, default, Score: 10, Threshold: 5, "m", "1", []);
        var tracker = new AlertTracker(new AlertOptions(), TimeProvider.System);

        Assert.That(tracker.Observe(verdict)!.Severity, Is.EqualTo(Severity.Critical));
        Assert.That(tracker.Observe(verdict with { Entity = "g", Score = 9.9 })!.Severity, Is.EqualTo(Severity.Warning));
    }
}
