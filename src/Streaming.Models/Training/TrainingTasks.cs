using Streaming.Models.Networks;

namespace Streaming.Models.Training;

/// <summary>Next-vector forecasting over sliding windows of a normalised series [N, F]; the last windows validate.</summary>
internal sealed class ForecasterTrainingTask : ITrainingTask
{
    private readonly ForecasterNetwork<float> network;
    private readonly float[] series;
    private readonly float[] prediction;

    public ForecasterTrainingTask(ForecasterNetwork<float> network, float[] series, double validationFraction)
    {
        this.network = network;
        this.series = series;
        var windows = (series.Length / network.InputSize) - network.ContextLength;
        TrainCount = (int)(windows * (1 - validationFraction));
        ValidationCount = windows - TrainCount;
        prediction = new float[network.InputSize];
    }

    public ITrainableNetwork<float> Network => network;

    public int TrainCount { get; }

    public int ValidationCount { get; }

    public double AccumulateGradients(int trainSample, Random random) =>
        network.ForwardBackward(Context(trainSample), Target(trainSample));

    public double ValidationLoss(int validationSample)
    {
        var index = TrainCount + validationSample;
        network.Forward(Context(index), prediction);
        var target = Target(index);
        var sum = 0.0;
        for (var j = 0; j < prediction.Length; j++)
        {
            sum += (prediction[j] - target[j]) * (double)(prediction[j] - target[j]);
        }

        return sum / prediction.Length;
    }

    /// <summary>Mean squared validation residual per feature, the forecaster's score normaliser.</summary>
    public float[] ValidationResidualVariance()
    {
        var f = network.InputSize;
        var sums = new double[f];
        for (var i = 0; i < ValidationCount; i++)
        {
            network.Forward(Context(TrainCount + i), prediction);
            var target = Target(TrainCount + i);
            for (var j = 0; j < f; j++)
            {
                sums[j] += (prediction[j] - target[j]) * (double)(prediction[j] - target[j]);
            }
        }

        // A floor keeps a perfectly predicted (e.g. constant) feature from dividing by zero at scoring time.
        return [.. sums.Select(s => (float)Math.Max(s / ValidationCount, 1e-6))];
    }

    public ReadOnlySpan<float> Window(int index) =>
        series.AsSpan(index * network.InputSize, (network.ContextLength + 1) * network.InputSize);

    private ReadOnlySpan<float> Context(int index) => series.AsSpan(index * network.InputSize, network.ContextLength * network.InputSize);

    private ReadOnlySpan<float> Target(int index) => series.AsSpan((index + network.ContextLength) * network.InputSize, network.InputSize);
}

/// <summary>VAE over sliding windows of a normalised series, reparameterised with seeded Gaussian noise.</summary>
internal sealed class VaeTrainingTask : ITrainingTask
{
    private readonly VaeNetwork<float> network;
    private readonly float[] series;
    private readonly int stride;
    private readonly float[] noise;
    private readonly float[] reconstruction;
    private readonly float[] mu;
    private readonly float[] logVar;

    public VaeTrainingTask(VaeNetwork<float> network, float[] series, int stride, double validationFraction)
    {
        this.network = network;
        this.series = series;
        this.stride = stride;
        var windows = (((series.Length / network.InputSize) - network.SequenceLength) / stride) + 1;
        TrainCount = (int)(windows * (1 - validationFraction));
        ValidationCount = windows - TrainCount;
        noise = new float[network.LatentSize];
        reconstruction = new float[network.SequenceLength * network.InputSize];
        mu = new float[network.LatentSize];
        logVar = new float[network.LatentSize];
    }

    public ITrainableNetwork<float> Network => network;

    public int TrainCount { get; }

    public int ValidationCount { get; }

    public ReadOnlySpan<float> Window(int index) =>
        series.AsSpan(index * stride * network.InputSize, network.SequenceLength * network.InputSize);

    public double AccumulateGradients(int trainSample, Random random)
    {
        for (var j = 0; j < noise.Length; j++)
        {
            noise[j] = (float)Gaussian.Next(random);
        }

        return network.ForwardBackward(Window(trainSample), noise, reconstruction, mu, logVar);
    }

    public double ValidationLoss(int validationSample)
    {
        var window = Window(TrainCount + validationSample);
        network.Forward(window, [], reconstruction, mu, logVar);
        var sum = 0.0;
        for (var i = 0; i < window.Length; i++)
        {
            sum += (reconstruction[i] - window[i]) * (double)(reconstruction[i] - window[i]);
        }

        return sum + VaeNetwork<float>.KlDivergence(mu, logVar);
    }
}

/// <summary>One downtime-predictor example: a normalised sequence, its scaled time to downtime and horizon labels.</summary>
internal sealed record DowntimeSample(float[] Sequence, float ScaledTimeToDowntime, float[] WithinHorizon);

internal sealed class DowntimeTrainingTask : ITrainingTask
{
    private readonly DowntimeNetwork<float> network;
    private readonly IReadOnlyList<DowntimeSample> train;
    private readonly IReadOnlyList<DowntimeSample> validation;
    private readonly float[] output;

    public DowntimeTrainingTask(DowntimeNetwork<float> network, IReadOnlyList<DowntimeSample> train, IReadOnlyList<DowntimeSample> validation)
    {
        this.network = network;
        this.train = train;
        this.validation = validation;
        output = new float[1 + network.Horizons];
    }

    public ITrainableNetwork<float> Network => network;

    public int TrainCount => train.Count;

    public int ValidationCount => validation.Count;

    public double AccumulateGradients(int trainSample, Random random)
    {
        var s = train[trainSample];
        return network.ForwardBackward(s.Sequence, s.ScaledTimeToDowntime, s.WithinHorizon);
    }

    public double ValidationLoss(int validationSample)
    {
        var s = validation[validationSample];
        network.Forward(s.Sequence, output);
        var error = output[0] - (double)s.ScaledTimeToDowntime;
        var loss = error * error;
        for (var k = 0; k < network.Horizons; k++)
        {
            double z = output[1 + k], y = s.WithinHorizon[k];
            loss += (Math.Max(z, 0) - (z * y) + Math.Log(1 + Math.Exp(-Math.Abs(z)))) / network.Horizons;
        }

        return loss;
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
