namespace Streaming.Contracts.Avro;

/// <summary>Avro schema kinds (Avro 1.11 specification, "Schema Declaration").</summary>
internal enum AvroType
{
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Record,
    Enum,
    Array,
    Map,
    Union,
    Fixed,
}

/// <summary>A parsed Avro schema. Build one with <see cref="AvroSchemaParser"/>.</summary>
internal abstract class AvroSchema
{
    private protected AvroSchema(AvroType type) => Type = type;

    public AvroType Type { get; }

    /// <summary>Human-readable name used in error messages: the full name of named types, the type name otherwise.</summary>
    public abstract string DisplayName { get; }
}

/// <summary>A primitive type, optionally annotated with a logical type (<c>timestamp-millis</c>, <c>uuid</c>, ...).</summary>
internal sealed class PrimitiveSchema : AvroSchema
{
    internal PrimitiveSchema(AvroType type, string? logicalType) : base(type) => LogicalType = logicalType;

    /// <summary>The logical type as written in the schema; unknown logical types are kept but have no effect (as the specification requires).</summary>
    public string? LogicalType { get; }

    public bool IsTimestampMillis => Type == AvroType.Long && LogicalType == "timestamp-millis";

    public bool IsUuid => Type == AvroType.String && LogicalType == "uuid";

    public override string DisplayName => LogicalType is null ? Type.ToString().ToLowerInvariant() : $"{Type.ToString().ToLowerInvariant()} ({LogicalType})";
}

/// <summary>A record, enum or fixed: has a full name (namespace + name) that later parts of a schema may refer to.</summary>
internal abstract class NamedSchema : AvroSchema
{
    private protected NamedSchema(AvroType type, string fullName) : base(type) => FullName = fullName;

    public string FullName { get; }

    public string Name => FullName[(FullName.LastIndexOf('.') + 1)..];

    public override string DisplayName => FullName;
}

internal sealed class RecordSchema : NamedSchema
{
    private IReadOnlyList<AvroField> _fields = [];

    internal RecordSchema(string fullName) : base(AvroType.Record, fullName)
    {
    }

    /// <summary>Fields in declaration order, which is their order on the wire.</summary>
    public IReadOnlyList<AvroField> Fields => _fields;

    // Set once by the parser after the fields are parsed: a record may refer to itself.
    internal void SetFields(IReadOnlyList<AvroField> fields) => _fields = fields;
}

/// <summary>A record field; <see cref="Path"/> (record full name + field name) is what error messages show.</summary>
internal sealed record AvroField(string Name, AvroSchema Schema, bool HasDefault, System.Text.Json.JsonElement? Default, string Path);

internal sealed class EnumSchema : NamedSchema
{
    internal EnumSchema(string fullName, IReadOnlyList<string> symbols) : base(AvroType.Enum, fullName) => Symbols = symbols;

    public IReadOnlyList<string> Symbols { get; }
}

internal sealed class FixedSchema : NamedSchema
{
    internal FixedSchema(string fullName, int size) : base(AvroType.Fixed, fullName) => Size = size;

    public int Size { get; }
}

internal sealed class ArraySchema : AvroSchema
{
    internal ArraySchema(AvroSchema items) : base(AvroType.Array) => Items = items;

    public AvroSchema Items { get; }

    public override string DisplayName => $"array<{Items.DisplayName}>";
}

internal sealed class MapSchema : AvroSchema
{
    internal MapSchema(AvroSchema values) : base(AvroType.Map) => Values = values;

    public AvroSchema Values { get; }

    public override string DisplayName => $"map<{Values.DisplayName}>";
}

internal sealed class UnionSchema : AvroSchema
{
    internal UnionSchema(IReadOnlyList<AvroSchema> branches) : base(AvroType.Union) => Branches = branches;

    public IReadOnlyList<AvroSchema> Branches { get; }

    public override string DisplayName => $"[{string.Join(", ", Branches.Select(b => b.DisplayName))}]";
}
