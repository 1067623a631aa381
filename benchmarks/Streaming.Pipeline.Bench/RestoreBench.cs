using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Host.Pipeline;
using Streaming.Kafka;
using Streaming.Processing.Pipeline;
using Streaming.Simulation;

namespace Streaming.Pipeline.Bench;

/// <summary>
/// How long the processor takes to rebuild its state on assignment, for the same retained log: a full replay from the
/// beginning (snapshots off) against loading the newest snapshot and replaying the tail after it (the default). The demo's
/// fleet (20 entities, 6 metrics, a sample every 10 s) with the default settings (inline online detectors), exactly-once,
/// on the embedded broker (or KAFKA_BOOTSTRAP_SERVERS). Then, in process, the size and codec time of one partition's state
/// once every history is full (the largest a snapshot of the demo's fleet gets), for the extrapolation to a day of retention.
///   dotnet run -c Release --project benchmarks/Streaming.Pipeline.Bench -- restore [records=100000] [tail=40000] [rounds=3]
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal static class RestoreBench
{
    private const int Partitions = 16;
    private const int DemoEntities = 20;
    private const int DemoRate = 2000;

    private static readonly Microsoft.Extensions.Logging.ILoggerFactory Log =
        Microsoft.Extensions.Logging.LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Warning));

    public static int Run(string[] args)
    {
        // 20 entities hash unevenly over the partitions; beyond ~100,000 records the fullest exceeds the mock cluster's 5 MB.
        var records = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
        var tail = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 40_000;
        var rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3;
        var bootstrap = Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS");
        // 16 partitions keep each under the mock cluster's 5 MB per partition.
        using var kafka = KafkaCluster.Connect(new KafkaOptions { BootstrapServers = bootstrap, Partitions = Partitions });
        var settings = new StreamingSettings().IsolatedAs($"bench-restore-{DateTime.UtcNow:HHmmss}");
        settings.Processor.IdleTimeout = TimeSpan.FromHours(1);
        settings.Validated();
        kafka.EnsureTopicsAsync(settings.Topics.All).GetAwaiter().GetResult();

        var samples = Simulate(records, DateTimeOffset.UtcNow.AddDays(-3));
        Console.WriteLine($"{records:N0} samples of {DemoEntities} entities ({samples[^1].Timestamp - samples[0].Timestamp:d\\.hh\\:mm} of simulated time) in {Partitions} partitions at {kafka.BootstrapServers}");

        // The log: the first part processed with a snapshot every second, the tail after the last snapshot with none.
        Produce(kafka, settings.Topics.Telemetry, samples.Take(records - tail));
        settings.Processor.Snapshots.Interval = TimeSpan.FromSeconds(1);
        var writer = Process(kafka, settings, "writer", records - tail);
        Console.WriteLine($"processed {records - tail:N0} records writing {writer.SnapshotsWritten} snapshots (last {writer.LastSnapshotBytes:N0} bytes)");
        Produce(kafka, settings.Topics.Telemetry, samples.Skip(records - tail));
        settings.Processor.Snapshots.Interval = TimeSpan.FromDays(1);
        Process(kafka, settings, "tail", tail);

        var full = new List<Restore>();
        var snapshot = new List<Restore>();
        for (var round = 1; round <= rounds; round++)
        {
            settings.Processor.Snapshots.Enabled = false;
            full.Add(MeasureRestore(kafka, settings, $"full{round}"));
            settings.Processor.Snapshots.Enabled = true;
            snapshot.Add(MeasureRestore(kafka, settings, $"snap{round}"));
            Console.WriteLine($"round {round}: full replay {full[^1]}   snapshot + tail {snapshot[^1]}");
        }
        var f = full.OrderBy(r => r.Seconds).ElementAt(rounds / 2);
        var s = snapshot.OrderBy(r => r.Seconds).ElementAt(rounds / 2);

        var (stateBytes, writeMs, readMs, windows) = SaturatedState();
        var day = 86_400L * DemoRate;
        var fullRate = f.Replayed / f.Seconds;
        var tailRate = s.Replayed / (s.Seconds - s.LoadSeconds);
        // Telemetry bytes the full replay read per second (processing included): a floor on how fast the broker hands out a snapshot.
        var recordBytes = samples.Average(x => (double)TelemetryJson.ToUtf8(x).Length);
        var fetchRate = f.Replayed * recordBytes / f.Seconds;
        var interval = new StreamingSettings().Processor.Snapshots.Interval;
        var tailAtDemoRate = (long)interval.TotalSeconds * DemoRate;
        var dayFull = day / fullRate;
        // The measured restore, plus what a day's log changes: a full-size state (more bytes to fetch and decode) and a tail of a whole interval.
        var extraBytes = Math.Max(0, stateBytes - s.Bytes);
        var extraTail = Math.Max(0, tailAtDemoRate - s.Replayed);
        var daySnapshot = s.Seconds + extraBytes / fetchRate + readMs / 1000 + extraTail / tailRate;

        Console.WriteLine();
        Console.WriteLine($"| restore of {records:N0} retained records ({Partitions} partitions, median of {rounds}) | records replayed | snapshot bytes | restore time |");
        Console.WriteLine("|---|---:|---:|---:|");
        Console.WriteLine($"| full replay from the beginning | {f.Replayed:N0} | – | {f.Seconds:0.00} s ({fullRate:N0} records/s) |");
        Console.WriteLine($"| newest snapshot + tail | {s.Replayed:N0} | {s.Bytes:N0} | {s.Seconds:0.00} s (load {s.LoadSeconds:0.00} s, tail {tailRate:N0} records/s) |");
        Console.WriteLine();
        Console.WriteLine($"saturated state of one partition holding all {DemoEntities} demo entities ({windows:N0} windows each, every history full): " +
                          $"{stateBytes:N0} bytes, written in {writeMs:0.0} ms, read in {readMs:0.0} ms");
        Console.WriteLine($"a day of retained telemetry at {DemoRate:N0} samples/s = {day:N0} records (extrapolated from the rates above):");
        Console.WriteLine($"  full replay: {day:N0} / {fullRate:N0} records/s = {dayFull / 3600:0.0} h");
        Console.WriteLine($"  snapshot + tail: the measured {s.Seconds:0.00} s + {extraBytes:N0} more state bytes at {fetchRate / 1e6:0.0} MB/s " +
                          $"(the full replay's read rate of {recordBytes:0}-byte records) + {readMs:0} ms to decode them + {extraTail:N0} more tail records " +
                          $"(a whole Processor:Snapshots:Interval of {interval.TotalSeconds:0} s at {DemoRate:N0}/s is {tailAtDemoRate:N0}) at {tailRate:N0} records/s = {daySnapshot:0.0} s");
        return 0;
    }

    private readonly record struct Restore(long Replayed, long Bytes, double Seconds, double LoadSeconds)
    {
        public override string ToString() => $"{Replayed,9:N0} records {Seconds,6:0.00} s (snapshots {Bytes:N0} B in {LoadSeconds:0.00} s)";
    }

    private static List<TelemetrySample> Simulate(int records, DateTimeOffset start)
    {
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = DemoEntities, Seed = 3, Start = start });
        var samples = new List<TelemetrySample>(records + DemoEntities);
        while (samples.Count < records)
            simulator.NextTick(samples);
        samples.RemoveRange(records, samples.Count - records);
        return samples;
    }

    private static void Produce(KafkaCluster kafka, string topic, IEnumerable<TelemetrySample> samples)
    {
        var config = kafka.ProducerConfig("bench-restore");
        config.QueueBufferingMaxMessages = 1_000_000;
        using var producer = new ProducerBuilder<string, byte[]>(config).Build();
        foreach (var sample in samples)
            producer.Produce(topic, new Message<string, byte[]> { Key = sample.Entity, Value = TelemetryJson.ToUtf8(sample) });
        producer.Flush(TimeSpan.FromMinutes(2));
    }

    /// <summary>Runs a processor until it has processed <paramref name="records"/> new records, then stops it cleanly.</summary>
    private static ProcessorWorker Process(KafkaCluster kafka, StreamingSettings settings, string instance, long records)
    {
        using var counters = new PipelineCounters();
        var worker = new ProcessorWorker(settings, kafka, counters, TimeProvider.System, Log.CreateLogger(instance), instance);
        using var stop = new CancellationTokenSource();
        var task = worker.RunAsync(stop.Token);
        var deadline = Stopwatch.StartNew();
        while (worker.Processed < records && !task.IsCompleted && deadline.Elapsed < TimeSpan.FromMinutes(3))
        {
            Thread.Sleep(100);
            if (deadline.ElapsedMilliseconds % 10_000 < 100)
                Console.WriteLine($"  {instance}: {worker.Processed:N0} of {records:N0} processed, {worker.SnapshotsWritten} snapshots");
        }
        if (worker.Processed < records)
            throw new InvalidOperationException($"{instance} processed only {worker.Processed:N0} of {records:N0} records in 3 min (the mock cluster keeps 5 MB per partition: use fewer records).");
        // A second more, so the last due snapshots (interval 1 s) are written before the stop.
        Thread.Sleep(1500);
        stop.Cancel();
        task.GetAwaiter().GetResult();
        return worker;
    }

    /// <summary>Starts a processor on the retained log and measures its restore of every partition.</summary>
    private static Restore MeasureRestore(KafkaCluster kafka, StreamingSettings settings, string instance)
    {
        using var counters = new PipelineCounters();
        var worker = new ProcessorWorker(settings, kafka, counters, TimeProvider.System, NullLogger.Instance, instance);
        using var stop = new CancellationTokenSource();
        var task = worker.RunAsync(stop.Token);
        while (!(worker.AssignedPartitions == Partitions && !worker.IsRestoring) && !task.IsCompleted)
            Thread.Sleep(50);
        stop.Cancel();
        task.GetAwaiter().GetResult();
        return new Restore(worker.Replayed, worker.SnapshotBytesLoaded, worker.RestoreTime.TotalSeconds, worker.SnapshotLoadTime.TotalSeconds);
    }

    /// <summary>One partition's state with all 20 demo entities after every history is full (likelihoods hold 8,640 windows).</summary>
    private static (long Bytes, double WriteMs, double ReadMs, int Windows) SaturatedState()
    {
        var settings = new StreamingSettings();
        settings.Ingest.MaxAge = null;
        var processorSettings = settings.ToProcessorSettings();
        var windows = processorSettings.Detection.Likelihood.HistoryWindow + 200;
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = DemoEntities, Seed = 4, Start = start });
        var processor = new PartitionProcessor(processorSettings, TimeProvider.System);
        var output = new NullOutput();
        var tick = new List<TelemetrySample>(DemoEntities);
        while (simulator.Now < start.AddMinutes(windows))
        {
            tick.Clear();
            simulator.NextTick(tick);
            foreach (var sample in tick)
                processor.Process(sample, output);
            processor.EmitClosed(output);
        }
        var timer = Stopwatch.StartNew();
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            processor.WriteState(writer);
        var writeMs = timer.Elapsed.TotalMilliseconds;
        var bytes = stream.ToArray();
        timer.Restart();
        var restored = new PartitionProcessor(processorSettings, TimeProvider.System);
        using (var reader = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8))
            restored.ReadState(reader);
        return (bytes.Length, writeMs, timer.Elapsed.TotalMilliseconds, windows);
    }

    private sealed class NullOutput : IProcessorOutput
    {
        public void Rejected(Rejection rejection)
        {
        }

        public void WindowClosed(Processing.Windows.ClosedWindow window)
        {
        }

        public void Scored(Processing.Scoring.WindowAssessment assessment)
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
