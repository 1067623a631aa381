using System.Numerics;
using System.Numerics.Tensors;

namespace Streaming.Models.Kernels;

/// <summary>Activation functions and their derivatives expressed through the activation's output.</summary>
internal static class Activations
{
    public static void Sigmoid<T>(ReadOnlySpan<T> x, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Sigmoid(x, destination);

    public static void Tanh<T>(ReadOnlySpan<T> x, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Tanh(x, destination);

    /// <summary>Scalar logistic function, matching torch.sigmoid.</summary>
    public static T Sigmoid<T>(T x)
        where T : unmanaged, IFloatingPointIeee754<T> => T.One / (T.One + T.Exp(-x));
}
