using Confluent.Kafka;

namespace Streaming.Kafka;

/// <summary>
/// Kafka settings (section <c>Kafka</c>). With no <see cref="BootstrapServers"/> the pipeline starts an embedded cluster
/// (librdkafka's mock brokers) in-process; with them, it uses that cluster and creates missing topics via the Admin API.
/// </summary>
public sealed class KafkaOptions
{
    public const string Section = "Kafka";

    /// <summary>Comma-separated host:port list; empty means "start the embedded cluster".</summary>
    public string? BootstrapServers { get; set; }

    /// <summary>Brokers in the embedded cluster.</summary>
    public int EmbeddedBrokers { get; set; } = 1;

    /// <summary>Partitions for topics this application creates.</summary>
    public int Partitions { get; set; } = 4;

    public short ReplicationFactor { get; set; } = 1;

    /// <summary>
    /// librdkafka properties passed through unchanged to every client, e.g. <c>security.protocol</c>, <c>sasl.mechanism</c>,
    /// <c>sasl.username</c>, <c>sasl.password</c>, <c>ssl.ca.location</c>. Values are never logged.
    /// </summary>
    public Dictionary<string, string> Client { get; set; } = new(StringComparer.Ordinal);

    public bool IsEmbedded => string.IsNullOrWhiteSpace(BootstrapServers);

    public void Validate()
    {
        if (EmbeddedBrokers is < 1 or > 9)
            throw new OptionsException("Kafka:EmbeddedBrokers", $"must be 1-9, was {EmbeddedBrokers}");
        if (Partitions is < 1 or > 1024)
            throw new OptionsException("Kafka:Partitions", $"must be 1-1024, was {Partitions}");
        if (ReplicationFactor < 1)
            throw new OptionsException("Kafka:ReplicationFactor", $"must be at least 1, was {ReplicationFactor}");
        foreach (var key in Client.Keys)
        {
            if (key is "bootstrap.servers" or "group.id" or "transactional.id")
                throw new OptionsException($"Kafka:Client:{key}", "is managed by the application; use Kafka:BootstrapServers or the role settings instead");
        }
    }

    public T Apply<T>(T config, string bootstrapServers) where T : ClientConfig
    {
        config.BootstrapServers = bootstrapServers;
        foreach (var (key, value) in Client)
            config.Set(key, value);
        return config;
    }
}

/// <summary>A setting that cannot work, with its configuration path and the fix.</summary>
public sealed class OptionsException(string setting, string problem)
    : Exception($"Configuration error: {setting} {problem}.")
{
    public string Setting { get; } = setting;
}
