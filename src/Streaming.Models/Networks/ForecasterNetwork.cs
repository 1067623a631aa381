using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Streaming.Models.Networks;

/// <summary>
/// nn.LSTM (batch first) over a context of feature vectors, then nn.Linear on the last hidden state predicting the next
/// vector's first <see cref="OutputSize"/> features (all of them by default). PyTorch parameter names: lstm.weight_ih_l0 … ,
/// head.weight, head.bias.
/// </summary>
internal sealed class ForecasterNetwork : nn.Module<Tensor, Tensor>
{
    private readonly LSTM lstm;
    private readonly Linear head;

    public ForecasterNetwork(int inputSize, int hiddenSize, int numLayers, int contextLength, int? outputSize = null)
        : base(nameof(ForecasterNetwork))
    {
        Torch.TorchRuntime.EnsureLoaded();
        if (outputSize is < 1 || outputSize > inputSize)
        {
            throw new ArgumentOutOfRangeException(nameof(outputSize), outputSize, $"A forecaster predicts 1..{inputSize} of its {inputSize} features.");
        }

        InputSize = inputSize;
        OutputSize = outputSize ?? inputSize;
        HiddenSize = hiddenSize;
        ContextLength = contextLength;
        lstm = nn.LSTM(inputSize, hiddenSize, numLayers, batchFirst: true);
        head = nn.Linear(hiddenSize, OutputSize);
        register_module("lstm", lstm);
        register_module("head", head);
    }

    public int InputSize { get; }

    /// <summary>The leading features predicted; the rest are inputs only.</summary>
    public int OutputSize { get; }

    public int HiddenSize { get; }

    public int ContextLength { get; }

    /// <summary>[B, steps, F] contexts, oldest first → [B, OutputSize] predicted leading features of the next vectors.</summary>
    public override Tensor forward(Tensor contexts)
    {
        var (output, _, _) = lstm.call(contexts);
        return head.call(output.select(1, -1));
    }
}
