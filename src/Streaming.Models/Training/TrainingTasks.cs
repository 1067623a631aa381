using Streaming.Models.Networks;
using Streaming.Models.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Streaming.Models.Training;

/// <summary>Next-vector forecasting over sliding windows of a normalised series [N, F]; the last windows validate.</summary>
internal sealed class ForecasterTrainingTask : ITrainingTask
{
    private readonly ForecasterNetwork network;
    private readonly float[] series;

    public ForecasterTrainingTask(ForecasterNetwork network, float[] series, double validationFraction)
    {
        this.network = network;
        this.series = series;
        var windows = (series.Length / network.InputSize) - network.ContextLength;
        TrainCount = (int)(windows * (1 - validationFraction));
        ValidationCount = windows - TrainCount;
    }

    public nn.Module Network => network;

    public int TrainCount { get; }

    public int ValidationCount { get; }

    public Tensor TrainLosses(ReadOnlySpan<int> samples) => Losses(samples.ToArray());

    public Tensor ValidationLosses(int start, int count) => Losses([.. Enumerable.Range(TrainCount + start, count)]);

    /// <summary>Mean squared validation residual per predicted feature, the forecaster's score normaliser.</summary>
    public float[] ValidationResidualVariance()
    {
        network.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (contexts, targets) = Batch([.. Enumerable.Range(TrainCount, ValidationCount)]);
        var variance = (network.call(contexts) - targets).square().to_type(ScalarType.Float64).mean([0]).to_type(ScalarType.Float32).contiguous();

        // A floor keeps a perfectly predicted (e.g. constant) feature from dividing by zero at scoring time.
        return [.. TensorData.Span(variance).ToArray().Select(v => Math.Max(v, 1e-6f))];
    }

    /// <summary>Window <paramref name="index"/>: its context and the observed next vector, [context + 1, F].</summary>
    public ReadOnlySpan<float> Window(int index) =>
        series.AsSpan(index * network.InputSize, (network.ContextLength + 1) * network.InputSize);

    private Tensor Losses(int[] indices)
    {
        var (contexts, targets) = Batch(indices);
        return (network.call(contexts) - targets).square().mean([1]);
    }

    private (Tensor Contexts, Tensor Targets) Batch(int[] indices)
    {
        var f = network.InputSize;
        var o = network.OutputSize;
        var context = network.ContextLength * f;
        var contexts = new float[indices.Length * context];
        var targets = new float[indices.Length * o];
        for (var b = 0; b < indices.Length; b++)
        {
            series.AsSpan(indices[b] * f, context).CopyTo(contexts.AsSpan(b * context));
            series.AsSpan((indices[b] * f) + context, o).CopyTo(targets.AsSpan(b * o));
        }

        return (TensorData.From(contexts, indices.Length, network.ContextLength, f), TensorData.From(targets, indices.Length, o));
    }
}

/// <summary>VAE over sliding windows of a normalised series, reparameterised with LibTorch's seeded Gaussian noise.</summary>
internal sealed class VaeTrainingTask : ITrainingTask
{
    private readonly VaeNetwork network;
    private readonly float[] series;
    private readonly int stride;

    public VaeTrainingTask(VaeNetwork network, float[] series, int stride, double validationFraction)
    {
        this.network = network;
        this.series = series;
        this.stride = stride;
        var windows = (((series.Length / network.InputSize) - network.SequenceLength) / stride) + 1;
        TrainCount = (int)(windows * (1 - validationFraction));
        ValidationCount = windows - TrainCount;
    }

    public nn.Module Network => network;

    public int TrainCount { get; }

    public int ValidationCount { get; }

    public ReadOnlySpan<float> Window(int index) =>
        series.AsSpan(index * stride * network.InputSize, network.SequenceLength * network.InputSize);

    public Tensor TrainLosses(ReadOnlySpan<int> samples) => Losses(samples.ToArray(), sample: true);

    public Tensor ValidationLosses(int start, int count) => Losses([.. Enumerable.Range(TrainCount + start, count)], sample: false);

    private Tensor Losses(int[] indices, bool sample)
    {
        var window = network.SequenceLength * network.InputSize;
        var values = new float[indices.Length * window];
        for (var b = 0; b < indices.Length; b++)
        {
            Window(indices[b]).CopyTo(values.AsSpan(b * window));
        }

        var windows = TensorData.From(values, indices.Length, network.SequenceLength, network.InputSize);
        var (reconstruction, mu, logVar) = network.Forward(windows, sample);
        return VaeNetwork.Loss(windows, reconstruction, mu, logVar);
    }
}

/// <summary>One downtime-predictor example: a normalised sequence, its scaled time to downtime and horizon labels.</summary>
internal sealed record DowntimeSample(float[] Sequence, float ScaledTimeToDowntime, float[] WithinHorizon);

internal sealed class DowntimeTrainingTask : ITrainingTask
{
    private readonly DowntimeNetwork network;
    private readonly IReadOnlyList<DowntimeSample> train;
    private readonly IReadOnlyList<DowntimeSample> validation;
    private readonly double timeWeight;

    public DowntimeTrainingTask(DowntimeNetwork network, IReadOnlyList<DowntimeSample> train, IReadOnlyList<DowntimeSample> validation, double timeWeight = 1)
    {
        this.network = network;
        this.train = train;
        this.validation = validation;
        this.timeWeight = timeWeight;
    }

    public nn.Module Network => network;

    public int TrainCount => train.Count;

    public int ValidationCount => validation.Count;

    public Tensor TrainLosses(ReadOnlySpan<int> samples)
    {
        var chosen = new DowntimeSample[samples.Length];
        for (var i = 0; i < samples.Length; i++)
        {
            chosen[i] = train[samples[i]];
        }

        return Losses(chosen);
    }

    public Tensor ValidationLosses(int start, int count) => Losses([.. Enumerable.Range(start, count).Select(i => validation[i])]);

    private Tensor Losses(DowntimeSample[] samples)
    {
        var length = samples[0].Sequence.Length;
        var k = network.Horizons;
        var sequences = new float[samples.Length * length];
        var times = new float[samples.Length];
        var labels = new float[samples.Length * k];
        for (var b = 0; b < samples.Length; b++)
        {
            samples[b].Sequence.CopyTo(sequences, b * length);
            times[b] = samples[b].ScaledTimeToDowntime;
            samples[b].WithinHorizon.CopyTo(labels, b * k);
        }

        var raw = network.call(TensorData.From(sequences, samples.Length, length / network.InputSize, network.InputSize));
        return DowntimeNetwork.Loss(raw, TensorData.From(times, samples.Length), TensorData.From(labels, samples.Length, k), timeWeight);
    }
}

internal static class Gaussian
{
    /// <summary>Standard normal sample by Box-Muller, from the caller's seeded generator.</summary>
    public static double Next(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
