using System.Text.Json;
using Avro.Generic;
using Confluent.SchemaRegistry;

namespace Streaming.Contracts.Avro;

/// <summary>
/// One record of the <c>alerts</c> topic, decoded: an anomaly event or a downtime prediction (exactly one is set), or
/// why the record could not be read. A drift event (kind <c>drift</c>) shares the anomaly event's fields: it is read as
/// one (<see cref="Anomaly"/>, kind <c>drift</c>) with the whole event in <see cref="Drift"/>.
/// </summary>
internal readonly record struct AlertRecord(AnomalyEvent? Anomaly, DowntimePredictionEvent? Prediction, string? Error, SerializationFormat Format,
    DriftEvent? Drift = null)
{
    public bool Success => Error is null;

    /// <summary>The event as its JSON contract (what a JSON run writes), whichever format it arrived in.</summary>
    public byte[] ToJson() => Drift is not null
        ? JsonSerializer.SerializeToUtf8Bytes(Drift, ContractsJsonContext.Default.DriftEvent)
        : Anomaly is not null
        ? JsonSerializer.SerializeToUtf8Bytes(Anomaly, ContractsJsonContext.Default.AnomalyEvent)
        : Prediction is not null
            ? JsonSerializer.SerializeToUtf8Bytes(Prediction, ContractsJsonContext.Default.DowntimePredictionEvent)
            : throw new InvalidOperationException($"No event to write: {Error}");
}

/// <summary>
/// Reads <c>alerts</c> records in either format and tells the two record types apart by what the record says it is:
/// the writer schema's record name for Avro (<c>streaming.v1.AnomalyEvent</c> or <c>streaming.v1.DowntimePredictionEvent</c>),
/// the top-level <c>kind</c> field for JSON. Bad input is a failed result with a message, never an exception; only an
/// unreachable Schema Registry (when an unknown id must be fetched) throws.
/// </summary>
internal sealed class AlertRecordReader(ISchemaRegistryClient registry)
{
    private readonly AvroRecordReader _avro = new(registry);
    private readonly EventDeserializer<AnomalyEvent> _anomalies = new(AvroContracts.Anomaly, registry);
    private readonly EventDeserializer<DowntimePredictionEvent> _predictions = new(AvroContracts.DowntimePrediction, registry);
    private readonly EventDeserializer<DriftEvent> _drift = new(AvroContracts.Drift, registry);

    public async ValueTask<AlertRecord> ReadAsync(ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        if (!value.IsEmpty && value.Span[0] == ValueFormat.AvroMagicByte)
            return await ReadAvroAsync(value, cancellationToken).ConfigureAwait(false);
        if (!TryReadJsonKind(value.Span, out var kind, out var error))
            return new AlertRecord(null, null, error, SerializationFormat.Json);
        return kind switch
        {
            AnomalyEvent.KindName => From(await _anomalies.ReadAsync(value, cancellationToken).ConfigureAwait(false)),
            DowntimePredictionEvent.KindName => From(await _predictions.ReadAsync(value, cancellationToken).ConfigureAwait(false)),
            DriftEvent.KindName => From(await _drift.ReadAsync(value, cancellationToken).ConfigureAwait(false)),
            _ => new AlertRecord(null, null,
                $"alert kind '{kind}' is not '{AnomalyEvent.KindName}', '{DowntimePredictionEvent.KindName}' or '{DriftEvent.KindName}'", SerializationFormat.Json),
        };
    }

    private async ValueTask<AlertRecord> ReadAvroAsync(ReadOnlyMemory<byte> value, CancellationToken cancellationToken)
    {
        var read = await _avro.ReadAsync(value, cancellationToken).ConfigureAwait(false);
        if (!read.Success)
            return new AlertRecord(null, null, read.Error, SerializationFormat.Avro);
        GenericRecord record = read.Record;
        var name = record.Schema.Fullname;
        if (name == AvroContracts.Anomaly.FullName)
            return From(_anomalies.FromRecord(record, read.SchemaId));
        if (name == AvroContracts.DowntimePrediction.FullName)
            return From(_predictions.FromRecord(record, read.SchemaId));
        if (name == AvroContracts.Drift.FullName)
            return From(_drift.FromRecord(record, read.SchemaId));
        return new AlertRecord(null, null,
            $"schema id {read.SchemaId} is {name}, not an alert record ({AvroContracts.Anomaly.FullName}, {AvroContracts.DowntimePrediction.FullName} or {AvroContracts.Drift.FullName})",
            SerializationFormat.Avro);
    }

    private static AlertRecord From(EventReadResult<AnomalyEvent> read) => read.Success
        ? new AlertRecord(read.Value, null, null, read.Format)
        : new AlertRecord(null, null, read.Error, read.Format);

    private static AlertRecord From(EventReadResult<DriftEvent> read)
    {
        if (!read.Success)
            return new AlertRecord(null, null, read.Error, read.Format);
        var d = read.Value;
        var asAlert = new AnomalyEvent(d.EventId, d.AlertId, d.Kind, d.Status, d.Entity, d.WindowStart, d.WindowEnd, d.DetectedAt, d.Score, d.Threshold,
            d.Severity, d.Model, d.ModelVersion, d.Contributors);
        return new AlertRecord(asAlert, null, null, read.Format, d);
    }

    private static AlertRecord From(EventReadResult<DowntimePredictionEvent> read) => read.Success
        ? new AlertRecord(null, read.Value, null, read.Format)
        : new AlertRecord(null, null, read.Error, read.Format);

    /// <summary>The top-level <c>kind</c> string of a JSON object, read without deserializing the event.</summary>
    internal static bool TryReadJsonKind(ReadOnlySpan<byte> json, out string? kind, out string? error)
    {
        kind = null;
        error = null;
        if (json.StartsWith("\uFEFF"u8))
            json = json[3..];
        var first = json.IndexOfAnyExcept(" \t\r\n"u8);
        if (first < 0 || json[first] != (byte)'{')
        {
            error = json.IsEmpty
                ? "empty value: neither the Avro wire format nor JSON"
                : $"value starts with byte 0x{json[0]:X2}: neither the Avro wire format (magic byte 0) nor a JSON object";
            return false;
        }
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isKind = reader.ValueTextEquals("kind"u8);
                reader.Read();
                if (isKind)
                {
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        error = $"alert 'kind' must be a string, found {reader.TokenType}";
                        return false;
                    }
                    kind = reader.GetString();
                    return true;
                }
                reader.Skip();
            }
            error = "alert record has no 'kind' field (anomaly, downtime_prediction or drift)";
            return false;
        }
        catch (JsonException ex)
        {
            error = $"JSON alert is invalid: {ex.Message}";
            return false;
        }
    }
}
