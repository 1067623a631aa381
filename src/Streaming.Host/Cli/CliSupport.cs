using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Spectre.Console;
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

    /// <summary>
    /// A Spectre console on <paramref name="output"/>: progress bars and colours only on a terminal. Written to a pipe, a file
    /// or a StringWriter it prints plain text (no ANSI escape codes) and the progress once at the end.
    /// </summary>
    public static IAnsiConsole CreateConsole(TextWriter output)
    {
        var terminal = ReferenceEquals(output, Console.Out) ? !Console.IsOutputRedirected
            : ReferenceEquals(output, Console.Error) && !Console.IsErrorRedirected;
        return AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
    }

    /// <summary>
    /// Ctrl-C (SIGINT) and SIGTERM (docker stop, Kubernetes, systemd) cancel the token instead of killing the process, so work
    /// ends cleanly, with a summary. The one place that handles these signals: Program turns System.CommandLine's own handling
    /// off, whose 2 s timeout would end the process (exit 143) in the middle of a clean shutdown.
    /// </summary>
    public static CancellationTokenSource CancelOnStopSignals() => new StopSignalCancellationSource();

    /// <summary>
    /// Cancels on SIGINT or SIGTERM while alive. Disposing it unhooks the handlers and, under the same lock, marks it disposed,
    /// so a signal that arrives during or after shutdown (a handler already running, a second signal) never cancels a
    /// disposed source.
    /// </summary>
    private sealed class StopSignalCancellationSource : CancellationTokenSource
    {
        private readonly Lock _gate = new();
        private readonly PosixSignalRegistration _interrupt;
        private readonly PosixSignalRegistration _terminate;
        private bool _disposed;

        public StopSignalCancellationSource()
        {
            _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        }

        private void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            lock (_gate)
            {
                if (!_disposed)
                    Cancel();
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _interrupt.Dispose();
                _terminate.Dispose();
                lock (_gate)
                    _disposed = true;
            }
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

    /// <summary>
    /// The configured processor settings (appsettings.json + environment) for an evaluation, so it scores as `run` would;
    /// null, after printing the configuration error, when they are invalid.
    /// </summary>
    public static Streaming.Processing.Pipeline.ProcessorSettings? LoadEvaluationTemplate()
    {
        try
        {
            return StreamingSettings.Load().ToProcessorSettings();
        }
        catch (OptionsException ex)
        {
            ReportConfigurationError(ex);
            return null;
        }
    }

    public static int ReportConfigurationError(OptionsException ex)
    {
        Console.Error.WriteLine(ex.Message);
        return 2;
    }
}
