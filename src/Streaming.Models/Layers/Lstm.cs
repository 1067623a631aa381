using System.Numerics;
using System.Numerics.Tensors;
using Streaming.Models.Kernels;

namespace Streaming.Models.Layers;

/// <summary>
/// Multi-layer LSTM with PyTorch's nn.LSTM parameter names and layouts (batch_first semantics, zero initial state,
/// gate order i, f, g, o). The PyTorch-layout tensors are the source of truth; <see cref="Pack"/> derives the
/// transposed copies that the forward pass streams through, so call it after loading or updating weights.
/// </summary>
internal sealed class Lstm<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Parameter<T>[] weightIh;
    private readonly Parameter<T>[] weightHh;
    private readonly Parameter<T>[] biasIh;
    private readonly Parameter<T>[] biasHh;
    private readonly ArraySegment<T>[] weightIhT;
    private readonly ArraySegment<T>[] weightHhT;
    private readonly T[][] biasSum;

    public Lstm(string prefix, int inputSize, int hiddenSize, int numLayers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numLayers, 1);
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        NumLayers = numLayers;
        var gates = 4 * hiddenSize;
        weightIh = new Parameter<T>[numLayers];
        weightHh = new Parameter<T>[numLayers];
        biasIh = new Parameter<T>[numLayers];
        biasHh = new Parameter<T>[numLayers];
        weightIhT = new ArraySegment<T>[numLayers];
        weightHhT = new ArraySegment<T>[numLayers];
        biasSum = new T[numLayers][];
        for (var k = 0; k < numLayers; k++)
        {
            var layerInput = LayerInputSize(k);
            weightIh[k] = new Parameter<T>($"{prefix}.weight_ih_l{k}", gates, layerInput);
            weightHh[k] = new Parameter<T>($"{prefix}.weight_hh_l{k}", gates, hiddenSize);
            biasIh[k] = new Parameter<T>($"{prefix}.bias_ih_l{k}", gates);
            biasHh[k] = new Parameter<T>($"{prefix}.bias_hh_l{k}", gates);
            weightIhT[k] = AlignedMemory.Allocate<T>(gates * layerInput);
            weightHhT[k] = AlignedMemory.Allocate<T>(gates * hiddenSize);
            biasSum[k] = new T[gates];
        }
    }

    public int InputSize { get; }

    public int HiddenSize { get; }

    public int NumLayers { get; }

    public IEnumerable<Parameter<T>> Parameters
    {
        get
        {
            for (var k = 0; k < NumLayers; k++)
            {
                yield return weightIh[k];
                yield return weightHh[k];
                yield return biasIh[k];
                yield return biasHh[k];
            }
        }
    }

    public void Initialize(Random random)
    {
        var bound = 1.0 / Math.Sqrt(HiddenSize);
        foreach (var parameter in Parameters)
        {
            parameter.InitUniform(random, bound);
        }

        Pack();
    }

    /// <summary>Rebuilds the transposed weights and the folded bias (b_ih + b_hh) used by <see cref="Forward"/>.</summary>
    public void Pack()
    {
        var gates = 4 * HiddenSize;
        for (var k = 0; k < NumLayers; k++)
        {
            MatrixKernels.Transpose<T>(weightIh[k].Value, gates, LayerInputSize(k), weightIhT[k]);
            MatrixKernels.Transpose<T>(weightHh[k].Value, gates, HiddenSize, weightHhT[k]);
            TensorPrimitives.Add<T>(biasIh[k].Value, biasHh[k].Value, biasSum[k]);
        }
    }

    public LstmState<T> CreateState(int maxSteps) => new(NumLayers, HiddenSize, maxSteps);

    public LstmBatchState<T> CreateBatchState(int maxBatch, int maxSteps) => new(maxBatch, maxSteps, Math.Max(InputSize, HiddenSize), HiddenSize);

    /// <summary>
    /// Inference over <paramref name="batch"/> independent sequences at once (row b starts at b·<paramref name="stride"/> and
    /// holds steps × InputSize values, oldest first), so each recurrent product is one [batch, H]·[H, 4H] GEMM that
    /// reuses the weights across sequences. Returns the top layer's last hidden state per sequence, [batch, H].
    /// </summary>
    public ReadOnlySpan<T> ForwardBatch(ReadOnlySpan<T> sequences, int stride, int batch, int steps, LstmBatchState<T> state)
    {
        if (batch > state.MaxBatch || steps > state.MaxSteps || steps < 1 || ((batch - 1) * stride) + (steps * InputSize) > sequences.Length)
        {
            throw new ArgumentException($"Batch {batch} x {steps} steps does not fit the input ({sequences.Length} values, stride {stride}) or the state.");
        }

        var h = HiddenSize;
        var gatesWidth = 4 * h;

        // Time-major copies make each step's rows of all sequences contiguous, i.e. one GEMM operand.
        var input = state.SequenceA;
        for (var t = 0; t < steps; t++)
        {
            for (var b = 0; b < batch; b++)
            {
                sequences.Slice((b * stride) + (t * InputSize), InputSize).CopyTo(input.AsSpan(((t * batch) + b) * InputSize, InputSize));
            }
        }

        var output = state.SequenceB;
        var rowsByH = batch * h;

        // Gate-major buffers ([4][batch, H]) let each activation and the cell update run once over the whole batch.
        var gates = state.Gates.AsSpan(0, 4 * rowsByH);
        var inGate = gates[..rowsByH];
        var forgetGate = gates.Slice(rowsByH, rowsByH);
        var cellGate = gates.Slice(2 * rowsByH, rowsByH);
        var outGate = gates.Slice(3 * rowsByH, rowsByH);
        var cells = state.Cells.AsSpan(0, rowsByH);
        var tanhCells = state.TanhCell.AsSpan(0, rowsByH);
        for (var k = 0; k < NumLayers; k++)
        {
            var inputSize = LayerInputSize(k);
            for (var t = 0; t < steps; t++)
            {
                var x = input.AsSpan(t * batch * inputSize, batch * inputSize);
                for (var q = 0; q < 4; q++)
                {
                    var gate = gates.Slice(q * rowsByH, rowsByH);
                    for (var b = 0; b < batch; b++)
                    {
                        biasSum[k].AsSpan(q * h, h).CopyTo(gate.Slice(b * h, h));
                    }

                    Gemm.Accumulate<T>(x, batch, weightIhT[k].AsSpan(q * h), gatesWidth, h, gate);
                    if (t > 0)
                    {
                        Gemm.Accumulate<T>(output.AsSpan((t - 1) * rowsByH, rowsByH), batch, weightHhT[k].AsSpan(q * h), gatesWidth, h, gate);
                    }
                }

                TensorPrimitives.Sigmoid<T>(gates[..(2 * rowsByH)], gates[..(2 * rowsByH)]);
                TensorPrimitives.Tanh<T>(cellGate, cellGate);
                TensorPrimitives.Sigmoid<T>(outGate, outGate);
                if (t == 0)
                {
                    TensorPrimitives.Multiply<T>(inGate, cellGate, cells);
                }
                else
                {
                    TensorPrimitives.Multiply<T>(forgetGate, cells, cells);
                    TensorPrimitives.MultiplyAdd<T>(inGate, cellGate, cells, cells);
                }

                TensorPrimitives.Tanh<T>(cells, tanhCells);
                TensorPrimitives.Multiply<T>(outGate, tanhCells, output.AsSpan(t * rowsByH, rowsByH));
            }

            (input, output) = (output, input);
        }

        return input.AsSpan((steps - 1) * batch * h, batch * h);
    }

    /// <summary>
    /// Runs the sequence [steps, InputSize] (oldest first) through all layers, recording every activation in
    /// <paramref name="state"/> for a later <see cref="Backward"/>. Returns the top layer's hidden states [steps, H].
    /// </summary>
    public ReadOnlySpan<T> Forward(ReadOnlySpan<T> sequence, int steps, LstmState<T> state)
    {
        if (sequence.Length != steps * InputSize || steps > state.MaxSteps || steps < 1)
        {
            throw new ArgumentException($"Expected {steps}x{InputSize} inputs (at most {state.MaxSteps} steps), got {sequence.Length}.");
        }

        var h = HiddenSize;
        var gatesWidth = 4 * h;
        var input = sequence;
        for (var k = 0; k < NumLayers; k++)
        {
            var acts = state.Acts[k].AsSpan(0, steps * gatesWidth);
            var cells = state.Cells[k].AsSpan(0, steps * h);
            var tanhCells = state.TanhCells[k].AsSpan(0, steps * h);
            var hidden = state.Hidden[k].AsSpan(0, steps * h);

            // The input projection does not depend on the recurrence, so do it for every step up front.
            MatrixKernels.MatMulTransposed<T>(input, steps, weightIhT[k], biasSum[k], acts);

            for (var t = 0; t < steps; t++)
            {
                var gates = acts.Slice(t * gatesWidth, gatesWidth);
                if (t > 0)
                {
                    Gemm.Accumulate<T>(hidden.Slice((t - 1) * h, h), 1, weightHhT[k], gatesWidth, gates);
                }

                TensorPrimitives.Sigmoid<T>(gates[..(2 * h)], gates[..(2 * h)]);
                TensorPrimitives.Tanh<T>(gates.Slice(2 * h, h), gates.Slice(2 * h, h));
                TensorPrimitives.Sigmoid<T>(gates.Slice(3 * h, h), gates.Slice(3 * h, h));

                var c = cells.Slice(t * h, h);
                TensorPrimitives.Multiply<T>(gates[..h], gates.Slice(2 * h, h), c);
                if (t > 0)
                {
                    TensorPrimitives.MultiplyAdd<T>(gates.Slice(h, h), cells.Slice((t - 1) * h, h), c, c);
                }

                var tc = tanhCells.Slice(t * h, h);
                TensorPrimitives.Tanh<T>(c, tc);
                TensorPrimitives.Multiply<T>(gates.Slice(3 * h, h), tc, hidden.Slice(t * h, h));
            }

            input = hidden;
        }

        return input;
    }

    /// <summary>
    /// Backpropagation through time for the sequence last passed to <see cref="Forward"/> with this state.
    /// <paramref name="topHiddenGrad"/> is dLoss/dh_t of the top layer [steps, H]; gradients are accumulated into
    /// the parameters, and dLoss/dx is added to <paramref name="inputGrad"/> when it is not empty.
    /// </summary>
    public void Backward(ReadOnlySpan<T> sequence, int steps, LstmState<T> state, ReadOnlySpan<T> topHiddenGrad, Span<T> inputGrad)
    {
        var h = HiddenSize;
        var gatesWidth = 4 * h;
        topHiddenGrad.CopyTo(state.HiddenGrad[NumLayers - 1]);
        var dGates = state.GateGrad.AsSpan();
        var dh = state.Dh.AsSpan();
        var dhNext = state.DhNext.AsSpan();
        var dcNext = state.DcNext.AsSpan();

        for (var k = NumLayers - 1; k >= 0; k--)
        {
            var inputSize = LayerInputSize(k);
            ReadOnlySpan<T> input = k == 0 ? sequence : state.Hidden[k - 1].AsSpan(0, steps * h);
            var lowerGrad = k == 0 ? inputGrad : state.HiddenGrad[k - 1].AsSpan(0, steps * h);
            if (k > 0)
            {
                lowerGrad.Clear();
            }

            var acts = state.Acts[k];
            var cells = state.Cells[k];
            var tanhCells = state.TanhCells[k];
            var hidden = state.Hidden[k];
            var hiddenGrad = state.HiddenGrad[k];
            dhNext.Clear();
            dcNext.Clear();

            for (var t = steps - 1; t >= 0; t--)
            {
                TensorPrimitives.Add<T>(hiddenGrad.AsSpan(t * h, h), dhNext, dh);
                var a = acts.AsSpan(t * gatesWidth, gatesWidth);
                var tc = tanhCells.AsSpan(t * h, h);
                for (var j = 0; j < h; j++)
                {
                    T i = a[j], f = a[h + j], g = a[(2 * h) + j], o = a[(3 * h) + j];
                    var cPrev = t > 0 ? cells[((t - 1) * h) + j] : T.Zero;
                    var dO = dh[j] * tc[j];
                    var dc = (dh[j] * o * (T.One - (tc[j] * tc[j]))) + dcNext[j];
                    dcNext[j] = dc * f;
                    dGates[j] = dc * g * i * (T.One - i);
                    dGates[h + j] = dc * cPrev * f * (T.One - f);
                    dGates[(2 * h) + j] = dc * i * (T.One - (g * g));
                    dGates[(3 * h) + j] = dO * o * (T.One - o);
                }

                MatrixKernels.AddOuter<T>(dGates, input.Slice(t * inputSize, inputSize), weightIh[k].Grad);
                if (t > 0)
                {
                    MatrixKernels.AddOuter<T>(dGates, hidden.AsSpan((t - 1) * h, h), weightHh[k].Grad);
                }

                TensorPrimitives.Add<T>(biasIh[k].Grad, dGates, biasIh[k].Grad);
                TensorPrimitives.Add<T>(biasHh[k].Grad, dGates, biasHh[k].Grad);
                if (!lowerGrad.IsEmpty)
                {
                    MatrixKernels.AddTransposedMatVec<T>(weightIh[k].Value, dGates, lowerGrad.Slice(t * inputSize, inputSize));
                }

                dhNext.Clear();
                MatrixKernels.AddTransposedMatVec<T>(weightHh[k].Value, dGates, dhNext);
            }
        }
    }

    private int LayerInputSize(int layer) => layer == 0 ? InputSize : HiddenSize;
}

/// <summary>Scratch for <see cref="Lstm{T}.ForwardBatch"/>: time-major ping-pong sequences, gates and cells.</summary>
internal sealed class LstmBatchState<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public LstmBatchState(int maxBatch, int maxSteps, int maxWidth, int hidden)
    {
        MaxBatch = maxBatch;
        MaxSteps = maxSteps;
        SequenceA = AlignedMemory.Allocate<T>(maxBatch * maxSteps * maxWidth);
        SequenceB = AlignedMemory.Allocate<T>(maxBatch * maxSteps * maxWidth);
        Gates = AlignedMemory.Allocate<T>(maxBatch * 4 * hidden);
        Cells = new T[maxBatch * hidden];
        TanhCell = new T[maxBatch * hidden];
    }

    public int MaxBatch { get; }

    public int MaxSteps { get; }

    public ArraySegment<T> SequenceA { get; }

    public ArraySegment<T> SequenceB { get; }

    public ArraySegment<T> Gates { get; }

    public T[] Cells { get; }

    public T[] TanhCell { get; }
}

/// <summary>Activations of one sequence through an <see cref="Lstm{T}"/>, preallocated for a maximum length.</summary>
internal sealed class LstmState<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public LstmState(int layers, int hidden, int maxSteps)
    {
        MaxSteps = maxSteps;
        Acts = new ArraySegment<T>[layers];
        for (var k = 0; k < layers; k++)
        {
            Acts[k] = AlignedMemory.Allocate<T>(maxSteps * 4 * hidden);
        }

        Cells = Allocate(layers, maxSteps * hidden);
        TanhCells = Allocate(layers, maxSteps * hidden);
        Hidden = Allocate(layers, maxSteps * hidden);
        HiddenGrad = Allocate(layers, maxSteps * hidden);
        GateGrad = new T[4 * hidden];
        Dh = new T[hidden];
        DhNext = new T[hidden];
        DcNext = new T[hidden];
    }

    public int MaxSteps { get; }

    public ArraySegment<T>[] Acts { get; }

    public T[][] Cells { get; }

    public T[][] TanhCells { get; }

    public T[][] Hidden { get; }

    public T[][] HiddenGrad { get; }

    public T[] GateGrad { get; }

    public T[] Dh { get; }

    public T[] DhNext { get; }

    public T[] DcNext { get; }

    private static T[][] Allocate(int layers, int length)
    {
        var arrays = new T[layers][];
        for (var k = 0; k < layers; k++)
        {
            arrays[k] = new T[length];
        }

        return arrays;
    }
}
