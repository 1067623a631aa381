namespace Streaming.Kafka;
