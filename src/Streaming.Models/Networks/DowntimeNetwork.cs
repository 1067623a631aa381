using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Streaming.Models.Networks;

/// <summary>The downtime predictor's shape; every part beyond the LSTM and the head is optional.</summary>
internal sealed record DowntimeShape(
    int InputSize, int HiddenSize, int NumLayers, int Horizons,
    int ConvChannels = 0, int ConvKernel = 0, bool Attention = false, int HeadHiddenSize = 0, double Dropout = 0, double Smoothing = 0);

/// <summary>
/// [optional exponential smoothing over the window] → [optional Conv1d + ReLU over time] → nn.LSTM → last hidden state [optionally next to an attention-weighted sum of all
/// hidden states] → [optional Linear + ReLU] → dropout → Linear head of 1 + K outputs. Output 0 is the scaled remaining
/// time to downtime; outputs 1..K are hazard logits z_k, and P(downtime within horizon k) = 1 − Π_{j≤k} (1 − σ(z_j)), so
/// the probabilities cannot decrease as the horizon grows. PyTorch names: conv.*, lstm.*, attention.*, hidden.*, head.*.
/// The smoothing has no parameters: s_0 = x_0, s_t = α x_t + (1 − α) s_{t−1} with α = <see cref="DowntimeShape.Smoothing"/>
/// (0: none), applied as one fixed [T, T] lower-triangular matrix built from α and T alone.
/// </summary>
internal sealed class DowntimeNetwork : nn.Module<Tensor, Tensor>
{
    private readonly Conv1d? conv;
    private readonly LSTM lstm;
    private readonly Linear? attention;
    private readonly Linear? hidden;
    private readonly Linear head;
    private float[]? smoothing;

    public DowntimeNetwork(DowntimeShape shape)
        : base(nameof(DowntimeNetwork))
    {
        Torch.TorchRuntime.EnsureLoaded();
        if (shape.ConvChannels > 0 && shape.ConvKernel % 2 == 0)
        {
            throw new ArgumentException($"The convolution kernel must be odd (same-length output), was {shape.ConvKernel}.", nameof(shape));
        }

        Shape = shape;
        var lstmInput = shape.InputSize;
        if (shape.ConvChannels > 0)
        {
            conv = nn.Conv1d(shape.InputSize, shape.ConvChannels, shape.ConvKernel, padding: shape.ConvKernel / 2);
            register_module("conv", conv);
            lstmInput = shape.ConvChannels;
        }

        lstm = nn.LSTM(lstmInput, shape.HiddenSize, shape.NumLayers, batchFirst: true, dropout: shape.NumLayers > 1 ? shape.Dropout : 0);
        register_module("lstm", lstm);
        var features = shape.HiddenSize;
        if (shape.Attention)
        {
            attention = nn.Linear(shape.HiddenSize, 1);
            register_module("attention", attention);
            features *= 2;
        }

        if (shape.HeadHiddenSize > 0)
        {
            hidden = nn.Linear(features, shape.HeadHiddenSize);
            register_module("hidden", hidden);
            features = shape.HeadHiddenSize;
        }

        head = nn.Linear(features, 1 + shape.Horizons);
        register_module("head", head);
    }

    public DowntimeShape Shape { get; }

    /// <summary>The exponential-smoothing matrix [T, T] (row t weighs the steps up to t), as in the golden generator.</summary>
    public static float[] SmoothingMatrix(double alpha, int steps)
    {
        var matrix = new float[steps * steps];
        for (var t = 0; t < steps; t++)
        {
            for (var j = 0; j <= t; j++)
            {
                var weight = j == 0 ? Math.Pow(1 - alpha, t) : alpha * Math.Pow(1 - alpha, t - j);
                matrix[(t * steps) + j] = (float)weight;
            }
        }

        return matrix;
    }

    public int InputSize => Shape.InputSize;

    public int Horizons => Shape.Horizons;

    /// <summary>[B, T, F] sequences → raw outputs [B, 1 + K]: scaled time to downtime, then one hazard logit per horizon.</summary>
    public override Tensor forward(Tensor sequences)
    {
        var x = sequences;
        if (Shape.Smoothing > 0)
        {
            var steps = (int)sequences.shape[1];
            if (smoothing is null || smoothing.Length != steps * steps)
            {
                smoothing = SmoothingMatrix(Shape.Smoothing, steps);
            }

            x = matmul(Torch.TensorData.From(smoothing, steps, steps), sequences);
        }

        x = conv is null ? x : nn.functional.relu(conv.call(x.transpose(1, 2))).transpose(1, 2);
        var (states, _, _) = lstm.call(x);
        var features = states.select(1, -1);
        if (attention is not null)
        {
            var weights = nn.functional.softmax(attention.call(states).squeeze(-1), 1);
            features = cat([(weights.unsqueeze(-1) * states).sum(1), features], 1);
        }

        if (hidden is not null)
        {
            features = nn.functional.relu(hidden.call(features));
        }

        return head.call(nn.functional.dropout(features, Shape.Dropout, training));
    }

    /// <summary>log S_k = Σ_{j≤k} log(1 − σ(z_j)), the log-probability of no downtime within horizon k, per row [B, K].</summary>
    public static Tensor LogSurvival(Tensor raw) => nn.functional.logsigmoid(-raw.narrow(1, 1, raw.shape[1] - 1)).cumsum(1);

    /// <summary>P(downtime within horizon k) = 1 − S_k [B, K]: non-decreasing in k by construction.</summary>
    public static Tensor Probabilities(Tensor raw) => -LogSurvival(raw).expm1();

    /// <summary>
    /// Per-sample loss [B]: <paramref name="timeWeight"/> × (ŷ − scaled time)² + the mean over horizons of the binary
    /// cross-entropy of the cumulative probabilities against the within-horizon labels, computed in log space.
    /// </summary>
    public static Tensor Loss(Tensor raw, Tensor scaledTimeToDowntime, Tensor withinHorizon, double timeWeight = 1)
    {
        var regression = (raw.select(1, 0) - scaledTimeToDowntime).square() * timeWeight;
        var logSurvival = LogSurvival(raw).clamp_max(-1e-7);
        var logWithin = (-logSurvival.expm1()).log();
        var crossEntropy = -((withinHorizon * logWithin) + ((1 - withinHorizon) * logSurvival)).mean([1]);
        return regression + crossEntropy;
    }
}
