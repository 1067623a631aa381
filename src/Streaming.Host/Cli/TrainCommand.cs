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
        var entities = new Option<string?>("--entities")
        {
            Description = "Simulator: how many machines to simulate (default Training:Entities); with --from-db or --csv: which entities to learn from, comma-separated (default all)",
        };
        var days = new Option<double?>("--days") { Description = "Simulated days of history (default 1.5)" };
        var epochs = new Option<int?>("--epochs") { Description = "Maximum epochs per model (early stopping may end sooner; default 6)" };
        var seed = new Option<int?>("--seed") { Description = "Seed for the simulator and the initial weights" };
        var refitDowntime = new Option<bool>("--refit-downtime")
        {
            Description = "Retrain the downtime predictor on all its samples (validation ones too) for the first fit's best epoch count (Training:RefitDowntime)",
        };
        var forecasterOutputs = new Option<int?>("--forecaster-outputs")
        {
            Description = "Predict only the first N features (1: the first metric's mean, telemanom's single-output forecaster for Models:Scorer=Telemanom; default all; Training:ForecasterOutputs)",
        };
        var noActivate = new Option<bool>("--no-activate") { Description = "Register as a candidate instead of activating it" };
        var fromDb = new Option<bool>("--from-db") { Description = "Learn from the metrics history in TimescaleDB (the table the sink writes)" };
        var csv = new Option<FileInfo?>("--csv") { Description = "Learn from a recorded file in a format `streaming replay` reads (NAB CSV, C-MAPSS text, telemetry JSON lines)" };
        var metric = new Option<string>("--metric") { Description = "NAB CSV: the metric name of the value column", DefaultValueFactory = _ => "value" };
        var since = new Option<DateTimeOffset?>("--since") { Description = "History from this time (UTC unless an offset is given), e.g. 2026-11-20T00:00Z" };
        var until = new Option<DateTimeOffset?>("--until") { Description = "History up to (excluding) this time" };
        var perEntityOption = new Option<bool>("--per-entity")
        {
            Description = "With --from-db or --csv: train every entity's own version (or those named by --entities), skipping, and naming, the ones with too little history",
        };
        var entity = new Option<string?>("--entity")
        {
            Description = "With --from-db or --csv: train per-entity versions, one for each named entity (comma-separated) on its own history; they score those entities when Models:Scope=PerEntity",
        };
        var command = new Command("train", """
            Trains a model bundle — LSTM forecaster, VAE and (from the simulator's labelled failures) downtime predictor —
            through the production windowing code; shows progress, prints validation metrics and the calibrated thresholds,
            saves safetensors + manifests under Models:Directory, registers the version in the model_registry table and
            activates it (running pipelines switch at their next window).

            Sources: a simulated fleet (default), the database's metrics history (--from-db), or a recorded file (--csv).
            Recorded history has no failure labels, so it trains the anomaly models only; each entity needs at least
            Training:MinWindowsPerEntity windows (default 60) and entities with fewer are left out and named.

              streaming train
              streaming train --entities 20 --days 3 --epochs 12 --no-activate   # a candidate, e.g. for shadow mode
              streaming train --from-db --since 2026-11-20T00:00Z --entities web-1,web-2
              streaming train --csv data/realKnownCause/machine_temperature_system_failure.csv --metric temperature
              streaming train --from-db --entity db-1   # db-1's own version (Models__Scope=PerEntity uses it)
              streaming train --from-db --per-entity    # every entity with enough history gets its own version
            """) { entities, days, epochs, seed, refitDowntime, forecasterOutputs, noActivate, fromDb, csv, metric, since, until, entity, perEntityOption };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var history = parse.GetValue(fromDb) || parse.GetValue(csv) is not null;
            if (parse.GetValue(fromDb) && parse.GetValue(csv) is not null)
            {
                Console.Error.WriteLine("--from-db and --csv each name the history to learn from; give one of them.");
                return 2;
            }
            if (!history && (parse.GetValue(since) is not null || parse.GetValue(until) is not null || parse.GetValue(entity) is not null || parse.GetValue(perEntityOption)))
            {
                Console.Error.WriteLine("--since, --until, --entity and --per-entity select recorded history; add --from-db or --csv.");
                return 2;
            }
            if (parse.GetValue(entity) is not null && parse.GetValue(perEntityOption))
            {
                Console.Error.WriteLine("--entity names the entities to train their own versions for, --per-entity trains every entity's; give one of them.");
                return 2;
            }
            StreamingSettings settings;
            IReadOnlyList<string> entityNames = [];
            try
            {
                var overrides = new List<KeyValuePair<string, string?>>();
                if (parse.GetValue(entities) is { } e)
                {
                    if (history)
                        entityNames = e.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    else if (int.TryParse(e, NumberStyles.None, CultureInfo.InvariantCulture, out var count))
                        overrides.Add(new("Training:Entities", count.ToString(CultureInfo.InvariantCulture)));
                    else
                    {
                        Console.Error.WriteLine($"--entities '{e}': without --from-db or --csv it is the number of machines to simulate, e.g. --entities 20.");
                        return 2;
                    }
                }
                if (parse.GetValue(days) is { } d)
                    overrides.Add(new("Training:SimulatedSpan", TimeSpan.FromDays(d).ToString("c", CultureInfo.InvariantCulture)));
                if (parse.GetValue(epochs) is { } n)
                    overrides.Add(new("Training:Epochs", n.ToString(CultureInfo.InvariantCulture)));
                if (parse.GetValue(seed) is { } s)
                    overrides.Add(new("Training:Seed", s.ToString(CultureInfo.InvariantCulture)));
                if (parse.GetValue(refitDowntime))
                    overrides.Add(new("Training:RefitDowntime", "true"));
                if (parse.GetValue(forecasterOutputs) is { } outputs)
                    overrides.Add(new("Training:ForecasterOutputs", outputs.ToString(CultureInfo.InvariantCulture)));
                settings = StreamingSettings.Load(overrides);
            }
            catch (OptionsException ex)
            {
                return CliSupport.ReportConfigurationError(ex);
            }
            if (parse.GetValue(csv) is { Exists: false } missing)
            {
                Console.Error.WriteLine($"--csv: '{missing.FullName}' does not exist.");
                return 2;
            }
            using var loggers = CliSupport.CreateLoggerFactory(verbose: false);
            var (dataSource, _) = await OpenDatabaseAsync(settings, loggers, cancellationToken).ConfigureAwait(false);
            await using (dataSource.ConfigureAwait(false))
            {
                var registry = new ModelRegistry(dataSource, RepositoryPaths.Resolve(settings.Models.Directory));
                var activate = !parse.GetValue(noActivate);
                if (!history)
                {
                    try
                    {
                        await TrainAndRegisterAsync(settings, registry, activate, cancellationToken).ConfigureAwait(false);
                    }
                    catch (TrainingDataException ex)
                    {
                        Console.Error.WriteLine(ex.Message);
                        return 2;
                    }
                    return 0;
                }
                var query = new HistoryQuery(parse.GetValue(since), parse.GetValue(until), entityNames);
                var source = parse.GetValue(csv) is { } file
                    ? TrainingSource.File(file.FullName, parse.GetValue(metric)!)
                    : TrainingSource.Database(dataSource);
                try
                {
                    var perEntity = parse.GetValue(entity)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
                    if (parse.GetValue(perEntityOption))
                        await TrainPerEntityAsync(settings, registry, source, query, activate, Console.Out, cancellationToken).ConfigureAwait(false);
                    else if (perEntity.Length == 0)
                        await TrainFromHistoryAsync(settings, registry, source, query, activate, version: null, Console.Out, cancellationToken).ConfigureAwait(false);
                    foreach (var one in perEntity)
                        await TrainFromHistoryAsync(settings, registry, source, query, activate, version: null, Console.Out, cancellationToken, one).ConfigureAwait(false);
                }
                catch (TrainingDataException ex)
                {
                    Console.Error.WriteLine(ex.Message);
                    return 2;
                }
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
            var local = await LocalDatabases.StartAsync(settings.Storage, logger, cancellationToken).ConfigureAwait(false);
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
        var console = CliSupport.CreateConsole(Console.Out);
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
                if (training.RefitDowntime)
                    stages["downtime refit"] = context.AddTask("refit downtime predictor on all samples", autoStart: false);
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

    /// <summary>
    /// Trains a bundle from recorded history (the metrics table or a file) through the production windowing code, prints
    /// the summary and registers it. Throws <see cref="TrainingDataException"/> when the history cannot train a model.
    /// </summary>
    /// <param name="entity">Train a per-entity bundle on this entity's history alone (registered for it; used with Models:Scope=PerEntity).</param>
    public static async Task<RegisteredModel> TrainFromHistoryAsync(StreamingSettings settings, ModelRegistry registry, TrainingSource source,
        HistoryQuery query, bool activate, string? version, TextWriter output, CancellationToken cancellationToken, string? entity = null)
    {
        var training = settings.Training;
        version ??= DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)
            + (entity is null ? "" : "-" + string.Concat(entity.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_')));
        if (entity is not null)
            query = query with { Entities = [entity] };
        SimulatorTrainingData? data = null;
        ModelBundle? bundle = null;
        IReadOnlyList<(string Entity, int Windows)> dropped = [];
        long late = 0;
        var invalid = new System.Runtime.CompilerServices.StrongBox<long>(0);
        var errors = new List<string>();
        var console = CliSupport.CreateConsole(output);
        var rows = source.DataSource is { } db ? await HistorySources.CountDatabaseRowsAsync(db, query, cancellationToken).ConfigureAwait(false) : 0;
        if (source.DataSource is not null && rows == 0)
            throw new TrainingDataException($"No metric history in the database for {query.Describe()}: the sink writes the metrics table while `streaming run` (sink role) or the demo runs. Widen --since/--until or check --entities.");
        await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                var read = context.AddTask(source.DataSource is null ? $"read {Path.GetFileName(source.Path)} and window it" : $"read {rows:N0} metric rows and window them");
                var stages = new Dictionary<string, ProgressTask>
                {
                    ["forecaster"] = context.AddTask("train LSTM forecaster", autoStart: false),
                    ["vae"] = context.AddTask("train LSTM-VAE", autoStart: false),
                };
                await Task.Run(() =>
                {
                    var samples = source.DataSource is { } database
                        ? HistorySources.ReadDatabase(database, query, n => read.Value = 100.0 * n / Math.Max(1, rows))
                        : HistorySources.ReadFile(source.Path!, query, source.Metric, settings.Ingest.ToLimits(), DateTimeOffset.UtcNow, errors, invalid);
                    var all = SimulatorTrainingData.FromSamples(source.DataSource is null ? "csv" : "database", samples, settings.Windows.ToOptions(), out late);
                    read.Value = 100;
                    if (all.Series.Count == 0)
                        throw new TrainingDataException(source.DataSource is null
                            ? $"'{source.Path}' holds no samples for {query.Describe()}" + (invalid.Value > 0 ? $"; {invalid.Value:N0} invalid lines, e.g. {string.Join("; ", errors)}" : "")
                            : $"No metric history in the database for {query.Describe()}.");
                    var missing = query.Entities.Where(e => all.Series.All(s => s.Entity != e)).ToList();
                    if (missing.Count > 0)
                        throw new TrainingDataException($"--entities names {string.Join(", ", missing)}, which have no history for {query.Describe()}; entities with history: {string.Join(", ", all.Series.Select(s => s.Entity).Take(20))}.");
                    data = all.WithMinimumWindows(training.MinWindowsPerEntity, out dropped);
                    var tooShort = $"{training.MinWindowsPerEntity} windows ({training.MinWindowsPerEntity} × {settings.Windows.Size} of history; Training:MinWindowsPerEntity)";
                    if (data.Series.Count == 0)
                        throw new TrainingDataException($"Too little history: every entity has fewer than the {tooShort} an entity needs to be trained on: " +
                            string.Join(", ", dropped.Take(20).Select(d => $"{d.Entity} {d.Windows}")) + ". Collect more history or widen --since/--until.");
                    if (query.Entities.Count > 0 && dropped.Count > 0)
                        throw new TrainingDataException($"Too little history for {string.Join(", ", dropped.Select(d => $"{d.Entity} ({d.Windows} windows)"))}: each needs {tooShort}.");
                    bundle = BundleTrainer.Train(data, training, version, new SyncProgress<StageProgress>(p =>
                    {
                        var task = stages[p.Stage];
                        task.StartTask();
                        task.Value = p.Fraction * 100;
                        task.Description = $"train {p.Stage}: {p.Detail}";
                    }));
                    if (entity is not null)
                        bundle = new ModelBundle(bundle.Info with { Entity = entity }, bundle.Forecaster, bundle.Vae, bundle.Downtime);
                    foreach (var task in stages.Values)
                        task.Value = 100;
                }, cancellationToken).ConfigureAwait(false);
            }).ConfigureAwait(false);

        var registered = await registry.RegisterAsync(bundle!, activate, cancellationToken).ConfigureAwait(false);
        PrintSummary(console, bundle!, data!, registered);
        if (entity is not null)
            console.WriteLine($"A per-entity version for {entity}: it scores {entity} when Models:Scope=PerEntity{(activate ? "" : " once activated")}; every other entity keeps the fleet version.");
        if (dropped.Count > 0)
            console.WriteLine($"Left out (fewer than {training.MinWindowsPerEntity} windows; scored by the robust baseline): {string.Join(", ", dropped.Select(d => $"{d.Entity} {d.Windows}"))}");
        if (late > 0 || invalid.Value > 0)
            console.WriteLine($"Skipped {invalid.Value:N0} invalid lines and {late:N0} late samples{(errors.Count > 0 ? $" (e.g. {string.Join("; ", errors)})" : "")}");
        console.WriteLine("No downtime predictor: recorded history carries no labelled downtimes (`streaming train` without a source learns it from the simulator).");
        return registered;
    }

    /// <summary>
    /// <c>train --per-entity</c>: one version per entity in the history (or in <paramref name="query"/>'s entities), each
    /// trained on that entity alone; an entity whose history cannot train one is named with the reason and skipped.
    /// Throws <see cref="TrainingDataException"/> when no entity could be trained.
    /// </summary>
    public static async Task<IReadOnlyList<RegisteredModel>> TrainPerEntityAsync(StreamingSettings settings, ModelRegistry registry, TrainingSource source,
        HistoryQuery query, bool activate, TextWriter output, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> entities = query.Entities.Count > 0 ? query.Entities
            : source.DataSource is { } db ? await HistorySources.ListDatabaseEntitiesAsync(db, query, cancellationToken).ConfigureAwait(false)
            : HistorySources.ReadFile(source.Path!, query, source.Metric, settings.Ingest.ToLimits(), DateTimeOffset.UtcNow, [], new System.Runtime.CompilerServices.StrongBox<long>(0))
                .Select(s => s.Entity).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (entities.Count == 0)
            throw new TrainingDataException($"No history for {query.Describe()}: nothing to train per entity.");
        var registered = new List<RegisteredModel>();
        var skipped = new List<string>();
        foreach (var entity in entities)
        {
            try
            {
                registered.Add(await TrainFromHistoryAsync(settings, registry, source, query, activate, version: null, output, cancellationToken, entity).ConfigureAwait(false));
            }
            catch (TrainingDataException ex)
            {
                skipped.Add($"{entity}: {ex.Message}");
                await output.WriteLineAsync($"Skipped {entity}: {ex.Message}").ConfigureAwait(false);
            }
        }
        if (registered.Count == 0)
            throw new TrainingDataException($"No entity has enough history for its own version: {string.Join(" ", skipped)}");
        await output.WriteLineAsync($"Per-entity versions: {registered.Count} registered ({string.Join(", ", registered.Select(r => $"{r.Entity} {r.Version}"))}), {skipped.Count} skipped; " +
            "they score their entities when Models:Scope=PerEntity.").ConfigureAwait(false);
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
        console.WriteLine($"Trained on {data.Windows:N0} windows of {data.Series.Count} entities from the {data.Source} ({data.From:yyyy-MM-dd HH:mm} to {data.To:yyyy-MM-dd HH:mm} UTC; {data.Labels.Count(l => l.DowntimeStart is not null)} labelled downtimes); features: {string.Join(", ", bundle.Info.Features)}");
        console.WriteLine($"Saved to {registered.ArtifactPath}");
    }

    /// <summary>Reports synchronously on the calling thread (Progress&lt;T&gt; would post to the thread pool, out of order).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

/// <summary>Where <c>train</c> reads recorded history: the database's metrics table, or a file.</summary>
internal sealed record TrainingSource(NpgsqlDataSource? DataSource, string? Path, string Metric)
{
    public static TrainingSource Database(NpgsqlDataSource dataSource) => new(dataSource, null, "value");

    public static TrainingSource File(string path, string metric) => new(null, path, metric);
}

/// <summary>History that cannot train a model (empty, or too short), with what is missing and how to fix it.</summary>
internal sealed class TrainingDataException(string message) : Exception(message);
