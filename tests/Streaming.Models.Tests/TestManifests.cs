using Streaming.Models.Networks;
using Streaming.Models.Serialization;

namespace Streaming.Models.Tests;

internal static class TestManifests
{
    public static ModelManifest Vae(VaeEncoderKind kind) => new()
    {
        Kind = ModelKind.Vae,
        Version = "test",
        Architecture = new ModelArchitecture { InputSize = 4, HiddenSize = 10, SequenceLength = 6, LatentSize = 3, Encoder = kind },
        Features = ["a", "b", "c", "d"],
        Normalization = new NormalizationStatistics([0, 0, 0, 0], [1, 1, 1, 1]),
    };

    /// <summary>The golden downtime predictors' shape: plain, or (<paramref name="full"/>) with every optional part.</summary>
    public static ModelManifest Downtime(bool full = false) => new()
    {
        Kind = ModelKind.DowntimePredictor,
        Version = "test",
        Architecture = full
            ? new ModelArchitecture
            {
                InputSize = 6, HiddenSize = 12, NumLayers = 2, SequenceLength = 9, Horizons = [5, 15, 30], TargetScale = 10,
                ConvChannels = 8, ConvKernel = 3, Attention = true, HeadHiddenSize = 10, Dropout = 0.2, Smoothing = 0.3,
            }
            : new ModelArchitecture { InputSize = 6, HiddenSize = 12, SequenceLength = 9, Horizons = [5, 15, 30], TargetScale = 10 },
        Features = ["f0", "f1", "f2", "f3", "f4", "f5"],
        Normalization = new NormalizationStatistics(new float[6], [1, 1, 1, 1, 1, 1]),
    };

    public static ModelManifest Forecaster(int features, int hidden, int sequenceLength) => new()
    {
        Kind = ModelKind.LstmForecaster,
        Version = "test",
        Architecture = new ModelArchitecture { InputSize = features, HiddenSize = hidden, SequenceLength = sequenceLength },
        Features = [.. Enumerable.Range(0, features).Select(i => $"f{i}")],
        Normalization = new NormalizationStatistics(new float[features], [.. Enumerable.Repeat(1f, features)]),
        ErrorScale = [.. Enumerable.Range(1, features).Select(i => (float)i)],
    };
}
