using System.Diagnostics.CodeAnalysis;

namespace Streaming.Contracts.Avro;

/// <summary>The writer schema for a schema id, or why there is none.</summary>
internal readonly record struct SchemaLookup(AvroSchema? Schema, string? Error)
{
    [MemberNotNullWhen(true, nameof(Schema))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool Found => Schema is not null;
}

/// <summary>Where schema ids come from: the committed fixed ids, or a Schema Registry.</summary>
internal interface ISchemaIdProvider
{
    /// <summary>The id to write <paramref name="contract"/>'s values to <paramref name="topic"/> with (registering it if the provider does that).</summary>
    ValueTask<int> GetIdAsync(string topic, AvroContract contract, CancellationToken cancellationToken);

    /// <summary>The writer schema for an id already known without I/O (fixed, registered or fetched before).</summary>
    bool TryGetKnownSchema(int id, [NotNullWhen(true)] out AvroSchema? schema);

    /// <summary>The writer schema for an id, fetching it if the provider can; an unknown id is a result, not an exception.</summary>
    ValueTask<SchemaLookup> LookupAsync(int id, CancellationToken cancellationToken);
}

/// <summary>The ids in <see cref="AvroContracts.FixedIds"/>; no network, the same on every machine.</summary>
internal sealed class FixedSchemaIds : ISchemaIdProvider
{
    public static readonly FixedSchemaIds Instance = new();

    private FixedSchemaIds()
    {
    }

    public ValueTask<int> GetIdAsync(string topic, AvroContract contract, CancellationToken cancellationToken) =>
        ValueTask.FromResult(contract.FixedId);

    public bool TryGetKnownSchema(int id, [NotNullWhen(true)] out AvroSchema? schema)
    {
        schema = AvroContracts.ByFixedId(id)?.Schema;
        return schema is not null;
    }

    public ValueTask<SchemaLookup> LookupAsync(int id, CancellationToken cancellationToken) => ValueTask.FromResult(
        TryGetKnownSchema(id, out var schema)
            ? new SchemaLookup(schema, null)
            : new SchemaLookup(null, $"unknown schema id {id}; the fixed ids are {string.Join(", ", AvroContracts.All.Select(c => $"{c.FixedId} ({c.Name})"))}"));
}
