using Streaming.Processing.Scoring.Detection;

namespace Streaming.UnitTests;

public sealed class SustainedDeviationTests
{
    // The level baseline's z alone, judged against its fixed threshold: no cycle, no range check, no forest.
    private static DetectionOptions Options(int sustainedWindows) => new DetectionOptions
    {
        SustainedWindows = sustainedWindows,
        RangeTolerance = 0,
        Seasonal = new SeasonalOptions { Enabled = false },
    }.Validated();

    private static double[] Surprises(DetectionOptions options, params double[] signedZ)
    {
        var detector = new MetricDetector(options, baselineThreshold: 8, baselineWindows: 30, seed: 1);
        // The expectation is 100; a window's side of it gives its z's sign.
        return signedZ.Select(z => Surprise.Of(detector.Update(100 + z, Math.Abs(z), 100).Tail)).ToArray();
    }

    [Test]
    public void Two_windows_moderately_below_the_expectation_alert_where_either_alone_would_not()
    {
        var options = Options(sustainedWindows: 2);

        var surprises = Surprises(options, 0.5, -6.5, -6.5);

        Assert.That(surprises[1], Is.LessThan(options.SurpriseThreshold), "z 6.5 alone is under the threshold's 8");
        Assert.That(surprises[2], Is.GreaterThanOrEqualTo(options.SurpriseThreshold), "two of them: Stouffer z 9.2");
        Assert.That(Surprises(Options(sustainedWindows: 1), 0.5, -6.5, -6.5)[2], Is.LessThan(options.SurpriseThreshold),
            "judged one window at a time, the second is no more surprising than the first");
    }

    [Test]
    public void Windows_on_alternating_sides_of_the_expectation_do_not_add_up()
    {
        var options = Options(sustainedWindows: 2);

        var surprises = Surprises(options, 6.5, -6.5, 6.5, -6.5);

        Assert.That(surprises.Max(), Is.LessThan(options.SurpriseThreshold));
    }

    [Test]
    public void A_window_far_out_alone_still_alerts_at_once_after_the_second_test_is_paid_for()
    {
        var options = Options(sustainedWindows: 2);

        var surprises = Surprises(options, 0.5, 9);

        // Tested twice, its tail doubles (Šidák): surprise 5 × (9/8)² − log10(2) ≈ 6.0, still over 5.
        Assert.That(surprises[1], Is.EqualTo(5 * 81.0 / 64 - Math.Log10(2)).Within(1e-6));
    }

    [Test]
    public void A_sustained_window_count_out_of_bounds_is_refused_naming_the_setting()
    {
        var ex = Assert.Throws<ArgumentException>(() => new DetectionOptions { SustainedWindows = 0 }.Validated());
        Assert.That(ex!.Message, Does.Contain("Detection:SustainedWindows"));
    }
}
