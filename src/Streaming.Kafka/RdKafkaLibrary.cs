namespace Streaming.Kafka;

/// <summary>
/// The librdkafka that Confluent.Kafka loads from the librdkafka.redist package, for the few C functions it does not wrap
/// (the mock cluster, the cluster id and controller). On glibc Linux the client tries the package's <c>librdkafka.so</c>
/// first, which needs libsasl2.so.3 (absent on Debian 12 and its images), then <c>centos8-librdkafka.so</c>, which loads:
/// naming that build here makes these P/Invokes share the client's copy instead of loading a second one.
/// </summary>
internal static class RdKafkaLibrary
{
    public const string Name = "centos8-librdkafka";
}
