using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Confluent.Kafka;
using Streaming.Contracts;
using Streaming.Kafka;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;
using Streaming.Simulation;

namespace Streaming.Pipeline.Bench;

/// <summary>
/// Samples/s through consume → parse → window → features (serialised), side by side with a consume-and-discard reader of
/// the same topic (the ceiling), in one run against the embedded broker (or KAFKA_BOOTSTRAP_SERVERS).
///   dotnet run -c Release --project benchmarks/Streaming.Pipeline.Bench -- [samples] [rounds]
/// and, with <c>restore</c> first, the processor's state restore: full replay vs snapshot + tail (<see cref="RestoreBench"/>);
/// with <c>inproc</c> first, the processing side alone without a broker, stage by stage (<see cref="InProcessBench"/>).
/// </summary>
internal static class Program
{
    private const int Partitions = 16;

    private static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "restore")
            return OperatingSystem.IsWindows() ? 2 : RestoreBench.Run(args[1..]);
        if (args.Length > 0 && args[0] == "inproc")
            return InProcessBench.Run(args[1..]);
        var samples = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200_000;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var bootstrap = Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS");
        using var kafka = KafkaCluster.Connect(new KafkaOptions { BootstrapServers = bootstrap, Partitions = Partitions });
        const string topic = "bench-telemetry";
        kafka.EnsureTopicsAsync([topic]).GetAwaiter().GetResult();

        Console.WriteLine($"Publishing {samples:N0} samples (100 machines, 6 metrics, generic JSON) to {Partitions} partitions at {kafka.BootstrapServers}…");
        var start = DateTimeOffset.UtcNow.AddDays(-2);
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = 100, Seed = 3, Start = start, IncidentsPerEntityDay = 0 });
        var buffer = new List<TelemetrySample>(100);
        var producerConfig = kafka.ProducerConfig("bench");
        producerConfig.QueueBufferingMaxMessages = 1_000_000;
        producerConfig.QueueBufferingMaxKbytes = 1_048_576;
        using (var producer = new ProducerBuilder<string, byte[]>(producerConfig).Build())
        {
            var produced = 0;
            while (produced < samples)
            {
                buffer.Clear();
                simulator.NextTick(buffer);
                foreach (var sample in buffer.Take(samples - produced))
                {
                    producer.Produce(topic, new Message<string, byte[]> { Key = sample.Entity, Value = TelemetryJson.ToUtf8(sample) });
                    produced++;
                }
            }
            producer.Flush(TimeSpan.FromMinutes(2));
        }

        var discard = new List<double>();
        var pipeline = new List<double>();
        for (var round = 1; round <= rounds; round++)
        {
            discard.Add(Run(kafka, topic, samples, process: false));
            pipeline.Add(Run(kafka, topic, samples, process: true));
            Console.WriteLine($"round {round}: consume-and-discard {discard[^1],10:N0} samples/s   consume→window→features {pipeline[^1],10:N0} samples/s   ({pipeline[^1] / discard[^1]:P0})");
        }
        var d = Median(discard);
        var p = Median(pipeline);
        Console.WriteLine();
        Console.WriteLine("| reader | samples/s (median of " + rounds + ") |");
        Console.WriteLine("|---|---:|");
        Console.WriteLine($"| consume and discard (ceiling) | {d:N0} |");
        Console.WriteLine($"| consume → parse → window → features | {p:N0} |");
        Console.WriteLine($"| ratio | {p / d:P0} |");
        return 0;
    }

    private static double Run(KafkaCluster kafka, string topic, int expected, bool process)
    {
        var config = kafka.ConsumerConfig($"bench-{Guid.NewGuid():N}", "bench");
        config.FetchMaxBytes = 50 * 1024 * 1024;
        config.MaxPartitionFetchBytes = 4 * 1024 * 1024;
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(config).Build();
        consumer.Assign(Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var processors = new PartitionProcessor?[Partitions];
        var settings = new ProcessorSettings
        {
            Windows = new WindowOptions { Size = TimeSpan.FromMinutes(1), Grace = TimeSpan.FromSeconds(30) },
            Limits = TelemetryLimits.Default with { MaxAge = null },
        };
        var output = new SerializingOutput();
        var count = 0;
        var bytes = 0L;
        Stopwatch? clock = null;
        while (count < expected)
        {
            var record = consumer.Consume(TimeSpan.FromSeconds(30)) ?? throw new InvalidOperationException($"Stalled after {count} records.");
            clock ??= Stopwatch.StartNew();
            count++;
            if (!process)
            {
                bytes += record.Message.Value.Length;
                continue;
            }
            var partition = record.Partition.Value;
            var processor = processors[partition] ??= new PartitionProcessor(settings, TimeProvider.System);
            var t0 = Stopwatch.GetTimestamp();
            processor.Process(record.Message.Value, record.Message.Timestamp.UnixTimestampMs, output);
            var t1 = Stopwatch.GetTimestamp();
            ProcessTicks += t1 - t0;
            // The worker closes windows once per batch; do the same every 1,000 records.
            if (count % 1000 == 0)
            {
                foreach (var p in processors)
                    p?.EmitClosed(output);
                EmitTicks += Stopwatch.GetTimestamp() - t1;
            }
        }
        var seconds = clock!.Elapsed.TotalSeconds;
        if (process)
            Console.WriteLine($"  pipeline breakdown: parse+window {Stopwatch.GetElapsedTime(0, ProcessTicks).TotalSeconds:0.00} s, close+score+serialise {Stopwatch.GetElapsedTime(0, EmitTicks).TotalSeconds:0.00} s (of which serialising features {Stopwatch.GetElapsedTime(0, output.SerializeTicks).TotalSeconds:0.00} s), of {seconds:0.00} s");
        ProcessTicks = EmitTicks = 0;
        consumer.Close();
        GC.KeepAlive(bytes);
        return count / seconds;
    }

    private static long ProcessTicks;
    private static long EmitTicks;

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    /// <summary>
    /// Serialises every feature vector (with <see cref="FeatureVectorJson"/>, the worker's JSON features serializer) and
    /// alert as the worker does before producing, so the cost is counted.
    /// </summary>
    internal sealed class SerializingOutput : IProcessorOutput
    {
        public long Bytes { get; private set; }

        public void Rejected(Rejection rejection)
        {
        }

        /// <summary>Time spent serialising feature vectors, so the breakdown can tell it from scoring.</summary>
        public long SerializeTicks { get; private set; }

        public void WindowClosed(ClosedWindow window)
        {
            var t0 = Stopwatch.GetTimestamp();
            Bytes += FeatureVectorJson.ToUtf8(window.ToEvent()).Length;
            SerializeTicks += Stopwatch.GetTimestamp() - t0;
        }

        public void Scored(WindowAssessment assessment) => Bytes += assessment.Contributors.Count;

        public void Prediction(DowntimePredictionEvent prediction) =>
            Bytes += JsonSerializer.SerializeToUtf8Bytes(prediction, ContractsJsonContext.Default.DowntimePredictionEvent).Length;

        public void Alert(AnomalyEvent alert) =>
            Bytes += JsonSerializer.SerializeToUtf8Bytes(alert, ContractsJsonContext.Default.AnomalyEvent).Length;
    }
}
