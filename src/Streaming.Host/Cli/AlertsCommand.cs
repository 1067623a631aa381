using System.CommandLine;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Streaming.Contracts;
using Streaming.Contracts.Avro;
using Streaming.Host.Configuration;
using Streaming.Kafka;

namespace Streaming.Host.Cli;

internal static class AlertsCommand
{
    public static Command Create()
    {
        var fromBeginning = new Option<bool>("--from-beginning") { Description = "Start at the oldest alert kept on the topic instead of new ones" };
        var json = new Option<bool>("--json") { Description = "Print each event as its JSON record, one per line (for jq and scripts)" };
        var max = new Option<int?>("--max") { Description = "Stop after this many events" };
        var tail = new Command("tail", """
            Follows the alerts topic (read_committed: on a real broker, only events of committed processor transactions) and prints each
            event readably: time, status, severity, entity, score against threshold (anomalies) or P(down) per horizon (downtime
            predictions), top metrics, alert id. Reads JSON and Avro (Confluent wire format) records alike; --json prints each as
            its JSON contract. Ctrl-C stops.

              streaming alerts tail
              streaming alerts tail --from-beginning --max 20
              streaming alerts tail --json | jq 'select(.severity == "critical")'
            """) { fromBeginning, json, max };
        tail.SetAction(async (parse, cancellationToken) =>
        {
            if (CliSupport.LoadForRunningKafka("whose alerts to follow") is not { } settings)
                return 2;
            using var cts = CliSupport.CancelOnStopSignals();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cts.Token, cancellationToken);
            using var kafka = KafkaCluster.Connect(settings.Kafka);
            // Avro records carry their schema id: the fixed ids, or (SchemaRegistry:Url) ids fetched from the registry once each.
            var ids = EventSerializers.CreateSchemaRegistry(settings.SchemaRegistry);
            try
            {
                var printed = await Task.Run(() => Tail(kafka, settings.Topics.Alerts, parse.GetValue(fromBeginning), parse.GetValue(json),
                    parse.GetValue(max) ?? int.MaxValue, Console.Out, linked.Token, ids, Console.Error), CancellationToken.None).ConfigureAwait(false);
                return printed >= 0 ? 0 : 1;
            }
            finally
            {
                ids.Dispose();
            }
        });
        var command = new Command("alerts", """
            Alert events on the alerts topic.

              streaming alerts tail --from-beginning
            """);
        command.Subcommands.Add(tail);
        return command;
    }

    /// <summary>
    /// Prints alert events until cancelled or <paramref name="max"/> are printed; returns how many were. Records may be
    /// JSON or Avro (Confluent wire format; schema ids from <paramref name="ids"/>, the fixed ids when null); with
    /// <paramref name="json"/> each is printed as its JSON contract, and an unreadable record goes to <paramref name="errors"/>
    /// instead of the output (so scripts only ever see events).
    /// </summary>
    internal static int Tail(KafkaCluster kafka, string topic, bool fromBeginning, bool json, int max, TextWriter output, CancellationToken cancellationToken,
        ISchemaRegistryClient? ids = null, TextWriter? errors = null)
    {
        // Every partition assigned directly: no consumer group to join (seconds) or leave behind, and no offsets committed.
        int partitions;
        using (var admin = new AdminClientBuilder(kafka.Options.Apply(new AdminClientConfig(), kafka.BootstrapServers)).Build())
        {
            var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(15)).Topics.Single();
            if (metadata.Error.IsError)
                throw new InvalidOperationException($"Topic '{topic}' is not readable: {metadata.Error.Reason}");
            partitions = metadata.Partitions.Count;
        }
        var reader = new AlertRecordReader(ids ?? FixedIdSchemaRegistry.Instance);
        var config = kafka.ConsumerConfig("streaming-alerts-tail", "alerts-tail");
        using var consumer = new ConsumerBuilder<string?, byte[]>(config).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, fromBeginning ? Offset.Beginning : Offset.End)));
        var printed = 0;
        try
        {
            while (printed < max && !cancellationToken.IsCancellationRequested)
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(250)) is not { IsPartitionEOF: false } record)
                    continue;
                var alert = reader.ReadAsync(record.Message.Value ?? [], cancellationToken).AsTask().GetAwaiter().GetResult();
                if (!alert.Success && json)
                {
                    (errors ?? TextWriter.Null).WriteLine($"unreadable alert record at {record.Topic}[{record.Partition.Value}]@{record.Offset.Value}: {alert.Error}");
                    continue;
                }
                var raw = record.Message.Value ?? [];
                // JSON records are printed as they are; Avro records as the same JSON contract a JSON run would have written.
                output.WriteLine(!json ? Describe(alert, raw) : Encoding.UTF8.GetString(alert.Format == SerializationFormat.Json ? raw : alert.ToJson()));
                output.Flush();
                printed++;
            }
        }
        finally
        {
            consumer.Close();
        }
        return printed;
    }

    /// <summary>One readable line for an alerts record of either kind and either format.</summary>
    internal static string Describe(AlertRecord alert, byte[] raw)
    {
        if (alert.Anomaly is { } anomaly)
            return Describe(anomaly);
        if (alert.Prediction is { } prediction)
            return Describe(prediction);
        return alert.Format == SerializationFormat.Json
            ? $"(unreadable alert record: {alert.Error}) {Encoding.UTF8.GetString(raw)}"
            : $"(unreadable alert record: {alert.Error}) {raw.Length} bytes: {Convert.ToHexString(raw.AsSpan(0, Math.Min(raw.Length, 32)))}{(raw.Length > 32 ? "…" : "")}";
    }

    private static string Describe(AnomalyEvent e)
    {
        var line = new StringBuilder(160);
        line.Append(CultureInfo.InvariantCulture, $"{e.WindowEnd.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z  {e.Status.ToUpperInvariant(),-8} {e.Severity,-8} {e.Entity}");
        line.Append(CultureInfo.InvariantCulture, $"  score {e.Score:0.00} {(e.Score >= e.Threshold ? "≥" : "<")} {e.Threshold:0.00}");
        if (e.Contributors.Count > 0)
        {
            line.Append("  top: ");
            line.AppendJoin(", ", e.Contributors.Select(c => string.Create(CultureInfo.InvariantCulture,
                $"{c.Metric} {c.Actual:0.##} (expected {c.Expected:0.##}, {c.Share * 100:0}%)")));
        }
        line.Append(CultureInfo.InvariantCulture, $"  [{e.Model} {e.ModelVersion}, alert {e.AlertId.ToString()[..8]}]");
        return line.ToString();
    }

    private static string Describe(DowntimePredictionEvent e)
    {
        var line = new StringBuilder(160);
        line.Append(CultureInfo.InvariantCulture, $"{e.WindowEnd.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z  {("PREDICT " + e.Status.ToUpperInvariant()),-16} {e.Severity,-8} {e.Entity}");
        line.Append(CultureInfo.InvariantCulture, $"  P(down within {e.HorizonMinutes:0} min) {e.Probability * 100:0}%");
        if (e.Horizons.Count > 0)
            line.Append(" (").AppendJoin(", ", e.Horizons.Select(h => string.Create(CultureInfo.InvariantCulture, $"{h.Minutes:0} min {h.Probability * 100:0}%"))).Append(')');
        if (e.TimeToDowntimeSeconds is { } seconds)
            line.Append(CultureInfo.InvariantCulture, $"  down in ~{seconds / 60:0} min");
        if (e.Contributors.Count > 0)
            line.Append("  driven by ").AppendJoin(", ", e.Contributors.Select(c => c.Metric));
        line.Append(CultureInfo.InvariantCulture, $"  [{e.Model} {e.ModelVersion}, alert {e.AlertId.ToString()[..8]}]");
        return line.ToString();
    }
}
