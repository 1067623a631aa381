using Streaming.Host.Cli;

namespace Streaming.IntegrationTests;

public sealed class DemoTimelineTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 19, 9, 42, TimeSpan.Zero);

    [Test]
    public void A_demo_of_known_length_ends_at_about_now_so_the_default_dashboards_show_it()
    {
        // 60 s × 2,000 samples/s × 10 s per sample / 20 machines = 60,000 s of simulated time (16 h 40 min).
        var start = DemoTimeline.SimulatedStart(Now, TimeSpan.FromSeconds(60), rate: 2000, entities: 20, TimeSpan.FromSeconds(10));

        Assert.That(start, Is.EqualTo(new DateTimeOffset(2026, 12, 2, 2, 29, 0, TimeSpan.Zero)));
        Assert.That(start + TimeSpan.FromSeconds(60_000), Is.InRange(Now - TimeSpan.FromMinutes(1), Now), "the simulated end is within a minute before now");
    }

    [Test]
    public void A_demo_until_ctrl_c_starts_a_day_back_on_a_whole_minute()
    {
        var start = DemoTimeline.SimulatedStart(Now, duration: null, rate: 2000, entities: 20, TimeSpan.FromSeconds(10));

        Assert.That(start, Is.EqualTo(new DateTimeOffset(2026, 12, 1, 19, 9, 0, TimeSpan.Zero)));
    }
}
