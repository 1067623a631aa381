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
}
