using System.CommandLine;
using Streaming.Host.Configuration;
using Streaming.Kafka;

namespace Streaming.Host.Cli;

internal static class DevKafkaCommand
{
    public static Command Create()
    {
        var brokers = new Option<int>("--brokers") { Description = "Number of mock brokers", DefaultValueFactory = _ => 1 };
        var partitions = new Option<int>("--partitions") { Description = "Partitions per topic", DefaultValueFactory = _ => 4 };
        var command = new Command("dev-kafka", """
            Runs the embedded Kafka (librdkafka's mock cluster, real wire protocol on 127.0.0.1) on its own, creates the
            pipeline's topics and prints the bootstrap address, until Ctrl-C. Point other processes at it:

              streaming dev-kafka --partitions 8
              KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:PORT dotnet run --project src/Streaming.Host -- demo
              kcat -b 127.0.0.1:PORT -L
            """) { brokers, partitions };
        command.SetAction(async (parse, cancellationToken) =>
        {
            StreamingSettings settings;
            try
            {
                settings = StreamingSettings.Load([
                    new("Kafka:BootstrapServers", ""),
                    new("Kafka:EmbeddedBrokers", parse.GetValue(brokers).ToString()),
                    new("Kafka:Partitions", parse.GetValue(partitions).ToString()),
                ]);
            }
            catch (OptionsException ex)
            {
                return CliSupport.ReportConfigurationError(ex);
            }
            using var cts = CliSupport.CancelOnStopSignals();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cts.Token, cancellationToken);
            using var kafka = KafkaCluster.Connect(settings.Kafka);
            await kafka.EnsureTopicsAsync(settings.Topics.All, linked.Token).ConfigureAwait(false);
            Console.WriteLine($"Embedded Kafka: {kafka.Options.EmbeddedBrokers} broker(s) at {kafka.BootstrapServers}");
            Console.WriteLine($"Topics ({settings.Kafka.Partitions} partitions each): {string.Join(", ", settings.Topics.All)}");
            Console.WriteLine("Ctrl-C to stop.");
            try
            {
                await Task.Delay(Timeout.Infinite, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
            return 0;
        });
        return command;
    }
}
