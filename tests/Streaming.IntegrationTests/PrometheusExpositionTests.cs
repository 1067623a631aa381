using System.Diagnostics;
using System.Text.RegularExpressions;
using Streaming.Contracts;
using Streaming.Host.Pipeline;

namespace Streaming.IntegrationTests;

/// <summary>
/// The pipeline's /metrics exposition as prometheus-net renders it: the names, types and labels the README documents,
/// counters that sum, cumulative buckets, series that leave with their partition, label escaping, and promtool's verdict.
/// </summary>
public sealed partial class PrometheusExpositionTests
{
    [Test]
    public async Task Counters_are_prometheus_counters_that_sum_their_increments_per_label_set()
    {
        using var counters = new PipelineCounters();
        counters.AddStageRecords("processor", 2);
        counters.AddStageRecords("processor", 3);
        counters.AddStageRecords("sink", 1);
        counters.AddRejected(RejectionReason.MissingEntity);
        counters.AddRejected(RejectionReason.MissingEntity);

        var text = await counters.ExpositionAsync();

        Assert.That(text, Does.Contain("# TYPE streaming_stage_records_total counter\n"));
        Assert.That(text, Does.Contain("streaming_stage_records_total{stage=\"processor\"} 5\n"));
        Assert.That(text, Does.Contain("streaming_stage_records_total{stage=\"sink\"} 1\n"));
        Assert.That(text, Does.Contain("# TYPE streaming_records_rejected_total counter\n"));
        Assert.That(text, Does.Contain("streaming_records_rejected_total{reason=\"missing_entity\"} 2\n"));
        Assert.That(text, Does.Contain("streaming_samples_produced_total 0\n"), "an unlabelled counter is exported from zero");
    }

    [Test]
    public async Task Histograms_render_cumulative_buckets_with_inf_sum_and_count()
    {
        using var counters = new PipelineCounters();
        foreach (var seconds in new[] { 0.0005, 0.001, 0.02, 0.5, 50 })
            counters.RecordSinkBatch(10, TimeSpan.FromSeconds(seconds));

        var lines = (await counters.ExpositionAsync()).Split('\n');

        Assert.That(lines, Does.Contain("# TYPE streaming_sink_batch_duration_seconds histogram"));
        Assert.That(lines, Is.SupersetOf(new[]
        {
            "streaming_sink_batch_duration_seconds_bucket{le=\"0.001\"} 2", // le is inclusive: 0.001 falls in the 0.001 bucket
            "streaming_sink_batch_duration_seconds_bucket{le=\"0.025\"} 3",
            "streaming_sink_batch_duration_seconds_bucket{le=\"0.5\"} 4",
            "streaming_sink_batch_duration_seconds_bucket{le=\"10\"} 4",
            "streaming_sink_batch_duration_seconds_bucket{le=\"+Inf\"} 5",
            "streaming_sink_batch_duration_seconds_sum 50.5215",
            "streaming_sink_batch_duration_seconds_count 5",
            "streaming_sink_batch_records_count 5",
        }));
    }

    [Test]
    public async Task Label_values_are_escaped()
    {
        using var counters = new PipelineCounters();
        counters.RecordScore("C:\\models\\\"x\"\nnext", 2.5, 6);

        var text = await counters.ExpositionAsync();

        Assert.That(text, Does.Contain("streaming_anomaly_score_count{model=\"C:\\\\models\\\\\\\"x\\\"\\nnext\"} 1\n"));
    }

    [Test]
    public async Task Lag_of_a_revoked_partition_and_drift_of_a_replaced_version_leave_the_exposition()
    {
        using var counters = new PipelineCounters();
        counters.SetLag("processor", [("telemetry", 0, 7), ("telemetry", 1, 10)]);
        counters.SetDrift("ensemble", "v1", ["cpu_usage.mean"], [0.5]);
        counters.SetActiveModel("ensemble", "v1");
        var before = await counters.ExpositionAsync();

        counters.SetLag("processor", [("telemetry", 1, 12)]);
        counters.SetDrift("ensemble", "v2", ["cpu_usage.mean"], [0.25]);
        counters.SetActiveModel("ensemble", "v2");
        var after = await counters.ExpositionAsync();

        Assert.That(before, Does.Contain("streaming_consumer_lag{role=\"processor\",topic=\"telemetry\",partition=\"0\"} 7\n")
            .And.Contain("streaming_consumer_lag{role=\"processor\",topic=\"telemetry\",partition=\"1\"} 10\n")
            .And.Contain("streaming_model_info{model=\"ensemble\",version=\"v1\"} 1\n"));
        Assert.That(after, Does.Not.Contain("partition=\"0\"").And.Contain("streaming_consumer_lag{role=\"processor\",topic=\"telemetry\",partition=\"1\"} 12\n"));
        Assert.That(after, Does.Not.Contain("version=\"v1\"").And.Contain("streaming_model_drift{model=\"ensemble\",version=\"v2\",feature=\"cpu_usage.mean\"} 0.25\n")
            .And.Contain("streaming_model_info{model=\"ensemble\",version=\"v2\"} 1\n"));
        Assert.That(counters.ConsumerLag("processor"), Is.EqualTo(12));
    }

    [Test]
    public async Task Every_series_the_readme_documents_is_exported_with_its_type_and_labels()
    {
        using var counters = new PipelineCounters();
        FeedEveryInstrument(counters);
        var text = await counters.ExpositionAsync();
        var types = TypeLine().Matches(text).ToDictionary(m => m.Groups["name"].Value, m => m.Groups["type"].Value, StringComparer.Ordinal);
        var readme = await File.ReadAllLinesAsync(Path.Combine(TestStack.RepoRoot, "README.md"));
        var documented = readme.Select(line => ReadmeRow().Match(line)).Where(m => m.Success).ToList();

        Assert.That(documented, Has.Count.GreaterThanOrEqualTo(18), "the README's metrics table was found");
        foreach (var row in documented)
        {
            var type = row.Groups["type"].Value.Split(' ')[0];
            // "`stage` = `ingest`, `processor`" names one label and its values; "`role`, `topic`" names two labels.
            var cell = row.Groups["labels"].Value;
            var labels = LabelName().Matches(cell.Split(" = ")[0]).Select(m => m.Groups[1].Value).ToList();
            foreach (var name in MetricName().Matches(row.Groups["names"].Value).Select(m => m.Groups[1].Value))
            {
                Assert.That(types.GetValueOrDefault(name), Is.EqualTo(type), $"{name} is exported as a {type}");
                var sample = text.Split('\n').First(l => l.StartsWith(name, StringComparison.Ordinal) && !l.StartsWith('#'));
                var exported = SampleLabels().Matches(sample).Select(m => m.Groups[1].Value).Where(l => l != "le").ToList();
                Assert.That(exported, Is.EqualTo(labels), $"{name}'s labels: {sample}");
            }
        }
        Assert.That(types.Keys.Except(documented.SelectMany(r => MetricName().Matches(r.Groups["names"].Value).Select(m => m.Groups[1].Value))),
            Is.Empty, "every exported family is documented in the README");
    }

    [Test]
    public async Task Metrics_endpoint_passes_promtool_check()
    {
        using var counters = new PipelineCounters();
        FeedEveryInstrument(counters);
        var text = await counters.ExpositionAsync();

        var (exitCode, output) = RunPromtool(text);

        Assert.That(exitCode, Is.Zero, $"promtool check metrics found problems:\n{output}\n--- exposition ---\n{text}");
        Assert.That(output.Trim(), Is.Empty, "no lint warnings either");
        foreach (var series in new[]
                 {
                     "streaming_stage_records_total{stage=\"processor\"} 100", "streaming_consumer_lag{", "streaming_end_to_end_latency_seconds_bucket{",
                     "streaming_records_rejected_total{reason=\"missing_entity\"} 1", "streaming_anomaly_score_bucket{", "streaming_model_drift{model=\"ensemble\",version=\"20261122-101500\",feature=\"cpu_usage.mean\"} 0.31",
                     "streaming_sink_batch_records_count 1", "streaming_sink_batch_duration_seconds_sum 0.25", "streaming_model_info{model=\"robust-baseline\",version=\"1\"} 1",
                 })
        {
            Assert.That(text, Does.Contain(series));
        }
    }

    [GeneratedRegex(@"^# TYPE (?<name>\S+) (?<type>\S+)$", RegexOptions.Multiline)]
    private static partial Regex TypeLine();

    // | `name` (/ `name`) | type | labels | meaning |
    [GeneratedRegex(@"^\| (?<names>`streaming_[^|]+) \| (?<type>counter|gauge|histogram)[^|]* \|\s*(?<labels>[^|]*?)\s*\|")]
    private static partial Regex ReadmeRow();

    [GeneratedRegex(@"`(streaming_[a-z_]+)`")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"`([a-z_]+)`")]
    private static partial Regex LabelName();

    [GeneratedRegex(@"[{,]([a-z_]+)=""")]
    private static partial Regex SampleLabels();

    /// <summary>Every instrument of <see cref="PipelineCounters"/> with at least one series, as a running pipeline has.</summary>
    internal static void FeedEveryInstrument(PipelineCounters counters)
    {
        counters.AddProduced(100);
        counters.AddAccepted(99);
        counters.AddRejected(RejectionReason.MissingEntity);
        counters.AddWindows(10);
        counters.AddAlert(new AnomalyEvent(Guid.NewGuid(), Guid.NewGuid(), AnomalyEvent.KindName, AlertStatus.Open, "web-1",
            DateTimeOffset.UtcNow.AddMinutes(-2), DateTimeOffset.UtcNow.AddSeconds(-31), DateTimeOffset.UtcNow, 9, 6, Severity.Warning,
            "robust-baseline", "1", []), DateTimeOffset.UtcNow);
        counters.AddRows("metrics", 500);
        counters.AddStageRecords("processor", 100);
        counters.AddHttpRequest("/api/v1/metrics", 202);
        counters.RecordScore("robust-baseline", 2.5, 6);
        counters.SetDrift("ensemble", "20261122-101500", ["cpu_usage.mean"], [0.31]);
        counters.SetActiveModel("robust-baseline", "1");
        counters.RecordSinkBatch(120, TimeSpan.FromMilliseconds(250));
        counters.SetLag("processor", [("telemetry", 0, 42), ("telemetry", 1, 0)]);
        counters.AddInFlight("processor", 1, 100);
        counters.SetPaused("processor", 2);
        counters.AddRestoreReplayed("processor", 1200);
        counters.AddSnapshotWritten("processor", 4096);
        counters.AddSnapshotLoaded("processor");
        counters.AddSnapshotFallback("processor", "missing");
        counters.AddProducerRecreation("processor", "TransactionalIdAuthorizationFailed");
    }

    private static (int ExitCode, string Output) RunPromtool(string exposition)
    {
        var promtool = PrometheusBinaries.Find("promtool");
        using var process = Process.Start(new ProcessStartInfo(promtool, "check metrics")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        process.StandardInput.Write(exposition);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr);
    }
}

/// <summary>Debian's prometheus package; tests fail (never skip) with the fix when it is missing.</summary>
internal static class PrometheusBinaries
{
    public static string Find(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Append("/usr/local/bin"))
        {
            var candidate = Path.Combine(dir, name);
            if (dir.Length > 0 && File.Exists(candidate))
                return candidate;
        }
        Assert.Fail($"'{name}' is not installed: run infra/setup.sh (it installs Debian's prometheus package, which provides prometheus and promtool).");
        throw new UnreachableException();
    }
}
