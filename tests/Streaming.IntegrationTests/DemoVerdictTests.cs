using Streaming.Host.Cli;

namespace Streaming.IntegrationTests;

/// <summary>The demo's closing verdict counts this run's own records, and dead-lettered valid samples count as missing.</summary>
public sealed class DemoVerdictTests
{
    private static readonly Dictionary<string, long> BrokenOnly = new() { ["malformed_json"] = 61, ["missing_entity"] = 61 };

    [Test]
    public void A_complete_run_has_no_shortfalls()
    {
        var tally = new DemoCommand.DemoTally(119_860, 122, 119_738, 122, BrokenOnly, 19_954, 119_860, 19_954);
        Assert.That(DemoCommand.Shortfalls(tally), Is.Empty);
    }

    [Test]
    public void A_rerun_whose_samples_were_all_dead_lettered_as_late_fails_naming_the_count_and_the_reason()
    {
        // Issue 16, defect 5: every valid sample rejected as late, 0 windows; the old check (processed = accepted +
        // rejected ≥ published, telemetry written ≥ published) called this run complete.
        var reasons = new Dictionary<string, long>(BrokenOnly) { ["late"] = 119_837 };
        var tally = new DemoCommand.DemoTally(119_959, 122, 0, 119_959, reasons, 0, 119_959, 0);
        var shortfalls = DemoCommand.Shortfalls(tally);
        Assert.That(shortfalls, Has.Count.EqualTo(1), string.Join('\n', shortfalls));
        Assert.That(shortfalls[0], Does.Contain("119,837 valid samples were dead-lettered").And.Contain("late 119,837").And.Contain("fresh topics"));
    }

    [Test]
    public void Missing_windows_and_rows_are_each_named()
    {
        var tally = new DemoCommand.DemoTally(1_000, 0, 1_000, 0, new Dictionary<string, long>(), 0, 400, 0);
        var shortfalls = DemoCommand.Shortfalls(tally);
        Assert.That(shortfalls, Has.One.Contains("no window closed"));
        Assert.That(shortfalls, Has.One.Contains("600 of 1,000 telemetry records were not written"));

        var featuresMissing = DemoCommand.Shortfalls(new DemoCommand.DemoTally(1_000, 0, 1_000, 0, new Dictionary<string, long>(), 50, 1_000, 20));
        Assert.That(featuresMissing, Is.EqualTo(new[] { "30 of 50 closed windows' features were not written to the database." }));
    }
}
