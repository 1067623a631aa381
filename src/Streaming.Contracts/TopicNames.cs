namespace Streaming.Contracts;

/// <summary>Default topic names; each is configurable under <c>Topics:*</c>. Contracts live in <c>schemas/</c>.</summary>
public static class TopicNames
{
    public const string Telemetry = "telemetry";
    public const string Features = "features";
    public const string Scores = "scores";
    public const string Alerts = "alerts";
    public const string DeadLetter = "dead-letter";
}

/// <summary>Header names on dead-letter records; the value is the original record's bytes, the key its key.</summary>
public static class DeadLetterHeaders
{
    public const string Reason = "dlq.reason";
    public const string Detail = "dlq.detail";
    public const string SourceTopic = "dlq.source.topic";
    public const string SourcePartition = "dlq.source.partition";
    public const string SourceOffset = "dlq.source.offset";
    public const string Stage = "dlq.stage";
}
