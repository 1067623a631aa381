using Streaming.Models.Networks;

namespace Streaming.Models.Serialization;

/// <summary>
/// A trained model on disk: "manifest.json" plus "weights.safetensors" whose tensor names are PyTorch state_dict keys.
/// </summary>
internal sealed class ModelArtifact
{
    public const string ManifestFile = "manifest.json";
    public const string WeightsFile = "weights.safetensors";

    public ModelArtifact(ModelManifest manifest, IReadOnlyDictionary<string, NamedTensor> tensors)
    {
        Manifest = manifest;
        Tensors = tensors;
    }

    public ModelManifest Manifest { get; }

    public IReadOnlyDictionary<string, NamedTensor> Tensors { get; }

    public static ModelArtifact FromNetwork(ModelManifest manifest, ITrainableNetwork<float> network) =>
        new(manifest, network.Parameters.ToDictionary(
            p => p.Name,
            p => new NamedTensor(p.Name, [.. p.Shape], [.. p.Value]),
            StringComparer.Ordinal));

    public static ModelArtifact Load(string directory)
    {
        var manifest = ModelManifest.FromJson(File.ReadAllText(Path.Combine(directory, ManifestFile)));
        var (tensors, _) = SafeTensors.Read(Path.Combine(directory, WeightsFile));
        return new ModelArtifact(manifest, tensors);
    }

    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, ManifestFile), Manifest.ToJson());
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["kind"] = Manifest.Kind.ToString(), ["version"] = Manifest.Version };
        File.WriteAllBytes(Path.Combine(directory, WeightsFile), SafeTensors.Write(Tensors.Values, metadata));
    }

    /// <summary>Copies every tensor into the parameter of the same name, strictly: names and shapes must match both ways.</summary>
    public static void LoadInto(IReadOnlyDictionary<string, NamedTensor> tensors, ITrainableNetwork<float> network)
    {
        var expected = network.Parameters.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var unexpected = tensors.Keys.Where(k => !expected.Contains(k)).ToList();
        if (unexpected.Count > 0)
        {
            throw new InvalidDataException($"Unexpected tensors: {string.Join(", ", unexpected)}.");
        }

        foreach (var parameter in network.Parameters)
        {
            if (!tensors.TryGetValue(parameter.Name, out var tensor))
            {
                throw new InvalidDataException($"Missing tensor '{parameter.Name}'.");
            }

            if (!tensor.Shape.SequenceEqual(parameter.Shape))
            {
                throw new InvalidDataException(
                    $"Tensor '{parameter.Name}' has shape [{string.Join(',', tensor.Shape)}], expected [{string.Join(',', parameter.Shape)}].");
            }

            tensor.Data.CopyTo(parameter.Value, 0);
        }

        network.OnParametersChanged();
    }
}
