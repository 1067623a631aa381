using System.CommandLine;
using Streaming.Host.Configuration;
using Streaming.Kafka;
using Streaming.Storage;

namespace Streaming.Host.Cli;

/// <summary>`streaming reset-sink-offsets`: forgets a sink group's stored offsets, the explicit way out of a SinkOffsetsException.</summary>
internal static class SinkOffsetsCommand
{
    public static Command Create()
    {
        var group = new Option<string?>("--group") { Description = "The sink's consumer group (default Sink:GroupId)" };
        var command = new Command("reset-sink-offsets", """
            Forgets the offsets a sink group stored in the database (table sink_offsets), e.g. after the sink stopped because
            they were written for another Kafka cluster or lie beyond a topic's end. The sink then reads its topics from
            their beginning. Rows already stored stay.

              streaming reset-sink-offsets --group streaming-sink
            """) { group };
        command.SetAction(async (parse, cancellationToken) =>
        {
            StreamingSettings settings;
            try
            {
                settings = StreamingSettings.Load();
            }
            catch (OptionsException ex)
            {
                return CliSupport.ReportConfigurationError(ex);
            }
            var name = parse.GetValue(group) ?? settings.Sink.GroupId;
            using var loggers = CliSupport.CreateLoggerFactory(verbose: false);
            var (dataSource, _) = await TrainCommand.OpenDatabaseAsync(settings, loggers, cancellationToken).ConfigureAwait(false);
            await using (dataSource.ConfigureAwait(false))
            {
                var removed = await TimescaleWriter.ResetOffsetsAsync(dataSource, name, cancellationToken).ConfigureAwait(false);
                Console.WriteLine($"Forgot {removed} stored offset(s) of sink group '{name}': it reads its topics from the beginning at its next start.");
            }
            return 0;
        });
        return command;
    }
}
