using System.Numerics;
using System.Numerics.Tensors;
using Streaming.Models.Layers;

namespace Streaming.Models.Networks;

/// <summary>LSTM over a context of feature vectors followed by a linear head that predicts the next vector.</summary>
internal sealed class ForecasterNetwork<T> : ITrainableNetwork<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly LstmState<T> state;
    private readonly T[] prediction;
    private readonly T[] predictionGrad;
    private readonly T[] lastHiddenGrad;
    private readonly T[] topGrad;

    public ForecasterNetwork(int inputSize, int hiddenSize, int numLayers, int contextLength)
    {
        InputSize = inputSize;
        ContextLength = contextLength;
        Lstm = new Lstm<T>("lstm", inputSize, hiddenSize, numLayers);
        Head = new Linear<T>("head", hiddenSize, inputSize);
        Parameters = [.. Lstm.Parameters, .. Head.Parameters];
        state = Lstm.CreateState(contextLength);
        prediction = new T[inputSize];
        predictionGrad = new T[inputSize];
        lastHiddenGrad = new T[hiddenSize];
        topGrad = new T[contextLength * hiddenSize];
    }

    public int InputSize { get; }

    public int ContextLength { get; }

    public Lstm<T> Lstm { get; }

    public Linear<T> Head { get; }

    public IReadOnlyList<Parameter<T>> Parameters { get; }

    public void Initialize(Random random)
    {
        Lstm.Initialize(random);
        Head.Initialize(random);
    }

    public void OnParametersChanged() => Lstm.Pack();

    /// <summary>Predicts the vector following <paramref name="context"/> ([steps, F], oldest first).</summary>
    public void Forward(ReadOnlySpan<T> context, Span<T> next)
    {
        var steps = context.Length / InputSize;
        var hidden = Lstm.Forward(context, steps, state);
        Head.Forward(hidden.Slice((steps - 1) * Lstm.HiddenSize, Lstm.HiddenSize), next);
    }

    public LstmBatchState<T> CreateBatchState(int maxBatch) => Lstm.CreateBatchState(maxBatch, ContextLength);

    /// <summary>
    /// Predicts the next vector for <paramref name="batch"/> contexts; context b starts at b·<paramref name="stride"/>
    /// and holds ContextLength × F values. Writes [batch, F] into <paramref name="predictions"/>.
    /// </summary>
    public void ForwardBatch(ReadOnlySpan<T> contexts, int stride, int batch, LstmBatchState<T> batchState, Span<T> predictions)
    {
        var h = Lstm.HiddenSize;
        var hidden = Lstm.ForwardBatch(contexts, stride, batch, ContextLength, batchState);
        for (var b = 0; b < batch; b++)
        {
            Head.Forward(hidden.Slice(b * h, h), predictions.Slice(b * InputSize, InputSize));
        }
    }

    /// <summary>Mean squared error of the prediction against <paramref name="target"/>; accumulates gradients.</summary>
    public T ForwardBackward(ReadOnlySpan<T> context, ReadOnlySpan<T> target)
    {
        var steps = context.Length / InputSize;
        var h = Lstm.HiddenSize;
        Forward(context, prediction);
        TensorPrimitives.Subtract<T>(prediction, target, predictionGrad);
        var loss = TensorPrimitives.SumOfSquares<T>(predictionGrad) / T.CreateChecked(InputSize);
        TensorPrimitives.Multiply<T>(predictionGrad, T.CreateChecked(2.0 / InputSize), predictionGrad);

        var lastHidden = state.Hidden[Lstm.NumLayers - 1].AsSpan((steps - 1) * h, h);
        Array.Clear(lastHiddenGrad);
        Head.Backward(lastHidden, predictionGrad, lastHiddenGrad);

        var top = topGrad.AsSpan(0, steps * h);
        top.Clear();
        lastHiddenGrad.CopyTo(top[((steps - 1) * h)..]);
        Lstm.Backward(context, steps, state, top, []);
        return loss;
    }
}
