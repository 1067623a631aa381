using System.Text;
using Streaming.Models.Serialization;

namespace Streaming.Models.Tests;

public sealed class SafeTensorsTests
{
    [Test]
    public void Written_tensors_and_metadata_read_back_exactly()
    {
        var tensors = new[]
        {
            new NamedTensor("b", [2, 3], [1, 2, 3, 4, 5, float.Epsilon]),
            new NamedTensor("a.weight", [1], [-0.5f]),
        };
        var bytes = SafeTensors.Write(tensors, new Dictionary<string, string> { ["format"] = "pt" });
        var headerLength = BitConverter.ToUInt64(bytes, 0);
        Assert.That(headerLength % 8, Is.EqualTo(0UL));

        var (read, metadata) = SafeTensors.Read(bytes);
        Assert.That(metadata["format"], Is.EqualTo("pt"));
        Assert.That(read["b"].Shape, Is.EqualTo(new[] { 2, 3 }));
        Assert.That(read["b"].Data, Is.EqualTo(tensors[0].Data));
        Assert.That(read["a.weight"].Data, Is.EqualTo(new[] { -0.5f }));
    }

    [Test]
    public void F64_f16_and_bf16_tensors_written_by_pytorch_convert_to_float32()
    {
        var (tensors, _) = SafeTensors.Read(TestSupport.TestData("dtypes.safetensors"));
        var exact = tensors["f32"].Data;
        Assert.That(tensors["f64"].Data, Is.EqualTo(exact));
        for (var i = 0; i < exact.Length; i++)
        {
            // Half keeps 11 significant bits, bfloat16 8.
            Assert.That(tensors["f16"].Data[i], Is.EqualTo(exact[i]).Within(Math.Abs(exact[i]) * 1e-3));
            Assert.That(tensors["bf16"].Data[i], Is.EqualTo(exact[i]).Within(Math.Abs(exact[i]) * 8e-3));
        }
    }

    [Test]
    public void A_header_longer_than_the_file_is_rejected()
    {
        var bytes = new byte[16];
        BitConverter.TryWriteBytes(bytes, 1000UL);
        Assert.Throws<InvalidDataException>(() => SafeTensors.Read(bytes));
    }

    [Test]
    public void Unsupported_dtypes_are_rejected_with_the_tensor_name()
    {
        var header = Encoding.UTF8.GetBytes("{\"x\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}");
        var bytes = new byte[8 + header.Length + 8];
        BitConverter.TryWriteBytes(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        var error = Assert.Throws<NotSupportedException>(() => SafeTensors.Read(bytes));
        Assert.That(error!.Message, Does.Contain("'x'"));
    }
}
