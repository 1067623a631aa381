using System.CommandLine;
using Streaming.Host.Cli;
using Streaming.Host.Pipeline;

namespace Streaming.Host;

internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        var root = new RootCommand("""
            Streaming: a Kafka stream-analytics pipeline for machine and server telemetry.
            Telemetry → event-time windows → features → anomaly scores → alerts → TimescaleDB → Grafana.

            Start with `streaming demo`: embedded Kafka, a private TimescaleDB and a simulated fleet, end to end.
            Settings come from appsettings.json and environment variables (Kafka__BootstrapServers, KAFKA_BOOTSTRAP_SERVERS,
            STREAMING_PG, Windows__Size, ...); see the README's configuration table.
            """);
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(AlertsCommand.Create());
        root.Subcommands.Add(ReplayCommand.Create());
        root.Subcommands.Add(DevKafkaCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(ModelsCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(LoadCommand.Create());
        root.Subcommands.Add(DbCommand.Create());
        root.Subcommands.Add(SinkOffsetsCommand.Create());
        // Commands handle Ctrl-C and SIGTERM themselves (CliSupport.CancelOnStopSignals) and finish their shutdown; System.CommandLine's
        // handling would race them for the signal and end the process after 2 s with exit code 143.
        try
        {
            return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
        }
        finally
        {
            // Nothing the command started is left running: its private PostgreSQL stops (data kept) unless run/db start keeps it.
            await LocalDatabases.StopStartedAsync();
        }
    }
}
