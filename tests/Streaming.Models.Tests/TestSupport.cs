using Streaming.Models.Layers;
using Streaming.Models.Networks;
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

    /// <summary>
    /// Compares analytic gradients (from <paramref name="lossAndGradients"/>, which must accumulate into Grad) with central
    /// finite differences of <paramref name="loss"/> for every parameter element, in double precision.
    /// </summary>
    public static void CheckGradients(ITrainableNetwork<double> network, Func<double> lossAndGradients, Func<double> loss, double tolerance = 1e-6)
    {
        foreach (var p in network.Parameters)
        {
            Array.Clear(p.Grad);
        }

        lossAndGradients();
        const double h = 1e-6;
        var checkedCount = 0;
        foreach (var p in network.Parameters)
        {
            for (var i = 0; i < p.Length; i++)
            {
                var original = p.Value[i];
                p.Value[i] = original + h;
                network.OnParametersChanged();
                var plus = loss();
                p.Value[i] = original - h;
                network.OnParametersChanged();
                var minus = loss();
                p.Value[i] = original;
                network.OnParametersChanged();
                var numeric = (plus - minus) / (2 * h);
                var scale = Math.Max(1, Math.Abs(numeric));
                Assert.That(p.Grad[i], Is.EqualTo(numeric).Within(tolerance * scale), $"{p.Name}[{i}]");
                checkedCount++;
            }
        }

        Assert.That(checkedCount, Is.GreaterThan(0));
    }

    public static void LoadGolden(string name, ITrainableNetwork<float> network) =>
        ModelArtifact.LoadInto(ReadTensors(name + ".weights.safetensors"), network);

    public static float[] Row(NamedTensor tensor, int index)
    {
        var rowLength = tensor.Data.Length / tensor.Shape[0];
        return tensor.Data.AsSpan(index * rowLength, rowLength).ToArray();
    }

    public static Parameter<float> Find(ITrainableNetwork<float> network, string name) => network.Parameters.Single(p => p.Name == name);
}
