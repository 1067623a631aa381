using Streaming.Models.Torch;

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

    /// <summary>The network's parameters under their PyTorch names, with the manifest stamped with the current format.</summary>
    public static ModelArtifact FromNetwork(ModelManifest manifest, TorchSharp.torch.nn.Module network) =>
        new(manifest with { FormatVersion = ModelManifest.CurrentFormatVersion }, TensorData.Parameters(network));

    public static ModelArtifact Load(string directory)
    {
        var manifest = ModelManifest.FromJson(File.ReadAllText(Path.Combine(directory, ManifestFile)));
        RequireReadableFormat(manifest, directory);
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

    /// <summary>
    /// Format 1 forecasters and VAEs load as they are (same PyTorch names, same semantics); a format 1 downtime predictor's
    /// head gave independent per-horizon probabilities, which format 2 replaced by a hazard head, so it must be retrained.
    /// </summary>
    public static void RequireReadableFormat(ModelManifest manifest, string source)
    {
        if (manifest.FormatVersion > ModelManifest.CurrentFormatVersion)
        {
            throw new InvalidDataException(
                $"'{source}' is a model of format {manifest.FormatVersion}, newer than this build reads ({ModelManifest.CurrentFormatVersion}): upgrade Streaming.");
        }

        if (manifest.FormatVersion < 2 && manifest.Kind == ModelKind.DowntimePredictor)
        {
            throw new InvalidDataException(
                $"'{source}' is a downtime predictor of model format {manifest.FormatVersion} (version {manifest.Version}, per-horizon sigmoid head); " +
                $"this build reads format {ModelManifest.CurrentFormatVersion} (version {Training.ModelTraining.Version}, monotone hazard head). " +
                $"Retrain it with `streaming train` to get a {Training.ModelTraining.Version} model.");
        }
    }
}
