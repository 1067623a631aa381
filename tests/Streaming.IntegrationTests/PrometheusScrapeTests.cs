using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Streaming.Host.Cli;
using Streaming.Host.Configuration;
using Streaming.Processing.Scoring.Detection;

namespace Streaming.IntegrationTests;

/// <summary>
/// A real Prometheus server (Debian's package) scrapes a running `streaming run` (processor, sink and api roles) and the test
/// reads series back through Prometheus's HTTP API: ingested samples counted by the api, the processor and the sink.
/// </summary>
public sealed class PrometheusScrapeTests
{
    private const int Samples = 25;

    [Test]
    public async Task Prometheus_scrapes_the_pipeline_and_answers_queries_for_its_series()
    {
        var prometheusBinary = PrometheusBinaries.Find("prometheus");
        var name = TestStack.UniqueName("scrape");
        var settings = TestStack.IsolatedSettings(name);
        settings.Kafka.BootstrapServers = TestStack.Kafka.BootstrapServers;
        settings.Storage.ConnectionString = await TestStack.CreateDatabaseAsync(name);
        settings.Http.Port = FreePort();
        settings.Validated();
        // The embedded cluster has no Admin CreateTopics: create them here, as dev-kafka does for other processes.
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var run = RunCommand.RunAsync(settings, Roles.All, TestStack.Loggers, TimeProvider.System, stop.Token);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{settings.Http.Port}"), Timeout = TimeSpan.FromSeconds(10) };
        await WaitForAsync(async () => (await TryGetAsync(client, "/health/live")) == HttpStatusCode.OK, run, "the run command's HTTP server to start");

        var now = DateTimeOffset.UtcNow;
        var batch = "[" + string.Join(",", Enumerable.Range(0, Samples).Select(i =>
            string.Create(CultureInfo.InvariantCulture, $$"""{"host":"web-{{i % 5}}","ts":{{now.AddSeconds(-i).ToUnixTimeMilliseconds()}},"cpu_usage":{{50 + i}}}"""))) + "]";
        using (var posted = await client.PostAsync("/api/v1/metrics", new StringContent(batch, Encoding.UTF8, "application/json")))
            Assert.That(posted.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));

        var directory = Directory.CreateTempSubdirectory("streaming-prometheus-");
        var prometheusPort = FreePort();
        await File.WriteAllTextAsync(Path.Combine(directory.FullName, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: streaming
                static_configs:
                  - targets: ["127.0.0.1:{settings.Http.Port}"]
            """);
        using var prometheus = Process.Start(new ProcessStartInfo(prometheusBinary,
        [
            $"--config.file={Path.Combine(directory.FullName, "prometheus.yml")}",
            $"--storage.tsdb.path={Path.Combine(directory.FullName, "data")}",
            $"--web.listen-address=127.0.0.1:{prometheusPort}",
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var prometheusLog = new StringBuilder();
        prometheus.ErrorDataReceived += (_, e) => { lock (prometheusLog) prometheusLog.AppendLine(e.Data); };
        prometheus.OutputDataReceived += (_, e) => { lock (prometheusLog) prometheusLog.AppendLine(e.Data); };
        prometheus.BeginErrorReadLine();
        prometheus.BeginOutputReadLine();
        try
        {
            using var prometheusClient = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{prometheusPort}"), Timeout = TimeSpan.FromSeconds(5) };
            double? ingest = null, processed = null, sunk = null, batches = null, info = null, up = null;
            await WaitForAsync(async () =>
            {
                if (prometheus.HasExited)
                    Assert.Fail($"prometheus exited with {prometheus.ExitCode}:\n{prometheusLog}");
                up = await QueryAsync(prometheusClient, "up{job=\"streaming\"}");
                ingest = await QueryAsync(prometheusClient, "streaming_stage_records_total{stage=\"ingest\"}");
                processed = await QueryAsync(prometheusClient, "streaming_stage_records_total{stage=\"processor\"}");
                info = await QueryAsync(prometheusClient, $"streaming_model_info{{model=\"{OnlineWindowScorer.ModelName}\",version=\"{OnlineWindowScorer.ModelVersion}\"}}");
                sunk = await QueryAsync(prometheusClient, $"sum(streaming_sink_rows_total{{table=\"metrics\"}})");
                batches = await QueryAsync(prometheusClient, "streaming_sink_batch_records_count");
                return up == 1 && ingest == Samples && processed == Samples && sunk == Samples && batches >= 1 && info == 1;
            }, run, () => $"Prometheus to return the series (last: up={up}, ingest={ingest}, processor={processed}, sink rows={sunk}, sink batches={batches}, model_info={info})",
                TimeSpan.FromSeconds(60));

            var lagSeries = await QueryVectorAsync(prometheusClient, $"streaming_consumer_lag{{role=\"processor\",topic=\"{settings.Topics.Telemetry}\"}}");
            Assert.That(lagSeries, Has.Count.EqualTo(TestStack.Kafka.Options.Partitions), "one lag series per partition");
            Assert.That(await QueryAsync(prometheusClient, "sum(streaming_http_requests_total{route=\"/api/v1/metrics\",status=\"202\"})"), Is.EqualTo(1));
            Assert.That(await QueryAsync(prometheusClient, "sum(streaming_sink_batch_duration_seconds_count)"), Is.EqualTo(batches), "one duration per batch");
            using var ready = await client.GetAsync("/health/ready");
            Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK), await ready.Content.ReadAsStringAsync());
        }
        finally
        {
            prometheus.Kill(entireProcessTree: true);
            await prometheus.WaitForExitAsync();
            await stop.CancelAsync();
            Assert.That(await run, Is.Zero, "the run command stopped cleanly");
            directory.Delete(recursive: true);
        }
    }

    private static async Task<double?> QueryAsync(HttpClient prometheus, string query)
    {
        var vector = await QueryVectorAsync(prometheus, query);
        return vector.Count == 1 ? vector[0] : null;
    }

    private static async Task<List<double>> QueryVectorAsync(HttpClient prometheus, string query)
    {
        try
        {
            using var response = await prometheus.GetAsync("/api/v1/query?query=" + Uri.EscapeDataString(query));
            if (!response.IsSuccessStatusCode)
                return [];
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return json.RootElement.GetProperty("data").GetProperty("result").EnumerateArray()
                .Select(r => double.Parse(r.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture)).ToList();
        }
        catch (HttpRequestException)
        {
            return []; // Prometheus is still starting
        }
    }

    private static async Task<HttpStatusCode?> TryGetAsync(HttpClient client, string path)
    {
        try
        {
            using var response = await client.GetAsync(path);
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    private static Task WaitForAsync(Func<Task<bool>> condition, Task<int> run, string what, TimeSpan? timeout = null) =>
        WaitForAsync(condition, run, () => what, timeout);

    // The description is read when the wait fails, so it can show the last values the condition saw.
    private static async Task WaitForAsync(Func<Task<bool>> condition, Task<int> run, Func<string> what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!await condition())
        {
            if (run.IsCompleted)
                Assert.Fail($"The run command ended ({(run.IsFaulted ? run.Exception!.GetBaseException().Message : $"exit code {run.Result}")}) while waiting for {what()}.");
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"Timed out waiting for {what()}.");
            await Task.Delay(250);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
