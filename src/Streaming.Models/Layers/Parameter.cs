using System.Numerics;

namespace Streaming.Models.Layers;

/// <summary>A named trainable tensor with its gradient, named and shaped exactly as PyTorch's state_dict entry.</summary>
internal sealed class Parameter<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public Parameter(string name, params int[] shape)
    {
        Name = name;
        Shape = shape;
        var count = 1;
        foreach (var dim in shape)
        {
            count *= dim;
        }

        Value = new T[count];
        Grad = new T[count];
    }

    public string Name { get; }

    public int[] Shape { get; }

    public T[] Value { get; }

    public T[] Grad { get; }

    public int Length => Value.Length;

    /// <summary>PyTorch's default initialisation for Linear and LSTM: U(-1/√fanIn, 1/√fanIn).</summary>
    public void InitUniform(Random random, double bound)
    {
        for (var i = 0; i < Value.Length; i++)
        {
            Value[i] = T.CreateChecked(((random.NextDouble() * 2) - 1) * bound);
        }
    }
}
