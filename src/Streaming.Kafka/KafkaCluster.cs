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

    /// <summary>
    /// Creates the layout's missing topics (the positions topic compacted), then checks every existing topic against the
    /// layout: partition counts from metadata, the positions topic's cleanup.policy from DescribeConfigs (skipped, and said
    /// so, where the broker does not implement it: librdkafka's mock). Throws <see cref="TopicLayoutException"/> naming each
    /// topic that does not fit.
    /// </summary>
    public async Task EnsureTopicsAsync(TopicLayout layout, Action<string>? warn, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var names = layout.Topics.Concat(layout.Compacted).Distinct(StringComparer.Ordinal).ToArray();
        using var admin = new AdminClientBuilder(Options.Apply(new AdminClientConfig(), BootstrapServers)).Build();
        var existing = Partitions(admin);
        var missing = names.Where(n => !existing.ContainsKey(n)).ToArray();
        if (missing.Length > 0)
        {
            await EnsureTopicsAsync(missing, layout.Compacted, cancellationToken).ConfigureAwait(false);
            // A broker's metadata can lag a creation by a moment.
            for (var attempt = 0; (existing = Partitions(admin)).Count(t => missing.Contains(t.Key)) < missing.Length && attempt < 30; attempt++)
                await Task.Delay(500, cancellationToken).ConfigureAwait(false);
        }
        // The embedded cluster cannot hold a compacted topic (nor describe one), and its topics are this process's own.
        Dictionary<string, string>? policies = null;
        if (_embedded is null)
        {
            var controller = Identity().ControllerId;
            if (admin.GetMetadata(TimeSpan.FromSeconds(15)).Brokers.Any(b => b.BrokerId == controller))
                policies = await CleanupPoliciesAsync(admin, layout.Compacted, cancellationToken).ConfigureAwait(false);
            else
                warn?.Invoke($"Kafka at {BootstrapServers} names no broker of its own as controller (librdkafka's mock cluster names broker {controller}), so it cannot " +
                             $"describe topic configurations: cleanup.policy of {string.Join(" and ", layout.Compacted.Select(t => $"'{t}'"))} is not checked.");
        }
        var problems = layout.Problems(existing, policies);
        if (problems.Count > 0)
            throw new TopicLayoutException(problems);
    }

    private static Dictionary<string, int> Partitions(IAdminClient admin) =>
        admin.GetMetadata(TimeSpan.FromSeconds(15)).Topics
            .Where(t => !t.Error.IsError)
            .ToDictionary(t => t.Topic, t => t.Partitions.Count, StringComparer.Ordinal);

    /// <summary>What the cluster says about itself: its id and its controller.</summary>
    public ClusterIdentity Identity() => ClusterIdentity.Query(Options, BootstrapServers, TimeSpan.FromSeconds(15));

    private static async Task<Dictionary<string, string>> CleanupPoliciesAsync(IAdminClient admin, IReadOnlyList<string> topics, CancellationToken cancellationToken)
    {
        var results = await admin.DescribeConfigsAsync(
                [.. topics.Select(t => new ConfigResource { Type = ResourceType.Topic, Name = t })],
                new DescribeConfigsOptions { RequestTimeout = TimeSpan.FromSeconds(15) })
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        return results.ToDictionary(r => r.ConfigResource.Name,
            r => r.Entries.TryGetValue("cleanup.policy", out var entry) ? entry.Value : "delete", StringComparer.Ordinal);
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
