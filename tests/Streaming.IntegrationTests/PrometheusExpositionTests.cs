using System.Diagnostics;
using System.Diagnostics.Metrics;
using Streaming.Contracts;
using Streaming.Host.Operations;
using Streaming.Host.Pipeline;

namespace Streaming.IntegrationTests;

/// <summary>The /metrics text format: names, types, cumulative buckets, label escaping, and promtool's verdict.</summary>
public sealed class PrometheusExpositionTests
{
    [Test]
    public void Counters_get_a_total_suffix_and_sum_their_increments_per_label_set()
    {
        using var meter = new Meter(TestStack.UniqueName("exposition"));
        using var exporter = new PrometheusExporter(m => ReferenceEquals(m, meter));
        var counter = meter.CreateCounter<long>("demo_requests", description: "Requests");
        counter.Add(2, new KeyValuePair<string, object?>("route", "/a"));
        counter.Add(3, new KeyValuePair<string, object?>("route", "/a"));
        counter.Add(1, new KeyValuePair<string, object?>("route", "/b"));

        var text = exporter.Collect();

        Assert.That(text, Does.Contain("# HELP demo_requests_total Requests\n# TYPE demo_requests_total counter\n"));
        Assert.That(text, Does.Contain("demo_requests_total{route=\"/a\"} 5\n"));
        Assert.That(text, Does.Contain("demo_requests_total{route=\"/b\"} 1\n"));
    }

    [Test]
    public void Histograms_render_cumulative_buckets_with_inf_sum_and_count()
    {
        using var meter = new Meter(TestStack.UniqueName("exposition"));
        using var exporter = new PrometheusExporter(m => ReferenceEquals(m, meter));
        var histogram = meter.CreateHistogram("demo_seconds", "s", "Durations",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1, 10] });
        foreach (var value in new[] { 0.05, 0.1, 0.5, 5, 50 })
            histogram.Record(value);

        var lines = exporter.Collect().Split('\n');

        Assert.That(lines, Does.Contain("# TYPE demo_seconds histogram"));
        Assert.That(lines, Is.SupersetOf(new[]
        {
            "demo_seconds_bucket{le=\"0.1\"} 2", // le is inclusive: 0.1 falls in the 0.1 bucket
            "demo_seconds_bucket{le=\"1\"} 3",
            "demo_seconds_bucket{le=\"10\"} 4",
            "demo_seconds_bucket{le=\"+Inf\"} 5",
            "demo_seconds_sum 55.65",
            "demo_seconds_count 5",
        }));
    }

    [Test]
    public void Label_values_are_escaped_and_label_names_sanitized()
    {
        using var meter = new Meter(TestStack.UniqueName("exposition"));
        using var exporter = new PrometheusExporter(m => ReferenceEquals(m, meter));
        var counter = meter.CreateCounter<long>("demo.events", description: "Events");
        counter.Add(1, new KeyValuePair<string, object?>("file.path", "C:\\tmp\\\"x\"\nnext"));

        var text = exporter.Collect();

        Assert.That(text, Does.Contain("demo_events_total{file_path=\"C:\\\\tmp\\\\\\\"x\\\"\\nnext\"} 1\n"));
        Assert.That(PrometheusExporter.SanitizeName("9lives.count", label: false), Is.EqualTo("_lives_count"));
        Assert.That(PrometheusExporter.SanitizeName("a:b", label: true), Is.EqualTo("a_b"));
    }

    [Test]
    public void Observable_gauge_series_not_reported_any_more_leave_the_exposition()
    {
        using var meter = new Meter(TestStack.UniqueName("exposition"));
        using var exporter = new PrometheusExporter(m => ReferenceEquals(m, meter));
        var partitions = new List<int> { 0, 1 };
        meter.CreateObservableGauge("demo_lag", () => partitions.Select(p => new Measurement<long>(p * 10, new KeyValuePair<string, object?>("partition", p))),
            description: "Lag");

        var before = exporter.Collect();
        partitions.Remove(0);
        var after = exporter.Collect();

        Assert.That(before, Does.Contain("demo_lag{partition=\"0\"} 0\n").And.Contain("demo_lag{partition=\"1\"} 10\n"));
        Assert.That(after, Does.Not.Contain("partition=\"0\"").And.Contain("demo_lag{partition=\"1\"} 10\n"));
    }

    [Test]
    public void Metrics_endpoint_passes_promtool_check()
    {
        using var counters = new PipelineCounters();
        using var exporter = new PrometheusExporter(m => ReferenceEquals(m, counters.Meter));
        FeedEveryInstrument(counters);
        var text = exporter.Collect();

        var (exitCode, output) = RunPromtool(text);

        Assert.That(exitCode, Is.Zero, $"promtool check metrics found problems:\n{output}\n--- exposition ---\n{text}");
        Assert.That(output.Trim(), Is.Empty, "no lint warnings either");
        foreach (var series in new[]
                 {
                     "streaming_stage_records_total{stage=\"processor\"} 100", "streaming_consumer_lag{", "streaming_end_to_end_latency_seconds_bucket{",
                     "streaming_records_rejected_total{reason=\"missing_entity\"} 1", "streaming_anomaly_score_bucket{", "streaming_model_drift{feature=\"cpu_usage.mean\",model=\"ensemble\",version=\"20261122-101500\"} 0.31",
                     "streaming_sink_batch_records_count 1", "streaming_sink_batch_duration_seconds_sum 0.25", "streaming_model_info{model=\"robust-baseline\",version=\"1\"} 1",
                 })
        {
            Assert.That(text, Does.Contain(series));
        }
    }

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
