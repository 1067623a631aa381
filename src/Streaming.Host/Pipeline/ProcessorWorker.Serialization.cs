namespace Streaming.Host.Pipeline;

internal sealed partial class ProcessorWorker
{
    /// <summary>
    /// The serializers for features, scores and alerts, created once at start-up (<see cref="EventSerializerSet.CreateAsync"/>,
    /// which registers the schemas when a Schema Registry is configured). Null: created from the settings when the worker
    /// starts (no network with JSON or fixed Avro ids).
    /// </summary>
    public EventSerializerSet? Serializers { get; init; }

    private EventSerializerSet SerializersOrCreate() =>
        Serializers ?? EventSerializerSet.CreateAsync(_settings, CancellationToken.None).GetAwaiter().GetResult();
}
