using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Confluent.SchemaRegistry;
using SubjectNameStrategy = Streaming.Contracts.Avro.SubjectNameStrategy;
using Streaming.Contracts;
using Streaming.Contracts.Avro;

namespace Streaming.UnitTests;

/// <summary>
/// Runs Confluent's <see cref="CachedSchemaRegistryClient"/> and Avro serdes, as the pipeline configures them, against a
/// minimal Confluent-compatible registry served by Kestrel on a free local port.
/// </summary>
public sealed class SchemaRegistryTests
{
    private const string ContentType = "application/vnd.schemaregistry.v1+json";

    private FakeRegistry _registry = null!;

    [SetUp]
    public async Task SetUp() => _registry = await FakeRegistry.StartAsync();

    [TearDown]
    public async Task TearDown() => await _registry.DisposeAsync();

    private ISchemaRegistryClient Client(string? user = null, string? password = null) =>
        EventSerializers.CreateSchemaRegistry(new SchemaRegistryOptions { Url = _registry.Url, BasicAuthUser = user, BasicAuthPassword = password });

    private static Task<AvroEventSerializer<T>> Serializer<T>(AvroContract<T> contract, string topic, ISchemaRegistryClient client,
        SubjectNameStrategy subjects = SubjectNameStrategy.TopicName) =>
        AvroEventSerializer<T>.CreateAsync(contract, topic, client, subjects, CancellationToken.None);

    [Test]
    public async Task A_schema_is_registered_under_topic_value_on_first_use_only_and_its_id_is_in_the_wire_bytes()
    {
        using var client = Client();
        var first = await Serializer(AvroContracts.Anomaly, "alerts", client);
        var second = await Serializer(AvroContracts.Anomaly, "alerts", client);

        var bytes = first.Serialize(AvroEventCodecTests.SampleAnomaly());
        second.Serialize(AvroEventCodecTests.SampleAnomaly());

        Assert.That(_registry.Registrations, Is.EqualTo(new[] { "alerts-value" }), "registered at creation; the serializer finds it in the client's cache");
        Assert.That(first.SchemaId, Is.EqualTo(_registry.IdOf(AvroContracts.Anomaly.Schema.ToString())));
        Assert.That(second.SchemaId, Is.EqualTo(first.SchemaId));
        Assert.That(bytes[0], Is.EqualTo(0));
        Assert.That(BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(1)), Is.EqualTo(first.SchemaId));
    }

    [Test]
    public async Task Registration_posts_the_committed_schema_with_the_registry_content_type_and_basic_auth()
    {
        using var client = Client("svc", "s3cret");
        await Serializer(AvroContracts.Score, "scores", client);

        var request = _registry.Requests.Single();
        Assert.That(request.ContentType, Does.StartWith(ContentType));
        Assert.That(request.Authorization, Is.EqualTo("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("svc:s3cret"))));
        using var body = JsonDocument.Parse(request.Body);
        if (body.RootElement.TryGetProperty("schemaType", out var type))
            Assert.That(type.GetString(), Is.EqualTo("AVRO"));
        Assert.That(global::Avro.Schema.Parse(body.RootElement.GetProperty("schema").GetString()), Is.EqualTo(global::Avro.Schema.Parse(AvroContracts.Score.SchemaText)),
            "the registered text is the committed .avsc (as Apache.Avro writes it)");
    }

    [Test]
    public void An_incompatible_schema_fails_naming_the_subject_the_status_and_the_registry_message()
    {
        _registry.Incompatible.Add("alerts-value");
        using var client = Client("svc", "s3cret");

        var ex = Assert.ThrowsAsync<SchemaRegistryException>(async () =>
            await Serializer(AvroContracts.Anomaly, "alerts", client));

        Assert.That(ex!.Message, Does.Contain("subject 'alerts-value'").And.Contain("HTTP 409").And.Contain("Schema being registered is incompatible"));
        Assert.That(ex.Status, Is.EqualTo(System.Net.HttpStatusCode.Conflict));
        Assert.That(ex.Message, Does.Not.Contain("s3cret"));
        Assert.That(ex.ErrorCode, Is.EqualTo(409));
    }

    [Test]
    public void An_invalid_schema_fails_with_the_registry_422_message()
    {
        _registry.Invalid.Add("features-value");
        using var client = Client();

        var ex = Assert.ThrowsAsync<SchemaRegistryException>(async () =>
            await Serializer(AvroContracts.FeatureVector, "features", client));

        Assert.That(ex!.Message, Does.Contain("subject 'features-value'").And.Contain("HTTP 422").And.Contain("42201").And.Contain("Invalid schema"));
    }

    [Test]
    public async Task A_failed_registration_is_not_cached_so_a_later_attempt_registers_again()
    {
        _registry.Incompatible.Add("alerts-value");
        using var client = Client();
        Assert.ThrowsAsync<SchemaRegistryException>(async () => await Serializer(AvroContracts.Anomaly, "alerts", client));

        _registry.Incompatible.Clear();
        var id = (await Serializer(AvroContracts.Anomaly, "alerts", client)).SchemaId;

        Assert.That(id, Is.EqualTo(_registry.IdOf(AvroContracts.Anomaly.Schema.ToString())));
        Assert.That(_registry.Registrations, Has.Count.EqualTo(2));
    }

    [Test]
    public async Task A_record_written_with_a_registry_id_is_read_back_by_a_reader_that_fetches_the_schema_once()
    {
        using var writerClient = Client();
        var serializer = await Serializer(AvroContracts.Anomaly, "alerts", writerClient);
        var anomaly = AvroEventCodecTests.SampleAnomaly();
        var bytes = serializer.Serialize(anomaly);

        using var readerClient = Client();
        var deserializer = new EventDeserializer<AnomalyEvent>(AvroContracts.Anomaly, readerClient);
        var read = await deserializer.ReadAsync(bytes, CancellationToken.None);
        var again = await deserializer.ReadAsync(bytes, CancellationToken.None);
        var afterwards = deserializer.Read(bytes);

        Assert.That(read.Success, Is.True, read.Error);
        Assert.That(read.Format, Is.EqualTo(SerializationFormat.Avro));
        Assert.That(JsonSerializer.Serialize(read.Value!, ContractsJsonContext.Default.AnomalyEvent),
            Is.EqualTo(JsonSerializer.Serialize(anomaly, ContractsJsonContext.Default.AnomalyEvent)));
        Assert.That(again.Success && afterwards.Success, Is.True);
        Assert.That(_registry.SchemaFetches, Is.EqualTo(new[] { serializer.SchemaId }));
    }

    [Test]
    public async Task With_the_topic_record_name_strategy_each_record_type_on_a_topic_has_its_own_subject()
    {
        using var client = Client();
        _registry.Incompatible.Add("alerts-value");

        var anomalies = await Serializer(AvroContracts.Anomaly, "alerts", client, SubjectNameStrategy.TopicRecordName);
        var scores = await Serializer(AvroContracts.Score, "alerts", client, SubjectNameStrategy.TopicRecordName);
        anomalies.Serialize(AvroEventCodecTests.SampleAnomaly());
        scores.Serialize(AvroEventCodecTests.SampleScore());

        Assert.That(_registry.Registrations, Is.EqualTo(new[] { "alerts-streaming.v1.AnomalyEvent", "alerts-streaming.v1.ScoreEvent" }),
            "Confluent's serializer uses the same subjects, so it registers nothing more");
        Assert.That(anomalies.SchemaId, Is.Not.EqualTo(scores.SchemaId));
    }

    [Test]
    public async Task The_record_type_of_an_avro_value_on_a_shared_topic_is_found_from_its_registry_id()
    {
        using var writerClient = Client();
        var bytes = (await Serializer(AvroContracts.Score, "alerts", writerClient))
            .Serialize(AvroEventCodecTests.SampleScore());

        using var readerClient = Client();
        Assert.That(await AvroRecordNames.GetAsync(bytes, readerClient, CancellationToken.None), Is.EqualTo("streaming.v1.ScoreEvent"));
        Assert.That(await AvroRecordNames.GetAsync("{}"u8.ToArray(), readerClient, CancellationToken.None), Is.Null);
        Assert.That(await AvroRecordNames.GetAsync(new byte[] { 0, 0, 0, 0x30, 0x39 }, readerClient, CancellationToken.None), Is.Null);
    }

    [Test]
    public async Task An_id_the_registry_does_not_know_is_a_failed_read_naming_the_id()
    {
        using var client = Client();
        var read = await new EventDeserializer<ScoreEvent>(AvroContracts.Score, client).ReadAsync(new byte[] { 0, 0, 0, 0x30, 0x39, 0 }, CancellationToken.None);

        Assert.That(read.Success, Is.False);
        Assert.That(read.Error, Does.Contain("no schema with id 12345").And.Contain("HTTP 404").And.Contain("40403"));
    }

    private sealed record RecordedRequest(string? ContentType, string? Authorization, string Body);

    private sealed class FakeRegistry : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly ConcurrentDictionary<string, int> _ids = new();
        private readonly ConcurrentDictionary<int, string> _schemas = new();

        private FakeRegistry(WebApplication app) => _app = app;

        public string Url => _app.Urls.Single();

        public ConcurrentQueue<string> Registrations { get; } = new();

        public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

        public ConcurrentQueue<int> SchemaFetches { get; } = new();

        public HashSet<string> Incompatible { get; } = [];

        public HashSet<string> Invalid { get; } = [];

        public int IdOf(string schema) => _ids[schema];

        public static async Task<FakeRegistry> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var registry = new FakeRegistry(builder.Build());
            registry._app.MapPost("/subjects/{subject}/versions", registry.Register);
            registry._app.MapGet("/schemas/ids/{id:int}", registry.GetSchema);
            // Confluent's 2.16 client asks for a topic's schema associations first; a registry without them answers 404.
            registry._app.MapGet("/associations/{**rest}", () => Json("""{"error_code":404,"message":"HTTP 404 Not Found"}""", 404));
            await registry._app.StartAsync();
            return registry;
        }

        private static IResult Json(string body, int status = 200) =>
            Results.Text(body, ContentType, Encoding.UTF8, status);

        private async Task<IResult> Register(string subject, HttpRequest request)
        {
            using var reader = new StreamReader(request.Body);
            var body = await reader.ReadToEndAsync();
            Requests.Enqueue(new RecordedRequest(request.ContentType, request.Headers.Authorization, body));
            Registrations.Enqueue(subject);
            if (Incompatible.Contains(subject))
                return Json("""{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema for subject \"alerts-value\""}""", 409);
            if (Invalid.Contains(subject))
                return Json("""{"error_code":42201,"message":"Invalid schema"}""", 422);
            using var document = JsonDocument.Parse(body);
            var schema = document.RootElement.GetProperty("schema").GetString()!;
            var id = _ids.GetOrAdd(schema, _ => 100 + _ids.Count);
            _schemas[id] = schema;
            return Json($$"""{"id":{{id}}}""");
        }

        private IResult GetSchema(int id)
        {
            SchemaFetches.Enqueue(id);
            if (!_schemas.TryGetValue(id, out var schema))
                return Json($$"""{"error_code":40403,"message":"Schema {{id}} not found"}""", 404);
            using var stream = new MemoryStream();
            using (var writer = new Utf8JsonWriter(stream))
            {
                writer.WriteStartObject();
                writer.WriteString("schema", schema);
                writer.WriteEndObject();
            }
            return Json(Encoding.UTF8.GetString(stream.ToArray()));
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
