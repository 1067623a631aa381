using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Streaming.Contracts.Avro;

/// <summary>
/// Parses Avro schema JSON (<c>.avsc</c>): primitives, records, enums, fixed, arrays, maps, unions, logical types, nested
/// named types and references to named types by full or namespace-relative name, including a record referring to itself.
/// </summary>
internal static partial class AvroSchemaParser
{
    private static readonly Dictionary<string, AvroType> Primitives = new(StringComparer.Ordinal)
    {
        ["null"] = AvroType.Null,
        ["boolean"] = AvroType.Boolean,
        ["int"] = AvroType.Int,
        ["long"] = AvroType.Long,
        ["float"] = AvroType.Float,
        ["double"] = AvroType.Double,
        ["bytes"] = AvroType.Bytes,
        ["string"] = AvroType.String,
    };

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex NamePattern();

    public static bool TryParse(string json, [NotNullWhen(true)] out AvroSchema? schema, [NotNullWhen(false)] out string? error)
    {
        schema = null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            error = $"Avro schema is not valid JSON: {ex.Message}";
            return false;
        }
        using (document)
        {
            var context = new Context();
            // Defaults are kept as JsonElements, which must outlive the document.
            schema = context.Parse(document.RootElement.Clone(), enclosingNamespace: null, path: "schema");
            error = context.Error;
            if (error is not null)
                schema = null;
            return error is null;
        }
    }

    /// <summary>Parses or throws <see cref="FormatException"/>; for schemas that ship with the application.</summary>
    public static AvroSchema Parse(string json) =>
        TryParse(json, out var schema, out var error) ? schema : throw new FormatException(error);

    private sealed class Context
    {
        private readonly Dictionary<string, NamedSchema> _named = new(StringComparer.Ordinal);

        public string? Error { get; private set; }

        private AvroSchema? Fail(string path, string message)
        {
            Error ??= $"{path}: {message}";
            return null;
        }

        public AvroSchema? Parse(JsonElement element, string? enclosingNamespace, string path) => element.ValueKind switch
        {
            JsonValueKind.String => ParseName(element.GetString()!, enclosingNamespace, path),
            JsonValueKind.Array => ParseUnion(element, enclosingNamespace, path),
            JsonValueKind.Object => ParseObject(element, enclosingNamespace, path),
            _ => Fail(path, $"a schema must be a type name, an object or a union array, not {element.ValueKind}"),
        };

        private AvroSchema? ParseName(string name, string? enclosingNamespace, string path)
        {
            if (Primitives.TryGetValue(name, out var primitive))
                return new PrimitiveSchema(primitive, logicalType: null);
            var fullName = name.Contains('.') || enclosingNamespace is null ? name : $"{enclosingNamespace}.{name}";
            if (_named.TryGetValue(fullName, out var named) || _named.TryGetValue(name, out named))
                return named;
            return Fail(path, $"unknown type '{name}' (named types must be defined before they are referenced)");
        }

        private AvroSchema? ParseUnion(JsonElement element, string? enclosingNamespace, string path)
        {
            var branches = new List<AvroSchema>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var index = 0;
            foreach (var item in element.EnumerateArray())
            {
                var branchPath = $"{path}[{index++}]";
                if (item.ValueKind == JsonValueKind.Array)
                    return Fail(branchPath, "a union may not directly contain another union");
                var branch = Parse(item, enclosingNamespace, branchPath);
                if (branch is null)
                    return null;
                var key = branch is NamedSchema named ? named.FullName : branch.Type.ToString();
                if (!seen.Add(key))
                    return Fail(branchPath, $"a union may not contain two branches of type {key}");
                branches.Add(branch);
            }
            return branches.Count == 0 ? Fail(path, "a union needs at least one branch") : new UnionSchema(branches);
        }

        private AvroSchema? ParseObject(JsonElement element, string? enclosingNamespace, string path)
        {
            if (!element.TryGetProperty("type", out var typeElement))
                return Fail(path, "a schema object needs a \"type\"");
            if (typeElement.ValueKind != JsonValueKind.String)
                return Parse(typeElement, enclosingNamespace, path + ".type");
            var type = typeElement.GetString()!;
            switch (type)
            {
                case "record" or "error":
                    return ParseRecord(element, enclosingNamespace, path);
                case "enum":
                    return ParseEnum(element, enclosingNamespace, path);
                case "fixed":
                    return ParseFixed(element, enclosingNamespace, path);
                case "array":
                    if (!element.TryGetProperty("items", out var items))
                        return Fail(path, "an array needs \"items\"");
                    return Parse(items, enclosingNamespace, path + ".items") is { } itemSchema ? new ArraySchema(itemSchema) : null;
                case "map":
                    if (!element.TryGetProperty("values", out var values))
                        return Fail(path, "a map needs \"values\"");
                    return Parse(values, enclosingNamespace, path + ".values") is { } valueSchema ? new MapSchema(valueSchema) : null;
            }
            if (Primitives.TryGetValue(type, out var primitive))
            {
                var logical = element.TryGetProperty("logicalType", out var logicalElement) && logicalElement.ValueKind == JsonValueKind.String
                    ? logicalElement.GetString()
                    : null;
                // The specification: a logical type on the wrong underlying type is ignored, the schema keeps its underlying type.
                if ((logical == "timestamp-millis" && primitive != AvroType.Long) || (logical == "uuid" && primitive != AvroType.String))
                    logical = null;
                return new PrimitiveSchema(primitive, logical);
            }
            return ParseName(type, enclosingNamespace, path);
        }

        private bool TryDeclare(JsonElement element, string? enclosingNamespace, string path, out string fullName, out string? ownNamespace)
        {
            fullName = "";
            ownNamespace = enclosingNamespace;
            if (!element.TryGetProperty("name", out var nameElement) || nameElement.ValueKind != JsonValueKind.String)
            {
                Fail(path, "a named type needs a string \"name\"");
                return false;
            }
            var name = nameElement.GetString()!;
            if (name.Contains('.'))
            {
                fullName = name;
                ownNamespace = name[..name.LastIndexOf('.')];
            }
            else
            {
                if (element.TryGetProperty("namespace", out var ns) && ns.ValueKind == JsonValueKind.String)
                    ownNamespace = ns.GetString() is { Length: > 0 } nsText ? nsText : null;
                fullName = ownNamespace is null ? name : $"{ownNamespace}.{name}";
            }
            foreach (var part in fullName.Split('.'))
            {
                if (!NamePattern().IsMatch(part))
                {
                    Fail(path, $"'{fullName}' is not a valid Avro name");
                    return false;
                }
            }
            if (Primitives.ContainsKey(fullName))
            {
                Fail(path, $"'{fullName}' is a primitive type name and cannot name a type");
                return false;
            }
            if (_named.ContainsKey(fullName))
            {
                Fail(path, $"type '{fullName}' is defined twice");
                return false;
            }
            return true;
        }

        private AvroSchema? ParseRecord(JsonElement element, string? enclosingNamespace, string path)
        {
            if (!TryDeclare(element, enclosingNamespace, path, out var fullName, out var ns))
                return null;
            if (!element.TryGetProperty("fields", out var fieldsElement) || fieldsElement.ValueKind != JsonValueKind.Array)
                return Fail(path, $"record '{fullName}' needs a \"fields\" array");
            var record = new RecordSchema(fullName);
            _named[fullName] = record;
            var fields = new List<AvroField>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var fieldElement in fieldsElement.EnumerateArray())
            {
                if (!fieldElement.TryGetProperty("name", out var fieldName) || fieldName.ValueKind != JsonValueKind.String)
                    return Fail($"{path}({fullName})", "every field needs a string \"name\"");
                var name = fieldName.GetString()!;
                var fieldPath = $"{fullName}.{name}";
                if (!NamePattern().IsMatch(name))
                    return Fail(fieldPath, $"'{name}' is not a valid field name");
                if (!names.Add(name))
                    return Fail(fieldPath, "field is declared twice");
                if (!fieldElement.TryGetProperty("type", out var fieldType))
                    return Fail(fieldPath, "field needs a \"type\"");
                var schema = Parse(fieldType, ns, fieldPath);
                if (schema is null)
                    return null;
                var hasDefault = fieldElement.TryGetProperty("default", out var defaultElement);
                fields.Add(new AvroField(name, schema, hasDefault, hasDefault ? defaultElement : null, fieldPath));
            }
            record.SetFields(fields);
            return record;
        }

        private AvroSchema? ParseEnum(JsonElement element, string? enclosingNamespace, string path)
        {
            if (!TryDeclare(element, enclosingNamespace, path, out var fullName, out _))
                return null;
            if (!element.TryGetProperty("symbols", out var symbolsElement) || symbolsElement.ValueKind != JsonValueKind.Array)
                return Fail(path, $"enum '{fullName}' needs a \"symbols\" array");
            var symbols = new List<string>();
            foreach (var symbol in symbolsElement.EnumerateArray())
            {
                if (symbol.ValueKind != JsonValueKind.String || !NamePattern().IsMatch(symbol.GetString()!))
                    return Fail(path, $"enum '{fullName}' has an invalid symbol {symbol.GetRawText()}");
                if (symbols.Contains(symbol.GetString()!))
                    return Fail(path, $"enum '{fullName}' lists symbol '{symbol.GetString()}' twice");
                symbols.Add(symbol.GetString()!);
            }
            if (symbols.Count == 0)
                return Fail(path, $"enum '{fullName}' needs at least one symbol");
            var schema = new EnumSchema(fullName, symbols);
            _named[fullName] = schema;
            return schema;
        }

        private AvroSchema? ParseFixed(JsonElement element, string? enclosingNamespace, string path)
        {
            if (!TryDeclare(element, enclosingNamespace, path, out var fullName, out _))
                return null;
            if (!element.TryGetProperty("size", out var size) || !size.TryGetInt32(out var bytes) || bytes < 0)
                return Fail(path, $"fixed '{fullName}' needs a non-negative integer \"size\"");
            var schema = new FixedSchema(fullName, bytes);
            _named[fullName] = schema;
            return schema;
        }
    }
}
