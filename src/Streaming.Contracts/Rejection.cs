namespace Streaming.Contracts;

/// <summary>Why a record was not accepted. The code is the dead-letter header value and the metrics label.</summary>
public enum RejectionReason
{
    None = 0,
    MalformedJson,
    NotAnObject,
    TooLarge,
    MissingEntity,
    InvalidEntity,
    MissingTimestamp,
    InvalidTimestamp,
    TimestampOutOfRange,
    NoMetrics,
    TooManyMetrics,
    InvalidMetricName,
    NonNumericMetric,
    NonFiniteMetric,
    MetricOutOfRange,
    DuplicateMetric,
    UnexpectedField,
    DuplicateSample,
    Late,

    /// <summary>The sink could not decode a features, scores or alerts record (neither a readable Avro value nor its JSON contract).</summary>
    UndecodableEvent,

    /// <summary>A telemetry value in the Avro wire format that cannot be read as <c>telemetry-sample.avsc</c> (fixed id 1).</summary>
    MalformedAvro,
}

/// <summary>A rejected record's reason and a human-readable explanation naming the field.</summary>
public readonly record struct Rejection(RejectionReason Reason, string Detail)
{
    public string Code => Reason.ToCode();

    public override string ToString() => $"{Code}: {Detail}";
}

public static class RejectionReasonExtensions
{
    private static readonly string[] Codes = BuildCodes();

    public static IReadOnlyList<RejectionReason> All { get; } = Enum.GetValues<RejectionReason>().Where(r => r != RejectionReason.None).ToArray();

    /// <summary>snake_case code, e.g. <c>non_finite_metric</c>; allocation-free.</summary>
    public static string ToCode(this RejectionReason reason) => Codes[(int)reason];

    private static string[] BuildCodes()
    {
        var values = Enum.GetValues<RejectionReason>();
        var codes = new string[values.Length];
        foreach (var value in values)
        {
            var name = value.ToString();
            var sb = new System.Text.StringBuilder(name.Length + 4);
            for (var i = 0; i < name.Length; i++)
            {
                if (char.IsUpper(name[i]) && i > 0)
                    sb.Append('_');
                sb.Append(char.ToLowerInvariant(name[i]));
            }
            codes[(int)value] = sb.ToString();
        }
        return codes;
    }
}
