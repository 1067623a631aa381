using System.Numerics;
using System.Numerics.Tensors;

namespace Streaming.Models.Kernels;

/// <summary>
/// Dense matrix kernels over row-major spans (caller owns all memory). They are built from
/// <see cref="TensorPrimitives"/> so that vectorisation is left to the runtime, and every loop
/// runs in a fixed order, which keeps results bit-for-bit deterministic.
/// </summary>
internal static class MatrixKernels
{
    /// <summary>destination[r] = Σ_c matrix[r, c] · x[c] (+ bias[r] when bias is not empty).</summary>
    public static void MatVec<T>(ReadOnlySpan<T> matrix, int rows, int cols, ReadOnlySpan<T> x, ReadOnlySpan<T> bias, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckShape(matrix.Length, rows, cols, x.Length, destination.Length, rows);
        for (var r = 0; r < rows; r++)
        {
            var value = TensorPrimitives.Dot(matrix.Slice(r * cols, cols), x);
            destination[r] = bias.IsEmpty ? value : value + bias[r];
        }
    }

    /// <summary>
    /// destination += Σ_k x[k] · matrixT[k, :], i.e. destination += Mᵀ·x for a matrix stored as [k, n].
    /// Streaming rows of the transposed matrix keeps each update a long contiguous AXPY, which is much
    /// cheaper than many short dot products for the LSTM's 4H-wide gate vectors.
    /// </summary>
    public static void AccumulateTransposed<T>(ReadOnlySpan<T> matrixT, ReadOnlySpan<T> x, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var n = destination.Length;
        if (matrixT.Length != x.Length * n)
        {
            throw new ArgumentException($"Matrix of {matrixT.Length} elements does not match {x.Length}x{n}.", nameof(matrixT));
        }

        for (var k = 0; k < x.Length; k++)
        {
            TensorPrimitives.MultiplyAdd(matrixT.Slice(k * n, n), x[k], destination, destination);
        }
    }

    /// <summary>
    /// Batched product: destination[b, :] = bias + input[b, :] · Wᵀ for a weight stored transposed as [inputs, outputs].
    /// </summary>
    public static void MatMulTransposed<T>(ReadOnlySpan<T> input, int batch, ReadOnlySpan<T> weightT, ReadOnlySpan<T> bias, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (batch == 0)
        {
            return;
        }

        var inputs = input.Length / batch;
        var outputs = destination.Length / batch;
        if (inputs * batch != input.Length || outputs * batch != destination.Length || weightT.Length != inputs * outputs)
        {
            throw new ArgumentException("Inconsistent shapes for the batched product.");
        }

        for (var b = 0; b < batch; b++)
        {
            var row = destination.Slice(b * outputs, outputs);
            if (bias.IsEmpty)
            {
                row.Clear();
            }
            else
            {
                bias.CopyTo(row);
            }
        }

        Gemm.Accumulate(input, batch, weightT, outputs, destination);
    }

    /// <summary>matrix[r, :] += scale · a[r] · b for all r (rank-1 update, used by the backward passes).</summary>
    public static void AddOuter<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> matrix)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var cols = b.Length;
        CheckShape(matrix.Length, a.Length, cols, cols, a.Length, a.Length);
        for (var r = 0; r < a.Length; r++)
        {
            var row = matrix.Slice(r * cols, cols);
            TensorPrimitives.MultiplyAdd(b, a[r], row, row);
        }
    }

    /// <summary>destination += Mᵀ·y for a row-major matrix M of shape [y.Length, destination.Length].</summary>
    public static void AddTransposedMatVec<T>(ReadOnlySpan<T> matrix, ReadOnlySpan<T> y, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> => AccumulateTransposed(matrix, y, destination);

    /// <summary>Transposes a row-major [rows, cols] matrix into [cols, rows].</summary>
    public static void Transpose<T>(ReadOnlySpan<T> matrix, int rows, int cols, Span<T> destination)
    {
        if (matrix.Length != rows * cols || destination.Length != rows * cols)
        {
            throw new ArgumentException("Transpose shape mismatch.");
        }

        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < cols; c++)
            {
                destination[(c * rows) + r] = matrix[(r * cols) + c];
            }
        }
    }

    private static void CheckShape(int matrixLength, int rows, int cols, int xLength, int destinationLength, int expectedDestination)
    {
        if (matrixLength != rows * cols || xLength != cols || destinationLength != expectedDestination)
        {
            throw new ArgumentException($"Shape mismatch: matrix {matrixLength} vs {rows}x{cols}, x {xLength}, destination {destinationLength}.");
        }
    }
}
