using System.Globalization;
using Microsoft.Extensions.Logging;
using Streaming.Host.Configuration;
using Streaming.Kafka;

namespace Streaming.Host.Cli;

internal static class CliSupport
{
    /// <summary>Parses "90s", "5m", "2h", "1d" or "hh:mm:ss".</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        text = text.Trim();
        duration = default;
        if (text.Length >= 2 && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0)
        {
            switch (char.ToLowerInvariant(text[^1]))
            {
                case 's': duration = TimeSpan.FromSeconds(n); return true;
                case 'm': duration = TimeSpan.FromMinutes(n); return true;
                case 'h': duration = TimeSpan.FromHours(n); return true;
                case 'd': duration = TimeSpan.FromDays(n); return true;
            }
        }
        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out duration) && duration >= TimeSpan.Zero;
    }

    public static ILoggerFactory CreateLoggerFactory(bool verbose) => LoggerFactory.Create(builder =>
    {
        builder.SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning);
        builder.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        // Log to stderr so stdout stays for results (--json, tables).
        builder.AddFilter("Microsoft", LogLevel.Warning);
    });

    /// <summary>Ctrl-C cancels the token instead of killing the process, so work ends with a summary.</summary>
    public static CancellationTokenSource CancelOnCtrlC() => new CtrlCCancellationSource();

    /// <summary>Cancels on Ctrl-C while alive; disposing it unhooks the handler, so a late Ctrl-C cannot hit a disposed source.</summary>
    private sealed class CtrlCCancellationSource : CancellationTokenSource
    {
        public CtrlCCancellationSource() => Console.CancelKeyPress += OnCancelKeyPress;

        private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
        {
            e.Cancel = true;
            Cancel();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                Console.CancelKeyPress -= OnCancelKeyPress;
            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// Settings for a command that talks to an already running Kafka (it cannot start one of its own: nothing else would
    /// see it); null, after explaining why on stderr, when they are invalid or name no cluster.
    /// </summary>
    public static StreamingSettings? LoadForRunningKafka(string purpose)
    {
        StreamingSettings settings;
        try
        {
            settings = StreamingSettings.Load();
        }
        catch (OptionsException ex)
        {
            ReportConfigurationError(ex);
            return null;
        }
        if (settings.Kafka.IsEmbedded)
        {
            Console.Error.WriteLine($"Kafka:BootstrapServers is empty: set KAFKA_BOOTSTRAP_SERVERS to the cluster {purpose} " +
                                    "(`streaming dev-kafka` prints an embedded one's address).");
            return null;
        }
        return settings;
    }

    public static int ReportConfigurationError(OptionsException ex)
    {
        Console.Error.WriteLine(ex.Message);
        return 2;
    }
}
