using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Streaming.Models.Kernels;

/// <summary>
/// C[rows, n] += A[rows, k] · B[k, n] (row-major, B already transposed from PyTorch's [n, k] layout).
/// For float32 with hardware FMA this uses a register-blocked micro-kernel: the LSTM recurrence is this product with
/// k = H and n = 4H at every step, and a chain of TensorPrimitives AXPY calls spends most of its time on per-call
/// overhead and reloading C (measured 2–4x slower, see docs/benchmarks-models.md). Every other type or CPU takes the
/// TensorPrimitives path. Accumulation order over k is fixed, so results are deterministic on a given machine.
/// </summary>
internal static class Gemm
{
    public static void Accumulate<T>(ReadOnlySpan<T> a, int rows, ReadOnlySpan<T> b, int n, Span<T> c)
        where T : unmanaged, IFloatingPointIeee754<T> => Accumulate(a, rows, b, n, n, c);

    /// <summary>As above, reading B's n columns from rows that are <paramref name="ldb"/> apart (a column block of a wider matrix).</summary>
    public static void Accumulate<T>(ReadOnlySpan<T> a, int rows, ReadOnlySpan<T> b, int ldb, int n, Span<T> c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rows == 0)
        {
            return;
        }

        var k = a.Length / rows;
        if (a.Length != rows * k || n > ldb || (k > 0 && b.Length < ((k - 1) * ldb) + n) || c.Length != rows * n)
        {
            throw new ArgumentException($"GEMM shape mismatch: A {a.Length} for {rows} rows, B {b.Length} for {k}x{n} (stride {ldb}), C {c.Length}.");
        }

        if (typeof(T) == typeof(float) && Vector256.IsHardwareAccelerated && Fma.IsSupported)
        {
            AccumulateFloat(
                MemoryMarshal.Cast<T, float>(a), rows, k, MemoryMarshal.Cast<T, float>(b), ldb, n, MemoryMarshal.Cast<T, float>(c));
            return;
        }

        for (var r = 0; r < rows; r++)
        {
            var row = c.Slice(r * n, n);
            for (var p = 0; p < k; p++)
            {
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(b.Slice(p * ldb, n), a[(r * k) + p], row, row);
            }
        }
    }

    // Fully optimised from the first call: tier-0 code for this loop is ~20x slower, and a scorer's first windows matter too.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateFloat(ReadOnlySpan<float> a, int rows, int k, ReadOnlySpan<float> b, int ldb, int n, Span<float> c)
    {
        ref var aRef = ref MemoryMarshal.GetReference(a);
        ref var bRef = ref MemoryMarshal.GetReference(b);
        ref var cRef = ref MemoryMarshal.GetReference(c);
        var w = Vector256<float>.Count;
        var r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            var j = 0;
            for (; j + (2 * w) <= n; j += 2 * w)
            {
                Block4x2(ref Unsafe.Add(ref aRef, r * k), k, ref Unsafe.Add(ref bRef, j), ldb, ref Unsafe.Add(ref cRef, (r * n) + j), n);
            }

            for (var rr = r; rr < r + 4; rr++)
            {
                Remainder(ref Unsafe.Add(ref aRef, rr * k), k, ref bRef, ldb, n, ref Unsafe.Add(ref cRef, rr * n), j);
            }
        }

        for (; r < rows; r++)
        {
            ref var aRow = ref Unsafe.Add(ref aRef, r * k);
            ref var cRow = ref Unsafe.Add(ref cRef, r * n);
            var j = 0;
            for (; j + (8 * w) <= n; j += 8 * w)
            {
                Block1x8(ref aRow, k, ref Unsafe.Add(ref bRef, j), ldb, ref Unsafe.Add(ref cRow, j));
            }

            for (; j + (4 * w) <= n; j += 4 * w)
            {
                Block1x4(ref aRow, k, ref Unsafe.Add(ref bRef, j), ldb, ref Unsafe.Add(ref cRow, j));
            }

            Remainder(ref aRow, k, ref bRef, ldb, n, ref cRow, j);
        }
    }

    /// <summary>4 rows × 16 columns held in eight accumulators for the whole k loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4x2(ref float a, int k, ref float b, int ldb, ref float c, int n)
    {
        var w = (nuint)Vector256<float>.Count;
        var ldc = (nuint)n;
        var c00 = Vector256.LoadUnsafe(ref c);
        var c01 = Vector256.LoadUnsafe(ref c, w);
        var c10 = Vector256.LoadUnsafe(ref c, ldc);
        var c11 = Vector256.LoadUnsafe(ref c, ldc + w);
        var c20 = Vector256.LoadUnsafe(ref c, 2 * ldc);
        var c21 = Vector256.LoadUnsafe(ref c, (2 * ldc) + w);
        var c30 = Vector256.LoadUnsafe(ref c, 3 * ldc);
        var c31 = Vector256.LoadUnsafe(ref c, (3 * ldc) + w);
        for (var p = 0; p < k; p++)
        {
            var offset = (nuint)(p * ldb);
            var b0 = Vector256.LoadUnsafe(ref b, offset);
            var b1 = Vector256.LoadUnsafe(ref b, offset + w);
            var x = Vector256.Create(Unsafe.Add(ref a, p));
            c00 = Fma.MultiplyAdd(x, b0, c00);
            c01 = Fma.MultiplyAdd(x, b1, c01);
            x = Vector256.Create(Unsafe.Add(ref a, k + p));
            c10 = Fma.MultiplyAdd(x, b0, c10);
            c11 = Fma.MultiplyAdd(x, b1, c11);
            x = Vector256.Create(Unsafe.Add(ref a, (2 * k) + p));
            c20 = Fma.MultiplyAdd(x, b0, c20);
            c21 = Fma.MultiplyAdd(x, b1, c21);
            x = Vector256.Create(Unsafe.Add(ref a, (3 * k) + p));
            c30 = Fma.MultiplyAdd(x, b0, c30);
            c31 = Fma.MultiplyAdd(x, b1, c31);
        }

        c00.StoreUnsafe(ref c);
        c01.StoreUnsafe(ref c, w);
        c10.StoreUnsafe(ref c, ldc);
        c11.StoreUnsafe(ref c, ldc + w);
        c20.StoreUnsafe(ref c, 2 * ldc);
        c21.StoreUnsafe(ref c, (2 * ldc) + w);
        c30.StoreUnsafe(ref c, 3 * ldc);
        c31.StoreUnsafe(ref c, (3 * ldc) + w);
    }

    /// <summary>
    /// 1 row × 64 columns (the batch-1 recurrence). Eight independent accumulators cover the FMA latency; with four
    /// the k loop waits on each chain and the product runs at about half speed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block1x8(ref float a, int k, ref float b, int ldb, ref float c)
    {
        var w = (nuint)Vector256<float>.Count;
        var c0 = Vector256.LoadUnsafe(ref c);
        var c1 = Vector256.LoadUnsafe(ref c, w);
        var c2 = Vector256.LoadUnsafe(ref c, 2 * w);
        var c3 = Vector256.LoadUnsafe(ref c, 3 * w);
        var c4 = Vector256.LoadUnsafe(ref c, 4 * w);
        var c5 = Vector256.LoadUnsafe(ref c, 5 * w);
        var c6 = Vector256.LoadUnsafe(ref c, 6 * w);
        var c7 = Vector256.LoadUnsafe(ref c, 7 * w);
        for (var p = 0; p < k; p++)
        {
            var offset = (nuint)(p * ldb);
            var x = Vector256.Create(Unsafe.Add(ref a, p));
            c0 = Fma.MultiplyAdd(x, Vector256.LoadUnsafe(ref b, offset), c0);
            c1 = Fma.MultiplyAdd(x, Vector256.LoadUnsafe(ref b, offset + w), c1);
            c2 = Fma.MultiplyAdd(x, Vector256.LoadUnsafe(ref b, offset + (2 * w)), c2);
            c3 = Fma.MultiplyAdd(x, Vector256.LoadUnsafe(ref b, offset + (3 * w)), c3);
            c4 = Fma.MultiplyAdd(x, Vector256.LoadUnsafe(ref b, offset + (4 * w)), c4);
            c5 = Fma.MultiplyAdd(x, Vector256.LoadUnsafe(ref b, offset + (5 * w)), c5);
            c6 = Fma.MultiplyAdd(x, Vector256.LoadUnsafe(ref b, offset + (6 * w)), c6);
            c7 = Fma.MultiplyAdd(x, Vector256.LoadUnsafe(ref b, offset + (7 * w)), c7);
        }

        c0.StoreUnsafe(ref c);
        c1.StoreUnsafe(ref c, w);
        c2.StoreUnsafe(ref c, 2 * w);
        c3.StoreUnsafe(ref c, 3 * w);
        c4.StoreUnsafe(ref c, 4 * w);
        c5.StoreUnsafe(ref c, 5 * w);
        c6.StoreUnsafe(ref c, 6 * w);
        c7.StoreUnsafe(ref c, 7 * w);
    }

    /// <summary>1 row × 32 columns in four accumulators (remainder after 64-column blocks).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block1x4(ref float a, int k, ref float b, int ldb, ref float c)
    {
        var w = (nuint)Vector256<float>.Count;
        var c0 = Vector256.LoadUnsafe(ref c);
        var c1 = Vector256.LoadUnsafe(ref c, w);
        var c2 = Vector256.LoadUnsafe(ref c, 2 * w);
        var c3 = Vector256.LoadUnsafe(ref c, 3 * w);
        for (var p = 0; p < k; p++)
        {
            var offset = (nuint)(p * ldb);
            var x = Vector256.Create(Unsafe.Add(ref a, p));
            c0 = Fma.MultiplyAdd(x, Vector256.LoadUnsafe(ref b, offset), c0);
            c1 = Fma.MultiplyAdd(x, Vector256.LoadUnsafe(ref b, offset + w), c1);
            c2 = Fma.MultiplyAdd(x, Vector256.LoadUnsafe(ref b, offset + (2 * w)), c2);
            c3 = Fma.MultiplyAdd(x, Vector256.LoadUnsafe(ref b, offset + (3 * w)), c3);
        }

        c0.StoreUnsafe(ref c);
        c1.StoreUnsafe(ref c, w);
        c2.StoreUnsafe(ref c, 2 * w);
        c3.StoreUnsafe(ref c, 3 * w);
    }

    /// <summary>Columns [from, n) of one row, scalar.</summary>
    private static void Remainder(ref float a, int k, ref float b, int ldb, int n, ref float c, int from)
    {
        for (var j = from; j < n; j++)
        {
            var sum = Unsafe.Add(ref c, j);
            for (var p = 0; p < k; p++)
            {
                sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref a, p), Unsafe.Add(ref b, (p * ldb) + j), sum);
            }

            Unsafe.Add(ref c, j) = sum;
        }
    }
}
