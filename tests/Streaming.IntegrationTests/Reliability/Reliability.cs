using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Confluent.Kafka;
using Npgsql;
using Streaming.Kafka;

namespace Streaming.IntegrationTests.Reliability;

/// <summary>What the reliability scenarios share: child pipeline processes, bounded waits, and topic readers that keep headers.</summary>
internal static class Reliability
{
    /// <summary>A record read back from a topic, with the headers the dead-letter contract relies on.</summary>
    public sealed record TopicRecord(int Partition, long Offset, byte[] Value, IReadOnlyDictionary<string, string> Headers)
    {
        public string Text => Encoding.UTF8.GetString(Value);
    }

    /// <summary>Every committed record of a topic (read_committed), read to the end of each partition.</summary>
    public static Task<List<TopicRecord>> ReadTopicAsync(KafkaCluster kafka, string topic) => Task.Run(() =>
    {
        var config = kafka.ConsumerConfig(TestStack.UniqueName("reader"), "reliability-reader");
        config.EnablePartitionEof = true;
        using var consumer = new ConsumerBuilder<string?, byte[]>(config).Build();
        var partitions = kafka.Options.Partitions;
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var records = new List<TopicRecord>();
        var atEnd = new HashSet<int>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (atEnd.Count < partitions && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is not { } record)
                continue;
            if (record.IsPartitionEOF)
            {
                atEnd.Add(record.Partition.Value);
                continue;
            }
            var headers = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var header in record.Message.Headers ?? [])
                headers[header.Key] = Encoding.UTF8.GetString(header.GetValueBytes());
            records.Add(new TopicRecord(record.Partition.Value, record.Offset.Value, record.Message.Value ?? [], headers));
        }
        consumer.Close();
        Assert.That(atEnd, Has.Count.EqualTo(partitions), $"read {topic} to the end of every partition within 60 s");
        return records;
    });

    /// <summary>
    /// The identity of a processor output record: which entity, window and kind of result it is. Two records with the same
    /// identity are the same result; a restart that repeats a batch produces a second record with the same identity.
    /// </summary>
    public static string Identity(string topic, string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        string Field(string name) => root.TryGetProperty(name, out var value) ? value.ToString() : "";
        return topic switch
        {
            "features" => $"features|{Field("entity")}|{Field("window_start")}",
            "scores" => $"scores|{Field("entity")}|{Field("window_start")}|{Field("model")}|{Field("model_version")}",
            // Alert events carry a deterministic event id (derived from alert, window and status).
            _ => $"alerts|{Field("kind")}|{Field("entity")}|{Field("window_end")}|{Field("event_id")}",
        };
    }

    /// <summary>An alert with its processing-time field blanked: detected_at is the one value a re-run legitimately changes.</summary>
    public static string WithoutDetectionTime(string json)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        if (node.ContainsKey("detected_at"))
            node["detected_at"] = "1970-01-01T00:00:00+00:00";
        return node.ToJsonString();
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, Func<string?>? failure = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (failure?.Invoke() is { } problem)
                Assert.Fail($"{problem} (while waiting until {what})");
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"Timed out after {timeout.TotalSeconds:0} s waiting until {what}.");
            await Task.Delay(100, CancellationToken.None);
        }
    }

    public static Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what, Func<string?>? failure = null) =>
        WaitUntilAsync(() => Task.FromResult(condition()), timeout, what, failure);

    /// <summary>The problem with a background worker task, if it stopped.</summary>
    public static string? Stopped(Task worker, string role) =>
        worker.IsCompleted ? $"the {role} stopped: {(worker.Exception?.GetBaseException().ToString() ?? worker.Status.ToString())}" : null;

    public static async Task<long> ScalarAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Topic and group settings as environment variables for a child `streaming run` process.</summary>
    public static Dictionary<string, string> Environment(Streaming.Host.Configuration.StreamingSettings settings, string connectionString) => new()
    {
        ["KAFKA_BOOTSTRAP_SERVERS"] = TestStack.Kafka.BootstrapServers,
        ["STREAMING_PG"] = connectionString,
        ["Topics__Telemetry"] = settings.Topics.Telemetry,
        ["Topics__Features"] = settings.Topics.Features,
        ["Topics__Scores"] = settings.Topics.Scores,
        ["Topics__Alerts"] = settings.Topics.Alerts,
        ["Topics__DeadLetter"] = settings.Topics.DeadLetter,
        ["Topics__FeatureUpdates"] = settings.Topics.FeatureUpdates,
        ["Topics__ProcessorOffsets"] = settings.Topics.ProcessorOffsets,
        ["Topics__ProcessorState"] = settings.Topics.ProcessorState,
        ["Processor__GroupId"] = settings.Processor.GroupId,
        ["Processor__MaxBatch"] = settings.Processor.MaxBatch.ToString(CultureInfo.InvariantCulture),
        ["Processor__IdleMode"] = settings.Processor.IdleMode.ToString(),
        ["Processor__IdleTimeout"] = settings.Processor.IdleTimeout.ToString("c", CultureInfo.InvariantCulture),
        ["Sink__GroupId"] = settings.Sink.GroupId,
        ["Sink__MaxBatch"] = settings.Sink.MaxBatch.ToString(CultureInfo.InvariantCulture),
        ["Ingest__MaxAge"] = (settings.Ingest.MaxAge ?? TimeSpan.FromDays(30)).ToString("c", CultureInfo.InvariantCulture),
        // No model bundle here: the processor scores with the robust baseline, as the in-process reference does.
        ["Models__Directory"] = Path.Combine(Path.GetTempPath(), TestStack.UniqueName("no-models")),
    };
}

/// <summary>`dotnet streaming.dll run --role ...` as a child process that a test can SIGKILL; its output kept for failure messages.</summary>
internal sealed class PipelineProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private PipelineProcess(Process process) => _process = process;

    public int Port { get; private init; }

    public static PipelineProcess Start(IReadOnlyDictionary<string, string> environment, params string[] roles)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(typeof(Streaming.Host.Cli.RunCommand).Assembly.Location);
        info.ArgumentList.Add("run");
        foreach (var role in roles)
        {
            info.ArgumentList.Add("--role");
            info.ArgumentList.Add(role);
        }
        var port = Reliability.FreePort();
        info.ArgumentList.Add("--port");
        info.ArgumentList.Add(port.ToString(CultureInfo.InvariantCulture));
        foreach (var (key, value) in environment)
            info.Environment[key] = value;
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start `streaming run`.");
        var child = new PipelineProcess(process) { Port = port };
        // Drain both pipes (a chatty child must never block on a full buffer) and keep the tail for diagnostics.
        process.OutputDataReceived += (_, e) => child.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => child.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Why the process is no longer usable, or null while it runs.</summary>
    public string? Problem() => _process.HasExited ? $"`streaming run` exited with code {_process.ExitCode}; output tail:\n{Tail()}" : null;

    public string Tail() => string.Join('\n', _output.TakeLast(25));

    /// <summary>Whether any of the last 200 lines of output contains the text.</summary>
    public bool Printed(string text) => _output.Any(line => line.Contains(text, StringComparison.Ordinal));

    /// <summary>SIGKILL: no shutdown code runs, no transaction is aborted, no group is left.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as an orchestrator (docker stop, Kubernetes) sends it: the process may shut down cleanly.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        Assert.That(kill.ExitCode, Is.Zero, "kill -TERM reached the process");
        return await WaitForExitAsync(timeout, "after SIGTERM");
    }

    /// <summary>The exit code, once the process has exited by itself within the timeout.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout, string when = "")
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"`streaming run` had not exited within {timeout.TotalSeconds:0} s {when}; output tail:\n{Tail()}");
        }
        return _process.ExitCode;
    }

    private void Keep(string? line)
    {
        if (line is null)
            return;
        _output.Enqueue(line);
        while (_output.Count > 200)
            _output.TryDequeue(out _);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
