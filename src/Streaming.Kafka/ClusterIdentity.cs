using System.Runtime.InteropServices;
using System.Text;

namespace Streaming.Kafka;

/// <summary>
/// What a cluster says about itself in its metadata: its cluster id and its controller's broker id (librdkafka's mock
/// names broker 0, which does not exist: admin requests that need the controller, such as DescribeConfigs, cannot work there).
/// Confluent.Kafka does not expose either, so this asks librdkafka directly through a short-lived client handle.
/// </summary>
public sealed partial record ClusterIdentity(string ClusterId, int ControllerId)
{
    public static ClusterIdentity Query(KafkaOptions options, string bootstrapServers, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(options);
        var error = new byte[512];
        var conf = rd_kafka_conf_new();
        foreach (var (key, value) in options.Client.Append(new("bootstrap.servers", bootstrapServers)).Append(new("log_level", "3")))
        {
            if (rd_kafka_conf_set(conf, key, value, error, (nuint)error.Length) != 0)
            {
                rd_kafka_conf_destroy(conf);
                throw new InvalidOperationException($"librdkafka rejected client setting '{key}': {Decode(error)}");
            }
        }
        var client = rd_kafka_new(0 /* RD_KAFKA_PRODUCER */, conf, error, (nuint)error.Length);
        if (client == IntPtr.Zero)
        {
            rd_kafka_conf_destroy(conf); // not taken over on failure
            throw new InvalidOperationException($"rd_kafka_new failed: {Decode(error)}");
        }
        try
        {
            var id = rd_kafka_clusterid(client, (int)timeout.TotalMilliseconds);
            if (id == IntPtr.Zero)
                throw new TimeoutException($"Kafka at {bootstrapServers} did not tell its cluster id within {timeout.TotalSeconds:0} s (is it reachable?).");
            string clusterId;
            try
            {
                clusterId = Marshal.PtrToStringUTF8(id) ?? "";
            }
            finally
            {
                rd_kafka_mem_free(client, id);
            }
            // The metadata that carried the id carried the controller too: 0 ms reads the cached value.
            return new ClusterIdentity(clusterId, rd_kafka_controllerid(client, 0));
        }
        finally
        {
            rd_kafka_destroy(client);
        }
    }

    private static string Decode(byte[] buffer) => Encoding.UTF8.GetString(buffer, 0, Math.Max(0, Array.IndexOf(buffer, (byte)0)));

    [LibraryImport(RdKafkaLibrary.Name)]
    private static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(RdKafkaLibrary.Name)]
    private static partial void rd_kafka_conf_destroy(IntPtr conf);

    [LibraryImport(RdKafkaLibrary.Name, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte[] errstr, nuint errstrSize);

    [LibraryImport(RdKafkaLibrary.Name)]
    private static partial IntPtr rd_kafka_new(int type, IntPtr conf, byte[] errstr, nuint errstrSize);

    [LibraryImport(RdKafkaLibrary.Name)]
    private static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(RdKafkaLibrary.Name)]
    private static partial IntPtr rd_kafka_clusterid(IntPtr rk, int timeoutMs);

    [LibraryImport(RdKafkaLibrary.Name)]
    private static partial int rd_kafka_controllerid(IntPtr rk, int timeoutMs);

    [LibraryImport(RdKafkaLibrary.Name)]
    private static partial void rd_kafka_mem_free(IntPtr rk, IntPtr pointer);
}
