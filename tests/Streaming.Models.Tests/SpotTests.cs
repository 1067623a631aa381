using Streaming.Models.Thresholds;

namespace Streaming.Models.Tests;

public sealed class SpotTests
{
    private static double[] Exponential(Random random, int n) =>
        [.. Enumerable.Range(0, n).Select(_ => -Math.Log(1 - random.NextDouble()))];

    // Inverse CDF of GPD(γ, σ): every threshold excess of this law is again GPD with the same γ.
    private static double[] ParetoTail(Random random, int n, double gamma, double sigma) =>
        [.. Enumerable.Range(0, n).Select(_ => sigma / gamma * (Math.Pow(1 - random.NextDouble(), -gamma) - 1))];

    [Test]
    public void Spot_threshold_matches_the_known_quantile_of_an_exponential_tail()
    {
        var spot = new Spot(risk: 1e-3);
        spot.Initialize(Exponential(new Random(7), 20_000));

        // P(X > z) = e^-z = 1e-3 → z = ln 1000.
        Assert.That(spot.Threshold, Is.EqualTo(Math.Log(1000)).Within(0.1 * Math.Log(1000)));
        Assert.That(Math.Abs(spot.Tail.Gamma), Is.LessThan(0.1));
    }

    [Test]
    public void Spot_recovers_a_heavy_generalized_pareto_tail_and_its_quantile()
    {
        const double gamma = 0.25, sigma = 1, risk = 1e-3;
        var spot = new Spot(risk);
        spot.Initialize(ParetoTail(new Random(11), 50_000, gamma, sigma));
        var truth = sigma / gamma * (Math.Pow(risk, -gamma) - 1);

        Assert.That(spot.Tail.Gamma, Is.EqualTo(gamma).Within(0.1));
        Assert.That(spot.Threshold, Is.EqualTo(truth).Within(0.15 * truth));
    }

    [Test]
    public void Spot_streaming_flags_about_the_risk_rate_and_catches_extreme_values()
    {
        var random = new Random(3);
        var spot = new Spot(risk: 1e-3);
        spot.Initialize(Exponential(random, 5_000));
        var stream = Exponential(random, 20_000);
        var alarms = stream.Count(x => spot.Step(x) == SpotDecision.Anomaly);

        // 20 expected; a Poisson(20) count is within [5, 40] with overwhelming probability.
        Assert.That(alarms, Is.InRange(5, 40));
        Assert.That(spot.Step(50), Is.EqualTo(SpotDecision.Anomaly));

        // Values above z_q never enter the fit, which truncates the tail and lets z_q creep down a little
        // over a long stream (inherent to SPOT); it must still stay near the true quantile.
        Assert.That(spot.Threshold, Is.EqualTo(Math.Log(1000)).Within(0.2 * Math.Log(1000)));
    }

    [Test]
    public void Dspot_follows_a_drifting_level_where_spot_would_not()
    {
        var random = new Random(5);
        var series = Enumerable.Range(0, 30_000).Select(i => (i * 0.001) + -Math.Log(1 - random.NextDouble())).ToArray();
        var dspot = new DSpot(risk: 1e-3, depth: 200);
        dspot.Initialize(series.AsSpan(0, 5_000));
        var alarms = 0;
        for (var i = 5_000; i < series.Length; i++)
        {
            alarms += dspot.Step(series[i]) == SpotDecision.Anomaly ? 1 : 0;
        }

        // The level rises by 25 over the stream; a static threshold near 12 would flag most of it.
        Assert.That(alarms, Is.LessThan(100));
        Assert.That(dspot.Threshold, Is.GreaterThan(29 + 3).And.LessThan(29 + 12));
    }

    [Test]
    public void Percentile_interpolates_like_numpy()
    {
        double[] values = [1, 2, 3, 4];
        Assert.That(Percentile.Of(values, 50), Is.EqualTo(2.5));
        Assert.That(Percentile.Of(values, 90), Is.EqualTo(3.7).Within(1e-12));
        Assert.That(Percentile.Of(values, 100), Is.EqualTo(4));
    }
}
