using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;

namespace Streaming.Kafka;

/// <summary>
/// librdkafka's mock cluster: a Kafka that speaks the real wire protocol on 127.0.0.1 TCP ports, hosted in this process.
/// Other processes (and kcat) can connect to <see cref="BootstrapServers"/> for as long as this object lives.
/// </summary>
public sealed partial class EmbeddedKafkaCluster : IDisposable
{
    private readonly IntPtr _client;
    private IntPtr _cluster;
    private readonly Lock _gate = new();

    private EmbeddedKafkaCluster(IntPtr client, IntPtr cluster, int brokerCount)
    {
        _client = client;
        _cluster = cluster;
        BrokerCount = brokerCount;
        BootstrapServers = Marshal.PtrToStringUTF8(rd_kafka_mock_cluster_bootstraps(cluster))
            ?? throw new InvalidOperationException("librdkafka's mock cluster returned no bootstrap address.");
    }

    public string BootstrapServers { get; }

    public int BrokerCount { get; }

    public static EmbeddedKafkaCluster Start(int brokerCount = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokerCount, 1);
        var conf = rd_kafka_conf_new();
        var error = new byte[512];
        // A mock cluster needs a client handle to own its threads; a producer handle that never produces is the lightest.
        SetConf(conf, "log_level", "3", error);
        var client = rd_kafka_new(0 /* RD_KAFKA_PRODUCER */, conf, error, (nuint)error.Length);
        if (client == IntPtr.Zero)
            throw new InvalidOperationException($"rd_kafka_new failed: {Decode(error)}");
        var cluster = rd_kafka_mock_cluster_new(client, brokerCount);
        if (cluster == IntPtr.Zero)
        {
            rd_kafka_destroy(client);
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed.");
        }
        return new EmbeddedKafkaCluster(client, cluster, brokerCount);
    }

    /// <summary>Creates a topic. The mock cluster does not implement Admin CreateTopics, so this goes through its own API.</summary>
    public void CreateTopic(string topic, int partitions, int replicationFactor = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        lock (_gate)
        {
            ThrowIfDisposed();
            var err = rd_kafka_mock_topic_create(_cluster, topic, partitions, Math.Min(replicationFactor, BrokerCount));
            if (err != 0)
                throw new InvalidOperationException($"Creating topic '{topic}' on the embedded cluster failed: {Marshal.PtrToStringUTF8(rd_kafka_err2str(err))}");
        }
    }

    /// <summary>Takes a broker down (1-based id) to test recovery; <see cref="SetBrokerUp"/> brings it back.</summary>
    public void SetBrokerDown(int brokerId) => Check(rd_kafka_mock_broker_set_down(_cluster, brokerId), "set_down");

    public void SetBrokerUp(int brokerId) => Check(rd_kafka_mock_broker_set_up(_cluster, brokerId), "set_up");

    /// <summary>
    /// The next requests of one Kafka API (by API key: 0 Produce, 26 EndTxn, ...) fail with these errors, in order, whichever
    /// client sends them (<c>rd_kafka_mock_push_request_errors_array</c>): a transient broker error on demand, for tests.
    /// </summary>
    public void PushRequestErrors(short apiKey, params ErrorCode[] errors)
    {
        ThrowIfDisposed();
        rd_kafka_mock_push_request_errors_array(_cluster, apiKey, (nuint)errors.Length, [.. errors.Select(e => (int)e)]);
    }

    private void Check(int err, string what)
    {
        if (err != 0)
            throw new InvalidOperationException($"rd_kafka_mock_broker_{what} failed: {Marshal.PtrToStringUTF8(rd_kafka_err2str(err))}");
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_cluster == IntPtr.Zero)
                return;
            rd_kafka_mock_cluster_destroy(_cluster);
            rd_kafka_destroy(_client);
            _cluster = IntPtr.Zero;
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_cluster == IntPtr.Zero, this);

    private static void SetConf(IntPtr conf, string name, string value, byte[] error)
    {
        if (rd_kafka_conf_set(conf, name, value, error, (nuint)error.Length) != 0)
            throw new InvalidOperationException($"rd_kafka_conf_set({name}) failed: {Decode(error)}");
    }

    private static string Decode(byte[] error) => Encoding.UTF8.GetString(error, 0, Math.Max(0, Array.IndexOf(error, (byte)0)));

    [LibraryImport(RdKafkaLibrary.Name)]
    private static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(RdKafkaLibrary.Name, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte[] errstr, nuint errstrSize);

    [LibraryImport(RdKafkaLibrary.Name)]
    private static partial IntPtr rd_kafka_new(int type, IntPtr conf, byte[] errstr, nuint errstrSize);

    [LibraryImport(RdKafkaLibrary.Name)]
    private static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(RdKafkaLibrary.Name)]
    private static partial IntPtr rd_kafka_err2str(int err);

    [LibraryImport(RdKafkaLibrary.Name)]
    private static partial IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    [LibraryImport(RdKafkaLibrary.Name)]
    private static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr cluster);

    [LibraryImport(RdKafkaLibrary.Name, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rd_kafka_mock_topic_create(IntPtr cluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(RdKafkaLibrary.Name)]
    private static partial int rd_kafka_mock_broker_set_down(IntPtr cluster, int brokerId);

    [LibraryImport(RdKafkaLibrary.Name)]
    private static partial int rd_kafka_mock_broker_set_up(IntPtr cluster, int brokerId);

    [LibraryImport(RdKafkaLibrary.Name)]
    private static partial void rd_kafka_mock_cluster_destroy(IntPtr cluster);

    [LibraryImport(RdKafkaLibrary.Name)]
    private static partial void rd_kafka_mock_push_request_errors_array(IntPtr cluster, short apiKey, nuint count, int[] errors);
}
