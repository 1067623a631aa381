namespace Streaming.Contracts.Avro;

public enum SerializationFormat
{
    /// <summary>UTF-8 JSON written by <see cref="ContractsJsonContext"/> (the default).</summary>
    Json,

    /// <summary>Avro binary in the Confluent wire format.</summary>
    Avro,
}

/// <summary>Section <c>Serialization</c>: the value format the pipeline writes; readers accept both formats.</summary>
public sealed class SerializationOptions
{
    public const string Section = "Serialization";

    public SerializationFormat Format { get; set; } = SerializationFormat.Json;

    /// <summary>Throws with the setting's name when the options cannot work.</summary>
    public SerializationOptions Validated() => Enum.IsDefined(Format)
        ? this
        : throw new ArgumentException($"Serialization:Format must be Json or Avro, was {Format}.");
}

/// <summary>How a Schema Registry subject is named (Confluent's subject name strategies).</summary>
public enum SubjectNameStrategy
{
    /// <summary><c>{topic}-value</c>: one schema lineage per topic (Confluent's default).</summary>
    TopicName,

    /// <summary>
    /// <c>{topic}-{record full name}</c>: one lineage per record type in a topic; needed when a topic carries several
    /// record types (<c>alerts</c> carries anomalies and downtime predictions), which one <c>-value</c> subject rejects as incompatible.
    /// </summary>
    TopicRecordName,
}

/// <summary>
/// Section <c>SchemaRegistry</c>. Without <see cref="Url"/> Avro uses the fixed schema ids committed in
/// <c>schemas/README.md</c>; with it, a Confluent-compatible Schema Registry. The password is never logged or printed.
/// </summary>
public sealed class SchemaRegistryOptions
{
    public const string Section = "SchemaRegistry";

    public string? Url { get; set; }

    public string? BasicAuthUser { get; set; }

    public string? BasicAuthPassword { get; set; }

    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public SubjectNameStrategy SubjectNameStrategy { get; set; } = SubjectNameStrategy.TopicName;

    public bool IsConfigured => !string.IsNullOrWhiteSpace(Url);

    public bool HasBasicAuth => !string.IsNullOrEmpty(BasicAuthUser);

    /// <summary>Throws with the setting's name when the options cannot work; call at start-up.</summary>
    public SchemaRegistryOptions Validated()
    {
        if (IsConfigured && (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(uri.UserInfo)))
            throw new ArgumentException($"SchemaRegistry:Url must be an absolute http or https URL without credentials, was '{Url}'.");
        if (!IsConfigured && (HasBasicAuth || !string.IsNullOrEmpty(BasicAuthPassword)))
            throw new ArgumentException("SchemaRegistry:BasicAuthUser and SchemaRegistry:BasicAuthPassword need SchemaRegistry:Url.");
        if (HasBasicAuth && BasicAuthUser!.Contains(':'))
            throw new ArgumentException("SchemaRegistry:BasicAuthUser must not contain ':'.");
        if (HasBasicAuth != !string.IsNullOrEmpty(BasicAuthPassword))
            throw new ArgumentException("SchemaRegistry:BasicAuthUser and SchemaRegistry:BasicAuthPassword must be set together.");
        if (!Enum.IsDefined(SubjectNameStrategy))
            throw new ArgumentException($"SchemaRegistry:SubjectNameStrategy must be TopicName or TopicRecordName, was {SubjectNameStrategy}.");
        if (RequestTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"SchemaRegistry:RequestTimeout must be positive, was {RequestTimeout}.");
        return this;
    }
}
