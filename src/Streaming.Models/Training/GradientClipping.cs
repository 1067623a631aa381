using System.Numerics.Tensors;
using Streaming.Models.Layers;

namespace Streaming.Models.Training;

internal static class GradientClipping
{
    /// <summary>Scales all gradients so their global L2 norm is at most <paramref name="maxNorm"/>; returns the norm before clipping.</summary>
    public static double ClipByGlobalNorm(IReadOnlyList<Parameter<float>> parameters, double maxNorm)
    {
        var sumOfSquares = 0.0;
        foreach (var parameter in parameters)
        {
            foreach (var g in parameter.Grad)
            {
                sumOfSquares += (double)g * g;
            }
        }

        var norm = Math.Sqrt(sumOfSquares);
        if (maxNorm > 0 && norm > maxNorm)
        {
            // Same 1e-6 guard as torch.nn.utils.clip_grad_norm_.
            var scale = (float)(maxNorm / (norm + 1e-6));
            foreach (var parameter in parameters)
            {
                TensorPrimitives.Multiply(parameter.Grad, scale, parameter.Grad);
            }
        }

        return norm;
    }
}
