using System.Numerics;
using System.Numerics.Tensors;
using Streaming.Models.Kernels;
using Streaming.Models.Layers;

namespace Streaming.Models.Networks;

/// <summary>
/// LSTM over a feature sequence with a linear head of 1 + K outputs: output 0 is the scaled remaining time to
/// downtime, outputs 1..K are logits of P(downtime within horizon k).
/// </summary>
internal sealed class DowntimeNetwork<T> : ITrainableNetwork<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly LstmState<T> state;
    private readonly T[] output;
    private readonly T[] outputGrad;
    private readonly T[] lastHiddenGrad;
    private readonly T[] topGrad;

    public DowntimeNetwork(int inputSize, int hiddenSize, int numLayers, int sequenceLength, int horizons)
    {
        InputSize = inputSize;
        SequenceLength = sequenceLength;
        Horizons = horizons;
        Lstm = new Lstm<T>("lstm", inputSize, hiddenSize, numLayers);
        Head = new Linear<T>("head", hiddenSize, 1 + horizons);
        Parameters = [.. Lstm.Parameters, .. Head.Parameters];
        state = Lstm.CreateState(sequenceLength);
        output = new T[1 + horizons];
        outputGrad = new T[1 + horizons];
        lastHiddenGrad = new T[hiddenSize];
        topGrad = new T[sequenceLength * hiddenSize];
    }

    public int InputSize { get; }

    public int SequenceLength { get; }

    public int Horizons { get; }

    public Lstm<T> Lstm { get; }

    public Linear<T> Head { get; }

    public IReadOnlyList<Parameter<T>> Parameters { get; }

    public void Initialize(Random random)
    {
        Lstm.Initialize(random);
        Head.Initialize(random);
    }

    public void OnParametersChanged() => Lstm.Pack();

    /// <summary>Raw head outputs [1 + K]: scaled time to downtime, then one logit per horizon.</summary>
    public void Forward(ReadOnlySpan<T> sequence, Span<T> outputs)
    {
        var steps = sequence.Length / InputSize;
        var hidden = Lstm.Forward(sequence, steps, state);
        Head.Forward(hidden.Slice((steps - 1) * Lstm.HiddenSize, Lstm.HiddenSize), outputs);
    }

    /// <summary>
    /// Loss = (ŷ - scaledTimeToDowntime)² + mean over horizons of binary cross-entropy with logits; accumulates gradients.
    /// </summary>
    public T ForwardBackward(ReadOnlySpan<T> sequence, T scaledTimeToDowntime, ReadOnlySpan<T> withinHorizon)
    {
        var steps = sequence.Length / InputSize;
        var h = Lstm.HiddenSize;
        Forward(sequence, output);
        var error = output[0] - scaledTimeToDowntime;
        var loss = error * error;
        outputGrad[0] = T.CreateChecked(2) * error;
        var k = T.CreateChecked(Horizons);
        for (var j = 0; j < Horizons; j++)
        {
            var logit = output[1 + j];
            var label = withinHorizon[j];

            // BCE with logits in the overflow-free form max(z,0) - z·y + log(1 + e^-|z|).
            loss += (T.Max(logit, T.Zero) - (logit * label) + T.Log(T.One + T.Exp(-T.Abs(logit)))) / k;
            outputGrad[1 + j] = (Activations.Sigmoid(logit) - label) / k;
        }

        var lastHidden = state.Hidden[Lstm.NumLayers - 1].AsSpan((steps - 1) * h, h);
        Array.Clear(lastHiddenGrad);
        Head.Backward(lastHidden, outputGrad, lastHiddenGrad);
        var top = topGrad.AsSpan(0, steps * h);
        top.Clear();
        lastHiddenGrad.CopyTo(top[((steps - 1) * h)..]);
        Lstm.Backward(sequence, steps, state, top, []);
        return loss;
    }
}
