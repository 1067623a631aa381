using BenchmarkDotNet.Attributes;
using Streaming.Contracts;
using Streaming.Processing.Scoring;
using Streaming.Processing.Scoring.Detection;
using Streaming.Processing.Windows;

namespace Streaming.Benchmarks.Processing;

/// <summary>
/// The online detectors' cost per closed window (4 metrics), warmed up past every learning period so each detector is
/// scoring: the production defaults, with the seasonal model off, and with the random cut forest on (the univariate-series
/// settings). Run: dotnet run -c Release --project benchmarks/Streaming.Benchmarks -- --filter '*ScorerBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class ScorerBenchmarks
{
    private const int Entities = 20;
    private const int WarmupWindows = 3_000;
    private const int WindowsPerOperation = 1_000;
    private static readonly string[] Metrics = ["cpu_usage", "memory_usage", "network_latency", "error_rate"];

    private OnlineWindowScorer _scorer = null!;
    private ClosedWindow[] _windows = [];
    private int _next;

    [Params("defaults", "one-window", "no-seasonal", "forest")]
    public string Settings { get; set; } = "defaults";

    [GlobalSetup]
    public void Setup()
    {
        var options = Settings switch
        {
            "one-window" => new DetectionOptions { SustainedWindows = 1 },
            "no-seasonal" => new DetectionOptions { Seasonal = new SeasonalOptions { Enabled = false } },
            "forest" => new DetectionOptions { Forest = new ForestOptions { Enabled = true }, Baseline = BaselineCalibration.Likelihood },
            _ => new DetectionOptions(),
        };
        _scorer = new OnlineWindowScorer(new BaselineOptions(), options, topContributors: 3);
        var random = new Random(1);
        // A daily-like cycle of 240 windows with noise, so the seasonal model finds and uses a period.
        _windows = new ClosedWindow[Entities * (WarmupWindows + WindowsPerOperation)];
        for (var i = 0; i < _windows.Length; i++)
        {
            var t = i / Entities;
            var start = t * 60_000L;
            var features = new MetricFeatures[Metrics.Length];
            for (var m = 0; m < Metrics.Length; m++)
            {
                var mean = 50 + 20 * Math.Sin(2 * Math.PI * t / 240) + random.NextDouble() * 4;
                features[m] = new MetricFeatures(Metrics[m], 6, mean, 1, mean, mean, mean, mean, 0, mean, mean, mean, 0, 0);
            }
            _windows[i] = new ClosedWindow($"host-{i % Entities:D2}", new WindowBounds(start, start + 60_000), 6, features);
        }
        for (_next = 0; _next < Entities * WarmupWindows; _next++)
            _scorer.Assess(_windows[_next]);
    }

    /// <summary>Scores 1,000 windows; per-window cost = time / 1,000. Wraps around, so long runs keep scoring a learned stream.</summary>
    [Benchmark(OperationsPerInvoke = WindowsPerOperation)]
    public double ScoreWindow()
    {
        var sum = 0.0;
        for (var i = 0; i < WindowsPerOperation; i++)
        {
            if (_next == _windows.Length)
                _next = Entities * WarmupWindows;
            sum += _scorer.Assess(_windows[_next++])?.Score ?? 0;
        }
        return sum;
    }
}
