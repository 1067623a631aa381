using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

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
internal sealed class VaeNetwork : nn.Module
{
    private readonly Linear? denseEncoder;
    private readonly LSTM? lstmEncoder;
    private readonly Linear fcMu;
    private readonly Linear fcLogVar;
    private readonly Linear decoderHidden;
    private readonly Linear decoderOut;

    public VaeNetwork(VaeEncoderKind encoder, int inputSize, int sequenceLength, int hiddenSize, int latentSize, int lstmLayers = 1)
        : base(nameof(VaeNetwork))
    {
        Torch.TorchRuntime.EnsureLoaded();
        EncoderKind = encoder;
        InputSize = inputSize;
        SequenceLength = sequenceLength;
        HiddenSize = hiddenSize;
        LatentSize = latentSize;
        var window = inputSize * sequenceLength;
        if (encoder == VaeEncoderKind.Dense)
        {
            denseEncoder = nn.Linear(window, hiddenSize);
            register_module("encoder", denseEncoder);
        }
        else
        {
            lstmEncoder = nn.LSTM(inputSize, hiddenSize, lstmLayers, batchFirst: true);
            register_module("encoder", lstmEncoder);
        }

        fcMu = nn.Linear(hiddenSize, latentSize);
        fcLogVar = nn.Linear(hiddenSize, latentSize);
        decoderHidden = nn.Linear(latentSize, hiddenSize);
        decoderOut = nn.Linear(hiddenSize, window);
        register_module("fc_mu", fcMu);
        register_module("fc_logvar", fcLogVar);
        register_module("decoder_hidden", decoderHidden);
        register_module("decoder_out", decoderOut);
    }

    public VaeEncoderKind EncoderKind { get; }

    public int InputSize { get; }

    public int SequenceLength { get; }

    public int HiddenSize { get; }

    public int LatentSize { get; }

    /// <summary>
    /// Encodes windows [B, T, F] and decodes z = mu + exp(logvar / 2)·ε with ε ~ N(0, I) when <paramref name="sample"/>,
    /// else z = mu (deterministic scoring). Returns reconstruction [B, T, F], mu and logvar [B, latent].
    /// </summary>
    public (Tensor Reconstruction, Tensor Mu, Tensor LogVar) Forward(Tensor windows, bool sample)
    {
        Tensor encoded;
        if (denseEncoder is not null)
        {
            encoded = denseEncoder.call(windows.flatten(1)).tanh();
        }
        else
        {
            var (output, _, _) = lstmEncoder!.call(windows);
            encoded = output.select(1, -1);
        }

        var mu = fcMu.call(encoded);
        var logVar = fcLogVar.call(encoded);
        var z = sample ? mu + ((logVar / 2).exp() * randn_like(mu)) : mu;
        var reconstruction = decoderOut.call(decoderHidden.call(z).tanh()).view(windows.shape);
        return (reconstruction, mu, logVar);
    }

    /// <summary>Per-window loss [B]: Σ (x̂ − x)² + KL(N(mu, σ²) ‖ N(0, I)), which is also the anomaly score with z = mu.</summary>
    public static Tensor Loss(Tensor windows, Tensor reconstruction, Tensor mu, Tensor logVar) =>
        (reconstruction - windows).square().sum([1, 2]) + KlDivergence(mu, logVar);

    /// <summary>KL(N(mu, σ²) ‖ N(0, 1)) = −½ Σ (1 + logvar − mu² − e^logvar), per row.</summary>
    public static Tensor KlDivergence(Tensor mu, Tensor logVar) => -0.5 * (1 + logVar - mu.square() - logVar.exp()).sum(1);
}
