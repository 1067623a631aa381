using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Streaming.Contracts;
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
            event readably: time, status, severity, entity, score against threshold, top metrics, alert id. Ctrl-C stops.

              streaming alerts tail
              streaming alerts tail --from-beginning --max 20
              streaming alerts tail --json | jq 'select(.severity == "critical")'
            """) { fromBeginning, json, max };
        tail.SetAction(async (parse, cancellationToken) =>
        {
            if (CliSupport.LoadForRunningKafka("whose alerts to follow") is not { } settings)
                return 2;
            using var cts = CliSupport.CancelOnCtrlC();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cts.Token, cancellationToken);
            using var kafka = KafkaCluster.Connect(settings.Kafka);
            var printed = await Task.Run(() => Tail(kafka, settings.Topics.Alerts, parse.GetValue(fromBeginning), parse.GetValue(json),
                parse.GetValue(max) ?? int.MaxValue, Console.Out, linked.Token), CancellationToken.None).ConfigureAwait(false);
            return printed >= 0 ? 0 : 1;
        });
        var command = new Command("alerts", """
            Alert events on the alerts topic.

              streaming alerts tail --from-beginning
            """);
        command.Subcommands.Add(tail);
        return command;
    }

    /// <summary>Prints alert events until cancelled or <paramref name="max"/> are printed; returns how many were.</summary>
    internal static int Tail(KafkaCluster kafka, string topic, bool fromBeginning, bool json, int max, TextWriter output, CancellationToken cancellationToken)
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
                output.WriteLine(json ? Encoding.UTF8.GetString(record.Message.Value ?? []) : Describe(record.Message.Value ?? []));
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

    internal static string Describe(byte[] value)
    {
        AnomalyEvent? e;
        try
        {
            e = JsonSerializer.Deserialize(value, ContractsJsonContext.Default.AnomalyEvent);
        }
        catch (JsonException ex)
        {
            return $"(unreadable alert record: {ex.Message.Split(". ")[0]}) {Encoding.UTF8.GetString(value)}";
        }
        if (e is null)
            return "(empty alert record)";
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
}
