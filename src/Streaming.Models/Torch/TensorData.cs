using System.Runtime.InteropServices;
using Streaming.Models.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace Streaming.Models.Torch;

/// <summary>Moves float data between spans, safetensors records and LibTorch tensors (CPU, float32, contiguous).</summary>
internal static class TensorData
{
    /// <summary>The tensor's storage as a span: valid while the tensor lives; it must be contiguous float32 on the CPU.</summary>
    public static Span<float> Span(Tensor tensor)
    {
        if (tensor.dtype != ScalarType.Float32 || !tensor.is_contiguous())
        {
            throw new ArgumentException($"Expected a contiguous float32 tensor, got {tensor.dtype}.", nameof(tensor));
        }

        return MemoryMarshal.Cast<byte, float>(tensor.bytes);
    }

    /// <summary>A new float32 tensor of <paramref name="shape"/> holding a copy of <paramref name="values"/>.</summary>
    public static Tensor From(ReadOnlySpan<float> values, params long[] shape)
    {
        var tensor = empty(shape, ScalarType.Float32);
        values.CopyTo(Span(tensor));
        return tensor;
    }

    /// <summary>Every parameter under its PyTorch state_dict name, copied out.</summary>
    public static Dictionary<string, NamedTensor> Parameters(nn.Module network)
    {
        var result = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var (name, parameter) in network.named_parameters())
        {
            using var contiguous = parameter.detach().contiguous();
            result[name] = new NamedTensor(name, [.. parameter.shape.Select(d => (int)d)], Span(contiguous).ToArray());
        }

        return result;
    }

    /// <summary>Copies every tensor into the parameter of the same name, strictly: names and shapes must match both ways.</summary>
    public static void Load(IReadOnlyDictionary<string, NamedTensor> tensors, nn.Module network)
    {
        var parameters = network.named_parameters().ToList();
        var expected = parameters.Select(p => p.name).ToHashSet(StringComparer.Ordinal);
        var unexpected = tensors.Keys.Where(k => !expected.Contains(k)).Order(StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0)
        {
            throw new InvalidDataException($"Unexpected tensors: {string.Join(", ", unexpected)}.");
        }

        using var noGrad = no_grad();
        foreach (var (name, parameter) in parameters)
        {
            if (!tensors.TryGetValue(name, out var tensor))
            {
                throw new InvalidDataException($"Missing tensor '{name}'.");
            }

            var shape = parameter.shape.Select(d => (int)d).ToArray();
            if (!tensor.Shape.SequenceEqual(shape))
            {
                throw new InvalidDataException($"Tensor '{name}' has shape [{string.Join(',', tensor.Shape)}], expected [{string.Join(',', shape)}].");
            }

            using var source = From(tensor.Data, parameter.shape);
            parameter.copy_(source);
        }
    }

    /// <summary>Detached copies of every parameter, to restore the best epoch's weights later.</summary>
    public static Tensor[] Snapshot(nn.Module network)
    {
        using var noGrad = no_grad();
        return [.. network.parameters().Select(p => p.detach().clone())];
    }

    public static void Restore(nn.Module network, Tensor[] snapshot)
    {
        using var noGrad = no_grad();
        var parameters = network.parameters().ToArray();
        for (var i = 0; i < parameters.Length; i++)
        {
            parameters[i].copy_(snapshot[i]);
        }
    }
}
