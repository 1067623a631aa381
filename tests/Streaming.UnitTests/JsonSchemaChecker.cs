using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Streaming.UnitTests;

/// <summary>
/// A deliberately small JSON Schema (draft 2020-12) validator for the keywords our contracts use. Any keyword it does not
/// implement throws <see cref="NotSupportedException"/>, so a schema can never pass by using something the checker ignores.
/// </summary>
internal sealed class JsonSchemaChecker(string directory)
{
    private static readonly HashSet<string> Annotations = ["$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default"];

    private readonly Dictionary<string, JsonNode> _documents = new(StringComparer.Ordinal);

    public JsonNode Load(string file)
    {
        if (!_documents.TryGetValue(file, out var document))
        {
            document = JsonNode.Parse(File.ReadAllText(Path.Combine(directory, file)))
                ?? throw new InvalidDataException($"{file} is empty");
            _documents[file] = document;
        }
        return document;
    }

    /// <summary>Replaces a loaded document, e.g. with a deliberately broken copy.</summary>
    public void Override(string file, JsonNode schema) => _documents[file] = schema;

    /// <summary>Every violation, as "path: message"; empty when the instance conforms.</summary>
    public List<string> Validate(string file, JsonNode? instance)
    {
        var errors = new List<string>();
        Check(Load(file), file, instance, "$", errors);
        return errors;
    }

    public List<string> Validate(string file, string json) => Validate(file, JsonNode.Parse(json));

    private void Check(JsonNode schema, string file, JsonNode? instance, string path, List<string> errors)
    {
        if (schema.GetValueKind() is JsonValueKind.True)
            return;
        if (schema.GetValueKind() is JsonValueKind.False)
        {
            errors.Add($"{path}: not allowed");
            return;
        }
        var obj = schema.AsObject();
        var kind = instance?.GetValueKind() ?? JsonValueKind.Null;
        foreach (var (keyword, value) in obj)
        {
            if (Annotations.Contains(keyword))
                continue;
            var v = value!;
            switch (keyword)
            {
                case "$ref":
                    var (refFile, target) = Resolve(file, v.GetValue<string>());
                    Check(target, refFile, instance, path, errors);
                    break;
                case "type":
                    var types = v is JsonArray array ? array.Select(t => t!.GetValue<string>()).ToArray() : [v.GetValue<string>()];
                    if (!types.Any(t => HasType(instance, kind, t)))
                        errors.Add($"{path}: expected {string.Join(" or ", types)}, found {Describe(kind)}");
                    break;
                case "enum":
                    if (!v.AsArray().Any(option => JsonNode.DeepEquals(option, instance)))
                        errors.Add($"{path}: {instance?.ToJsonString() ?? "null"} is not one of {v.ToJsonString()}");
                    break;
                case "const":
                    if (!JsonNode.DeepEquals(v, instance))
                        errors.Add($"{path}: must be {v.ToJsonString()}");
                    break;
                case "required":
                    if (kind is JsonValueKind.Object)
                    {
                        foreach (var name in v.AsArray().Select(n => n!.GetValue<string>()))
                        {
                            if (!instance!.AsObject().ContainsKey(name))
                                errors.Add($"{path}: missing required property '{name}'");
                        }
                    }
                    break;
                case "properties":
                    if (kind is JsonValueKind.Object)
                    {
                        foreach (var (name, propertySchema) in v.AsObject())
                        {
                            if (instance!.AsObject().TryGetPropertyValue(name, out var child))
                                Check(propertySchema!, file, child, $"{path}.{name}", errors);
                        }
                    }
                    break;
                case "additionalProperties":
                    if (kind is JsonValueKind.Object)
                    {
                        var declared = obj["properties"]?.AsObject();
                        foreach (var (name, child) in instance!.AsObject())
                        {
                            if (declared is null || !declared.ContainsKey(name))
                            {
                                if (v.GetValueKind() is JsonValueKind.False)
                                    errors.Add($"{path}: unexpected property '{name}'");
                                else
                                    Check(v, file, child, $"{path}.{name}", errors);
                            }
                        }
                    }
                    break;
                case "propertyNames":
                    if (kind is JsonValueKind.Object)
                    {
                        foreach (var (name, _) in instance!.AsObject())
                            Check(v, file, JsonValue.Create(name), $"{path}[name '{name}']", errors);
                    }
                    break;
                case "minProperties":
                    if (kind is JsonValueKind.Object && instance!.AsObject().Count < v.GetValue<int>())
                        errors.Add($"{path}: fewer than {v.GetValue<int>()} properties");
                    break;
                case "maxProperties":
                    if (kind is JsonValueKind.Object && instance!.AsObject().Count > v.GetValue<int>())
                        errors.Add($"{path}: more than {v.GetValue<int>()} properties");
                    break;
                case "items":
                    if (kind is JsonValueKind.Array)
                    {
                        var items = instance!.AsArray();
                        for (var i = 0; i < items.Count; i++)
                            Check(v, file, items[i], $"{path}[{i}]", errors);
                    }
                    break;
                case "minimum":
                    if (kind is JsonValueKind.Number && Number(instance!) < Number(v))
                        errors.Add($"{path}: {instance!.ToJsonString()} is below the minimum {v.ToJsonString()}");
                    break;
                case "maximum":
                    if (kind is JsonValueKind.Number && Number(instance!) > Number(v))
                        errors.Add($"{path}: {instance!.ToJsonString()} is above the maximum {v.ToJsonString()}");
                    break;
                case "minLength":
                    if (kind is JsonValueKind.String && instance!.GetValue<string>().Length < v.GetValue<int>())
                        errors.Add($"{path}: shorter than {v.GetValue<int>()} characters");
                    break;
                case "maxLength":
                    if (kind is JsonValueKind.String && instance!.GetValue<string>().Length > v.GetValue<int>())
                        errors.Add($"{path}: longer than {v.GetValue<int>()} characters");
                    break;
                case "pattern":
                    if (kind is JsonValueKind.String && !Regex.IsMatch(instance!.GetValue<string>(), v.GetValue<string>()))
                        errors.Add($"{path}: '{instance.GetValue<string>()}' does not match {v.GetValue<string>()}");
                    break;
                case "format":
                    if (kind is JsonValueKind.String && !HasFormat(instance!.GetValue<string>(), v.GetValue<string>()))
                        errors.Add($"{path}: '{instance.GetValue<string>()}' is not a valid {v.GetValue<string>()}");
                    break;
                case "allOf":
                    foreach (var sub in v.AsArray())
                        Check(sub!, file, instance, path, errors);
                    break;
                case "anyOf":
                    if (!v.AsArray().Any(sub => Passes(sub!, file, instance, path)))
                        errors.Add($"{path}: matches none of anyOf");
                    break;
                case "oneOf":
                    var matches = v.AsArray().Count(sub => Passes(sub!, file, instance, path));
                    if (matches != 1)
                        errors.Add($"{path}: matches {matches} of oneOf, expected exactly 1");
                    break;
                case "not":
                    if (Passes(v, file, instance, path))
                        errors.Add($"{path}: matches a 'not' schema");
                    break;
                default:
                    throw new NotSupportedException($"JsonSchemaChecker does not implement '{keyword}' (in {file}); implement it before using it.");
            }
        }
    }

    private bool Passes(JsonNode schema, string file, JsonNode? instance, string path)
    {
        var errors = new List<string>();
        Check(schema, file, instance, path, errors);
        return errors.Count == 0;
    }

    private (string File, JsonNode Target) Resolve(string file, string reference)
    {
        var hash = reference.IndexOf('#', StringComparison.Ordinal);
        var targetFile = hash == 0 ? file : hash < 0 ? reference : reference[..hash];
        JsonNode node = Load(targetFile);
        var pointer = hash < 0 ? "" : reference[(hash + 1)..];
        foreach (var segment in pointer.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = segment.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            node = node[name] ?? throw new InvalidDataException($"$ref '{reference}' in {file} does not resolve");
        }
        return (targetFile, node);
    }

    // Values built in code (JsonValue<int> etc.) and parsed ones (JsonElement) both print as JSON numbers.
    private static double Number(JsonNode node) => double.Parse(node.ToJsonString(), CultureInfo.InvariantCulture);

    private static bool HasType(JsonNode? instance, JsonValueKind kind, string type) => type switch
    {
        "object" => kind is JsonValueKind.Object,
        "array" => kind is JsonValueKind.Array,
        "string" => kind is JsonValueKind.String,
        "number" => kind is JsonValueKind.Number,
        "integer" => kind is JsonValueKind.Number && Number(instance!) is var d && Math.Floor(d) == d,
        "boolean" => kind is JsonValueKind.True or JsonValueKind.False,
        "null" => kind is JsonValueKind.Null,
        _ => throw new NotSupportedException($"unknown JSON Schema type '{type}'"),
    };

    private static bool HasFormat(string value, string format) => format switch
    {
        // RFC 3339 date-time: full date, 'T', full time, and a mandatory offset.
        "date-time" => Regex.IsMatch(value, @"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
            && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.None, out _),
        "uuid" => Regex.IsMatch(value, "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
        _ => throw new NotSupportedException($"JsonSchemaChecker does not implement format '{format}'"),
    };

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => kind.ToString().ToLowerInvariant(),
    };
}
