using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Host.Api;
using Streaming.Host.Configuration;
using Streaming.Host.Modeling;
using Streaming.Host.Operations;
using Streaming.Host.Pipeline;
using Streaming.Kafka;
using Streaming.Models.Pipeline;
using Streaming.Processing.Windows;
using Streaming.Simulation;

namespace Streaming.IntegrationTests;

/// <summary>The real Kestrel server on 127.0.0.1:0 and real HTTP calls; records are read back from the test's own topic.</summary>
public sealed class HttpIngestTests
{
    private const string ApiKey = "test-key-0123456789abcdef0123456789";

    [Test]
    public async Task Valid_batch_gets_202_with_the_count_and_every_sample_is_on_the_topic_keyed_by_entity()
    {
        await using var api = await ApiUnderTest.StartAsync();
        var now = DateTimeOffset.UtcNow;
        var body = $$"""
            [{"host":"web-1","timestamp":"{{now.AddSeconds(-20):O}}","cpu_usage":75.5,"mem_used":40,"region":"eu"},
             {"entity":"db-1","ts":{{now.AddSeconds(-10).ToUnixTimeMilliseconds()}},"metrics":{"disk_io":12.5},"tags":{"role":"primary"} },
             {"host":"web-1","timestamp":"{{now:O}}","cpu_usage":80}]
            """;

        var (status, json) = await api.PostAsync("/api/v1/metrics", body);
        var single = await api.PostAsync("/api/v1/metrics", $$"""{"device":"pump-7","time":"{{now:O}}","pressure":3.2}""");

        Assert.That(status, Is.EqualTo(HttpStatusCode.Accepted), json.RootElement.ToString());
        Assert.That(json.RootElement.GetProperty("accepted").GetInt32(), Is.EqualTo(3));
        Assert.That(single.Status, Is.EqualTo(HttpStatusCode.Accepted), single.Json.RootElement.ToString());
        var records = api.ReadTopic();
        Assert.That(records.Select(r => r.Key).Order(), Is.EqualTo(new[] { "db-1", "pump-7", "web-1", "web-1" }));
        foreach (var record in records)
        {
            Assert.That(TelemetryParser.TryParse(record.Value, TelemetryLimits.Default, record.Timestamp, out var sample, out var rejection), Is.True, rejection.ToString());
            Assert.That(sample!.Entity, Is.EqualTo(record.Key), "keyed by entity");
            Assert.That(record.Timestamp, Is.EqualTo(now).Within(TimeSpan.FromSeconds(30)), "the Kafka timestamp is the request time");
        }
        var db = records.Single(r => r.Key == "db-1");
        Assert.That(Encoding.UTF8.GetString(db.Value), Does.Contain("\"disk_io\":12.5").And.Contain("\"role\":\"primary\""));
    }

    [Test]
    public async Task Bad_samples_get_400_naming_each_field_and_why_and_nothing_reaches_the_topic()
    {
        await using var api = await ApiUnderTest.StartAsync();
        var now = DateTimeOffset.UtcNow;
        var body = $$"""
            [{"host":"web-1","timestamp":"{{now:O}}","cpu_usage":75.5},
             {"host":"web-1","timestamp":"{{now:O}}","cpu_usage":"75.5"},
             {"timestamp":"{{now:O}}","cpu_usage":1},
             {"host":"web-1","timestamp":"{{now:O}}","mem_used":"NaN"},
             {"entity":"web-1","ts":"1999-01-01T00:00:00Z","metrics":{"cpu_usage":1} },
             {"host":"web-1","timestamp":"{{now.AddHours(1):O}}","cpu_usage":1},
             {"host":"web-1","timestamp":"{{now:O}}"}]
            """;

        var (status, json) = await api.PostAsync("/api/v1/metrics", body);

        Assert.That(status, Is.EqualTo(HttpStatusCode.BadRequest));
        var rejected = json.RootElement.GetProperty("rejected").EnumerateArray()
            .Select(e => (Index: e.GetProperty("index").GetInt32(), Reason: e.GetProperty("reason").GetString(), Field: e.GetProperty("field").GetString(),
                Detail: e.GetProperty("detail").GetString()!))
            .ToList();
        Assert.That(rejected.Select(r => (r.Index, r.Reason, r.Field)), Is.EqualTo(new (int, string?, string?)[]
        {
            (1, "non_numeric_metric", "cpu_usage"),
            (2, "missing_entity", "entity"),
            (3, "non_finite_metric", "mem_used"),
            (4, "timestamp_out_of_range", null),
            (5, "timestamp_out_of_range", null),
            (6, "no_metrics", null),
        }));
        Assert.That(rejected.All(r => r.Detail.Length > 10), "each with an explanation");
        Assert.That(rejected[3].Detail, Does.Contain("2000-01-01").Or.Contain("1999"), "says what is wrong with the time");
        Assert.That(json.RootElement.GetProperty("error").GetString(), Does.Contain("none were accepted"));
        await api.AssertTopicHoldsOnlyAMarkerAsync();
    }

    [TestCase("[{\"host\":\"web-1\",", "not valid JSON")]
    [TestCase("[]", "no samples")]
    [TestCase("", "empty")]
    [TestCase("[1,{\"host\":\"a\"}] x", "not valid JSON")]
    public async Task Malformed_bodies_get_400_with_the_problem(string body, string expected)
    {
        await using var api = await ApiUnderTest.StartAsync();

        var (status, json) = await api.PostAsync("/api/v1/metrics", body);

        Assert.That(status, Is.EqualTo(HttpStatusCode.BadRequest), json.RootElement.ToString());
        Assert.That(json.RootElement.GetProperty("error").GetString(), Does.Contain(expected));
    }

    [Test]
    public async Task Request_over_the_size_limit_gets_413_and_nothing_reaches_the_topic()
    {
        await using var api = await ApiUnderTest.StartAsync(http => http.MaxRequestBytes = 4096);
        var now = DateTimeOffset.UtcNow;
        var sample = $$"""{"host":"web-1","timestamp":"{{now:O}}","cpu_usage":75.5}""";
        var body = "[" + string.Join(",", Enumerable.Repeat(sample, 200)) + "]";

        var (status, json) = await api.PostAsync("/api/v1/metrics", body);
        // Without Content-Length the limit is enforced while reading.
        using var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body)));
        chunked.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/metrics") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        using var chunkedResponse = await api.Client.SendAsync(request);

        Assert.That(status, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        Assert.That(json.RootElement.GetProperty("error").GetString(), Does.Contain("Http:MaxRequestBytes"));
        Assert.That(chunkedResponse.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        await api.AssertTopicHoldsOnlyAMarkerAsync();
    }

    [Test]
    public async Task Batch_over_the_sample_limit_gets_413_naming_the_setting_and_nothing_reaches_the_topic()
    {
        await using var api = await ApiUnderTest.StartAsync(http => http.MaxBatchSamples = 3);
        var sample = $$"""{"host":"web-1","timestamp":"{{DateTimeOffset.UtcNow:O}}","cpu_usage":75.5}""";

        var (status, json) = await api.PostAsync("/api/v1/metrics", "[" + string.Join(",", Enumerable.Repeat(sample, 4)) + "]");

        Assert.That(status, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        Assert.That(json.RootElement.GetProperty("error").GetString(), Does.Contain("more than 3 samples (Http:MaxBatchSamples)"));
        await api.AssertTopicHoldsOnlyAMarkerAsync();
    }

    [Test]
    public async Task Exposed_api_answers_401_without_a_valid_key_while_metrics_and_health_stay_open()
    {
        await using var api = await ApiUnderTest.StartAsync(http =>
        {
            http.Expose = true;
            http.ApiKeys = [ApiKey, "another-key-abcdefghijklmnopqrstuvwxyz"];
        });
        var sample = $$"""{"host":"web-1","timestamp":"{{DateTimeOffset.UtcNow:O}}","cpu_usage":75.5}""";

        var none = await api.PostAsync("/api/v1/metrics", sample);
        var wrong = await api.PostAsync("/api/v1/metrics", sample, r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey + "x"));
        var prefix = await api.PostAsync("/api/v1/metrics", sample, r => r.Headers.Add("X-Api-Key", ApiKey[..^1]));
        var bearer = await api.PostAsync("/api/v1/metrics", sample, r => r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey));
        var header = await api.PostAsync("/api/v1/metrics", sample, r => r.Headers.Add("X-Api-Key", ApiKey));
        var score = await api.PostAsync("/api/v1/score", "{}");
        using var metrics = await api.Client.GetAsync("/metrics");
        using var live = await api.Client.GetAsync("/health/live");

        Assert.That(none.Status, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(none.Json.RootElement.GetProperty("error").GetString(), Does.Contain("Http:ApiKeys"));
        Assert.That(wrong.Status, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(prefix.Status, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(score.Status, Is.EqualTo(HttpStatusCode.Unauthorized), "every /api route is protected");
        Assert.That(bearer.Status, Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(header.Status, Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(metrics.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(metrics.Content.Headers.ContentType?.ToString(), Is.EqualTo("text/plain; version=0.0.4; charset=utf-8"));
        Assert.That(await metrics.Content.ReadAsStringAsync(), Does.Contain("streaming_http_requests_total{route=\"/api/v1/metrics\",status=\"401\"} 3"),
            "the three rejected posts counted (the rejected score call has its own route label)");
        Assert.That(live.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(api.ReadTopic(), Has.Count.EqualTo(2), "only the authorised requests published");
    }

    [Test]
    public async Task Score_endpoint_flags_a_spike_against_the_supplied_history_with_the_active_model()
    {
        await using var api = await ApiUnderTest.StartAsync();
        var history = string.Join(",", Enumerable.Range(0, 20).Select(i => $$"""{"cpu_usage":{{50 + i % 3}},"mem_used":{{40 + i % 2}}}"""));

        var spike = await api.PostAsync("/api/v1/score", $$"""{"entity":"web-1","history":[{{history}}],"window":{"cpu_usage":95,"mem_used":40.5} }""");
        var normal = await api.PostAsync("/api/v1/score", $$"""{"entity":"web-1","history":[{{history}}],"window":{"cpu_usage":51,"mem_used":40.5} }""");
        var shortHistory = await api.PostAsync("/api/v1/score", """{"entity":"web-1","history":[{"cpu_usage":1}],"window":{"cpu_usage":2}}""");
        var badValue = await api.PostAsync("/api/v1/score", $$"""{"entity":"web-1","history":[{{history}}],"window":{"cpu_usage":"high"} }""");

        Assert.That(spike.Status, Is.EqualTo(HttpStatusCode.OK), spike.Json.RootElement.ToString());
        var result = spike.Json.RootElement;
        Assert.That(result.GetProperty("model").GetString(), Is.EqualTo("online-detectors"));
        Assert.That(result.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("model").GetString()), Is.EqualTo(new[] { "online-detectors" }));
        Assert.That(result.GetProperty("is_anomaly").GetBoolean(), Is.True);
        Assert.That(result.GetProperty("score").GetDouble(), Is.GreaterThan(result.GetProperty("threshold").GetDouble()));
        Assert.That(result.GetProperty("contributors")[0].GetProperty("metric").GetString(), Is.EqualTo("cpu_usage"));
        Assert.That(result.GetProperty("contributors")[0].GetProperty("expected").GetDouble(), Is.EqualTo(51));
        Assert.That(normal.Json.RootElement.GetProperty("is_anomaly").GetBoolean(), Is.False);
        Assert.That(shortHistory.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(shortHistory.Json.RootElement.GetProperty("error").GetString(), Does.Contain("Baseline:MinHistory"));
        Assert.That(badValue.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(badValue.Json.RootElement.GetProperty("error").GetString(), Is.EqualTo("'window.cpu_usage' must be a finite number, found String"));
    }

    [Test]
    public async Task Score_endpoint_scores_with_the_active_bundle_and_falls_back_to_the_baseline_by_name_when_none_is_active()
    {
        // A small bundle trained from simulated history through the production windowing code.
        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-2), TimeSpan.Zero);
        var settings = new StreamingSettings();
        var training = new TrainingSettings { Epochs = 2, HiddenSize = 16, Seed = 4 };
        var data = SimulatorTrainingData.FromSamples("simulator", Simulate(start, TimeSpan.FromHours(6), incidents: 3), settings.Windows.ToOptions(), out _);
        var bundle = BundleTrainer.Train(data, training, "api-1", new Progress<StageProgress>());
        var models = new ModelSetProvider();
        models.Activate(bundle);
        var scorer = new EnsembleApiScorer(models, settings.Baseline, settings.Detection, settings.Ensemble, settings.Alerts.TopContributors);
        await using var api = await ApiUnderTest.StartAsync(scorer: scorer);

        // An incident-free hour of one machine: 20 windows of history (more than the models' 16-window sequence) and the next.
        var aggregator = new WindowAggregator(settings.Windows.ToOptions());
        foreach (var sample in Simulate(start.AddDays(1), TimeSpan.FromMinutes(40), incidents: 0).Where(s => s.Entity == "host-001"))
            aggregator.Add(sample);
        aggregator.AdvanceStreamTime(aggregator.StreamTimeMs + 600_000);
        var windows = new List<ClosedWindow>();
        aggregator.CollectClosed(windows);
        static string Json(ClosedWindow w, double? cpu = null) => "{" + string.Join(",", w.Features.Select(f =>
            string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"\"{f.Metric}\":{{\"mean\":{(f.Metric == "cpu_usage" && cpu is { } c ? c : f.Mean)},\"std\":{f.Std},\"slope\":{f.Slope}}}"))) + "}";
        var history = string.Join(",", windows.Take(20).Select(w => Json(w)));
        var normal = await api.PostAsync("/api/v1/score", $$"""{"entity":"host-001","history":[{{history}}],"window":{{Json(windows[20])}} }""");
        var spike = await api.PostAsync("/api/v1/score", $$"""{"entity":"host-001","history":[{{history}}],"window":{{Json(windows[20], cpu: 99.5)}} }""");
        models.Activate(null);
        var fallback = await api.PostAsync("/api/v1/score", $$"""{"entity":"host-001","history":[{{history}}],"window":{{Json(windows[20], cpu: 99.5)}} }""");
        var badStatistic = await api.PostAsync("/api/v1/score", $$"""{"entity":"host-001","history":[{{history}}],"window":{"cpu_usage":{"avg":3} } }""");

        Assert.That(normal.Status, Is.EqualTo(HttpStatusCode.OK), normal.Json.RootElement.ToString());
        var n = normal.Json.RootElement;
        Assert.That(n.GetProperty("model").GetString(), Is.EqualTo("ensemble"));
        Assert.That(n.GetProperty("model_version").GetString(), Is.EqualTo("api-1"));
        Assert.That(n.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("model").GetString()),
            Is.EquivalentTo(new[] { "online-detectors", "lstm-forecaster", "vae" }), n.ToString());
        Assert.That(n.GetProperty("is_anomaly").GetBoolean(), Is.False, n.ToString());
        var s = spike.Json.RootElement;
        Assert.That(s.GetProperty("is_anomaly").GetBoolean(), Is.True, s.ToString());
        Assert.That(s.GetProperty("score").GetDouble(), Is.GreaterThan(n.GetProperty("score").GetDouble()));
        Assert.That(s.GetProperty("contributors")[0].GetProperty("metric").GetString(), Is.EqualTo("cpu_usage"), s.ToString());
        var f = fallback.Json.RootElement;
        Assert.That(f.GetProperty("model").GetString(), Is.EqualTo("online-detectors"), "no bundle active: the online detectors, by name");
        Assert.That(f.GetProperty("is_anomaly").GetBoolean(), Is.True);
        Assert.That(badStatistic.Status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(badStatistic.Json.RootElement.GetProperty("error").GetString(), Does.StartWith("'window.cpu_usage.avg' is not a window statistic"));
    }

    private static List<TelemetrySample> Simulate(DateTimeOffset start, TimeSpan span, double incidents)
    {
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = 4, Seed = 12, Start = start, IncidentsPerEntityDay = incidents, WarmUp = TimeSpan.Zero });
        var samples = new List<TelemetrySample>();
        while (simulator.Now < start + span)
            simulator.NextTick(samples);
        return samples;
    }

    [Test]
    public async Task Readiness_reports_a_state_restore_with_its_reason_and_recovers_when_it_ends()
    {
        var restoring = true;
        await using var api = await ApiUnderTest.StartAsync(extraCheck: new StateRestoreCheck(() => Volatile.Read(ref restoring)));

        using var response = await api.Client.GetAsync("/health/ready");
        var during = response.StatusCode;
        var reasons = await response.Content.ReadAsStringAsync();
        Volatile.Write(ref restoring, false);
        using var after = await api.Client.GetAsync("/health/ready");

        Assert.That(during, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(reasons, Does.Contain("\"status\":\"not_ready\"").And.Contain("state restore in progress"));
        Assert.That(after.StatusCode, Is.EqualTo(HttpStatusCode.OK), await after.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Readiness_reports_a_failing_storage_policy_job_as_degraded_with_its_reason_and_stays_ready()
    {
        var failed = new Storage.PolicyJobStatus(1000, "policy_retention", "metrics", "Failed",
            new DateTimeOffset(2026, 12, 3, 10, 0, 0, TimeSpan.Zero), 3, new DateTimeOffset(2026, 12, 3, 11, 0, 0, TimeSpan.Zero));
        await using var api = await ApiUnderTest.StartAsync(extraCheck: new PolicyJobsStub(new Storage.PolicyHealth([failed])));

        using var response = await api.Client.GetAsync("/health/ready");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), "a failing policy job degrades storage; the process still serves");
            Assert.That(json.RootElement.GetProperty("status").GetString(), Is.EqualTo("degraded"));
            Assert.That(json.RootElement.GetProperty("reasons")[0].GetString(),
                Does.Contain("retention policy on metrics: last run Failed at 2026-12-03 10:00:00 UTC, 3 failures"));
        });
    }

    /// <summary>What StoragePolicyCheck reports, from given job rows (the Apache-only server here can run no policies).</summary>
    private sealed class PolicyJobsStub(Storage.PolicyHealth health) : IReadinessCheck
    {
        public bool OnlyDegrades => true;

        public Task<string?> ProblemAsync(CancellationToken cancellationToken) => Task.FromResult(health.Problem);
    }

    [Test]
    public async Task Readiness_names_an_unreachable_broker()
    {
        using var nowhere = KafkaCluster.Connect(new KafkaOptions { BootstrapServers = "127.0.0.1:1" });
        using var check = new KafkaReadinessCheck(nowhere);

        var problems = await new Readiness([check], TimeSpan.FromSeconds(5)).ProblemsAsync(CancellationToken.None);

        Assert.That(problems, Has.Count.EqualTo(1));
        Assert.That(problems[0], Does.StartWith("Kafka broker unreachable at 127.0.0.1:1"));
    }

    [Test]
    public void Http_settings_that_would_expose_the_api_without_a_key_fail_at_start_up_naming_the_setting()
    {
        var open = new StreamingSettings();
        open.Http.Address = "0.0.0.0";
        var weak = new StreamingSettings();
        weak.Http.ApiKeys = ["short"];

        Assert.That(() => open.Validated(), Throws.TypeOf<OptionsException>().With.Property(nameof(OptionsException.Setting)).EqualTo("Http:Address")
            .And.Message.Contains("Http:Expose=true"));
        Assert.That(() => weak.Validated(), Throws.TypeOf<OptionsException>().With.Message.Contains("openssl rand"));
        Assert.That(async () => await ApiUnderTest.StartAsync(http => http.Expose = true),
            Throws.TypeOf<OptionsException>().With.Property(nameof(OptionsException.Setting)).EqualTo("Http:ApiKeys"));
    }

    /// <summary>The HTTP server with the api role on its own telemetry topic.</summary>
    private sealed class ApiUnderTest : IAsyncDisposable
    {
        private readonly PipelineCounters _counters;
        private readonly KafkaReadinessCheck _kafkaCheck;
        private readonly HttpServer _server;

        private ApiUnderTest(StreamingSettings settings, PipelineCounters counters, KafkaReadinessCheck kafkaCheck, HttpServer server)
        {
            Settings = settings;
            _counters = counters;
            _kafkaCheck = kafkaCheck;
            _server = server;
            Client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(30) };
        }

        public StreamingSettings Settings { get; }

        public HttpClient Client { get; }

        public static async Task<ApiUnderTest> StartAsync(Action<HttpSettings>? configure = null, IReadinessCheck? extraCheck = null, IWindowScorer? scorer = null)
        {
            var name = TestStack.UniqueName("http");
            var settings = new StreamingSettings();
            settings.Topics.Telemetry = $"{name}-telemetry";
            settings.Http.Port = 0;
            configure?.Invoke(settings.Http);
            settings.Validated();
            await TestStack.Kafka.EnsureTopicsAsync([settings.Topics.Telemetry]);
            var counters = new PipelineCounters();
            var kafkaCheck = new KafkaReadinessCheck(TestStack.Kafka);
            scorer ??= new BaselineWindowScorer(settings.Baseline, settings.Detection, settings.Alerts.TopContributors);
            var checks = new List<IReadinessCheck> { kafkaCheck, new ModelReadinessCheck(scorer) };
            if (extraCheck is not null)
                checks.Add(extraCheck);
            var services = new HttpServices(new Readiness(checks, TimeSpan.FromSeconds(5)), counters, TestStack.Kafka, scorer);
            var server = await HttpServer.StartAsync(settings, services, TimeProvider.System, TestStack.Loggers, CancellationToken.None);
            return new ApiUnderTest(settings, counters, kafkaCheck, server);
        }

        public async Task<(HttpStatusCode Status, JsonDocument Json)> PostAsync(string path, string body, Action<HttpRequestMessage>? configure = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            configure?.Invoke(request);
            using var response = await Client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, JsonDocument.Parse(text));
        }

        /// <summary>Everything on the telemetry topic, read to the end of every partition.</summary>
        public List<(string Key, byte[] Value, DateTimeOffset Timestamp)> ReadTopic()
        {
            var config = TestStack.Kafka.ConsumerConfig(TestStack.UniqueName("reader"), "reader");
            config.EnablePartitionEof = true;
            using var consumer = new ConsumerBuilder<string, byte[]>(config).Build();
            var partitions = Enumerable.Range(0, TestStack.Kafka.Options.Partitions)
                .Select(p => new TopicPartitionOffset(Settings.Topics.Telemetry, p, Offset.Beginning)).ToList();
            consumer.Assign(partitions);
            var atEnd = new HashSet<int>();
            var records = new List<(string, byte[], DateTimeOffset)>();
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (atEnd.Count < partitions.Count)
            {
                if (DateTime.UtcNow > deadline)
                    Assert.Fail($"Could not read {Settings.Topics.Telemetry} to its end within 20 s.");
                if (consumer.Consume(TimeSpan.FromMilliseconds(500)) is not { } result)
                    continue;
                if (result.IsPartitionEOF)
                    atEnd.Add(result.Partition.Value);
                else
                    records.Add((result.Message.Key, result.Message.Value, result.Message.Timestamp.UtcDateTime));
            }
            consumer.Close();
            return records;
        }

        /// <summary>Publishes one good marker sample, then proves it is the only record: earlier rejected requests left nothing.</summary>
        public async Task AssertTopicHoldsOnlyAMarkerAsync()
        {
            var marker = await PostAsync("/api/v1/metrics", $$"""{"host":"marker","timestamp":"{{DateTimeOffset.UtcNow:O}}","cpu_usage":1}""");
            Assert.That(marker.Status, Is.EqualTo(HttpStatusCode.Accepted));
            Assert.That(ReadTopic().Select(r => r.Key), Is.EqualTo(new[] { "marker" }), "nothing from the rejected request reached the topic");
        }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await _server.DisposeAsync();
            _kafkaCheck.Dispose();
            _counters.Dispose();
        }
    }
}
