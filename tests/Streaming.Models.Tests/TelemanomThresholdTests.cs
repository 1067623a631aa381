using Streaming.Models.Thresholds;

namespace Streaming.Models.Tests;

public sealed class TelemanomThresholdTests
{
    /// <summary>1,000 errors alternating 0.9 / 1.1 with one error of 10 at row 500.</summary>
    private static double[] NoiseWithOneSpike()
    {
        var errors = Enumerable.Range(0, 1000).Select(i => i % 2 == 0 ? 0.9 : 1.1).ToArray();
        errors[500] = 10;
        return errors;
    }

    [Test]
    public void A_lone_spike_over_even_noise_gets_the_largest_z_that_still_isolates_it()
    {
        var errors = NoiseWithOneSpike();
        var mean = errors.Average();
        var std = Math.Sqrt(errors.Select(e => (e - mean) * (e - mean)).Average());

        var threshold = NonparametricThreshold.Find(errors, errorBuffer: 100);

        // Every z in [2.5, 12) puts ε between the noise (≤ 1.1) and the spike (10), so all flag the same points and score
        // the same: the tie goes to the largest z.
        Assert.That(threshold.Z, Is.EqualTo(11.5));
        Assert.That(threshold.Epsilon, Is.EqualTo(mean + (11.5 * std)).Within(1e-12));
        Assert.That(threshold.Epsilon, Is.InRange(1.1, 10.0));
    }

    [Test]
    public void Errors_without_spread_fall_back_to_twelve_standard_deviations()
    {
        var threshold = NonparametricThreshold.Find(Enumerable.Repeat(0.5, 300).ToArray(), errorBuffer: 10);

        Assert.That(threshold.Z, Is.EqualTo(NonparametricThreshold.ZMax));
        Assert.That(threshold.Epsilon, Is.EqualTo(0.5));
    }

    [Test]
    public void Flagged_points_are_widened_by_the_error_buffer_and_overlapping_ones_merge_into_one_sequence()
    {
        double[] errors = [0, 0, 5, 0, 0, 0, 0, 5, 0];

        Assert.That(NonparametricThreshold.Flagged(errors, 1, buffer: 1), Is.EqualTo((4, 2)), "[1, 3) and [6, 8)");
        Assert.That(NonparametricThreshold.Flagged(errors, 1, buffer: 3), Is.EqualTo((9, 1)), "[0, 5) and [4, 9) merge");
        Assert.That(NonparametricThreshold.Flagged(errors, 1, buffer: 0), Is.EqualTo((2, 0)), "single points are no sequence");
    }

    [Test]
    public void Smoothing_weights_past_values_as_pandas_ewm_with_adjust()
    {
        // span 3: α = 0.5, so after 1, 2, 3 the average is (3 + 0.5·2 + 0.25·1) / (1 + 0.5 + 0.25).
        var smoothing = new ExponentialSmoothing(span: 3);

        Assert.That(smoothing.Update(1), Is.EqualTo(1));
        Assert.That(smoothing.Update(2), Is.EqualTo(2.5 / 1.5).Within(1e-12));
        Assert.That(smoothing.Update(3), Is.EqualTo(4.25 / 1.75).Within(1e-12));
    }

    [Test]
    public void The_dynamic_threshold_warms_up_then_flags_a_sustained_error_burst_and_holds_it_for_the_error_buffer()
    {
        var options = new TelemanomOptions { WindowSize = 600, EvaluateEvery = 10, ErrorBuffer = 20, MinimumErrors = 100, InvertedErrors = false };
        var threshold = new DynamicErrorThreshold(options);
        var random = new Random(7);
        var verdicts = new List<ErrorVerdict?>();
        for (var i = 0; i < 700; i++)
        {
            // Errors ~0.1 on a signal spanning [-1, 1]; rows 500–539 err by 1.5.
            var error = i is >= 500 and < 540 ? 1.5 : 0.1 + (0.02 * random.NextDouble());
            verdicts.Add(threshold.Update(error, Math.Sin(i * 0.05)));
        }

        Assert.That(verdicts.Take(options.MinimumErrors - 1), Is.All.Null, "warming up");
        Assert.That(verdicts.Skip(options.MinimumErrors).Take(400).All(v => v is { IsAnomaly: false }), Is.True, "steady errors are not flagged");
        var flagged = verdicts.Select((v, i) => (v, i)).Where(x => x.v is { IsAnomaly: true }).Select(x => x.i).ToArray();
        Assert.That(flagged, Is.Not.Empty);
        Assert.That(flagged.Min(), Is.InRange(500, 540), "the burst is flagged while it lasts");
        Assert.That(flagged.Max(), Is.LessThan(540 + 150), "and released after it (smoothing plus the 20-row hold)");
    }

    [Test]
    public void Errors_tiny_against_the_values_are_never_flagged()
    {
        var threshold = new DynamicErrorThreshold(new TelemanomOptions { WindowSize = 400, MinimumErrors = 100 });
        var random = new Random(3);
        for (var i = 0; i < 1000; i++)
        {
            // A spike, but of 0.01 on values spanning [-1, 1]: below telemanom's 5% floor.
            var error = i == 700 ? 0.01 : 0.0001 * random.NextDouble();
            var verdict = threshold.Update(error, Math.Sin(i * 0.05));
            Assert.That(verdict?.IsAnomaly ?? false, Is.False, $"row {i}");
        }
    }
}
