using System.Text.Json.Serialization.Metadata;
using Avro;

namespace Streaming.Contracts.Avro;

/// <summary>A committed Avro schema (<c>schemas/{Name}.avsc</c>, embedded in this assembly) and its fixed schema id.</summary>
internal class AvroContract
{
    internal AvroContract(string name)
    {
        Name = name;
        FixedId = AvroContracts.FixedIds.TryGetValue(name, out var id)
            ? id
            : throw new InvalidOperationException($"Avro contract '{name}' has no fixed id in {nameof(AvroContracts)}.{nameof(AvroContracts.FixedIds)}");
        SchemaText = AvroContracts.ReadEmbedded(name);
        Schema = global::Avro.Schema.Parse(SchemaText) as RecordSchema
            ?? throw new InvalidOperationException($"schemas/{name}.avsc is not an Avro record schema");
    }

    /// <summary>The schema file's base name, e.g. <c>anomaly-event</c>.</summary>
    public string Name { get; }

    public int FixedId { get; }

    /// <summary>The <c>.avsc</c> text as committed.</summary>
    public string SchemaText { get; }

    /// <summary>The parsed schema (Apache.Avro); its <c>ToString()</c> is what the serializer registers with a Schema Registry.</summary>
    public RecordSchema Schema { get; }

    /// <summary>The top-level record's full name, e.g. <c>streaming.v1.AnomalyEvent</c>.</summary>
    public string FullName => Schema.Fullname;
}

/// <summary>A contract whose values are <typeparamref name="T"/>, mapped to Avro fields by their JSON (snake_case) names.</summary>
internal sealed class AvroContract<T>(string name, JsonTypeInfo<T> typeInfo) : AvroContract(name)
{
    public JsonTypeInfo<T> TypeInfo { get; } = typeInfo;
}

/// <summary>
/// The topic contracts. Adding an event type: commit <c>schemas/{name}.avsc</c> (embedded automatically), give it an id
/// in <see cref="FixedIds"/>, add its type to <see cref="ContractsJsonContext"/> and one <see cref="AvroContract{T}"/>
/// line below. The mapping (<see cref="AvroJsonMapping"/>) is schema-driven, so nothing else changes.
/// </summary>
internal static class AvroContracts
{
    /// <summary>Schema ids used without a Schema Registry. Never reuse or renumber an id: records on disk carry them.</summary>
    public static readonly IReadOnlyDictionary<string, int> FixedIds = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["telemetry-sample"] = 1,
        ["feature-vector"] = 2,
        ["score-event"] = 3,
        ["anomaly-event"] = 4,
        ["downtime-prediction"] = 5, // reserved for DowntimePredictionEvent
        ["drift-event"] = 6,
    };

    public static readonly AvroContract TelemetrySample = new("telemetry-sample");

    public static readonly AvroContract<FeatureVectorEvent> FeatureVector = new("feature-vector", ContractsJsonContext.Default.FeatureVectorEvent);

    public static readonly AvroContract<ScoreEvent> Score = new("score-event", ContractsJsonContext.Default.ScoreEvent);

    public static readonly AvroContract<AnomalyEvent> Anomaly = new("anomaly-event", ContractsJsonContext.Default.AnomalyEvent);

    /// <summary>Every contract with a committed schema, for lookups by fixed id.</summary>
    public static readonly AvroContract<DowntimePredictionEvent> DowntimePrediction = new("downtime-prediction", ContractsJsonContext.Default.DowntimePredictionEvent);

    public static readonly AvroContract<DriftEvent> Drift = new("drift-event", ContractsJsonContext.Default.DriftEvent);

    public static readonly IReadOnlyList<AvroContract> All = [TelemetrySample, FeatureVector, Score, Anomaly, DowntimePrediction, Drift];

    public static AvroContract? ByFixedId(int id) => All.FirstOrDefault(c => c.FixedId == id);

    public static AvroContract? ByFullName(string fullName) => All.FirstOrDefault(c => c.FullName == fullName);

    internal static string ReadEmbedded(string name)
    {
        var resource = $"schemas/{name}.avsc";
        using var stream = typeof(AvroContracts).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Avro schema {resource} is not embedded in {typeof(AvroContracts).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
