using System.Numerics;

namespace Streaming.Models.Kernels;

/// <summary>Scalar activations (span activations come straight from TensorPrimitives).</summary>
internal static class Activations
{
    /// <summary>Scalar logistic function, matching torch.sigmoid.</summary>
    public static T Sigmoid<T>(T x)
        where T : unmanaged, IFloatingPointIeee754<T> => T.One / (T.One + T.Exp(-x));
}
