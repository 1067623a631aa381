using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Npgsql;
using Spectre.Console;
using Streaming.Host.Configuration;
using Streaming.Host.Modeling;
using Streaming.Host.Pipeline;
using Streaming.Kafka;
using Streaming.Models.Pipeline;
using Streaming.Simulation;
using Streaming.Storage;

namespace Streaming.Host.Cli;

internal static class TrainCommand
{
    public static Command Create()
    {
        var entities = new Option<int?>("--entities") { Description = "Simulated machines to learn from (default 6)" };
        var days = new Option<double?>("--days") { Description = "Simulated days of history (default 1.5)" };
        var epochs = new Option<int?>("--epochs") { Description = "Maximum epochs per model (early stopping may end sooner; default 6)" };
        var seed = new Option<int?>("--seed") { Description = "Seed for the simulator and the initial weights" };
        var noActivate = new Option<bool>("--no-activate") { Description = "Register as a candidate instead of activating it" };
        var command = new Command("train", """
            Trains a model bundle — LSTM forecaster, VAE and downtime predictor — from a simulated fleet's history with
            labelled failures, run through the production windowing code; shows progress, prints validation metrics and the
            calibrated thresholds, saves safetensors + manifests under Models:Directory, registers the version in the
            model_registry table and activates it (running pipelines switch at their next window).

              streaming train
              streaming train --entities 20 --days 3 --epochs 12 --no-activate   # a candidate, e.g. for shadow mode
            """) { entities, days, epochs, seed, noActivate };
        command.SetAction(async (parse, cancellationToken) =>
        {
            StreamingSettings settings;
            try
            {
                var overrides = new List<KeyValuePair<string, string?>>();
                if (parse.GetValue(entities) is { } e)
                    overrides.Add(new("Training:Entities", e.ToString(CultureInfo.InvariantCulture)));
                if (parse.GetValue(days) is { } d)
                    overrides.Add(new("Training:SimulatedSpan", TimeSpan.FromDays(d).ToString("c", CultureInfo.InvariantCulture)));
                if (parse.GetValue(epochs) is { } n)
                    overrides.Add(new("Training:Epochs", n.ToString(CultureInfo.InvariantCulture)));
                if (parse.GetValue(seed) is { } s)
                    overrides.Add(new("Training:Seed", s.ToString(CultureInfo.InvariantCulture)));
                settings = StreamingSettings.Load(overrides);
            }
            catch (OptionsException ex)
            {
                return CliSupport.ReportConfigurationError(ex);
            }
            using var loggers = CliSupport.CreateLoggerFactory(verbose: false);
            var (dataSource, _) = await OpenDatabaseAsync(settings, loggers, cancellationToken).ConfigureAwait(false);
            await using (dataSource.ConfigureAwait(false))
            {
                var registry = new ModelRegistry(dataSource, RepositoryPaths.Resolve(settings.Models.Directory));
                await TrainAndRegisterAsync(settings, registry, activate: !parse.GetValue(noActivate), cancellationToken).ConfigureAwait(false);
            }
            return 0;
        });
        return command;
    }

    /// <summary>The database the registry lives in: the configured one, or the private local cluster (started if needed).</summary>
    public static async Task<(NpgsqlDataSource DataSource, StorageCapabilities Capabilities)> OpenDatabaseAsync(
        StreamingSettings settings, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger("Streaming.Models");
        var connectionString = settings.Storage.ConnectionString;
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            var local = await LocalPostgres.StartAsync(new LocalPostgresOptions
            {
                StateDirectory = RepositoryPaths.Resolve(settings.Storage.StateDirectory),
                Port = settings.Storage.Port,
            }, logger, cancellationToken).ConfigureAwait(false);
            connectionString = await local.CreateDatabaseAsync(settings.Storage.Database, withTimescale: true, cancellationToken).ConfigureAwait(false);
        }
        var capabilities = await DatabaseMigrator.ApplyAsync(connectionString, logger, cancellationToken).ConfigureAwait(false);
        return (NpgsqlDataSource.Create(connectionString), capabilities);
    }

    public static async Task<RegisteredModel> TrainAndRegisterAsync(StreamingSettings settings, ModelRegistry registry, bool activate, CancellationToken cancellationToken)
    {
        var training = settings.Training;
        var version = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        SimulatorTrainingData? data = null;
        ModelBundle? bundle = null;
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                var simulate = context.AddTask($"simulate {training.Entities} machines × {training.SimulatedSpan.TotalDays:0.#} days");
                var stages = new Dictionary<string, ProgressTask>
                {
                    ["forecaster"] = context.AddTask("train LSTM forecaster", autoStart: false),
                    ["vae"] = context.AddTask("train LSTM-VAE", autoStart: false),
                    ["downtime"] = context.AddTask("train downtime predictor", autoStart: false),
                };
                var start = DateTimeOffset.UtcNow.Date.AddDays(-training.SimulatedSpan.TotalDays - 1);
                await Task.Run(() =>
                {
                    data = SimulatorTrainingData.Generate(
                        settings.Simulator with
                        {
                            Entities = training.Entities, Seed = training.Seed, Start = new DateTimeOffset(start, TimeSpan.Zero),
                            IncidentsPerEntityDay = training.IncidentsPerEntityDay,
                        },
                        settings.Windows.ToOptions(), training.SimulatedSpan, new SyncProgress<double>(f => simulate.Value = f * 100));
                    simulate.Value = 100;
                    bundle = BundleTrainer.Train(data, training, version, new SyncProgress<StageProgress>(p =>
                    {
                        var task = stages[p.Stage];
                        task.StartTask();
                        task.Value = p.Fraction * 100;
                        task.Description = $"train {p.Stage}: {p.Detail}";
                    }));
                    foreach (var task in stages.Values)
                        task.Value = 100;
                }, cancellationToken).ConfigureAwait(false);
            }).ConfigureAwait(false);

        var registered = await registry.RegisterAsync(bundle!, activate, cancellationToken).ConfigureAwait(false);
        PrintSummary(console, bundle!, data!, registered);
        return registered;
    }

    private static void PrintSummary(IAnsiConsole console, ModelBundle bundle, SimulatorTrainingData data, RegisteredModel registered)
    {
        var table = new Table().Title($"model bundle {bundle.Version} — {registered.Status}").AddColumns("model", "validation", "thresholds", "epochs");
        void Row(string name, Streaming.Models.Serialization.ModelArtifact? artifact)
        {
            if (artifact is null)
                return;
            var m = artifact.Manifest;
            table.AddRow(name,
                string.Join(", ", m.ValidationMetrics.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value:0.####}")),
                m.Thresholds.Count == 0 ? "-" : string.Join(", ", m.Thresholds.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value:0.###}")),
                m.Architecture.TrainingHyperParameters.GetValueOrDefault("epochs").ToString(CultureInfo.InvariantCulture));
        }
        Row("lstm-forecaster", bundle.Forecaster);
        Row("vae", bundle.Vae);
        Row("downtime-predictor", bundle.Downtime);
        console.Write(table);
        console.WriteLine($"Trained on {data.Windows:N0} windows of {data.Series.Count} machines ({data.Labels.Count(l => l.DowntimeStart is not null)} labelled downtimes); features: {string.Join(", ", bundle.Info.Features)}");
        console.WriteLine($"Saved to {registered.ArtifactPath}");
    }

    /// <summary>Reports synchronously on the calling thread (Progress&lt;T&gt; would post to the thread pool, out of order).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
