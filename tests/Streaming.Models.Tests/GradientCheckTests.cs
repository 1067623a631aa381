using Streaming.Models.Layers;
using Streaming.Models.Networks;
using static Streaming.Models.Tests.TestSupport;

namespace Streaming.Models.Tests;

/// <summary>Analytic gradients of every layer and network against central finite differences, in double precision.</summary>
public sealed class GradientCheckTests
{
    [Test]
    public void Linear_gradients_match_finite_differences_for_weights_bias_and_input()
    {
        var random = new Random(1);
        var layer = new Linear<double>("fc", 4, 3);
        layer.Initialize(random);
        var x = RandomArray(random, 4);
        var w = RandomArray(random, 3);
        var network = new LayerAdapter([.. layer.Parameters]);
        double Loss()
        {
            var y = new double[3];
            layer.Forward(x, y);
            return y.Select((v, i) => v * w[i]).Sum();
        }

        var dx = new double[4];
        CheckGradients(network, () =>
        {
            layer.Backward(x, w, dx);
            return Loss();
        }, Loss);

        // dL/dx = Wᵀ·w by finite differences on x.
        for (var i = 0; i < 4; i++)
        {
            var original = x[i];
            x[i] = original + 1e-6;
            var plus = Loss();
            x[i] = original - 1e-6;
            var minus = Loss();
            x[i] = original;
            Assert.That(dx[i], Is.EqualTo((plus - minus) / 2e-6).Within(1e-7));
        }
    }

    [TestCase(1)]
    [TestCase(2)]
    public void Lstm_gradients_through_time_match_finite_differences(int layers)
    {
        var random = new Random(2);
        const int inputSize = 3, hidden = 4, steps = 5;
        var lstm = new Lstm<double>("lstm", inputSize, hidden, layers);
        lstm.Initialize(random);
        var state = lstm.CreateState(steps);
        var x = RandomArray(random, steps * inputSize);

        // A weighted sum over every step's output exercises the recurrence, not just the last step.
        var w = RandomArray(random, steps * hidden);
        var network = new LayerAdapter([.. lstm.Parameters], lstm.Pack);
        double Loss()
        {
            var h = lstm.Forward(x, steps, state);
            var sum = 0.0;
            for (var i = 0; i < h.Length; i++)
            {
                sum += h[i] * w[i];
            }

            return sum;
        }

        var dx = new double[x.Length];
        CheckGradients(network, () =>
        {
            var loss = Loss();
            lstm.Backward(x, steps, state, w, dx);
            return loss;
        }, Loss);

        for (var i = 0; i < x.Length; i++)
        {
            var original = x[i];
            x[i] = original + 1e-6;
            var plus = Loss();
            x[i] = original - 1e-6;
            var minus = Loss();
            x[i] = original;
            Assert.That(dx[i], Is.EqualTo((plus - minus) / 2e-6).Within(1e-7), $"dx[{i}]");
        }
    }

    [Test]
    public void Forecaster_loss_gradients_match_finite_differences()
    {
        var random = new Random(3);
        var network = new ForecasterNetwork<double>(3, 4, 2, 4);
        network.Initialize(random);
        var context = RandomArray(random, 12);
        var target = RandomArray(random, 3);
        var prediction = new double[3];
        double Loss()
        {
            network.Forward(context, prediction);
            return prediction.Select((p, i) => (p - target[i]) * (p - target[i])).Average();
        }

        CheckGradients(network, () => network.ForwardBackward(context, target), Loss);
    }

    [TestCase("Dense")]
    [TestCase("Lstm")]
    public void Vae_loss_gradients_with_fixed_noise_match_finite_differences(string encoder)
    {
        var random = new Random(4);
        var network = new VaeNetwork<double>(Enum.Parse<VaeEncoderKind>(encoder), 2, 3, 4, 2);
        network.Initialize(random);
        var window = RandomArray(random, 6);
        var noise = RandomArray(random, 2);
        var reconstruction = new double[6];
        var mu = new double[2];
        var logVar = new double[2];
        double Loss()
        {
            network.Forward(window, noise, reconstruction, mu, logVar);
            return reconstruction.Select((r, i) => (r - window[i]) * (r - window[i])).Sum() + VaeNetwork<double>.KlDivergence(mu, logVar);
        }

        CheckGradients(network, () => network.ForwardBackward(window, noise, reconstruction, mu, logVar), Loss);
    }

    [Test]
    public void Downtime_loss_gradients_match_finite_differences()
    {
        var random = new Random(5);
        var network = new DowntimeNetwork<double>(3, 4, 1, 5, 3);
        network.Initialize(random);
        var sequence = RandomArray(random, 15);
        double[] labels = [0, 1, 1];
        const double target = 0.7;
        var output = new double[4];
        double Loss()
        {
            network.Forward(sequence, output);
            var bce = 0.0;
            for (var k = 0; k < 3; k++)
            {
                var p = 1 / (1 + Math.Exp(-output[1 + k]));
                bce -= (labels[k] * Math.Log(p)) + ((1 - labels[k]) * Math.Log(1 - p));
            }

            return ((output[0] - target) * (output[0] - target)) + (bce / 3);
        }

        CheckGradients(network, () => network.ForwardBackward(sequence, target, labels), Loss);
    }

    private sealed class LayerAdapter(IReadOnlyList<Parameter<double>> parameters, Action? changed = null) : ITrainableNetwork<double>
    {
        public IReadOnlyList<Parameter<double>> Parameters => parameters;

        public void OnParametersChanged() => changed?.Invoke();
    }
}
