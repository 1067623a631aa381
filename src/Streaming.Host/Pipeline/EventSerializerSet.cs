using Confluent.SchemaRegistry;
using Streaming.Contracts;
using Streaming.Contracts.Avro;
using Streaming.Host.Configuration;

namespace Streaming.Host.Pipeline;

/// <summary>
/// The serializers the processor writes its topics with, chosen by <c>Serialization:Format</c> and created once at
/// start-up: with Avro and a Schema Registry every schema is registered (or its id looked up) here, so a rejection stops
/// start-up with the registry's message and the hot path never waits on the network.
/// </summary>
internal sealed class EventSerializerSet : IDisposable
{
    private EventSerializerSet(SerializationFormat format, ISchemaRegistryClient ids, IEventSerializer<FeatureVectorEvent> features,
        IEventSerializer<ScoreEvent> scores, IEventSerializer<AnomalyEvent> anomalies, IEventSerializer<DowntimePredictionEvent> predictions)
    {
        Format = format;
        Ids = ids;
        Features = features;
        Scores = scores;
        Anomalies = anomalies;
        Predictions = predictions;
    }

    /// <summary>UTF-8 JSON, byte for byte what the pipeline wrote before Avro existed.</summary>
    public static EventSerializerSet Json { get; } = new(SerializationFormat.Json, FixedIdSchemaRegistry.Instance,
        FeatureVectorJsonSerializer.Instance,
        new JsonEventSerializer<ScoreEvent>(ContractsJsonContext.Default.ScoreEvent),
        new JsonEventSerializer<AnomalyEvent>(ContractsJsonContext.Default.AnomalyEvent),
        new JsonEventSerializer<DowntimePredictionEvent>(ContractsJsonContext.Default.DowntimePredictionEvent));

    public SerializationFormat Format { get; }

    /// <summary>Where the schema ids came from (fixed ids or the registry client).</summary>
    public ISchemaRegistryClient Ids { get; }

    public IEventSerializer<FeatureVectorEvent> Features { get; }

    public IEventSerializer<ScoreEvent> Scores { get; }

    public IEventSerializer<AnomalyEvent> Anomalies { get; }

    public IEventSerializer<DowntimePredictionEvent> Predictions { get; }

    /// <summary>
    /// The configured serializers. Throws <see cref="SchemaRegistryException"/> (subject, HTTP status, the registry's
    /// message) when the registry rejects a schema, and <see cref="HttpRequestException"/> when it cannot be reached.
    /// </summary>
    public static async Task<EventSerializerSet> CreateAsync(StreamingSettings settings, CancellationToken cancellationToken)
    {
        var options = settings.Serialization.Validated();
        if (options.Format == SerializationFormat.Json)
            return Json;
        var ids = EventSerializers.CreateSchemaRegistry(settings.SchemaRegistry);
        try
        {
            var topics = settings.Topics;
            var subjects = settings.SchemaRegistry.SubjectNameStrategy;
            return new EventSerializerSet(options.Format, ids,
                await EventSerializers.CreateAsync(options, AvroContracts.FeatureVector, topics.Features, ids, cancellationToken, subjects).ConfigureAwait(false),
                await EventSerializers.CreateAsync(options, AvroContracts.Score, topics.Scores, ids, cancellationToken, subjects).ConfigureAwait(false),
                await EventSerializers.CreateAsync(options, AvroContracts.Anomaly, topics.Alerts, ids, cancellationToken, subjects).ConfigureAwait(false),
                await EventSerializers.CreateAsync(options, AvroContracts.DowntimePrediction, topics.Alerts, ids, cancellationToken, subjects).ConfigureAwait(false));
        }
        catch (SchemaRegistryException ex) when (ex.Status == System.Net.HttpStatusCode.Conflict
                                                  && settings.SchemaRegistry.SubjectNameStrategy == Streaming.Contracts.Avro.SubjectNameStrategy.TopicName)
        {
            ids.Dispose();
            throw new SchemaRegistryException(
                $"{ex.Message} (the {settings.Topics.Alerts} topic carries two record types, anomalies and downtime predictions; " +
                "set SchemaRegistry:SubjectNameStrategy=TopicRecordName to give each its own subject)", ex.Status, ex.ErrorCode);
        }
        catch
        {
            ids.Dispose();
            throw;
        }
    }

    /// <summary>
    /// <see cref="CreateAsync"/> for a command's start-up: null, after writing why to <paramref name="errors"/>, when the
    /// Schema Registry rejects a schema or cannot be reached.
    /// </summary>
    public static async Task<EventSerializerSet?> CreateOrReportAsync(StreamingSettings settings, TextWriter errors, CancellationToken cancellationToken)
    {
        try
        {
            return await CreateAsync(settings, cancellationToken).ConfigureAwait(false);
        }
        catch (SchemaRegistryException ex)
        {
            errors.WriteLine($"Start-up failed: {ex.Message}");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            errors.WriteLine($"Start-up failed: the Schema Registry at SchemaRegistry:Url ({settings.SchemaRegistry.Url}) did not answer: {ex.Message}");
        }
        return null;
    }

    /// <summary>One line for start-up output: the format and, for Avro, each topic's schema id and where it came from.</summary>
    public string Describe()
    {
        if (Format == SerializationFormat.Json)
            return "JSON";
        static string Id<T>(IEventSerializer<T> s) => s is AvroEventSerializer<T> avro ? avro.SchemaId.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?";
        var source = Ids is not FixedIdSchemaRegistry ? "from the Schema Registry" : "fixed";
        return $"Avro, Confluent wire format; schema ids ({source}): features {Id(Features)}, scores {Id(Scores)}, anomalies {Id(Anomalies)}, predictions {Id(Predictions)}";
    }

    public void Dispose() => Ids.Dispose();
}
