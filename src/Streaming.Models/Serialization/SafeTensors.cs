using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Streaming.Models.Serialization;

/// <summary>A named float32 tensor (row-major) as held in memory.</summary>
internal sealed record NamedTensor(string Name, int[] Shape, float[] Data);

/// <summary>
/// Reader/writer for the safetensors format: u64 little-endian header length, a JSON header mapping tensor names to
/// {dtype, shape, data_offsets} (plus optional "__metadata__" of string pairs), then the little-endian tensor bytes.
/// F32 is read as is; F64, F16 and BF16 are converted to float32 on load.
/// </summary>
internal static class SafeTensors
{
    private const string MetadataKey = "__metadata__";

    public static (IReadOnlyDictionary<string, NamedTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(ReadOnlySpan<byte> file)
    {
        if (file.Length < 8)
        {
            throw new InvalidDataException("A safetensors file needs at least the 8-byte header length.");
        }

        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (headerLength > (ulong)(file.Length - 8))
        {
            throw new InvalidDataException($"Header length {headerLength} exceeds the file size {file.Length}.");
        }

        var header = JsonNode.Parse(file.Slice(8, (int)headerLength))?.AsObject()
            ?? throw new InvalidDataException("The safetensors header is not a JSON object.");
        var data = file[(8 + (int)headerLength)..];
        var tensors = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, node) in header)
        {
            if (name == MetadataKey)
            {
                foreach (var (key, value) in node!.AsObject())
                {
                    metadata[key] = value!.GetValue<string>();
                }

                continue;
            }

            var entry = node!.AsObject();
            var dtype = entry["dtype"]!.GetValue<string>();
            var shape = entry["shape"]!.AsArray().Select(d => d!.GetValue<int>()).ToArray();
            var offsets = entry["data_offsets"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
            if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > data.Length)
            {
                throw new InvalidDataException($"Tensor '{name}' has invalid data_offsets.");
            }

            var count = shape.Aggregate(1, (a, b) => a * b);
            var bytes = data[(int)offsets[0]..(int)offsets[1]];
            tensors[name] = new NamedTensor(name, shape, Decode(name, dtype, bytes, count));
        }

        return (tensors, metadata);
    }

    public static (IReadOnlyDictionary<string, NamedTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(string path) =>
        Read(File.ReadAllBytes(path));

    /// <summary>Writes F32 tensors in name order, padding the header with spaces to an 8-byte boundary as the reference writer does.</summary>
    public static byte[] Write(IEnumerable<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ordered = tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (key, value) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                meta[key] = value;
            }

            header[MetadataKey] = meta;
        }

        long offset = 0;
        foreach (var tensor in ordered)
        {
            var count = tensor.Shape.Aggregate(1, (a, b) => a * b);
            if (count != tensor.Data.Length)
            {
                throw new ArgumentException($"Tensor '{tensor.Name}' has {tensor.Data.Length} values for shape [{string.Join(',', tensor.Shape)}].");
            }

            var end = offset + (4L * count);
            header[tensor.Name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray([.. tensor.Shape.Select(d => (JsonNode?)JsonValue.Create(d))]),
                ["data_offsets"] = new JsonArray(JsonValue.Create(offset), JsonValue.Create(end)),
            };
            offset = end;
        }

        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
        var padded = (headerBytes.Length + 7) / 8 * 8;
        var output = new byte[8 + padded + offset];
        BinaryPrimitives.WriteUInt64LittleEndian(output, (ulong)padded);
        headerBytes.CopyTo(output, 8);
        output.AsSpan(8 + headerBytes.Length, padded - headerBytes.Length).Fill((byte)' ');
        var position = 8 + padded;
        foreach (var tensor in ordered)
        {
            foreach (var value in tensor.Data)
            {
                BinaryPrimitives.WriteSingleLittleEndian(output.AsSpan(position, 4), value);
                position += 4;
            }
        }

        return output;
    }

    private static float[] Decode(string name, string dtype, ReadOnlySpan<byte> bytes, int count)
    {
        var width = dtype switch
        {
            "F32" => 4,
            "F64" => 8,
            "F16" or "BF16" => 2,
            _ => throw new NotSupportedException($"Tensor '{name}' has dtype {dtype}; only F32, F64, F16 and BF16 are supported."),
        };
        if (bytes.Length != width * count)
        {
            throw new InvalidDataException($"Tensor '{name}' has {bytes.Length} bytes, expected {width * count}.");
        }

        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            var slice = bytes.Slice(i * width, width);
            values[i] = dtype switch
            {
                "F32" => BinaryPrimitives.ReadSingleLittleEndian(slice),
                "F64" => (float)BinaryPrimitives.ReadDoubleLittleEndian(slice),
                "F16" => (float)BinaryPrimitives.ReadHalfLittleEndian(slice),

                // bfloat16 is the upper half of an IEEE float32.
                _ => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(slice) << 16),
            };
        }

        return values;
    }
}
