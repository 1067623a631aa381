using Streaming.Contracts;
using Streaming.Processing.Windows;

namespace Streaming.UnitTests;

public sealed class EarlyWindowResultsTests
{
    private const long T0 = 1_795_341_600_000;
    private const long Second = 1000;

    private static WindowOptions Options(int? earlySeconds) => new()
    {
        Size = TimeSpan.FromSeconds(60),
        Grace = TimeSpan.FromSeconds(10),
        EarlyResults = earlySeconds is { } s ? TimeSpan.FromSeconds(s) : null,
    };

    private static TelemetrySample At(string entity, long offsetSeconds, double value) =>
        new(entity, T0 + offsetSeconds * Second, [new MetricValue("cpu", value)]);

    /// <summary>Feeds samples one by one, collecting updates and final results after each, as the worker does per batch.</summary>
    private static (List<ClosedWindow> Updates, List<ClosedWindow> Finals) Run(WindowOptions options, IEnumerable<TelemetrySample> samples)
    {
        var aggregator = new WindowAggregator(options);
        var updates = new List<ClosedWindow>();
        var finals = new List<ClosedWindow>();
        foreach (var sample in samples)
        {
            aggregator.Add(sample);
            aggregator.CollectClosed(finals);
            aggregator.CollectUpdates(updates);
        }
        aggregator.AdvanceStreamTime(long.MaxValue / 2);
        aggregator.CollectClosed(finals);
        aggregator.CollectUpdates(updates);
        return (updates, finals);
    }

    private static IEnumerable<TelemetrySample> EverySecond(int seconds) =>
        Enumerable.Range(0, seconds).Select(i => At("m1", i, i));

    [Test]
    public void Without_early_results_a_window_emits_only_its_final_result()
    {
        var (updates, finals) = Run(Options(null), EverySecond(130));

        Assert.That(updates, Is.Empty);
        Assert.That(finals.Select(w => w.IsFinal), Is.All.True);
        Assert.That(finals.Select(w => w.SampleCount), Is.EqualTo(new[] { 60, 60, 10 }));
    }

    [Test]
    public void Early_results_report_an_open_window_every_interval_of_stream_time_with_growing_counts()
    {
        var (updates, _) = Run(Options(15), EverySecond(59));

        Assert.That(updates.Select(w => w.IsFinal), Is.All.False);
        // Stream time 0 s (first sample), 15 s, 30 s, 45 s: each update holds the samples up to then.
        Assert.That(updates.Select(w => w.SampleCount), Is.EqualTo(new[] { 1, 16, 31, 46 }));
        Assert.That(updates.Select(w => w.Bounds.StartMs).Distinct(), Is.EqualTo(new[] { T0 }));
    }

    [Test]
    public void Final_results_are_the_same_with_and_without_early_results()
    {
        var samples = EverySecond(200).ToList();
        var (_, plain) = Run(Options(null), samples);
        var (updates, withEarly) = Run(Options(7), samples);

        Assert.That(updates, Is.Not.Empty);
        Assert.That(withEarly.Select(Describe), Is.EqualTo(plain.Select(Describe)));
    }

    [Test]
    public void A_window_that_has_closed_gets_no_further_update_and_an_unchanged_window_gets_none()
    {
        var aggregator = new WindowAggregator(Options(5));
        var updates = new List<ClosedWindow>();
        var finals = new List<ClosedWindow>();
        aggregator.Add(At("m1", 0, 1));
        aggregator.Add(At("m2", 1, 1));
        Assert.That(aggregator.CollectUpdates(updates), Is.EqualTo(2));

        // Only m1 receives data; at the next due stream time only m1 is reported.
        aggregator.Add(At("m1", 6, 2));
        Assert.That(aggregator.CollectUpdates(updates), Is.EqualTo(1));
        Assert.That(updates[^1].Entity, Is.EqualTo("m1"));

        // Past end + grace the window closes: its final result comes from CollectClosed, no update after it.
        aggregator.Add(At("m1", 75, 3));
        aggregator.CollectClosed(finals);
        updates.Clear();
        aggregator.CollectUpdates(updates);
        Assert.That(finals.Select(w => (w.Entity, w.IsFinal)), Is.EqualTo(new[] { ("m1", true), ("m2", true) }));
        Assert.That(updates.Select(w => w.Bounds.StartMs), Is.All.EqualTo(T0 + 60 * Second), "only the new window is open");
    }

    [Test]
    public void Early_results_interval_must_be_positive()
    {
        var options = Options(null) with { EarlyResults = TimeSpan.Zero };

        Assert.That(() => options.Validated(), Throws.ArgumentException.With.Message.Contains("Windows:EarlyResults"));
    }

    private static string Describe(ClosedWindow w) =>
        $"{w.Entity}@{w.Bounds.StartMs}:{w.SampleCount}:{string.Join(",", w.Features.Select(f => $"{f.Metric}={f.Mean}/{f.P50}/{f.P95}/{f.Slope}/{f.Ewma}"))}";
}
