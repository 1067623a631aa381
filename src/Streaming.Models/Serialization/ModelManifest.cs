using System.Text.Json;
using System.Text.Json.Serialization;
using Streaming.Models.Drift;
using Streaming.Models.Networks;

namespace Streaming.Models.Serialization;

/// <summary>Which network a manifest describes.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ModelKind>))]
internal enum ModelKind
{
    LstmForecaster,
    Vae,
    DowntimePredictor,
}

/// <summary>Architecture and hyper-parameters: enough to rebuild the network before loading its weights.</summary>
internal sealed record ModelArchitecture
{
    public required int InputSize { get; init; }

    public required int HiddenSize { get; init; }

    public int NumLayers { get; init; } = 1;

    /// <summary>Number of feature vectors the scorer consumes (for the forecaster: context + the observed next vector).</summary>
    public required int SequenceLength { get; init; }

    public int LatentSize { get; init; }

    /// <summary>
    /// Forecaster: how many leading features it predicts (null: all of them). The rest are inputs only, e.g. command
    /// columns next to the telemetry value (telemanom predicts the value from the value and the commands).
    /// </summary>
    public int? OutputSize { get; init; }

    /// <summary>The forecaster's predicted features: <see cref="OutputSize"/>, or every input feature.</summary>
    [JsonIgnore]
    public int ForecastSize => OutputSize ?? InputSize;

    [JsonConverter(typeof(JsonStringEnumConverter<VaeEncoderKind>))]
    public VaeEncoderKind Encoder { get; init; } = VaeEncoderKind.Lstm;

    /// <summary>Downtime predictor horizons, in minutes (or whatever time unit the predictor was trained in).</summary>
    public IReadOnlyList<double> Horizons { get; init; } = [];

    /// <summary>Downtime predictor: the network's first output times this scale is the time to downtime.</summary>
    public double TargetScale { get; init; } = 1;

    /// <summary>Downtime predictor: Conv1d output channels before the LSTM (0: no convolution).</summary>
    public int ConvChannels { get; init; }

    /// <summary>Downtime predictor: the convolution's kernel width in steps (odd).</summary>
    public int ConvKernel { get; init; }

    /// <summary>Downtime predictor: an attention-weighted sum of all LSTM states joins the last state.</summary>
    public bool Attention { get; init; }

    /// <summary>Downtime predictor: width of the ReLU layer before the head (0: none).</summary>
    public int HeadHiddenSize { get; init; }

    /// <summary>Dropout probability used in training (inactive when scoring).</summary>
    public double Dropout { get; init; }

    /// <summary>Downtime predictor: exponential-smoothing factor α over each input window (0, absent before: none).</summary>
    public double Smoothing { get; init; }

    public Dictionary<string, double> TrainingHyperParameters { get; init; } = [];

    public DowntimeShape DowntimeShape() =>
        new(InputSize, HiddenSize, NumLayers, Horizons.Count, ConvChannels, ConvKernel, Attention, HeadHiddenSize, Dropout, Smoothing);
}

/// <summary>Per-feature statistics that map raw values to the network's input scale.</summary>
internal sealed record NormalizationStatistics(float[] Mean, float[] Std);

/// <summary>The time span (and source) of the data a model was trained on.</summary>
internal sealed record TrainingDataRange(string Source, DateTimeOffset? From, DateTimeOffset? To, int Samples);

/// <summary>JSON manifest stored next to the safetensors weights.</summary>
internal sealed record ModelManifest
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,

        // A diverged metric must still be recordable rather than make the save fail.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// The artifact layout and semantics this manifest follows. 1 (absent from older manifests): the hand-written engine
    /// before TorchSharp. 2: TorchSharp modules; the downtime head outputs hazard logits (monotone horizon probabilities).
    /// </summary>
    public const int CurrentFormatVersion = 2;

    public int FormatVersion { get; init; } = 1;

    public required ModelKind Kind { get; init; }

    public required string Version { get; init; }

    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UnixEpoch;

    public required ModelArchitecture Architecture { get; init; }

    public required IReadOnlyList<string> Features { get; init; }

    public required NormalizationStatistics Normalization { get; init; }

    /// <summary>Forecaster: per-feature residual variance on the validation split, the denominator of the normalised error.</summary>
    public float[]? ErrorScale { get; init; }

    /// <summary>Named score thresholds, e.g. "p99" (percentile calibration) or "spot_q1e-3".</summary>
    public Dictionary<string, double> Thresholds { get; init; } = [];

    public TrainingDataRange? TrainingData { get; init; }

    /// <summary>Reference distributions of the (normalised) training features and of validation scores, for drift checks.</summary>
    public DriftBaseline? Drift { get; init; }

    public Dictionary<string, double> ValidationMetrics { get; init; } = [];

    /// <summary>(raw - mean) / std per feature; <paramref name="raw"/> may hold several vectors back to back.</summary>
    public void Normalize(ReadOnlySpan<float> raw, Span<float> destination)
    {
        var f = Features.Count;
        if (raw.Length % f != 0 || destination.Length != raw.Length)
        {
            throw new ArgumentException($"Expected a multiple of {f} values and an equally long destination.");
        }

        for (var i = 0; i < raw.Length; i++)
        {
            var j = i % f;
            destination[i] = (raw[i] - Normalization.Mean[j]) / Normalization.Std[j];
        }
    }

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    public static ModelManifest FromJson(string json) =>
        JsonSerializer.Deserialize<ModelManifest>(json, Options) ?? throw new InvalidDataException("Empty model manifest.");
}
