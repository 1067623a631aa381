using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using Streaming.Contracts;
using Streaming.Host.Configuration;

namespace Streaming.IntegrationTests;

/// <summary>
/// docker-compose.yml as Debian's docker-compose resolves it (`config`), checked against the application's own defaults:
/// broker address, partitions, database name and credentials, topic names, HTTP ports and Prometheus's scrape targets.
/// </summary>
public sealed class ComposeFileTests
{
    private static readonly string[] RoleServices = ["processor", "sink", "api"];

    [Test]
    public void Compose_file_validates_and_agrees_with_the_application_defaults()
    {
        var compose = Resolve();
        var services = compose.GetProperty("services");
        var kafka = Environment(services.GetProperty("kafka"));
        var timescale = Environment(services.GetProperty("timescaledb"));
        var grafana = Environment(services.GetProperty("grafana"));
        var defaults = new StreamingSettings();

        Assert.That(Ports(services.GetProperty("kafka")), Does.Contain("9092:9092"));
        Assert.That(kafka["KAFKA_ADVERTISED_LISTENERS"], Does.Contain("PLAINTEXT://kafka:9092"));
        Assert.That(kafka["KAFKA_NUM_PARTITIONS"], Is.EqualTo(defaults.Kafka.Partitions.ToString()));
        Assert.That(timescale["POSTGRES_DB"], Is.EqualTo(defaults.Storage.Database), "the application's default database name");
        Assert.That(Ports(services.GetProperty("timescaledb")), Does.Contain("5432:5432"));
        Assert.That(grafana["STREAMING_DB_HOST"], Is.EqualTo("timescaledb:5432"));
        Assert.That((grafana["STREAMING_DB_NAME"], grafana["STREAMING_DB_USER"], grafana["STREAMING_DB_PASSWORD"]),
            Is.EqualTo((timescale["POSTGRES_DB"], timescale["POSTGRES_USER"], timescale["POSTGRES_PASSWORD"])));

        var targets = PrometheusTargets();
        foreach (var pipeline in RoleServices.Append("demo"))
        {
            var service = services.GetProperty(pipeline);
            var environment = Environment(service);
            // The environment must be a valid configuration for the application itself, as it would load it.
            var settings = StreamingSettings.Load(environment.Select(kv => new KeyValuePair<string, string?>(kv.Key.Replace("__", ":", StringComparison.Ordinal), kv.Value)));
            if (pipeline == "api")
                Assert.That(settings.Http.ValidateForApi, Throws.Nothing, "the exposed API has a key");
            Assert.That(settings.Kafka.BootstrapServers, Is.EqualTo("kafka:9092"), pipeline);
            Assert.That(settings.Kafka.Partitions.ToString(), Is.EqualTo(kafka["KAFKA_NUM_PARTITIONS"]), pipeline);
            Assert.That(settings.Topics.Data, Is.EqualTo(new[] { TopicNames.Telemetry, TopicNames.Features, TopicNames.Scores, TopicNames.Alerts, TopicNames.DeadLetter }),
                $"{pipeline} uses the default topic names the dashboards and docs name");
            Assert.That(settings.Topics.ProcessorOffsets, Is.EqualTo(new TopicSettings().ProcessorOffsets),
                $"{pipeline} uses the default topic names the dashboards and docs name");
            var db = new NpgsqlConnectionStringBuilder(settings.Storage.ConnectionString);
            Assert.That((db.Host, db.Port, db.Database, db.Username, db.Password),
                Is.EqualTo(("timescaledb", 5432, timescale["POSTGRES_DB"], timescale["POSTGRES_USER"], timescale["POSTGRES_PASSWORD"])), pipeline);
            if (pipeline == "demo")
                continue;
            Assert.That(service.GetProperty("command").EnumerateArray().Select(c => c.GetString()), Is.EqualTo(new[] { "run", "--role", pipeline }));
            Assert.That(targets, Does.Contain($"{pipeline}:{settings.Http.Port}"), $"Prometheus scrapes {pipeline} on its Http:Port");
            Assert.That(settings.Http.Expose && settings.Http.Address == "0.0.0.0", $"{pipeline} serves /metrics beyond its container");
        }
        Assert.That(targets, Has.Count.EqualTo(RoleServices.Length), "no scrape target without a service");
        var apiPort = new StreamingSettings().Http.Port;
        Assert.That(Ports(services.GetProperty("api")), Does.Contain($"{apiPort}:{apiPort}"));
        Assert.That(services.GetProperty("demo").GetProperty("profiles").EnumerateArray().Select(p => p.GetString()), Is.EqualTo(new[] { "demo" }),
            "the all-in-one demo does not start with the roles (they would share consumer groups)");
        var prometheusVolumes = services.GetProperty("prometheus").GetProperty("volumes").EnumerateArray().Select(v => v.GetString()).ToList();
        Assert.That(prometheusVolumes, Does.Contain($"{Path.Combine(TestStack.RepoRoot, "infra", "prometheus.yml")}:/etc/prometheus/prometheus.yml:ro"));
    }

    [Test]
    public void Docker_image_runs_as_a_non_root_user_and_has_the_health_check_tool()
    {
        var dockerfile = File.ReadAllLines(Path.Combine(TestStack.RepoRoot, "Dockerfile"));
        var user = dockerfile.Last(l => l.StartsWith("USER ", StringComparison.Ordinal));

        Assert.That(dockerfile.Count(l => l.StartsWith("FROM ", StringComparison.Ordinal)), Is.GreaterThanOrEqualTo(2), "multi-stage");
        Assert.That(user, Is.Not.EqualTo("USER root").And.Not.EqualTo("USER 0"));
        Assert.That(dockerfile.Any(l => l.Contains("install", StringComparison.Ordinal) && l.Contains(" curl", StringComparison.Ordinal)),
            "the compose health checks call curl");
    }

    private static JsonElement Resolve()
    {
        var composeFile = Path.Combine(TestStack.RepoRoot, "docker-compose.yml");
        var (code, yaml, errors) = Run(Find("docker-compose"), ["-f", composeFile, "config"], null);
        Assert.That(code, Is.Zero, $"docker-compose config rejected the file:\n{errors}");
        return YamlToJson(yaml);
    }

    private static List<string> PrometheusTargets()
    {
        var config = YamlToJson(File.ReadAllText(Path.Combine(TestStack.RepoRoot, "infra", "prometheus.yml")));
        return config.GetProperty("scrape_configs").EnumerateArray()
            .SelectMany(job => job.GetProperty("static_configs").EnumerateArray())
            .SelectMany(group => group.GetProperty("targets").EnumerateArray().Select(t => t.GetString()!))
            .ToList();
    }

    /// <summary>PyYAML ships with Debian's docker-compose (it is how compose reads the file), so it reads YAML here too.</summary>
    private static JsonElement YamlToJson(string yaml)
    {
        var (code, json, errors) = Run("/usr/bin/python3", ["-c", "import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"], yaml);
        Assert.That(code, Is.Zero, $"YAML could not be read:\n{errors}");
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    private static Dictionary<string, string> Environment(JsonElement service) =>
        service.GetProperty("environment").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ToString(), StringComparer.Ordinal);

    private static List<string> Ports(JsonElement service) =>
        service.GetProperty("ports").EnumerateArray().Select(p => p.ValueKind == JsonValueKind.String
            ? p.GetString()!
            : $"{p.GetProperty("published")}:{p.GetProperty("target")}").ToList();

    private static string Find(string tool)
    {
        var path = Path.Combine("/usr/bin", tool);
        if (!File.Exists(path))
            Assert.Fail($"'{tool}' is not installed: run infra/setup.sh (it installs Debian's {tool} package).");
        return path;
    }

    private static (int Code, string Stdout, string Stderr) Run(string file, string[] arguments, string? input)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = TestStack.RepoRoot,
        };
        using var process = Process.Start(start)!;
        process.StandardInput.Write(input ?? "");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
    }
}
