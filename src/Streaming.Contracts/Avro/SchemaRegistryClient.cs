using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Streaming.Contracts.Avro;

/// <summary>The Schema Registry refused a request; the message names the subject (or id), the HTTP status and the registry's reason.</summary>
internal sealed class SchemaRegistryException(string message, HttpStatusCode status, int? errorCode) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;

    public int? ErrorCode { get; } = errorCode;
}

/// <summary>
/// A Confluent-compatible Schema Registry client. Registers a contract's schema under <c>{topic}-value</c> (or
/// <c>{topic}-{record full name}</c>, see <see cref="SubjectNameStrategy"/>) on first use
/// (<c>POST /subjects/{subject}/versions</c>) and caches the id; fetches unknown writer schemas by id
/// (<c>GET /schemas/ids/{id}</c>) and caches them.
/// </summary>
internal sealed class SchemaRegistryClient : ISchemaIdProvider, IDisposable
{
    public const string ContentType = "application/vnd.schemaregistry.v1+json";

    private readonly SubjectNameStrategy _subjects;
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly SemaphoreSlim _registering = new(1, 1);
    private readonly ConcurrentDictionary<(string Subject, string Contract), int> _ids = new();
    private readonly ConcurrentDictionary<int, AvroSchema> _schemas = new();

    /// <summary>Validates <paramref name="options"/>; uses <paramref name="http"/> when given (its base address is replaced).</summary>
    public SchemaRegistryClient(SchemaRegistryOptions options, HttpClient? http = null)
    {
        options.Validated();
        if (!options.IsConfigured)
            throw new ArgumentException("SchemaRegistry:Url is required for the Schema Registry client.");
        _subjects = options.SubjectNameStrategy;
        _ownsHttp = http is null;
        _http = http ?? new HttpClient();
        _http.BaseAddress = new Uri(options.Url!.TrimEnd('/') + "/");
        _http.Timeout = options.RequestTimeout;
        _http.DefaultRequestHeaders.Accept.Clear();
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue(ContentType));
        if (options.HasBasicAuth)
        {
            var token = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{options.BasicAuthUser}:{options.BasicAuthPassword}"));
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", token);
        }
    }

    /// <summary>The subject a contract's values on a topic are registered under.</summary>
    public static string SubjectFor(string topic, AvroContract contract, SubjectNameStrategy strategy) => strategy == SubjectNameStrategy.TopicRecordName
        ? $"{topic}-{contract.FullName}"
        : $"{topic}-value";

    public async ValueTask<int> GetIdAsync(string topic, AvroContract contract, CancellationToken cancellationToken)
    {
        var key = (SubjectFor(topic, contract, _subjects), contract.Name);
        if (_ids.TryGetValue(key, out var id))
            return id;
        await _registering.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_ids.TryGetValue(key, out id))
                return id;
            id = await RegisterAsync(key.Item1, contract.SchemaText, cancellationToken).ConfigureAwait(false);
            _schemas.TryAdd(id, contract.Schema);
            _ids[key] = id;
            return id;
        }
        finally
        {
            _registering.Release();
        }
    }

    public bool TryGetKnownSchema(int id, [NotNullWhen(true)] out AvroSchema? schema) => _schemas.TryGetValue(id, out schema);

    public async ValueTask<SchemaLookup> LookupAsync(int id, CancellationToken cancellationToken)
    {
        if (_schemas.TryGetValue(id, out var known))
            return new SchemaLookup(known, null);
        using var response = await _http.GetAsync($"schemas/ids/{id}", cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
            return new SchemaLookup(null, $"Schema Registry has no schema with id {id} (HTTP 404{Describe(body)})");
        if (!response.IsSuccessStatusCode)
            throw Failure($"Schema Registry could not return schema id {id}", response.StatusCode, body);
        if (!TryReadSchema(body, out var text, out var error))
            return new SchemaLookup(null, $"Schema Registry's answer for schema id {id} is unusable: {error}");
        if (!AvroSchemaParser.TryParse(text, out var schema, out error))
            return new SchemaLookup(null, $"schema id {id} from the Schema Registry is not a valid Avro schema: {error}");
        return new SchemaLookup(_schemas.GetOrAdd(id, schema), null);
    }

    private async Task<int> RegisterAsync(string subject, string schemaText, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(RegistrationBody(schemaText));
        content.Headers.ContentType = new MediaTypeHeaderValue(ContentType);
        using var response = await _http.PostAsync($"subjects/{Uri.EscapeDataString(subject)}/versions", content, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
            throw Failure($"Schema Registry rejected the schema for subject '{subject}'", response.StatusCode, body);
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("id", out var idElement) && idElement.TryGetInt32(out var id))
                return id;
        }
        catch (JsonException ex)
        {
            throw new SchemaRegistryException($"Schema Registry answered the registration for subject '{subject}' with invalid JSON: {ex.Message}", response.StatusCode, null);
        }
        throw new SchemaRegistryException($"Schema Registry answered the registration for subject '{subject}' without an integer \"id\": {Truncate(body)}", response.StatusCode, null);
    }

    internal static byte[] RegistrationBody(string schemaText)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("schema", schemaText);
            json.WriteString("schemaType", "AVRO");
            json.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static bool TryReadSchema(string body, [NotNullWhen(true)] out string? schema, [NotNullWhen(false)] out string? error)
    {
        schema = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("schema", out var schemaElement) || schemaElement.ValueKind != JsonValueKind.String)
            {
                error = $"no string \"schema\" in {Truncate(body)}";
                return false;
            }
            if (root.TryGetProperty("schemaType", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() != "AVRO")
            {
                error = $"it is a {type.GetString()} schema, not AVRO";
                return false;
            }
            schema = schemaElement.GetString()!;
            error = null;
            return true;
        }
        catch (JsonException ex)
        {
            error = $"invalid JSON: {ex.Message}";
            return false;
        }
    }

    private static SchemaRegistryException Failure(string what, HttpStatusCode status, string body)
    {
        var (code, message) = ParseError(body);
        return new SchemaRegistryException($"{what}: HTTP {(int)status} {status}{(code is null ? "" : $", error {code}")}: {message}", status, code);
    }

    private static string Describe(string body)
    {
        var (code, message) = ParseError(body);
        return $"{(code is null ? "" : $", error {code}")}: {message}";
    }

    /// <summary>Confluent errors are <c>{"error_code": 40403, "message": "..."}</c>; anything else is quoted (shortened).</summary>
    private static (int? Code, string Message) ParseError(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String)
            {
                int? code = root.TryGetProperty("error_code", out var codeElement) && codeElement.TryGetInt32(out var c) ? c : null;
                return (code, message.GetString()!);
            }
        }
        catch (JsonException)
        {
            // Not a Confluent error document (a proxy's HTML page, say): the raw body below is the best description.
        }
        return (null, body.Length == 0 ? "(empty response)" : Truncate(body));
    }

    private static string Truncate(string text) => text.Length <= 300 ? text : text[..300] + "...";

    public void Dispose()
    {
        _registering.Dispose();
        if (_ownsHttp)
            _http.Dispose();
    }
}
