using Streaming.Contracts;
using Streaming.Processing.Scoring.Detection;

namespace Streaming.UnitTests;

/// <summary>The online scorer's contributor selection against the LINQ ordering it replaced.</summary>
public sealed class ContributorsTests
{
    private static Contributor[] ByLinq(IReadOnlyList<MetricVerdict> verdicts, int top)
    {
        var total = 0.0;
        foreach (var v in verdicts)
            total += v.Surprise;
        return verdicts.OrderByDescending(v => v.Surprise).ThenBy(v => v.Metric, StringComparer.Ordinal).Take(top)
            .Select(v => new Contributor(v.Metric, total > 0 ? v.Surprise / total : 0, v.Expected, v.Actual)).ToArray();
    }

    [Test]
    public void Contributors_come_in_the_order_and_with_the_shares_a_stable_sort_gives()
    {
        var random = new Random(11);
        string[] names = ["cpu_usage", "memory_usage", "disk_usage", "network_in", "network_latency", "error_rate", "a", "B"];
        for (var round = 0; round < 5_000; round++)
        {
            var count = random.Next(0, 9);
            // Few distinct tails, so equal surprises (and, with repeated names, full ties) are common.
            var verdicts = Enumerable.Range(0, count).Select(i => new MetricVerdict(names[random.Next(names.Length)],
                random.Next(4) switch { 0 => 1, 1 => 0.5, 2 => 1e-6, _ => random.NextDouble() }, i, -i, 0)).ToList();
            var top = random.Next(-1, 10);

            Assert.That(OnlineWindowScorer.Contributors(verdicts, top), Is.EqualTo(ByLinq(verdicts, top)), $"round {round}");
        }
    }

    [Test]
    public void Contributors_of_many_metrics_are_selected_as_a_stable_sort_selects_them()
    {
        var random = new Random(4);
        var verdicts = Enumerable.Range(0, 600).Select(i => new MetricVerdict($"m{random.Next(300)}", random.Next(50) / 50.0, i, i, 0)).ToList();

        Assert.That(OnlineWindowScorer.Contributors(verdicts, 20), Is.EqualTo(ByLinq(verdicts, 20)));
    }
}
