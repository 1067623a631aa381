using Confluent.Kafka;
using Streaming.Kafka;

namespace Streaming.IntegrationTests;

public sealed class EmbeddedKafkaSmokeTests
{
    [Test]
    public void Produced_message_is_consumed_back_through_the_embedded_cluster()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        cluster.CreateTopic("smoke", 3);
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, EnableIdempotence = true }).Build();
        producer.Produce("smoke", new Message<string, string> { Key = "k", Value = "hello" });
        Assert.That(producer.Flush(TimeSpan.FromSeconds(10)), Is.Zero);
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig { BootstrapServers = cluster.BootstrapServers, GroupId = "g", AutoOffsetReset = AutoOffsetReset.Earliest }).Build();
        consumer.Subscribe("smoke");
        var result = consumer.Consume(TimeSpan.FromSeconds(20));
        Assert.That(result?.Message.Value, Is.EqualTo("hello"));
        consumer.Close();
    }

    [Test]
    public void The_client_and_the_embedded_cluster_share_the_librdkafka_of_the_redist_package()
    {
        using var cluster = EmbeddedKafkaCluster.Start(brokerCount: 1);
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        Assert.That(Library.Version, Is.EqualTo(0x021000ff), "Confluent.Kafka runs librdkafka 2.16.0");
        var mapped = File.ReadLines("/proc/self/maps")
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length >= 6 && Path.GetFileName(fields[5]).Contains("librdkafka", StringComparison.Ordinal))
            .Select(fields => fields[5])
            .Distinct()
            .ToList();
        Assert.That(mapped.Select(Path.GetFileName), Is.EqualTo(new[] { "centos8-librdkafka.so" }),
            "one copy of librdkafka in the process, the package's build, and none from the system: " + string.Join(", ", mapped));
        Assert.That(mapped[0], Does.StartWith(AppContext.BaseDirectory));
    }
}
