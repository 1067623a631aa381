using System.Numerics;
using System.Numerics.Tensors;
using Streaming.Models.Kernels;

namespace Streaming.Models.Layers;

/// <summary>y = W·x + b with PyTorch's nn.Linear names ("{prefix}.weight" [out, in], "{prefix}.bias" [out]).</summary>
internal sealed class Linear<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public Linear(string prefix, int inputSize, int outputSize)
    {
        InputSize = inputSize;
        OutputSize = outputSize;
        Weight = new Parameter<T>(prefix + ".weight", outputSize, inputSize);
        Bias = new Parameter<T>(prefix + ".bias", outputSize);
    }

    public int InputSize { get; }

    public int OutputSize { get; }

    public Parameter<T> Weight { get; }

    public Parameter<T> Bias { get; }

    public IEnumerable<Parameter<T>> Parameters => [Weight, Bias];

    public void Initialize(Random random)
    {
        var bound = 1.0 / Math.Sqrt(InputSize);
        Weight.InitUniform(random, bound);
        Bias.InitUniform(random, bound);
    }

    public void Forward(ReadOnlySpan<T> x, Span<T> y) =>
        MatrixKernels.MatVec<T>(Weight.Value, OutputSize, InputSize, x, Bias.Value, y);

    /// <summary>Accumulates dW, db from dy and, when <paramref name="dx"/> is not empty, adds Wᵀ·dy to it.</summary>
    public void Backward(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx)
    {
        MatrixKernels.AddOuter(dy, x, Weight.Grad);
        TensorPrimitives.Add(Bias.Grad, dy, Bias.Grad);
        if (!dx.IsEmpty)
        {
            MatrixKernels.AddTransposedMatVec<T>(Weight.Value, dy, dx);
        }
    }
}
