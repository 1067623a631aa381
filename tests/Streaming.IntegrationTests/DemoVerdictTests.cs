using Npgsql;
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

/// <summary>The demo's closing lines read the newest alerts and predictions back from the database with their explanations.</summary>
public sealed class DemoSummaryTests
{
    [Test]
    public async Task Latest_open_alert_and_prediction_are_printed_with_their_explanations()
    {
        var (dataSource, _) = await TrainFromHistoryTests.OpenAsync(TestStack.UniqueName("demo_summary"));
        await using var _ = dataSource;
        await using var connection = await dataSource.OpenConnectionAsync();
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO alerts (alert_id, time, entity, kind, status, severity, score, threshold, model, model_version, top_metric, payload)
            VALUES (gen_random_uuid(), now(), 'web-3', 'anomaly', 'open', 'critical', 9.5, 6, 'ensemble', '1', 'cpu_usage',
                    '{"contributors":[{"metric":"cpu_usage","share":0.8,"expected":41.5,"actual":97}]}'),
                   (gen_random_uuid(), now() - interval '1 minute', 'web-4', 'anomaly', 'resolved', 'warning', 1, 6, 'ensemble', '1', NULL, '{"contributors":[]}');
            INSERT INTO predictions (time, entity, model, model_version, time_to_downtime_seconds, p_5m, p_15m, p_30m, top_metric, payload)
            VALUES (now(), 'press-7', 'downtime', '1', 600, 0.1, 0.5, 0.9, 'vibration', '{"status":"open"}'),
                   (now() - interval '1 minute', 'press-8', 'downtime', '1', NULL, 0, 0.02, 0.05, NULL, '{"status":"resolved"}');
            """, connection))
        {
            await insert.ExecuteNonQueryAsync();
        }
        var output = new StringWriter();

        await DemoCommand.PrintLatestAsync(connection, output);

        var lines = output.ToString().Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(5), output.ToString());
        Assert.That(lines[1], Is.EqualTo("web-3 open critical 9.50/6.00: cpu_usage 80 % (41.5 → 97)"), "only open anomaly alerts");
        Assert.That(lines[3], Is.EqualTo("press-7 open 10 %/50 %/90 %, down in ~10 min, driven by vibration"));
        Assert.That(lines[4], Is.EqualTo("press-8 resolved 0 %/2 %/5 %, down in ~?, driven by ?"));
    }
}
