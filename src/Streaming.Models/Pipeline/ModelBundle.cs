using System.Text.Json;
using System.Text.Json.Serialization;
using Streaming.Models.Scoring;
using Streaming.Models.Serialization;

namespace Streaming.Models.Pipeline;

/// <summary>
/// What a bundle directory holds besides its member artifacts: the version and why it exists; <see cref="Entity"/> names
/// the one entity a per-entity bundle was trained on (null: a fleet bundle).
/// </summary>
internal sealed record BundleInfo(
    string Version,
    DateTimeOffset CreatedAt,
    string Source,
    IReadOnlyList<string> Features,
    IReadOnlyList<string> Members,
    IReadOnlyDictionary<string, double> Metrics,
    string? Entity = null);

/// <summary>
/// A versioned set of models scored together: an LSTM forecaster, a VAE and a downtime predictor, each optional, saved as
/// safetensors + manifest under one directory (<c>forecaster/</c>, <c>vae/</c>, <c>downtime/</c>, <c>bundle.json</c>).
/// Holds artifacts, not scorers: scorers keep scratch buffers, so every partition instantiates its own.
/// </summary>
internal sealed class ModelBundle
{
    public const string InfoFile = "bundle.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, Converters = { new JsonStringEnumConverter() } };

    public ModelBundle(BundleInfo info, ModelArtifact? forecaster, ModelArtifact? vae, ModelArtifact? downtime)
    {
        Info = info;
        Forecaster = forecaster;
        Vae = vae;
        Downtime = downtime;
        Layout = new FeatureLayout(info.Features);
    }

    public BundleInfo Info { get; }

    public string Version => Info.Version;

    public FeatureLayout Layout { get; }

    public ModelArtifact? Forecaster { get; }

    public ModelArtifact? Vae { get; }

    public ModelArtifact? Downtime { get; }

    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        Forecaster?.Save(Path.Combine(directory, "forecaster"));
        Vae?.Save(Path.Combine(directory, "vae"));
        Downtime?.Save(Path.Combine(directory, "downtime"));
        File.WriteAllText(Path.Combine(directory, InfoFile), JsonSerializer.Serialize(Info, Json));
    }

    public static ModelBundle Load(string directory)
    {
        var infoPath = Path.Combine(directory, InfoFile);
        if (!File.Exists(infoPath))
            throw new FileNotFoundException($"'{directory}' is not a model bundle: {InfoFile} is missing. Train one with `streaming train`.", infoPath);
        var info = JsonSerializer.Deserialize<BundleInfo>(File.ReadAllText(infoPath), Json)
            ?? throw new InvalidDataException($"{infoPath} is empty.");
        ModelArtifact? Member(string name) =>
            Directory.Exists(Path.Combine(directory, name)) ? ModelArtifact.Load(Path.Combine(directory, name)) : null;
        return new ModelBundle(info, Member("forecaster"), Member("vae"), Member("downtime"));
    }

    public static string InfoJson(BundleInfo info) => JsonSerializer.Serialize(info, Json);

    /// <summary>Fresh scorer instances for one partition.</summary>
    public BundleScorers Instantiate() => new(
        Forecaster is null ? null : ModelLoader.LoadScorer(Forecaster),
        Vae is null ? null : ModelLoader.LoadScorer(Vae),
        Downtime is null ? null : DowntimePredictor.FromArtifact(Downtime));
}

internal sealed record BundleScorers(IAnomalyScorer? Forecaster, IAnomalyScorer? Vae, DowntimePredictor? Downtime);

/// <summary>
/// The active fleet bundle (and an optional shadow candidate, and with <c>Models:Scope=PerEntity</c> the active per-entity
/// bundles), swapped atomically by the registry watcher; every partition's scorer picks up a new version at its next
/// window, so each window is scored by exactly one version.
/// </summary>
internal sealed class ModelSetProvider
{
    private static readonly IReadOnlyDictionary<string, ModelBundle> None = new Dictionary<string, ModelBundle>(StringComparer.Ordinal);

    private volatile ModelBundle? _active;
    private volatile ModelBundle? _candidate;
    private volatile IReadOnlyDictionary<string, ModelBundle> _entities = None;

    public ModelBundle? Active => _active;

    public ModelBundle? Candidate => _candidate;

    /// <summary>Active per-entity bundles by entity; empty with the fleet scope.</summary>
    public IReadOnlyDictionary<string, ModelBundle> EntityBundles => _entities;

    public void Activate(ModelBundle? bundle) => _active = bundle;

    public void SetCandidate(ModelBundle? bundle) => _candidate = bundle;

    public void SetEntityBundles(IReadOnlyDictionary<string, ModelBundle> bundles) => _entities = bundles;

    /// <summary>The bundle that scores <paramref name="entity"/>: its own when one is active, the fleet's otherwise.</summary>
    public ModelBundle? For(string entity) => _entities.TryGetValue(entity, out var own) ? own : _active;
}
