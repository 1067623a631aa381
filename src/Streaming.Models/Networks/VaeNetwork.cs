using System.Numerics;
using System.Numerics.Tensors;
using Streaming.Models.Layers;

namespace Streaming.Models.Networks;

/// <summary>How the VAE encodes a window before the mu / log-variance heads.</summary>
internal enum VaeEncoderKind
{
    /// <summary>tanh(Linear) over the flattened window ("encoder.weight", "encoder.bias").</summary>
    Dense,

    /// <summary>LSTM over the feature sequence, last hidden state ("encoder.weight_ih_l0", ...).</summary>
    Lstm,
}

/// <summary>
/// Variational auto-encoder over a window of T feature vectors. Encoder (dense or LSTM) → fc_mu, fc_logvar;
/// decoder tanh(decoder_hidden(z)) → decoder_out reconstructs the whole flattened window.
/// </summary>
internal sealed class VaeNetwork<T> : ITrainableNetwork<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Linear<T>? denseEncoder;
    private readonly Lstm<T>? lstmEncoder;
    private readonly LstmState<T>? lstmState;
    private readonly T[] encoded;
    private readonly T[] z;
    private readonly T[] decoderHidden;
    private readonly T[] reconstructionGrad;
    private readonly T[] decoderHiddenGrad;
    private readonly T[] zGrad;
    private readonly T[] muGrad;
    private readonly T[] logVarGrad;
    private readonly T[] encodedGrad;
    private readonly T[] topGrad;

    public VaeNetwork(VaeEncoderKind encoder, int inputSize, int sequenceLength, int hiddenSize, int latentSize, int lstmLayers = 1)
    {
        EncoderKind = encoder;
        InputSize = inputSize;
        SequenceLength = sequenceLength;
        HiddenSize = hiddenSize;
        LatentSize = latentSize;
        var window = inputSize * sequenceLength;
        var parameters = new List<Parameter<T>>();
        if (encoder == VaeEncoderKind.Dense)
        {
            denseEncoder = new Linear<T>("encoder", window, hiddenSize);
            parameters.AddRange(denseEncoder.Parameters);
        }
        else
        {
            lstmEncoder = new Lstm<T>("encoder", inputSize, hiddenSize, lstmLayers);
            lstmState = lstmEncoder.CreateState(sequenceLength);
            parameters.AddRange(lstmEncoder.Parameters);
        }

        FcMu = new Linear<T>("fc_mu", hiddenSize, latentSize);
        FcLogVar = new Linear<T>("fc_logvar", hiddenSize, latentSize);
        DecoderHiddenLayer = new Linear<T>("decoder_hidden", latentSize, hiddenSize);
        DecoderOut = new Linear<T>("decoder_out", hiddenSize, window);
        parameters.AddRange([.. FcMu.Parameters, .. FcLogVar.Parameters, .. DecoderHiddenLayer.Parameters, .. DecoderOut.Parameters]);
        Parameters = parameters;

        encoded = new T[hiddenSize];
        z = new T[latentSize];
        decoderHidden = new T[hiddenSize];
        reconstructionGrad = new T[window];
        decoderHiddenGrad = new T[hiddenSize];
        zGrad = new T[latentSize];
        muGrad = new T[latentSize];
        logVarGrad = new T[latentSize];
        encodedGrad = new T[hiddenSize];
        topGrad = new T[sequenceLength * hiddenSize];
    }

    public VaeEncoderKind EncoderKind { get; }

    public int InputSize { get; }

    public int SequenceLength { get; }

    public int HiddenSize { get; }

    public int LatentSize { get; }

    public Linear<T> FcMu { get; }

    public Linear<T> FcLogVar { get; }

    public Linear<T> DecoderHiddenLayer { get; }

    public Linear<T> DecoderOut { get; }

    public IReadOnlyList<Parameter<T>> Parameters { get; }

    public void Initialize(Random random)
    {
        denseEncoder?.Initialize(random);
        lstmEncoder?.Initialize(random);
        FcMu.Initialize(random);
        FcLogVar.Initialize(random);
        DecoderHiddenLayer.Initialize(random);
        DecoderOut.Initialize(random);
    }

    public void OnParametersChanged() => lstmEncoder?.Pack();

    /// <summary>
    /// Encodes <paramref name="window"/> ([T, F]) and decodes z = mu + exp(logvar / 2)·eps; with an empty
    /// <paramref name="noise"/> z = mu (deterministic scoring).
    /// </summary>
    public void Forward(ReadOnlySpan<T> window, ReadOnlySpan<T> noise, Span<T> reconstruction, Span<T> mu, Span<T> logVar)
    {
        if (denseEncoder is not null)
        {
            denseEncoder.Forward(window, encoded);
            TensorPrimitives.Tanh<T>(encoded, encoded);
        }
        else
        {
            var hidden = lstmEncoder!.Forward(window, SequenceLength, lstmState!);
            hidden.Slice((SequenceLength - 1) * HiddenSize, HiddenSize).CopyTo(encoded);
        }

        FcMu.Forward(encoded, mu);
        FcLogVar.Forward(encoded, logVar);
        if (noise.IsEmpty)
        {
            mu.CopyTo(z);
        }
        else
        {
            for (var j = 0; j < LatentSize; j++)
            {
                z[j] = mu[j] + (T.Exp(logVar[j] / T.CreateChecked(2)) * noise[j]);
            }
        }

        DecoderHiddenLayer.Forward(z, decoderHidden);
        TensorPrimitives.Tanh<T>(decoderHidden, decoderHidden);
        DecoderOut.Forward(decoderHidden, reconstruction);
    }

    /// <summary>KL(N(mu, σ²) ‖ N(0, 1)) = -½ Σ (1 + logvar - mu² - e^logvar).</summary>
    public static T KlDivergence(ReadOnlySpan<T> mu, ReadOnlySpan<T> logVar)
    {
        var sum = T.Zero;
        for (var j = 0; j < mu.Length; j++)
        {
            sum += T.One + logVar[j] - (mu[j] * mu[j]) - T.Exp(logVar[j]);
        }

        return -sum / T.CreateChecked(2);
    }

    /// <summary>
    /// Loss = Σ (x̂ - x)² + KL for one window with the given reparameterisation noise; accumulates gradients.
    /// Scratch for reconstruction/mu/logvar is supplied by the caller so that it can inspect them.
    /// </summary>
    public T ForwardBackward(ReadOnlySpan<T> window, ReadOnlySpan<T> noise, Span<T> reconstruction, Span<T> mu, Span<T> logVar)
    {
        Forward(window, noise, reconstruction, mu, logVar);
        TensorPrimitives.Subtract<T>(reconstruction, window, reconstructionGrad);
        var loss = TensorPrimitives.SumOfSquares<T>(reconstructionGrad) + KlDivergence(mu, logVar);
        TensorPrimitives.Multiply<T>(reconstructionGrad, T.CreateChecked(2), reconstructionGrad);

        Array.Clear(decoderHiddenGrad);
        DecoderOut.Backward(decoderHidden, reconstructionGrad, decoderHiddenGrad);
        for (var j = 0; j < HiddenSize; j++)
        {
            decoderHiddenGrad[j] *= T.One - (decoderHidden[j] * decoderHidden[j]);
        }

        Array.Clear(zGrad);
        DecoderHiddenLayer.Backward(z, decoderHiddenGrad, zGrad);
        var half = T.CreateChecked(0.5);
        for (var j = 0; j < LatentSize; j++)
        {
            var variance = T.Exp(logVar[j]);
            muGrad[j] = zGrad[j] + mu[j];
            var sampleGrad = noise.IsEmpty ? T.Zero : zGrad[j] * noise[j] * half * T.Sqrt(variance);
            logVarGrad[j] = sampleGrad + (half * (variance - T.One));
        }

        Array.Clear(encodedGrad);
        FcMu.Backward(encoded, muGrad, encodedGrad);
        FcLogVar.Backward(encoded, logVarGrad, encodedGrad);
        if (denseEncoder is not null)
        {
            for (var j = 0; j < HiddenSize; j++)
            {
                encodedGrad[j] *= T.One - (encoded[j] * encoded[j]);
            }

            denseEncoder.Backward(window, encodedGrad, []);
        }
        else
        {
            var top = topGrad.AsSpan();
            top.Clear();
            encodedGrad.CopyTo(top[((SequenceLength - 1) * HiddenSize)..]);
            lstmEncoder!.Backward(window, SequenceLength, lstmState!, top, []);
        }

        return loss;
    }
}
