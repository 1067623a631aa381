using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Streaming.Kafka;
using Streaming.Storage;

namespace Streaming.IntegrationTests;

/// <summary>
/// The real components every integration test runs on, started once per test run: a Kafka protocol endpoint (the embedded
/// mock cluster, or KAFKA_BOOTSTRAP_SERVERS) and a PostgreSQL/TimescaleDB server (the private cluster under
/// .local/pg-integration, or the superuser connection string in STREAMING_PG). Each test gets its own topics and database.
/// </summary>
[SetUpFixture]
public sealed class TestStack
{
    private static KafkaCluster? _kafka;
    private static LocalPostgres? _postgres;
    private static string? _adminConnectionString;
    private static int _sequence;

    public static KafkaCluster Kafka => _kafka ?? throw new InvalidOperationException("The test stack is not started.");

    public static ILoggerFactory Loggers { get; } = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        var bootstrap = Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS");
        _kafka = KafkaCluster.Connect(new KafkaOptions { BootstrapServers = bootstrap, Partitions = 4 });
        var external = Environment.GetEnvironmentVariable("STREAMING_PG");
        if (!string.IsNullOrWhiteSpace(external))
        {
            _adminConnectionString = external;
        }
        else
        {
            _postgres = await LocalPostgres.StartAsync(
                new LocalPostgresOptions { StateDirectory = Path.Combine(RepoRoot, ".local", "pg-integration") },
                NullLogger.Instance, CancellationToken.None);
            _adminConnectionString = _postgres.AdminConnectionString;
        }
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        // Nothing outlives the run: Kafka lives in this process, and the test cluster (private to the suite) stops, keeping its data.
        _kafka?.Dispose();
        NpgsqlConnection.ClearAllPools();
        if (_postgres is not null)
            await _postgres.StopAsync();
    }

    /// <summary>A unique name for this test's topics, groups and database.</summary>
    public static string UniqueName(string prefix) =>
        $"{prefix}_{Environment.ProcessId}_{Interlocked.Increment(ref _sequence)}_{DateTime.UtcNow:HHmmssfff}".ToLowerInvariant();

    public static Task<string> CreateDatabaseAsync(string name) =>
        PostgresAdmin.CreateDatabaseAsync(_adminConnectionString!, name, withTimescale: true, CancellationToken.None);

    /// <summary>
    /// Settings isolated to one test: its own topics and consumer groups (all prefixed with <paramref name="name"/>), and
    /// event times up to 30 days old accepted, since tests simulate the recent past.
    /// </summary>
    public static StreamingSettings IsolatedSettings(string name)
    {
        var settings = new StreamingSettings().IsolatedAs(name);
        settings.Ingest.MaxAge = TimeSpan.FromDays(30);
        return settings;
    }

    /// <summary>Publishes samples to a topic, keyed by entity, and waits until the broker has them all.</summary>
    public static void Produce(string topic, IEnumerable<TelemetrySample> samples)
    {
        var config = Kafka.ProducerConfig("test-producer");
        config.QueueBufferingMaxMessages = 1_000_000;
        using var producer = new ProducerBuilder<string, byte[]>(config).Build();
        foreach (var sample in samples)
            producer.Produce(topic, new Message<string, byte[]> { Key = sample.Entity, Value = TelemetryJson.ToUtf8(sample) });
        Assert.That(producer.Flush(TimeSpan.FromSeconds(60)), Is.Zero, "every record reached the broker");
    }

    /// <summary>Every committed record of a topic as text, read to the end of each partition (or for 30 s).</summary>
    public static async Task<List<string>> ReadTopicAsync(string topic) =>
        (await ReadRecordsAsync(topic).ConfigureAwait(false)).Values.Select(v => Encoding.UTF8.GetString(v)).ToList();

    /// <summary>Every committed value of a topic as bytes (Avro is not text); fails unless every partition was read to its end.</summary>
    public static async Task<List<byte[]>> ReadValuesAsync(string topic)
    {
        var (values, reachedEnd) = await ReadRecordsAsync(topic).ConfigureAwait(false);
        Assert.That(reachedEnd, $"read {topic} to its end");
        return values;
    }

    private static Task<(List<byte[]> Values, bool ReachedEnd)> ReadRecordsAsync(string topic) => Task.Run(() =>
    {
        var config = Kafka.ConsumerConfig(UniqueName("reader"), "reader");
        config.EnablePartitionEof = true;
        using var consumer = new ConsumerBuilder<string?, byte[]>(config).Build();
        var partitions = Kafka.Options.Partitions;
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var values = new List<byte[]>();
        var atEnd = new HashSet<int>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (atEnd.Count < partitions && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is not { } record)
                continue;
            if (record.IsPartitionEOF)
                atEnd.Add(record.Partition.Value);
            else
                values.Add(record.Message.Value);
        }
        consumer.Close();
        return (values, atEnd.Count == partitions);
    });

    /// <summary>A short description of how two multisets of records differ.</summary>
    public static string Difference(List<string> actual, List<string> expected)
    {
        var extra = new List<string>(actual);
        var missing = new List<string>();
        foreach (var record in expected)
        {
            if (!extra.Remove(record))
                missing.Add(record);
        }
        if (extra.Count == 0 && missing.Count == 0)
            return "";
        static string Head(string json) => json.Length > 110 ? json[..110] : json;
        return $"{actual.Count} records vs {expected.Count} expected; {extra.Count} extra (e.g. {string.Join(" | ", extra.Take(2).Select(Head))}); " +
               $"{missing.Count} missing (e.g. {string.Join(" | ", missing.Take(2).Select(Head))})";
    }

    public static string RepoRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Streaming.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("Cannot find the repository root (Streaming.sln) above " + AppContext.BaseDirectory);
    }
}
