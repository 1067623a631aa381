using System.Collections.Concurrent;
using System.Net;
using Confluent.SchemaRegistry;

namespace Streaming.Contracts.Avro;

/// <summary>
/// The Schema Registry used without <c>SchemaRegistry:Url</c>: it answers Confluent's serializer and deserializer from the
/// committed schemas and their ids in <see cref="AvroContracts.FixedIds"/> — no network, the same ids on every machine.
/// "Registering" a committed schema returns its fixed id; any other schema, and any other id, is refused as a real registry
/// would refuse it (HTTP 422 / 404 in the exception), so callers handle both modes alike. Every other registry operation
/// is unsupported here and says so.
/// </summary>
internal sealed class FixedIdSchemaRegistry : ISchemaRegistryClient
{
    public static readonly FixedIdSchemaRegistry Instance = new();

    private readonly ConcurrentDictionary<string, int> _idsBySchemaText = new(StringComparer.Ordinal);

    private FixedIdSchemaRegistry()
    {
    }

    /// <summary>The error text for an id that is not one of the fixed ids; it lists them.</summary>
    public static string UnknownIdMessage(int id) =>
        $"unknown schema id {id}; the fixed ids are {string.Join(", ", AvroContracts.All.Select(c => $"{c.FixedId} ({c.Name})"))}";

    public Task<int> RegisterSchemaAsync(string subject, Schema schema, bool normalize = false) => Task.FromResult(FixedIdOf(schema.SchemaString));

    public Task<int> RegisterSchemaAsync(string subject, string avroSchema, bool normalize = false) => Task.FromResult(FixedIdOf(avroSchema));

    public Task<RegisteredSchema> RegisterSchemaWithResponseAsync(string subject, Schema schema, bool normalize = false) =>
        Task.FromResult(new RegisteredSchema(subject, 1, FixedIdOf(schema.SchemaString), schema.SchemaString, SchemaType.Avro, []));

    public Task<int> GetSchemaIdAsync(string subject, Schema schema, bool normalize = false) => Task.FromResult(FixedIdOf(schema.SchemaString));

    public Task<int> GetSchemaIdAsync(string subject, string avroSchema, bool normalize = false) => Task.FromResult(FixedIdOf(avroSchema));

    public Task<Schema> GetSchemaAsync(int id, string? format = null) => Task.FromResult(SchemaOf(id));

    public Task<Schema> GetSchemaBySubjectAndIdAsync(string subject, int id, string? format = null) => Task.FromResult(SchemaOf(id));

    public Task<List<Association>> GetAssociationsByResourceNameAsync(string resourceName, string resourceNamespace, string resourceType,
        List<string> associationTypes, string lifecyclePolicy, int offset, int limit) => Task.FromResult(new List<Association>());

    public string ConstructKeySubjectName(string topic, string? recordType = null) => $"{topic}-key";

    public string ConstructValueSubjectName(string topic, string? recordType = null) => $"{topic}-value";

    public IEnumerable<KeyValuePair<string, string>> Config => [];

    public IAuthenticationHeaderValueProvider? AuthHeaderProvider => null;

    public IWebProxy? Proxy => null;

    public int MaxCachedSchemas => AvroContracts.All.Count;

    public void ClearCaches()
    {
    }

    public void ClearLatestCaches()
    {
    }

    public void Dispose()
    {
    }

    private int FixedIdOf(string schemaText) => _idsBySchemaText.TryGetValue(schemaText, out var id)
        ? id
        : _idsBySchemaText.GetOrAdd(schemaText, ResolveFixedId(schemaText));

    private static int ResolveFixedId(string schemaText)
    {
        var fullName = (global::Avro.Schema.Parse(schemaText) as global::Avro.NamedSchema)?.Fullname;
        var contract = fullName is null ? null : AvroContracts.ByFullName(fullName);
        if (contract is null || global::Avro.Schema.Parse(contract.SchemaText).ToString() != global::Avro.Schema.Parse(schemaText).ToString())
            throw new SchemaRegistryException($"schema {fullName ?? "(unnamed)"} is not one of the committed schemas with a fixed id", HttpStatusCode.UnprocessableEntity, 42201);
        return contract.FixedId;
    }

    private static Schema SchemaOf(int id) => AvroContracts.ByFixedId(id) is { } contract
        ? new Schema(contract.SchemaText, SchemaType.Avro)
        : throw new SchemaRegistryException(UnknownIdMessage(id), HttpStatusCode.NotFound, 40403);

    private static NotSupportedException Unsupported(string operation) =>
        new($"{operation} needs a Schema Registry: set SchemaRegistry:Url (the fixed schema ids serve only writing and reading the committed schemas).");


    public Task<RegisteredSchema> LookupSchemaAsync(string subject, Schema schema, bool ignoreDeletedSchemas, bool normalize = false) =>
        throw Unsupported(nameof(LookupSchemaAsync));

    public Task<Schema> GetSchemaByGuidAsync(string guid, string? format = null) => throw Unsupported(nameof(GetSchemaByGuidAsync));

    public Task<RegisteredSchema> GetRegisteredSchemaAsync(string subject, int version, bool ignoreDeletedSchemas = true) =>
        throw Unsupported(nameof(GetRegisteredSchemaAsync));

    public Task<string> GetSchemaAsync(string subject, int version) => throw Unsupported(nameof(GetSchemaAsync));

    public Task<RegisteredSchema> GetLatestSchemaAsync(string subject) => throw Unsupported(nameof(GetLatestSchemaAsync));

    public Task<RegisteredSchema> GetLatestWithMetadataAsync(string subject, IDictionary<string, string> metadata, bool ignoreDeletedSchemas) =>
        throw Unsupported(nameof(GetLatestWithMetadataAsync));

    public Task<List<string>> GetAllSubjectsAsync() => throw Unsupported(nameof(GetAllSubjectsAsync));

    public Task<List<int>> GetSubjectVersionsAsync(string subject) => throw Unsupported(nameof(GetSubjectVersionsAsync));

    public Task<bool> IsCompatibleAsync(string subject, Schema schema) => throw Unsupported(nameof(IsCompatibleAsync));

    public Task<bool> IsCompatibleAsync(string subject, string avroSchema) => throw Unsupported(nameof(IsCompatibleAsync));

    public Task<Compatibility> GetCompatibilityAsync(string? subject = null) => throw Unsupported(nameof(GetCompatibilityAsync));

    public Task<Compatibility> UpdateCompatibilityAsync(Compatibility compatibility, string? subject = null) =>
        throw Unsupported(nameof(UpdateCompatibilityAsync));

    public Task<AssociationResponse> CreateAssociationAsync(AssociationCreateOrUpdateRequest request) => throw Unsupported(nameof(CreateAssociationAsync));

    public Task DeleteAssociationsAsync(string resourceId, string resourceType, List<string> associationTypes, bool cascadeLifecycle) =>
        throw Unsupported(nameof(DeleteAssociationsAsync));
}
