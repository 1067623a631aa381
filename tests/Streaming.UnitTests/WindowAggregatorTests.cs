using Streaming.Contracts;
using Streaming.Processing.Windows;

namespace Streaming.UnitTests;

public sealed class WindowAggregatorTests
{
    // 2026-11-22T10:00:00Z: a multiple of every window size used here, so window k starts at T0 + k * size.
    private const long T0 = 1_795_341_600_000;
    private const long Second = 1000;

    private static WindowOptions Tumbling(int sizeSeconds = 60, int graceSeconds = 0, double alpha = 0.3, int? expectedIntervalSeconds = null) => new()
    {
        Size = TimeSpan.FromSeconds(sizeSeconds),
        Grace = TimeSpan.FromSeconds(graceSeconds),
        EwmaAlpha = alpha,
        ExpectedSampleInterval = expectedIntervalSeconds is { } s ? TimeSpan.FromSeconds(s) : null,
    };

    private static TelemetrySample At(string entity, long offsetMs, double value = 1, string metric = "x") =>
        new(entity, T0 + offsetMs, [new MetricValue(metric, value)]);

    private static List<ClosedWindow> Collect(WindowAggregator aggregator)
    {
        var closed = new List<ClosedWindow>();
        aggregator.CollectClosed(closed);
        return closed;
    }

    private static List<ClosedWindow> Drain(WindowAggregator aggregator)
    {
        aggregator.AdvanceStreamTime(long.MaxValue / 2);
        return Collect(aggregator);
    }

    private static string Describe(ClosedWindow w) => $"{w.Entity}@{(w.Bounds.StartMs - T0) / Second}s-{(w.Bounds.EndMs - T0) / Second}s:{w.SampleCount}";

    [Test]
    public void Tumbling_windows_count_each_entitys_samples_in_its_own_window()
    {
        var aggregator = new WindowAggregator(Tumbling());
        foreach (var (entity, offset) in new[] { ("a", 0L), ("a", 10 * Second), ("b", 5 * Second), ("a", 59_999L), ("a", 60 * Second), ("a", 70 * Second) })
            Assert.That(aggregator.Add(At(entity, offset)), Is.EqualTo(AddOutcome.Accepted));

        Assert.That(Drain(aggregator).Select(Describe), Is.EqualTo(new[] { "a@0s-60s:3", "b@0s-60s:1", "a@60s-120s:2" }));
    }

    [Test]
    public void Hopping_windows_put_a_sample_in_size_over_advance_windows()
    {
        var aggregator = new WindowAggregator(Tumbling() with { Advance = TimeSpan.FromSeconds(20) });

        aggregator.Add(At("a", 70 * Second));

        Assert.That(aggregator.OpenWindowCount, Is.EqualTo(3));
        Assert.That(Drain(aggregator).Select(Describe), Is.EqualTo(new[] { "a@20s-80s:1", "a@40s-100s:1", "a@60s-120s:1" }));
    }

    [Test]
    public void Sample_on_a_hopping_window_boundary_starts_a_window_and_misses_the_one_that_ends_there()
    {
        var aggregator = new WindowAggregator(Tumbling() with { Advance = TimeSpan.FromSeconds(30) });

        aggregator.Add(At("a", 60 * Second));

        Assert.That(Drain(aggregator).Select(Describe), Is.EqualTo(new[] { "a@30s-90s:1", "a@60s-120s:1" }));
    }

    [Test]
    public void Out_of_order_sample_within_grace_lands_in_its_event_time_window()
    {
        var aggregator = new WindowAggregator(Tumbling(graceSeconds: 30));
        aggregator.Add(At("a", 10 * Second, 1));
        aggregator.Add(At("a", 65 * Second, 100));

        Assert.That(aggregator.Add(At("a", 50 * Second, 3)), Is.EqualTo(AddOutcome.Accepted));

        var closed = Drain(aggregator);
        Assert.That(closed.Select(Describe), Is.EqualTo(new[] { "a@0s-60s:2", "a@60s-120s:1" }));
        Assert.That(closed[0].Features[0].Mean, Is.EqualTo(2));
        Assert.That(closed[1].Features[0].Mean, Is.EqualTo(100));
    }

    [Test]
    public void Late_record_after_grace_is_rejected_as_late_and_the_window_result_is_unchanged()
    {
        var aggregator = new WindowAggregator(Tumbling(graceSeconds: 10));
        aggregator.Add(At("a", 10 * Second, 4));
        aggregator.Add(At("a", 70 * Second, 8)); // stream time 70 s = end 60 s + grace 10 s: window [0, 60) is closed

        Assert.That(aggregator.Add(At("a", 30 * Second, 1000)), Is.EqualTo(AddOutcome.Late));

        var closed = Collect(aggregator);
        Assert.That(closed.Select(Describe), Is.EqualTo(new[] { "a@0s-60s:1" }));
        Assert.That(closed[0].Features[0].Max, Is.EqualTo(4));
    }

    [Test]
    public void Late_record_after_its_window_was_emitted_does_not_reopen_it()
    {
        var aggregator = new WindowAggregator(Tumbling(graceSeconds: 10));
        aggregator.Add(At("a", 10 * Second));
        aggregator.Add(At("a", 70 * Second));
        Assert.That(Collect(aggregator), Has.Count.EqualTo(1));

        Assert.That(aggregator.Add(At("a", 20 * Second)), Is.EqualTo(AddOutcome.Late));
        Assert.That(aggregator.Add(At("b", 20 * Second)), Is.EqualTo(AddOutcome.Late), "stream time is per aggregator, not per entity");
        Assert.That(aggregator.OpenWindowCount, Is.EqualTo(1));
        Assert.That(Drain(aggregator).Select(Describe), Is.EqualTo(new[] { "a@60s-120s:1" }));
    }

    [Test]
    public void Window_closes_exactly_when_stream_time_reaches_end_plus_grace()
    {
        var aggregator = new WindowAggregator(Tumbling(graceSeconds: 10));
        aggregator.Add(At("a", 0));

        aggregator.AdvanceStreamTime(T0 + 70 * Second - 1);
        Assert.That(Collect(aggregator), Is.Empty);
        Assert.That(aggregator.Add(At("a", 59_999)), Is.EqualTo(AddOutcome.Accepted), "still open one millisecond before end + grace");

        aggregator.AdvanceStreamTime(T0 + 70 * Second);
        Assert.That(aggregator.Add(At("a", 59_998)), Is.EqualTo(AddOutcome.Late));
        Assert.That(Collect(aggregator).Select(Describe), Is.EqualTo(new[] { "a@0s-60s:2" }));
    }

    [Test]
    public void Repeated_event_time_for_an_entity_is_a_duplicate_and_is_not_counted()
    {
        var aggregator = new WindowAggregator(Tumbling());
        aggregator.Add(At("a", 10 * Second, 1));

        Assert.That(aggregator.Add(At("a", 10 * Second, 99)), Is.EqualTo(AddOutcome.Duplicate));
        Assert.That(aggregator.Add(At("b", 10 * Second, 5)), Is.EqualTo(AddOutcome.Accepted), "another entity may share the time");

        var closed = Drain(aggregator);
        Assert.That(closed.Select(Describe), Is.EqualTo(new[] { "a@0s-60s:1", "b@0s-60s:1" }));
        Assert.That(closed[0].Features[0].Max, Is.EqualTo(1));
    }

    [Test]
    public void Features_match_hand_computed_values()
    {
        var aggregator = new WindowAggregator(Tumbling(alpha: 0.5));
        double[] values = [10, 12, 11, 15, 20];
        for (var i = 0; i < values.Length; i++)
            aggregator.Add(At("a", i * 10 * Second, values[i]));

        var f = Drain(aggregator).Single().Features.Single();

        Assert.Multiple(() =>
        {
            Assert.That(f.Metric, Is.EqualTo("x"));
            Assert.That(f.Count, Is.EqualTo(5));
            Assert.That(f.Mean, Is.EqualTo(13.6).Within(1e-12));
            Assert.That(f.Std, Is.EqualTo(Math.Sqrt(65.2 / 4)).Within(1e-12), "sample standard deviation, n - 1");
            Assert.That(f.Min, Is.EqualTo(10));
            Assert.That(f.Max, Is.EqualTo(20));
            Assert.That(f.First, Is.EqualTo(10));
            Assert.That(f.Last, Is.EqualTo(20));
            Assert.That(f.Slope, Is.EqualTo(230.0 / 1000).Within(1e-12), "least squares, per second");
            Assert.That(f.Ewma, Is.EqualTo(16.5).Within(1e-12), "10 → 11 → 11 → 13 → 16.5 with alpha 0.5");
            Assert.That(f.P50, Is.EqualTo(12));
            Assert.That(f.P95, Is.EqualTo(19).Within(1e-12), "15 + 0.8 * (20 - 15)");
            Assert.That(f.RateOfChange, Is.EqualTo(0.25).Within(1e-12), "(20 - 10) / 40 s");
            Assert.That(f.MissingRatio, Is.Null);
        });
    }

    [Test]
    public void Order_independent_features_are_the_same_when_samples_arrive_out_of_order()
    {
        var aggregator = new WindowAggregator(Tumbling(graceSeconds: 60, alpha: 0.5));
        double[] values = [10, 12, 11, 15, 20];
        foreach (var i in new[] { 3, 0, 4, 1, 2 })
            aggregator.Add(At("a", i * 10 * Second, values[i]));

        var f = Drain(aggregator).Single().Features.Single();

        Assert.Multiple(() =>
        {
            Assert.That(f.Mean, Is.EqualTo(13.6).Within(1e-12));
            Assert.That(f.Std, Is.EqualTo(Math.Sqrt(65.2 / 4)).Within(1e-12));
            Assert.That(f.First, Is.EqualTo(10), "first by event time, not arrival");
            Assert.That(f.Last, Is.EqualTo(20), "last by event time, not arrival");
            Assert.That(f.Slope, Is.EqualTo(0.23).Within(1e-12));
            Assert.That(f.P50, Is.EqualTo(12));
            Assert.That(f.P95, Is.EqualTo(19).Within(1e-12));
            Assert.That(f.RateOfChange, Is.EqualTo(0.25).Within(1e-12));
            // EWMA follows arrival: 15 → 12.5 → 16.25 → 14.125 → 12.5625.
            Assert.That(f.Ewma, Is.EqualTo(12.5625).Within(1e-12));
        });
    }

    [Test]
    public void Slope_of_a_linear_ramp_is_exact_in_any_arrival_order()
    {
        var aggregator = new WindowAggregator(Tumbling(graceSeconds: 60));
        var random = new Random(7);
        var offsets = Enumerable.Range(0, 12).Select(i => i * 5 * Second).OrderBy(_ => random.Next()).ToArray();
        foreach (var offset in offsets)
            aggregator.Add(At("a", offset, 3 - 0.75 * (offset / 1000.0)));

        var f = Drain(aggregator).Single().Features.Single();

        Assert.That(f.Slope, Is.EqualTo(-0.75).Within(1e-12));
        Assert.That(f.RateOfChange, Is.EqualTo(-0.75).Within(1e-12));
        Assert.That(f.First, Is.EqualTo(3));
    }

    [Test]
    public void Single_sample_window_has_zero_std_and_slope_and_no_rate_of_change()
    {
        var aggregator = new WindowAggregator(Tumbling());
        aggregator.Add(At("a", 5 * Second, 42));

        var f = Drain(aggregator).Single().Features.Single();

        Assert.That((f.Std, f.Slope, f.Ewma, f.P50, f.P95, f.RateOfChange), Is.EqualTo((0.0, 0.0, 42.0, (double?)42, (double?)42, (double?)null)));
    }

    [TestCase(6, 0.0)]
    [TestCase(4, 1.0 / 3)]
    [TestCase(1, 5.0 / 6)]
    [TestCase(12, 0.0)]
    public void Missing_ratio_compares_the_count_with_the_expected_sample_interval(int samples, double expected)
    {
        var aggregator = new WindowAggregator(Tumbling(expectedIntervalSeconds: 10));
        for (var i = 0; i < samples; i++)
            aggregator.Add(At("a", i * 60 * Second / samples));

        Assert.That(Drain(aggregator).Single().Features.Single().MissingRatio, Is.EqualTo(expected).Within(1e-12));
    }

    [Test]
    public void AdvanceStreamTime_closes_an_idle_entitys_window_and_never_goes_back()
    {
        var aggregator = new WindowAggregator(Tumbling(graceSeconds: 5));
        aggregator.Add(At("quiet", 10 * Second));
        Assert.That(Collect(aggregator), Is.Empty);

        aggregator.AdvanceStreamTime(T0 + 65 * Second);
        aggregator.AdvanceStreamTime(T0);

        Assert.That(aggregator.StreamTimeMs, Is.EqualTo(T0 + 65 * Second));
        Assert.That(Collect(aggregator).Select(Describe), Is.EqualTo(new[] { "quiet@0s-60s:1" }));
        Assert.That(aggregator.OpenWindowCount, Is.Zero);
    }

    [Test]
    public void Closed_windows_are_ordered_by_start_then_entity_and_features_by_metric_name()
    {
        var aggregator = new WindowAggregator(Tumbling(graceSeconds: 120));
        aggregator.Add(new TelemetrySample("c", T0 + 61 * Second, [new MetricValue("zeta", 1), new MetricValue("Alpha", 2), new MetricValue("beta", 3)]));
        aggregator.Add(At("b", 62 * Second));
        aggregator.Add(At("c", 1 * Second));
        aggregator.Add(At("a", 70 * Second));
        aggregator.Add(At("b", 2 * Second));

        var closed = Drain(aggregator);

        Assert.That(closed.Select(Describe), Is.EqualTo(new[] { "b@0s-60s:1", "c@0s-60s:1", "a@60s-120s:1", "b@60s-120s:1", "c@60s-120s:1" }));
        Assert.That(closed[4].Features.Select(f => f.Metric), Is.EqualTo(new[] { "Alpha", "beta", "zeta" }));
    }

    [Test]
    public void Reused_window_state_does_not_carry_metrics_from_an_earlier_window()
    {
        var aggregator = new WindowAggregator(Tumbling());
        aggregator.Add(new TelemetrySample("a", T0, [new MetricValue("cpu", 50), new MetricValue("mem", 70)]));
        aggregator.Add(new TelemetrySample("a", T0 + 1000, [new MetricValue("cpu", 60), new MetricValue("mem", 80)]));
        aggregator.AdvanceStreamTime(T0 + 60 * Second);
        Assert.That(Collect(aggregator), Has.Count.EqualTo(1));

        aggregator.Add(new TelemetrySample("a", T0 + 61 * Second, [new MetricValue("mem", 10)]));
        var second = Drain(aggregator).Single();

        Assert.That(second.Features.Select(f => (f.Metric, f.Count, f.Mean, f.P95)), Is.EqualTo(new[] { ("mem", 1, 10.0, (double?)10) }));
    }

    [Test]
    public void ToEvent_carries_the_window_bounds_as_times()
    {
        var aggregator = new WindowAggregator(Tumbling());
        aggregator.Add(At("a", 1));

        var e = Drain(aggregator).Single().ToEvent();

        Assert.That((e.Entity, e.WindowStart, e.WindowEnd, e.SampleCount),
            Is.EqualTo(("a", DateTimeOffset.FromUnixTimeMilliseconds(T0), DateTimeOffset.FromUnixTimeMilliseconds(T0 + 60 * Second), 1)));
    }

    private static IEnumerable<TestCaseData> InvalidOptions()
    {
        var valid = Tumbling();
        yield return new TestCaseData(valid with { Size = TimeSpan.Zero }, "Windows:Size").SetName("Zero_size_is_rejected_naming_Windows_Size");
        yield return new TestCaseData(valid with { Size = TimeSpan.FromTicks(15_000) }, "Windows:Size").SetName("Fractional_millisecond_size_is_rejected_naming_Windows_Size");
        yield return new TestCaseData(valid with { Advance = TimeSpan.FromSeconds(90) }, "Windows:Advance").SetName("Advance_larger_than_size_is_rejected_naming_Windows_Advance");
        yield return new TestCaseData(valid with { Advance = TimeSpan.FromSeconds(25) }, "Windows:Advance").SetName("Advance_that_does_not_divide_size_is_rejected_naming_Windows_Advance");
        yield return new TestCaseData(new WindowOptions { Size = TimeSpan.FromMilliseconds(3), Advance = TimeSpan.FromTicks(15_000), Grace = TimeSpan.Zero }, "Windows:Advance")
            .SetName("Fractional_millisecond_advance_is_rejected_naming_Windows_Advance");
        yield return new TestCaseData(valid with { Advance = TimeSpan.Zero }, "Windows:Advance").SetName("Zero_advance_is_rejected_naming_Windows_Advance");
        yield return new TestCaseData(valid with { Grace = TimeSpan.FromSeconds(-1) }, "Windows:Grace").SetName("Negative_grace_is_rejected_naming_Windows_Grace");
        yield return new TestCaseData(valid with { EwmaAlpha = 0 }, "Windows:EwmaAlpha").SetName("Zero_EwmaAlpha_is_rejected_naming_Windows_EwmaAlpha");
        yield return new TestCaseData(valid with { EwmaAlpha = 1.5 }, "Windows:EwmaAlpha").SetName("EwmaAlpha_above_one_is_rejected_naming_Windows_EwmaAlpha");
        yield return new TestCaseData(valid with { EwmaAlpha = double.NaN }, "Windows:EwmaAlpha").SetName("NaN_EwmaAlpha_is_rejected_naming_Windows_EwmaAlpha");
        yield return new TestCaseData(valid with { ExpectedSampleInterval = TimeSpan.Zero }, "Windows:ExpectedSampleInterval").SetName("Zero_expected_interval_is_rejected_naming_Windows_ExpectedSampleInterval");
    }

    [TestCaseSource(nameof(InvalidOptions))]
    public void Invalid_options_throw_naming_the_setting(WindowOptions options, string setting)
    {
        var ex = Assert.Throws<ArgumentException>(() => _ = new WindowAggregator(options));
        Assert.That(ex!.Message, Does.StartWith(setting));
    }

    [Test]
    public void Valid_hopping_options_with_alpha_one_are_accepted() =>
        Assert.That(() => new WindowAggregator(Tumbling(alpha: 1) with { Advance = TimeSpan.FromSeconds(60) }), Throws.Nothing);
}
