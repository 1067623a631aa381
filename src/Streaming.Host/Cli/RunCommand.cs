using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Npgsql;
using Streaming.Host.Api;
using Streaming.Host.Configuration;
using Streaming.Host.Operations;
using Streaming.Host.Modeling;
using Streaming.Host.Pipeline;
using Streaming.Models.Pipeline;
using Streaming.Kafka;

namespace Streaming.Host.Cli;

/// <summary>The pipeline roles one process runs.</summary>
[Flags]
internal enum Roles
{
    None = 0,
    Processor = 1,
    Sink = 2,
    Api = 4,
    Scorer = 8,
    All = Processor | Sink | Api,
}

internal static class RunCommand
{
    public static Command Create()
    {
        var role = new Option<string[]>("--role")
        {
            Description = "processor, scorer (with Processor:Scoring=Separate), sink or api; repeat or comma-separate; default all",
            AllowMultipleArgumentsPerToken = false,
        };
        var port = new Option<int?>("--port") { Description = "HTTP port for /metrics, /health/* and the API (default Http:Port, 8080)" };
        var verbose = new Option<bool>("--verbose") { Description = "Log component start-up and rebalances" };
        var command = new Command("run", """
            Runs pipeline roles until Ctrl-C, each scalable on its own (run more processes with the same role; Kafka's
            consumer groups share the partitions):
              processor  telemetry → windows → features, and with Processor:Scoring=Inline (the default) also
                         → scores → alerts and downtime predictions
              scorer     features → scores → alerts and downtime predictions; needs Processor:Scoring=Separate, where
                         processors publish features only and scorers scale on their own (group Processor:ScorerGroupId)
              sink       every topic → TimescaleDB
              api        POST /api/v1/metrics (ingest) and POST /api/v1/score
            Every role serves /metrics (Prometheus) and /health/live, /health/ready on Http:Address:Http:Port (127.0.0.1:8080;
            Http__Expose=true and Http__ApiKeys__0=KEY serve beyond loopback, with the API behind that key).

              streaming run                                      # all roles in one process
              KAFKA_BOOTSTRAP_SERVERS=kafka:9092 streaming run --role processor --port 8081
              streaming run --role sink --role api
              Processor__Scoring=Separate streaming run --role processor      # windows and features only
              Processor__Scoring=Separate streaming run --role scorer         # scores, alerts, predictions

            Scoring uses the registry's active model bundle (hot reload). Models:Scorer=Ensemble (the default) combines the
            online detectors with the bundle's forecaster and VAE by their anomaly likelihoods; Models:Scorer=Telemanom scores
            each covered entity by the bundle's LSTM forecaster under telemanom's dynamic error threshold (Telemanom:*).
            Entities no bundle covers are scored by the online detectors either way.

            Processor and scorer pause their partitions while Processor:MaxInFlightBatches (4) processed batches wait for
            their publish transaction, and resume at half, so memory stays bounded when Kafka or the model falls behind.
            """) { role, port, verbose };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!TryParseRoles(parse.GetValue(role) ?? [], out var roles, out var problem))
            {
                Console.Error.WriteLine(problem);
                return 2;
            }
            StreamingSettings settings;
            try
            {
                settings = StreamingSettings.Load(parse.GetValue(port) is { } p
                    ? [new("Http:Port", p.ToString(CultureInfo.InvariantCulture))]
                    : null);
                if (roles.HasFlag(Roles.Api))
                    settings.Http.ValidateForApi();
                if (!TryResolveScoring(ref roles, settings.Processor.Scoring, out problem))
                {
                    Console.Error.WriteLine(problem);
                    return 2;
                }
            }
            catch (OptionsException ex)
            {
                return CliSupport.ReportConfigurationError(ex);
            }
            // Other `streaming run` processes (other roles) may share the private database: it stays up (`streaming db stop`).
            LocalDatabases.KeepRunning("streaming run");
            using var loggers = CliSupport.CreateLoggerFactory(parse.GetValue(verbose));
            // Orchestrators (docker stop, Kubernetes) send SIGTERM: it stops the roles cleanly as Ctrl-C does.
            using var cts = CliSupport.CancelOnStopSignals();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cts.Token, cancellationToken);
            try
            {
                return await RunAsync(settings, roles, loggers, TimeProvider.System, linked.Token).ConfigureAwait(false);
            }
            catch (TopicLayoutException ex)
            {
                Console.Error.WriteLine(ex.Message);
                return 2;
            }
        });
        return command;
    }

    internal static bool TryParseRoles(IEnumerable<string> values, out Roles roles, out string problem)
    {
        roles = Roles.None;
        problem = "";
        foreach (var value in values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            switch (value.ToLowerInvariant())
            {
                case "processor": roles |= Roles.Processor; break;
                case "scorer": roles |= Roles.Scorer; break;
                case "sink": roles |= Roles.Sink; break;
                case "api": roles |= Roles.Api; break;
                default:
                    problem = $"--role '{value}' is not a role; use processor, scorer, sink or api.";
                    return false;
            }
        }
        if (roles == Roles.None)
            roles = Roles.All;
        return true;
    }

    /// <summary>
    /// The scorer role exists only when processors leave scoring to it (<c>Processor:Scoring=Separate</c>); otherwise every
    /// window would be scored twice. Running every role (no --role) with Separate scoring includes the scorer.
    /// </summary>
    internal static bool TryResolveScoring(ref Roles roles, ScoringMode scoring, out string problem)
    {
        problem = "";
        if (scoring == ScoringMode.Separate && roles == Roles.All)
            roles |= Roles.Scorer;
        if (roles.HasFlag(Roles.Scorer) && scoring != ScoringMode.Separate)
        {
            problem = "--role scorer needs Processor:Scoring=Separate (env Processor__Scoring=Separate) on every processor and " +
                      "scorer; with the default Inline the processor scores and a scorer would score every window again.";
            return false;
        }
        return true;
    }

    public static async Task<int> RunAsync(StreamingSettings settings, Roles roles, ILoggerFactory loggers, TimeProvider clock, CancellationToken stop)
    {
        if (!TryResolveScoring(ref roles, settings.Processor.Scoring, out var scoringProblem))
            throw new OptionsException("Processor:Scoring", scoringProblem);
        // Only the sink needs the database; the other roles scale without it.
        PipelineRuntime? runtime = null;
        Npgsql.NpgsqlDataSource? registryDatabase = null;
        KafkaCluster kafka;
        if (roles.HasFlag(Roles.Sink))
        {
            runtime = await PipelineRuntime.StartAsync(settings, loggers, clock, stop).ConfigureAwait(false);
            kafka = runtime.Kafka;
        }
        else
        {
            kafka = KafkaCluster.Connect(settings.Kafka);
            try
            {
                await kafka.EnsureTopicsAsync(settings.Topics.Layout,
                    message => RuntimeLog.TopicCheckLimited(loggers.CreateLogger("Streaming.Runtime"), message), stop).ConfigureAwait(false);
            }
            catch
            {
                kafka.Dispose();
                throw;
            }
        }
        try
        {
            using var counters = new PipelineCounters();
            using var kafkaCheck = new KafkaReadinessCheck(kafka);
            // The processor and the api score with the registry's active model bundle and follow activations (hot reload).
            ModelWatcher? watcher = null;
            ModelSetProvider? models = null;
            // This process scores windows: the scorer role, or a processor scoring inline.
            var scoring = roles.HasFlag(Roles.Scorer) || (roles.HasFlag(Roles.Processor) && settings.Processor.Scoring == ScoringMode.Inline);
            ModelRegistry? registry = null;
            if (scoring || roles.HasFlag(Roles.Api))
            {
                registryDatabase = runtime?.DataSource ?? (await TrainCommand.OpenDatabaseAsync(settings, loggers, stop).ConfigureAwait(false)).DataSource;
                models = new ModelSetProvider();
                registry = new ModelRegistry(registryDatabase, RepositoryPaths.Resolve(settings.Models.Directory));
                watcher = new ModelWatcher(registry, models,
                    settings.Models.Shadow, settings.Models.ReloadInterval, loggers.CreateLogger<ModelWatcher>(), settings.Models.Scope);
                await watcher.RefreshAsync(stop).ConfigureAwait(false);
            }
            IWindowScorer scorer = models is null
                ? new BaselineWindowScorer(settings.Baseline, settings.Detection, settings.Alerts.TopContributors)
                : new EnsembleApiScorer(models, settings.Baseline, settings.Detection, settings.Ensemble, settings.Alerts.TopContributors);
            // Serializers are created once, here: with a Schema Registry the schemas are registered now, and a rejection stops start-up.
            var publishes = roles.HasFlag(Roles.Processor) || roles.HasFlag(Roles.Scorer);
            using var serializers = publishes ? await EventSerializerSet.CreateOrReportAsync(settings, Console.Error, stop).ConfigureAwait(false) : null;
            if (publishes && serializers is null)
                return 2;
            var processor = roles.HasFlag(Roles.Processor)
                ? new ProcessorWorker(settings, kafka, counters, clock, loggers.CreateLogger<ProcessorWorker>(), models: models) { Serializers = serializers }
                : null;
            var scorerWorker = roles.HasFlag(Roles.Scorer)
                ? new ScorerWorker(settings, kafka, counters, clock, loggers.CreateLogger<ScorerWorker>(), models: models) { Serializers = serializers }
                : null;
            var checks = new List<IReadinessCheck> { kafkaCheck, new ModelReadinessCheck(scorer) };
            if (processor is not null)
                checks.Add(new StateRestoreCheck(() => processor.IsRestoring));
            if (scorerWorker is not null)
                checks.Add(new StateRestoreCheck(() => scorerWorker.IsRestoring));
            if (runtime is not null)
            {
                checks.Add(new DatabaseReadinessCheck(runtime.DataSource));
                if (runtime.Capabilities.TimescaleVersion is not null)
                    checks.Add(new StoragePolicyCheck(runtime.DataSource));
            }
            var api = roles.HasFlag(Roles.Api);
            if (api)
                counters.SetActiveModel(scorer.Model, scorer.Version);
            var services = new HttpServices(new Readiness(checks, TimeSpan.FromSeconds(3)), counters, api ? kafka : null, api ? scorer : null);
            await using var server = await HttpServer.StartAsync(settings, services, clock, loggers, stop).ConfigureAwait(false);

            Console.WriteLine($"Streaming roles: {roles.ToString().ToLowerInvariant()}");
            Console.WriteLine($"  Kafka     {(kafka.IsEmbedded ? "embedded" : "external")} at {kafka.BootstrapServers}");
            if (runtime is not null)
                Console.WriteLine($"  Database  {Redact(runtime.ConnectionString)}");
            Console.WriteLine($"  HTTP      {server.Address} (/metrics, /health/live, /health/ready{(api ? ", POST /api/v1/metrics, POST /api/v1/score" : "")})");
            Console.WriteLine("Ctrl-C stops.");

            using var workersStop = CancellationTokenSource.CreateLinkedTokenSource(stop);
            var workers = new List<(string Role, Task Task)>();
            if (serializers is not null)
                Console.WriteLine($"  Values    {serializers.Describe()}");
            if (scoring)
            {
                Console.WriteLine($"  Models    {(models!.Active is { } active ? $"{settings.Models.Scorer.ToString().ToLowerInvariant()} over version {active.Version}" : "none active: robust baseline only (`streaming train` makes one)")}");
            }
            if (watcher is not null)
                workers.Add(("model watcher", watcher.RunAsync(workersStop.Token)));
            if (processor is not null)
            {
                Console.WriteLine($"  Processor scoring {settings.Processor.Scoring.ToString().ToLowerInvariant()}, at most {settings.Processor.MaxInFlightBatches} batches in flight");
                workers.Add(("processor", processor.RunAsync(workersStop.Token)));
            }
            if (scorerWorker is not null)
                workers.Add(("scorer", scorerWorker.RunAsync(workersStop.Token)));
            // Drift is watched where windows are scored (the processor inline, or the scorer role).
            if (scoring && settings.Drift.Enabled)
                workers.Add(("drift monitor", DriftWorker.Create(settings, kafka, models!, registry!, registryDatabase!, counters, clock, loggers).RunAsync(workersStop.Token)));
            using var maintenance = runtime?.CreateMaintenance(loggers, clock);
            if (runtime is not null)
            {
                workers.Add(("sink", new SinkWorker(settings, kafka, runtime.Writer, counters, clock, loggers.CreateLogger<SinkWorker>()).RunAsync(workersStop.Token)));
                workers.Add(("maintenance", maintenance!.RunAsync(workersStop.Token)));
            }
            var stopped = new TaskCompletionSource();
            await using (stop.Register(() => stopped.TrySetResult()))
                await Task.WhenAny(workers.Select(w => w.Task).Append(stopped.Task)).ConfigureAwait(false);
            // One role failing stops the others: a half-running process would look healthy to an orchestrator.
            await workersStop.CancelAsync().ConfigureAwait(false);
            var exitCode = 0;
            foreach (var (role, task) in workers)
            {
                await Task.WhenAny(task).ConfigureAwait(false);
                if (task.IsFaulted)
                {
                    Console.Error.WriteLine($"The {role} stopped with an error: {task.Exception!.GetBaseException().Message}");
                    exitCode = 1;
                }
            }
            return exitCode;
        }
        finally
        {
            if (registryDatabase is not null && !ReferenceEquals(registryDatabase, runtime?.DataSource))
                await registryDatabase.DisposeAsync().ConfigureAwait(false);
            if (runtime is not null)
                await runtime.DisposeAsync().ConfigureAwait(false);
            else
                kafka.Dispose();
        }
    }

    private static string Redact(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return $"{builder.Host}:{builder.Port}/{builder.Database} (user {builder.Username})";
    }
}
