using BenchmarkDotNet.Attributes;
using Streaming.Models.Networks;
using Streaming.Models.Scoring;
using Streaming.Models.Serialization;

namespace Streaming.Benchmarks.Models;

/// <summary>
/// The benchmark shape: LSTM 16 → 64 over T = 32 steps with a linear head (64 → 16), single-threaded.
/// Scores with TorchSharp (LibTorch) under no-grad on one intra-op thread. One invocation scores <see cref="Batch"/> windows; windows/s = Batch / Mean. tools/bench/models.sh runs the
/// PyTorch side of the comparison on the same shapes.
/// </summary>
[MemoryDiagnoser]
public class LstmForecasterBenchmarks
{
    private const int Features = 16;
    private const int Hidden = 64;
    private const int Steps = 32;

    private LstmForecaster scorer = null!;
    private float[] windows = [];
    private float[] scores = [];
    private float[] contributions = [];

    [Params(1, 64)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        TorchSharp.torch.manual_seed(42);
        var network = new ForecasterNetwork(Features, Hidden, 1, Steps);
        var manifest = new ModelManifest
        {
            Kind = ModelKind.LstmForecaster,
            Version = "bench",
            Architecture = new ModelArchitecture { InputSize = Features, HiddenSize = Hidden, SequenceLength = Steps + 1 },
            Features = [.. Enumerable.Range(0, Features).Select(i => $"f{i}")],
            Normalization = new NormalizationStatistics(new float[Features], [.. Enumerable.Repeat(1f, Features)]),
        };
        scorer = new LstmForecaster(manifest, network);
        windows = [.. Enumerable.Range(0, Batch * (Steps + 1) * Features).Select(_ => (float)((random.NextDouble() * 2) - 1))];
        scores = new float[Batch];
        contributions = new float[Batch * Features];
    }

    /// <summary>Scores a batch of windows (32 context steps + the observed next vector each).</summary>
    [Benchmark]
    public float ScoreWindows()
    {
        scorer.ScoreBatch(windows, scores, contributions);
        return scores[0];
    }
}
