using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Streaming.Kafka;

/// <summary>Where the pipeline's Kafka is: an embedded mock cluster it owns, or an external cluster it connects to.</summary>
public sealed class KafkaCluster : IDisposable
{
    private readonly EmbeddedKafkaCluster? _embedded;

    private KafkaCluster(KafkaOptions options, EmbeddedKafkaCluster? embedded, string bootstrapServers)
    {
        Options = options;
        _embedded = embedded;
        BootstrapServers = bootstrapServers;
    }

    public KafkaOptions Options { get; }

    public string BootstrapServers { get; }

    public EmbeddedKafkaCluster? Embedded => _embedded;

    public bool IsEmbedded => _embedded is not null;

    public static KafkaCluster Connect(KafkaOptions options)
    {
        options.Validate();
        NativeLibraries.EnsureLoaded();
        if (options.IsEmbedded)
        {
            var embedded = EmbeddedKafkaCluster.Start(options.EmbeddedBrokers);
            return new KafkaCluster(options, embedded, embedded.BootstrapServers);
        }
        return new KafkaCluster(options, null, options.BootstrapServers!.Trim());
    }

    /// <summary>Creates the topics that do not exist yet, each with <see cref="KafkaOptions.Partitions"/> partitions.</summary>
    public async Task EnsureTopicsAsync(IEnumerable<string> topics, CancellationToken cancellationToken = default) =>
        await EnsureTopicsAsync(topics, [], cancellationToken).ConfigureAwait(false);

    /// <summary>As above; the <paramref name="compacted"/> ones get <c>cleanup.policy=compact</c> on an external cluster.</summary>
    public async Task EnsureTopicsAsync(IEnumerable<string> topics, IReadOnlyCollection<string> compacted, CancellationToken cancellationToken = default)
    {
        var names = topics.Distinct(StringComparer.Ordinal).ToArray();
        if (_embedded is not null)
        {
            foreach (var topic in names)
                _embedded.CreateTopic(topic, Options.Partitions, Options.ReplicationFactor);
            return;
        }
        using var admin = new AdminClientBuilder(Options.Apply(new AdminClientConfig(), BootstrapServers)).Build();
        var metadata = admin.GetMetadata(TimeSpan.FromSeconds(15));
        var missing = names.Where(n => metadata.Topics.All(t => t.Topic != n || t.Error.IsError)).ToArray();
        if (missing.Length == 0)
            return;
        try
        {
            await admin.CreateTopicsAsync(missing.Select(n => new TopicSpecification
            {
                Name = n,
                NumPartitions = Options.Partitions,
                ReplicationFactor = Options.ReplicationFactor,
                Configs = compacted.Contains(n) ? new Dictionary<string, string> { ["cleanup.policy"] = "compact" } : null,
            })).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (CreateTopicsException ex) when (ex.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
        {
            // Another instance created them first: the outcome we wanted.
        }
    }

    public ProducerConfig ProducerConfig(string clientId) =>
        Options.Apply(new ProducerConfig
        {
            ClientId = clientId,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 5,
            CompressionType = CompressionType.None,
        }, BootstrapServers);

    public ConsumerConfig ConsumerConfig(string groupId, string clientId) =>
        Options.Apply(new ConsumerConfig
        {
            GroupId = groupId,
            ClientId = clientId,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            IsolationLevel = IsolationLevel.ReadCommitted,
            SessionTimeoutMs = 10_000,
            HeartbeatIntervalMs = 1_000,
        }, BootstrapServers);

    public void Dispose() => _embedded?.Dispose();
}
