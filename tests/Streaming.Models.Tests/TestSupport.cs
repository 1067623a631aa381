using Streaming.Models.Serialization;

namespace Streaming.Models.Tests;

internal static class TestSupport
{
    public static string TestData(string file) => Path.Combine(TestContext.CurrentContext.TestDirectory, "TestData", file);

    public static IReadOnlyDictionary<string, NamedTensor> ReadTensors(string file) => SafeTensors.Read(TestData(file)).Tensors;

    /// <summary>Golden tolerance: 1e-5 relative, with a 1e-6 absolute floor for values near zero.</summary>
    public static void AssertClose(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, string what, double relative = 1e-5, double absolute = 1e-6)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), what + " length");
        for (var i = 0; i < expected.Length; i++)
        {
            var tolerance = (relative * Math.Abs(expected[i])) + absolute;
            Assert.That(actual[i], Is.EqualTo(expected[i]).Within(tolerance), $"{what}[{i}]");
        }
    }

    public static double[] RandomArray(Random random, int length, double scale = 1)
    {
        var values = new double[length];
        for (var i = 0; i < length; i++)
        {
            values[i] = ((random.NextDouble() * 2) - 1) * scale;
        }

        return values;
    }

    public static void LoadGolden(string name, TorchSharp.torch.nn.Module network) =>
        Torch.TensorData.Load(ReadTensors(name + ".weights.safetensors"), network);

    public static float[] Row(NamedTensor tensor, int index)
    {
        var rowLength = tensor.Data.Length / tensor.Shape[0];
        return tensor.Data.AsSpan(index * rowLength, rowLength).ToArray();
    }
}
