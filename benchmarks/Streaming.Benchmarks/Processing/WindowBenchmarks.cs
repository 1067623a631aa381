using BenchmarkDotNet.Attributes;
using Streaming.Contracts;
using Streaming.Processing.Windows;

namespace Streaming.Benchmarks.Processing;

/// <summary>
/// The per-record hot path of the processor: a parsed sample into its entity's event-time window (all features
/// updated), and parsing itself. Run: dotnet run -c Release --project benchmarks/Streaming.Benchmarks -- --filter '*WindowBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class WindowBenchmarks
{
    private const int Entities = 100;
    private const int SamplesPerOperation = 6_000;

    private TelemetrySample[] _samples = [];
    private byte[][] _json = [];
    private WindowAggregator _aggregator = null!;
    private List<ClosedWindow> _closed = [];
    private long _offsetMs;

    [GlobalSetup]
    public void Setup()
    {
        var start = new DateTimeOffset(2026, 11, 22, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var random = new Random(1);
        _samples = new TelemetrySample[SamplesPerOperation];
        for (var i = 0; i < _samples.Length; i++)
        {
            // 100 entities, one sample each per 10 s: one operation spans 10 minutes of event time.
            var entity = $"host-{i % Entities:D3}";
            var ts = start + (i / Entities) * 10_000L;
            _samples[i] = new TelemetrySample(entity, ts,
            [
                new MetricValue("cpu_usage", 40 + random.NextDouble() * 10),
                new MetricValue("memory_usage", 60 + random.NextDouble()),
                new MetricValue("network_latency", 80 + random.NextDouble() * 20),
                new MetricValue("error_rate", random.NextDouble() / 100),
            ]);
        }
        _json = _samples.Select(TelemetryJson.ToUtf8).ToArray();
        _aggregator = new WindowAggregator(new WindowOptions { Size = TimeSpan.FromMinutes(1), Grace = TimeSpan.FromSeconds(10) });
        _closed = new List<ClosedWindow>(4096);
    }

    /// <summary>Adds 6,000 samples (24,000 metric values) and closes the windows they complete; per-record cost = time / 6,000.</summary>
    [Benchmark(OperationsPerInvoke = SamplesPerOperation)]
    public int AddSampleToWindow()
    {
        var accepted = 0;
        foreach (var sample in _samples)
        {
            // Shift event time each operation so windows keep opening and closing as in a live stream.
            if (_aggregator.Add(sample.Entity, sample.TimestampMs + _offsetMs, sample.Metrics) == AddOutcome.Accepted)
                accepted++;
        }
        _offsetMs += 600_000;
        _closed.Clear();
        _aggregator.CollectClosed(_closed);
        return accepted;
    }

    [Benchmark(OperationsPerInvoke = SamplesPerOperation)]
    public int ParseSample()
    {
        var parsed = 0;
        var now = DateTimeOffset.FromUnixTimeMilliseconds(_samples[^1].TimestampMs);
        foreach (var json in _json)
        {
            if (TelemetryParser.TryParse(json, TelemetryLimits.Default, now, out _, out _))
                parsed++;
        }
        return parsed;
    }

}
