using System.Diagnostics;
using System.Globalization;
using Streaming.Contracts;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Windows;
using Streaming.Simulation;

namespace Streaming.Pipeline.Bench;

/// <summary>
/// The processing side of the pipeline bench without a broker: the same samples (100 machines, 6 metrics, generic JSON)
/// are encoded once up front, then each round runs parse → window → close → serialise features → score over them, 16
/// partitions by entity, closing windows every 1,000 records as the pipeline bench does, and times every stage apart.
/// CPU only, so a profiler sees the processing code alone.
///   dotnet run -c Release --project benchmarks/Streaming.Pipeline.Bench -- inproc [samples] [rounds]
/// </summary>
internal static class InProcessBench
{
    private const int Partitions = 16;

    public static int Run(string[] args)
    {
        var samples = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200_000;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        var records = Generate(samples);
        Console.WriteLine($"{samples:N0} samples encoded ({records.Sum(r => r.Value.Length):N0} bytes); {rounds} rounds in process");
        var totals = new List<double>();
        for (var round = 1; round <= rounds; round++)
        {
            var gc = GC.CollectionCount(0);
            var allocated = GC.GetTotalAllocatedBytes(precise: true);
            var t = RunRound(records);
            var total = t.Parse + t.Window + t.Collect + t.Serialize + t.Score;
            totals.Add(total);
            Console.WriteLine($"round {round}: {samples / total,10:N0} samples/s  parse {t.Parse:0.000} s, window {t.Window:0.000} s, collect {t.Collect:0.000} s, " +
                $"serialise {t.Serialize:0.000} s, score {t.Score:0.000} s = {total:0.000} s; {t.Windows:N0} windows; MB by stage {t.Allocated}, " +
                $"{(GC.GetTotalAllocatedBytes(precise: true) - allocated) / 1e6:N0} MB allocated, {GC.CollectionCount(0) - gc} gen0 GCs");
        }
        totals.Sort();
        Console.WriteLine($"median: {samples / totals[totals.Count / 2]:N0} samples/s ({totals[totals.Count / 2]:0.000} s per {samples:N0} samples)");
        return 0;
    }

    private static List<(int Partition, byte[] Value, long TimestampMs)> Generate(int samples)
    {
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = 100, Seed = 3, Start = DateTimeOffset.UtcNow.AddDays(-2), IncidentsPerEntityDay = 0 });
        var buffer = new List<TelemetrySample>(100);
        var records = new List<(int, byte[], long)>(samples);
        while (records.Count < samples)
        {
            buffer.Clear();
            simulator.NextTick(buffer);
            foreach (var sample in buffer.Take(samples - records.Count))
                records.Add((PartitionOf(sample.Entity), TelemetryJson.ToUtf8(sample), sample.TimestampMs));
        }
        return records;
    }

    // FNV-1a over the entity: a stable spread over the partitions (not Kafka's murmur2, which only moves who is where).
    private static int PartitionOf(string entity)
    {
        var hash = 2166136261u;
        foreach (var c in entity)
            hash = (hash ^ c) * 16777619u;
        return (int)(hash % Partitions);
    }

    private sealed record Times(double Parse, double Window, double Collect, double Serialize, double Score, int Windows, string Allocated);

    private static Times RunRound(List<(int Partition, byte[] Value, long TimestampMs)> records)
    {
        var settings = new ProcessorSettings
        {
            Windows = new WindowOptions { Size = TimeSpan.FromMinutes(1), Grace = TimeSpan.FromSeconds(30) },
            Limits = TelemetryLimits.Default with { MaxAge = null },
        };
        var processors = new PartitionProcessor?[Partitions];
        var scoring = new ScoringStage?[Partitions];
        var output = new Program.SerializingOutput();
        var closed = new List<ClosedWindow>();
        long parse = 0, window = 0, collect = 0, serialize = 0, score = 0;
        // Bytes allocated by each stage on this thread: [parse, window, collect, serialise, score].
        var bytes = new long[5];
        static long Allocated() => GC.GetAllocatedBytesForCurrentThread();
        var windows = 0;
        var count = 0;
        foreach (var (partition, value, timestampMs) in records)
        {
            var processor = processors[partition] ??= new PartitionProcessor(settings with { ScoreInline = false }, TimeProvider.System);
            scoring[partition] ??= new ScoringStage(settings, TimeProvider.System);
            var a0 = Allocated();
            var t0 = Stopwatch.GetTimestamp();
            if (!TelemetryParser.TryParse(value, settings.Limits, DateTimeOffset.FromUnixTimeMilliseconds(timestampMs), out var sample, out var rejection))
                throw new InvalidOperationException(rejection.Detail);
            var t1 = Stopwatch.GetTimestamp();
            var a1 = Allocated();
            processor.Process(sample!, output);
            var t2 = Stopwatch.GetTimestamp();
            bytes[0] += a1 - a0;
            bytes[1] += Allocated() - a1;
            parse += t1 - t0;
            window += t2 - t1;
            if (++count % 1000 != 0)
                continue;
            for (var p = 0; p < Partitions; p++)
            {
                if (processors[p] is not { } open)
                    continue;
                closed.Clear();
                var ca = Allocated();
                var c0 = Stopwatch.GetTimestamp();
                open.Windows.CollectClosed(closed);
                collect += Stopwatch.GetTimestamp() - c0;
                bytes[2] += Allocated() - ca;
                windows += closed.Count;
                foreach (var w in closed)
                {
                    var sa = Allocated();
                    var s0 = Stopwatch.GetTimestamp();
                    output.WindowClosed(w);
                    var s1 = Stopwatch.GetTimestamp();
                    var sb = Allocated();
                    scoring[p]!.Score(w, output);
                    score += Stopwatch.GetTimestamp() - s1;
                    serialize += s1 - s0;
                    bytes[3] += sb - sa;
                    bytes[4] += Allocated() - sb;
                }
            }
        }
        static double S(long ticks) => Stopwatch.GetElapsedTime(0, ticks).TotalSeconds;
        return new Times(S(parse), S(window), S(collect), S(serialize), S(score), windows, string.Join(" / ", bytes.Select(b => $"{b / 1e6:0}")));
    }
}
