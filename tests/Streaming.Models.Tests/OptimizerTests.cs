using Streaming.Models.Networks;
using Streaming.Models.Training;
using static Streaming.Models.Tests.TestSupport;

namespace Streaming.Models.Tests;

public sealed class OptimizerTests
{
    [Test]
    public void Adam_with_gradient_clipping_matches_torch_optim_adam_over_three_steps()
    {
        var network = new ForecasterNetwork<float>(4, 6, 1, 6);
        LoadGolden("adam", network);
        var io = ReadTensors("adam.io.safetensors");
        var optimizer = new AdamOptimizer(network.Parameters, 1e-2);
        const int batch = 5;
        for (var step = 0; step < 3; step++)
        {
            optimizer.ZeroGrad();
            for (var b = 0; b < batch; b++)
            {
                network.ForwardBackward(Row(io["input"], b), Row(io["target"], b));
            }

            foreach (var parameter in network.Parameters)
            {
                for (var i = 0; i < parameter.Length; i++)
                {
                    parameter.Grad[i] /= batch;
                }
            }

            var norm = GradientClipping.ClipByGlobalNorm(network.Parameters, 0.5);
            Assert.That(norm, Is.EqualTo(io["clip_norms"].Data[step]).Within(1e-4 * norm), $"gradient norm at step {step}");
            optimizer.Step();
            network.OnParametersChanged();
        }

        foreach (var parameter in network.Parameters)
        {
            AssertClose(parameter.Value, io["after." + parameter.Name].Data, parameter.Name, 1e-4, 1e-6);
        }
    }
}
