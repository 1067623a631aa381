using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Kafka;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;
using Streaming.Simulation;
using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.SerDes;
using Streamiz.Kafka.Net.State;
using Streamiz.Kafka.Net.Stream;
using Streamiz.Kafka.Net.Table;

namespace Streaming.Streamiz.Bench;

/// <summary>
/// Our engine against Streamiz.Kafka.Net, side by side in one run, on the same pre-produced telemetry topic: both parse
/// the generic JSON, aggregate per entity into 1-minute tumbling event-time windows (grace 30 s), emit each window's final
/// features once (Streamiz: Suppress until the window closes) and serialise them as the worker does. Prints records/s of
/// each, the ratio, and whether both emitted the same windows with the same features.
///   dotnet run -c Release --project benchmarks/Streaming.Streamiz.Bench -- [samples] [rounds]
/// Streamiz runs twice per round: with its state stores' changelogs (its recovery; the way it ships) and without them.
/// An uncounted warm-up round runs first; the exit code is 1 when the engines' windows differ.
/// </summary>
internal static class Program
{
    private const int Partitions = 16;
    private const string Topic = "bench-streamiz-telemetry";
    private static readonly TimeSpan WindowSize = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(30);
    private static readonly double EwmaAlpha = new WindowOptions { Size = WindowSize, Grace = Grace }.EwmaAlpha;

    private static async Task<int> Main(string[] args)
    {
        var samples = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var bootstrap = Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS");
        using var kafka = KafkaCluster.Connect(new KafkaOptions { BootstrapServers = bootstrap, Partitions = Partitions });
        await kafka.EnsureTopicsAsync([Topic]);
        Produce(kafka, samples);
        Console.WriteLine($"Windows: tumbling {WindowSize.TotalMinutes:0} min, grace {Grace.TotalSeconds:0} s; Streamiz: 1 stream thread, in-memory window store, " +
                          "Suppress until window close, changelog topics of both stores pre-created (the mock cluster cannot CreateTopics).");

        var ours = new List<double>();
        var withChangelog = new List<double>();
        var withoutChangelog = new List<double>();
        var agreed = true;
        // Round 0 warms both engines up (JIT, the parser both use) and is not counted.
        for (var round = 0; round <= rounds; round++)
        {
            var label = round == 0 ? "warm-up" : $"round {round}";
            var (ourRate, ourDigest) = RunOurs(kafka, samples);
            if (round > 0)
                ours.Add(ourRate);
            Console.WriteLine($"{label,-8} ours                          {ourRate,10:N0} records/s   {ourDigest.Windows:N0} windows, checksum {ourDigest.Checksum:x16}");
            foreach (var changelog in new[] { true, false })
            {
                var (rate, digest) = await RunStreamizAsync(kafka, samples, ourDigest.Windows, changelog);
                if (round > 0)
                    (changelog ? withChangelog : withoutChangelog).Add(rate);
                var same = digest.Windows == ourDigest.Windows && digest.Checksum == ourDigest.Checksum;
                agreed &= same;
                Console.WriteLine($"{label,-8} Streamiz, changelogs {(changelog ? "on " : "off")}      {rate,10:N0} records/s   {digest.Windows:N0} windows, checksum {digest.Checksum:x16}  " +
                                  (same ? "(same windows and features as ours)" : "(DIFFERENT from ours)"));
            }
        }
        var o = Median(ours);
        var s = Median(withChangelog);
        var sOff = Median(withoutChangelog);
        Console.WriteLine();
        Console.WriteLine($"| engine ({samples:N0} records, {Partitions} partitions, one processing thread each) | records/s (median of {rounds}) | ours / it |");
        Console.WriteLine("|---|---:|---:|");
        Console.WriteLine($"| ours: parse → window → final features | {o:N0} | — |");
        Console.WriteLine($"| Streamiz 1.8.2, in-memory window store + Suppress, changelogs on (as it ships) | {s:N0} | {o / s:0.0}x |");
        Console.WriteLine($"| Streamiz 1.8.2, same, changelogs off (no recovery) | {sOff:N0} | {o / sOff:0.0}x |");
        Console.WriteLine(agreed
            ? "Both engines emitted the same closed windows with byte-identical features in every round (warm-up included)."
            : "The engines' windows DIFFER (see the rounds above).");
        return agreed ? 0 : 1;
    }

    /// <summary>Simulator samples keyed by entity, each record's Kafka timestamp its event time (what Streamiz windows by).</summary>
    private static void Produce(KafkaCluster kafka, int samples)
    {
        Console.WriteLine($"Publishing {samples:N0} samples (100 machines, 6 metrics, generic JSON) to {Partitions} partitions at {kafka.BootstrapServers}…");
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = 100, Seed = 3, Start = DateTimeOffset.UtcNow.AddDays(-2), IncidentsPerEntityDay = 0 });
        var buffer = new List<TelemetrySample>(100);
        var config = kafka.ProducerConfig("bench");
        config.QueueBufferingMaxMessages = 1_000_000;
        config.QueueBufferingMaxKbytes = 1_048_576;
        using var producer = new ProducerBuilder<string, byte[]>(config).Build();
        var produced = 0;
        while (produced < samples)
        {
            buffer.Clear();
            simulator.NextTick(buffer);
            foreach (var sample in buffer.Take(samples - produced))
            {
                producer.Produce(Topic, new Message<string, byte[]>
                {
                    Key = sample.Entity,
                    Value = TelemetryJson.ToUtf8(sample),
                    Timestamp = new Timestamp(sample.TimestampMs, TimestampType.CreateTime),
                });
                produced++;
            }
        }
        producer.Flush(TimeSpan.FromMinutes(2));
    }

    /// <summary>Our engine's path: one <see cref="PartitionProcessor"/> per partition (scoring off), windows closed every 1,000 records.</summary>
    private static (double Rate, WindowDigest Digest) RunOurs(KafkaCluster kafka, int expected)
    {
        var config = kafka.ConsumerConfig($"bench-{Guid.NewGuid():N}", "bench");
        config.FetchMaxBytes = 50 * 1024 * 1024;
        config.MaxPartitionFetchBytes = 4 * 1024 * 1024;
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(config).Build();
        consumer.Assign(Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(Topic, p, Offset.Beginning)));
        var settings = new ProcessorSettings
        {
            Windows = new WindowOptions { Size = WindowSize, Grace = Grace },
            Limits = TelemetryLimits.Default with { MaxAge = null },
            ScoreInline = false,
        };
        var processors = new PartitionProcessor?[Partitions];
        var digest = new WindowDigest();
        var output = new DigestOutput(digest);
        var count = 0;
        Stopwatch? clock = null;
        while (count < expected)
        {
            var record = consumer.Consume(TimeSpan.FromSeconds(30)) ?? throw new InvalidOperationException($"Stalled after {count} records.");
            clock ??= Stopwatch.StartNew();
            count++;
            var processor = processors[record.Partition.Value] ??= new PartitionProcessor(settings, TimeProvider.System);
            processor.Process(record.Message.Value, record.Message.Timestamp.UnixTimestampMs, output);
            // The worker closes windows once per batch; do the same every 1,000 records.
            if (count % 1000 == 0)
            {
                foreach (var p in processors)
                    p?.EmitClosed(output);
            }
        }
        foreach (var p in processors)
            p?.EmitClosed(output);
        var seconds = clock!.Elapsed.TotalSeconds;
        consumer.Close();
        return (count / seconds, digest);
    }

    /// <summary>
    /// The same aggregate as a Streamiz topology: parse → group by key (the entity; no repartition) → tumbling window →
    /// aggregate into <see cref="SampleWindow"/> in an in-memory window store → Suppress until the window closes → features.
    /// Timed from its first record to the later of its last record and its last expected window (the group join is not counted).
    /// </summary>
    private static async Task<(double Rate, WindowDigest Digest)> RunStreamizAsync(KafkaCluster kafka, int expected, long expectedWindows, bool changelog)
    {
        var applicationId = $"bench-streamiz-{Guid.NewGuid():N}";
        var stateDir = Directory.CreateTempSubdirectory("streamiz-bench-");
        var digest = new WindowDigest();
        var seen = 0L;
        var first = 0L;
        var last = 0L;
        var limits = TelemetryLimits.Default with { MaxAge = null };
        var sizeMs = (long)WindowSize.TotalMilliseconds;

        var store = InMemoryWindows.As<string, SampleWindow>("windows").WithKeySerdes(new StringSerDes()).WithValueSerdes(new SampleWindowSerDes());
        var buffer = StrictBufferConfig.Unbounded();
        if (!changelog)
        {
            store = store.WithLoggingDisabled();
            buffer = buffer.WithLoggingDisabled();
        }
        var builder = new StreamBuilder();
        builder.Stream(Topic, new StringSerDes(), new ByteArraySerDes())
            .Peek((_, _, _) =>
            {
                var now = Stopwatch.GetTimestamp();
                if (first == 0)
                    Volatile.Write(ref first, now);
                Volatile.Write(ref last, now);
                Volatile.Write(ref seen, seen + 1);
            })
            .MapValues((value, context) =>
                TelemetryParser.TryParse(value, limits, DateTimeOffset.FromUnixTimeMilliseconds(context.Timestamp), out var sample, out _) ? sample : null)
            .Filter((_, sample, _) => sample is not null)
            .GroupByKey()
            .WindowedBy(TumblingWindowOptions.Of(WindowSize, Grace))
            .Aggregate(
                () => new SampleWindow(),
                (_, sample, window) =>
                {
                    var start = Math.DivRem(sample!.TimestampMs, sizeMs, out var rem) * sizeMs - (rem < 0 ? sizeMs : 0);
                    return window.Add(sample, (sample.TimestampMs - start) / 1000.0, EwmaAlpha);
                },
                store)
            .Suppress(SuppressedBuilder.UntilWindowClose<Windowed<string>, SampleWindow>(Grace, buffer)
                .WithKeySerdes(new TimeWindowedSerDes<string>(new StringSerDes(), sizeMs))
                .WithValueSerdes(new SampleWindowSerDes()), "final")
            .ToStream()
            .Foreach((key, window, _) =>
            {
                digest.Add(window.ToEvent(key.Key, key.Window.StartMs, key.Window.EndMs));
                Volatile.Write(ref last, Stopwatch.GetTimestamp());
            });
        var topology = builder.Build();

        // librdkafka's mock cluster does not implement Admin CreateTopics: create Streamiz's changelog topics up front.
        var stores = topology.Describe().SubTopologies
            .SelectMany(t => t.Nodes).OfType<IProcessorNodeDescription>().SelectMany(n => n.Stores).Distinct().ToArray();
        if (changelog)
            await kafka.EnsureTopicsAsync(stores.Select(s => $"{applicationId}-{s}-changelog"));

        var config = new StreamConfig<StringSerDes, ByteArraySerDes>
        {
            ApplicationId = applicationId,
            BootstrapServers = kafka.BootstrapServers,
            NumStreamThreads = 1,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            StateDir = stateDir.FullName,
            FetchMaxBytes = 50 * 1024 * 1024,
            MaxPartitionFetchBytes = 4 * 1024 * 1024,
            Logger = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning).AddConsole()),
        };
        var stream = new KafkaStream(topology, config);
        try
        {
            await stream.StartAsync();
            var progress = Stopwatch.StartNew();
            var lastSeen = -1L;
            var lastWindows = -1L;
            while (Volatile.Read(ref seen) < expected || digest.Windows < expectedWindows)
            {
                await Task.Delay(10);
                if (Volatile.Read(ref seen) != lastSeen || digest.Windows != lastWindows)
                {
                    (lastSeen, lastWindows) = (Volatile.Read(ref seen), digest.Windows);
                    progress.Restart();
                }
                else if (progress.Elapsed > TimeSpan.FromSeconds(lastSeen >= expected ? 5 : 60))
                {
                    Console.WriteLine($"  Streamiz stopped progressing at {lastSeen:N0} of {expected:N0} records and {lastWindows:N0} of {expectedWindows:N0} windows.");
                    break;
                }
            }
            var elapsed = Stopwatch.GetElapsedTime(Volatile.Read(ref first), Volatile.Read(ref last)).TotalSeconds;
            return (Volatile.Read(ref seen) / elapsed, digest);
        }
        finally
        {
            stream.Dispose();
            try
            {
                stateDir.Delete(recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    private sealed class DigestOutput(WindowDigest digest) : IProcessorOutput
    {
        public void Rejected(Rejection rejection)
        {
        }

        public void WindowClosed(ClosedWindow window) => digest.Add(window.ToEvent());

        public void Scored(WindowAssessment assessment)
        {
        }

        public void Alert(AnomalyEvent alert)
        {
        }

        public void Prediction(DowntimePredictionEvent prediction)
        {
        }
    }
}
