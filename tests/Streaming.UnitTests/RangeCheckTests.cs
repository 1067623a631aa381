using Streaming.Processing.Scoring.Detection;

namespace Streaming.UnitTests;

public sealed class RangeCheckTests
{
    // Only the range check and the forest speak here: no baseline z, no cycle.
    private static DetectionOptions Options(int settledWindows, bool forest = false) => new DetectionOptions
    {
        RangeTolerance = 0.05,
        RangeSettledWindows = settledWindows,
        UseBaseline = false,
        Seasonal = new SeasonalOptions { Enabled = false },
        Forest = new ForestOptions { Enabled = forest, Trees = 20, SampleSize = 256 },
        Likelihood = new LikelihoodOptions { AveragingWindow = 3, HistoryWindow = 2000, LearningPeriod = 50, MinimumStd = 0.02 },
    }.Validated();

    private static double SurpriseOf(MetricReading reading) => Surprise.Of(reading.Tail);

    [Test]
    public void A_value_far_beyond_a_settled_range_alerts_at_once()
    {
        var options = Options(settledWindows: 100);
        var detector = new MetricDetector(options, baselineThreshold: 4, baselineWindows: 30, seed: 1);
        for (var i = 0; i < 300; i++)
            detector.Update(40 + 10 * Math.Sin(i / 5.0), null, null);

        var reading = detector.Update(75, null, null);

        Assert.That(SurpriseOf(reading), Is.GreaterThanOrEqualTo(options.SurpriseThreshold), "75 lies 1.25 ranges above everything seen");
    }

    [Test]
    public void New_extremes_while_the_range_is_still_growing_do_not_alert()
    {
        var options = Options(settledWindows: 100);
        var detector = new MetricDetector(options, baselineThreshold: 4, baselineWindows: 30, seed: 1);
        // A slow ramp, as a first day of a daily cycle: every few windows a new maximum by more than the tolerance.
        var surprises = new List<double>();
        for (var i = 0; i < 300; i++)
            surprises.Add(SurpriseOf(detector.Update(i % 10 == 0 ? 10 + i : 10, null, null)));

        Assert.That(surprises.Max(), Is.LessThan(options.SurpriseThreshold));
    }

    [Test]
    public void The_range_check_speaks_again_once_the_grown_range_has_held()
    {
        var options = Options(settledWindows: 100);
        var detector = new MetricDetector(options, baselineThreshold: 4, baselineWindows: 30, seed: 1);
        for (var i = 0; i < 200; i++)
            detector.Update(i % 2 == 0 ? 10 : 20, null, null);
        detector.Update(40, null, null); // the range grows to [10, 40]
        for (var i = 0; i < 50; i++)
            detector.Update(15, null, null);
        Assert.That(SurpriseOf(detector.Update(60, null, null)), Is.LessThan(options.SurpriseThreshold), "50 windows after the range grew");

        for (var i = 0; i < 150; i++)
            detector.Update(15, null, null);
        Assert.That(SurpriseOf(detector.Update(90, null, null)), Is.GreaterThanOrEqualTo(options.SurpriseThreshold), "the range [10, 60] held for 150 windows");
    }

    [Test]
    public void A_slow_slide_below_a_settled_range_alerts_although_each_step_is_small()
    {
        // A machine cooling towards failure: 0.2 per window below a range of [30, 50] that held for 400 windows. Each step
        // is 1 % of the range, so a range that learned every window would creep down with the slide and never be left by 5 %.
        var options = Options(settledWindows: 100);
        var detector = new MetricDetector(options, baselineThreshold: 4, baselineWindows: 30, seed: 1);
        for (var i = 0; i < 400; i++)
            detector.Update(40 + 10 * Math.Sin(i / 5.0), null, null);

        var surprises = new List<double>();
        for (var i = 1; i <= 40; i++)
            surprises.Add(SurpriseOf(detector.Update(30 - 0.2 * i, null, null)));

        var first = surprises.FindIndex(s => s >= options.SurpriseThreshold);
        Assert.That(first, Is.InRange(0, 19), "the slide is 5 % of the range below it after 5 windows, 2 after 10");
    }

    [Test]
    public void A_settling_time_out_of_bounds_is_refused_naming_the_setting()
    {
        var ex = Assert.Throws<ArgumentException>(() => new DetectionOptions { RangeSettledWindows = -1 }.Validated());
        Assert.That(ex!.Message, Does.Contain("Detection:RangeSettledWindows"));
    }

    [Test]
    public void The_forest_does_not_call_a_slow_noisy_trend_anomalous_while_its_trees_fill()
    {
        // Raw scores as a share of the full sample size would be small while the trees fill and grow after: the likelihood
        // that learned the small early ones then called ordinary later windows anomalous (8–16 windows here, as on the simulator).
        var options = new DetectionOptions
        {
            RangeTolerance = 0,
            UseBaseline = false,
            Seasonal = new SeasonalOptions { Enabled = false },
            Forest = new ForestOptions { Enabled = true },
            Likelihood = new LikelihoodOptions { MinimumStd = 0.02 },
        }.Validated();
        var detector = new MetricDetector(options, baselineThreshold: 4, baselineWindows: 30, seed: 2);
        var random = new Random(2);
        var surprises = new List<double>();
        for (var i = 0; i < 2880; i++)
            surprises.Add(SurpriseOf(detector.Update(50 + i * 0.002 + 0.3 * Gaussian(random), null, null)));

        Assert.That(surprises.Max(), Is.LessThan(options.SurpriseThreshold));
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
