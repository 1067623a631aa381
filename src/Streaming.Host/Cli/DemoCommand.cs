using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Dapper;
using Microsoft.Extensions.Logging;
using Npgsql;
using Streaming.Host.Configuration;
using Streaming.Host.Pipeline;
using Streaming.Host.Modeling;
using Streaming.Kafka;
using Streaming.Models.Pipeline;
using Streaming.Simulation;
using Streaming.Storage;

namespace Streaming.Host.Cli;

internal static class DemoCommand
{
    public static Command Create()
    {
        var duration = new Option<string>("--duration") { Description = "How long to publish, e.g. 90s, 5m, 1h", DefaultValueFactory = _ => "" };
        var forever = new Option<bool>("--forever") { Description = "Run until Ctrl-C instead of for --duration" };
        var entities = new Option<int?>("--entities") { Description = "Simulated machines (default 20)" };
        var rate = new Option<int?>("--rate") { Description = "Samples per second published (default 2000)" };
        var seed = new Option<int?>("--seed") { Description = "Simulator seed; the same seed gives the same fleet and failures" };
        var verbose = new Option<bool>("--verbose") { Description = "Log component start-up and rebalances" };
        var command = new Command("demo", """
            Runs the whole pipeline on embedded defaults: an embedded Kafka, a private PostgreSQL + TimescaleDB under .local/,
            and a simulated fleet with injected, labelled failures feeding telemetry → windows → features → scores → alerts →
            TimescaleDB. Shows a live progress line and a summary. Set KAFKA_BOOTSTRAP_SERVERS or STREAMING_PG to use your own.

              streaming demo                      # 60 s
              streaming demo --duration 5m --entities 50 --rate 5000
              streaming demo --forever            # until Ctrl-C
            """) { duration, forever, entities, rate, seed, verbose };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var overrides = new List<KeyValuePair<string, string?>>();
            var durationText = parse.GetValue(duration);
            if (!string.IsNullOrEmpty(durationText))
            {
                if (!CliSupport.TryParseDuration(durationText, out var d))
                {
                    Console.Error.WriteLine($"--duration '{durationText}' is not a duration; use e.g. 90s, 5m, 1h or 00:05:00.");
                    return 2;
                }
                overrides.Add(new("Demo:Duration", d.ToString("c", CultureInfo.InvariantCulture)));
            }
            if (parse.GetValue(entities) is { } n)
                overrides.Add(new("Simulator:Entities", n.ToString(CultureInfo.InvariantCulture)));
            if (parse.GetValue(rate) is { } r)
                overrides.Add(new("Demo:Rate", r.ToString(CultureInfo.InvariantCulture)));
            if (parse.GetValue(seed) is { } s)
                overrides.Add(new("Simulator:Seed", s.ToString(CultureInfo.InvariantCulture)));
            StreamingSettings settings;
            try
            {
                settings = StreamingSettings.Load(overrides);
            }
            catch (OptionsException ex)
            {
                return CliSupport.ReportConfigurationError(ex);
            }
            using var loggers = CliSupport.CreateLoggerFactory(parse.GetValue(verbose));
            using var cts = CliSupport.CancelOnStopSignals();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cts.Token, cancellationToken);
            try
            {
                return await RunAsync(settings, parse.GetValue(forever), loggers, linked.Token).ConfigureAwait(false);
            }
            catch (TopicLayoutException ex)
            {
                Console.Error.WriteLine(ex.Message);
                return 2;
            }
        });
        return command;
    }

    public static async Task<int> RunAsync(StreamingSettings settings, bool forever, ILoggerFactory loggers, CancellationToken stop)
    {
        var clock = TimeProvider.System;
        var started = Stopwatch.StartNew();
        Console.WriteLine("Starting Streaming demo…");
        await using var runtime = await PipelineRuntime.StartAsync(settings, loggers, clock, stop).ConfigureAwait(false);
        Console.WriteLine($"  Kafka     {(runtime.Kafka.IsEmbedded ? "embedded" : "external")} at {runtime.Kafka.BootstrapServers}  (topics: {string.Join(", ", settings.Topics.All)}, {settings.Kafka.Partitions} partitions)");
        Console.WriteLine($"  Database  {Describe(runtime)}  [{runtime.Capabilities}]");

        if (runtime.Kafka.IsEmbedded && runtime.LocalPostgres is not null)
        {
            // The embedded Kafka starts empty every run, so rows and sink offsets from an earlier run describe topics that
            // no longer exist. Start the private database's pipeline tables afresh; registered models stay.
            await ClearPipelineTablesAsync(runtime).ConfigureAwait(false);
        }
        else if (runtime.Kafka.IsEmbedded)
        {
            // A database of the user's own is never cleared: a sink group of this run's own keeps old offsets out of the way.
            settings.Sink.GroupId = $"{settings.Sink.GroupId}-{DateTime.UtcNow:yyyyMMddHHmmss}";
            Console.WriteLine($"  Note      embedded Kafka with your database: rows are added; the sink uses group {settings.Sink.GroupId}");
        }

        // Models: the active registered bundle; on a first run, train one (the pipeline never waits on this afterwards).
        var registry = new ModelRegistry(runtime.DataSource, RepositoryPaths.Resolve(settings.Models.Directory));
        if (await registry.ActiveAsync(stop).ConfigureAwait(false) is null)
        {
            Console.WriteLine("  Models    none registered yet: training a first bundle from simulated history (once)…");
            await TrainCommand.TrainAndRegisterAsync(settings, registry, activate: true, stop).ConfigureAwait(false);
        }
        var models = new ModelSetProvider();
        var watcher = new ModelWatcher(registry, models, settings.Models.Shadow, settings.Models.ReloadInterval, loggers.CreateLogger<ModelWatcher>(), settings.Models.Scope);
        await watcher.RefreshAsync(stop).ConfigureAwait(false);
        Console.WriteLine($"  Models    ensemble of online detectors + {string.Join(" + ", models.Active?.Info.Members ?? [])}, version {models.Active?.Version} (hot reload every {settings.Models.ReloadInterval.TotalSeconds:0} s)");

        var simulatedStart = DemoTimeline.SimulatedStart(clock.GetUtcNow(), forever ? null : settings.Demo.Duration, settings.Demo.Rate,
            settings.Simulator.Entities, settings.Simulator.SampleInterval);
        var simulator = new FleetSimulator(settings.Simulator with { Start = simulatedStart });
        Console.WriteLine($"  Fleet     {settings.Simulator.Entities} machines, seed {settings.Simulator.Seed}, {settings.Demo.Rate} samples/s, windows {settings.Windows.Size} (grace {settings.Windows.Grace})");

        using var counters = new PipelineCounters();
        using var workers = CancellationTokenSource.CreateLinkedTokenSource(stop);
        using var publishing = CancellationTokenSource.CreateLinkedTokenSource(stop);
        // Created once: with a Schema Registry the schemas are registered now, and a rejection stops start-up.
        using var serializers = await EventSerializerSet.CreateOrReportAsync(settings, Console.Error, stop).ConfigureAwait(false);
        if (serializers is null)
            return 2;
        Console.WriteLine($"  Values    {serializers.Describe()}");
        Console.WriteLine(forever ? "Running until Ctrl-C." : $"Running for {settings.Demo.Duration}. Ctrl-C stops early.");
        var processor = new ProcessorWorker(settings, runtime.Kafka, counters, clock, loggers.CreateLogger<ProcessorWorker>(), models: models) { Serializers = serializers };
        // With Processor:Scoring=Separate the processor publishes features only; the scorer role scores them.
        var scorer = settings.Processor.Scoring == ScoringMode.Separate
            ? new ScorerWorker(settings, runtime.Kafka, counters, clock, loggers.CreateLogger<ScorerWorker>(), models: models) { Serializers = serializers }
            : null;
        var sink = new SinkWorker(settings, runtime.Kafka, runtime.Writer, counters, clock, loggers.CreateLogger<SinkWorker>());
        var producer = new SimulatorProducer(simulator, runtime.Kafka, settings.Topics.Telemetry, settings.Demo.Rate, settings.Demo.BadRecordRate, counters, clock);
        using var maintenance = runtime.CreateMaintenance(loggers, clock);

        var startedPublishingAt = started.Elapsed;
        var processorTask = processor.RunAsync(workers.Token);
        var scorerTask = scorer?.RunAsync(workers.Token) ?? Task.CompletedTask;
        var watcherTask = watcher.RunAsync(workers.Token);
        var driftTask = settings.Drift.Enabled
            ? DriftWorker.Create(settings, runtime.Kafka, models, registry, runtime.DataSource, counters, clock, loggers).RunAsync(workers.Token)
            : Task.CompletedTask;
        var sinkTask = sink.RunAsync(workers.Token);
        if (!forever)
            publishing.CancelAfter(settings.Demo.Duration);
        var producerTask = producer.RunAsync(publishing.Token);
        var progress = new ProgressLine(counters, simulator, started);
        while (!producerTask.IsCompleted)
        {
            await Task.WhenAny(producerTask, Task.Delay(progress.Interval, CancellationToken.None)).ConfigureAwait(false);
            progress.Print(sink.IsBackingOff);
            ThrowIfFaulted(processorTask, "processor");
            ThrowIfFaulted(scorerTask, "scorer");
            ThrowIfFaulted(sinkTask, "sink");
        }
        await producerTask.ConfigureAwait(false);
        var publishingTime = started.Elapsed - startedPublishingAt;

        // Drain: let the processor and the sink catch up with everything published before stopping them.
        var drainDeadline = Stopwatch.StartNew();
        while (drainDeadline.Elapsed < TimeSpan.FromSeconds(60) && !stop.IsCancellationRequested
               && (processor.Processed < producer.Produced
                   || sink.RecordsWritten(settings.Topics.Telemetry) < producer.Produced
                   || sink.RecordsWritten(settings.Topics.Features) < counters.Windows
                   || sink.RecordsWritten(settings.Topics.Alerts) < counters.Alerts))
        {
            ThrowIfFaulted(processorTask, "processor");
            ThrowIfFaulted(scorerTask, "scorer");
            ThrowIfFaulted(sinkTask, "sink");
            await Task.Delay(200, CancellationToken.None).ConfigureAwait(false);
        }
        var drained = processor.Processed >= producer.Produced && sink.RecordsWritten(settings.Topics.Telemetry) >= producer.Produced;
        var shortfalls = Shortfalls(new DemoTally(producer.Produced, producer.Broken, counters.Accepted, counters.Rejected, counters.RejectedByReason,
            counters.Windows, sink.RecordsWritten(settings.Topics.Telemetry), sink.RecordsWritten(settings.Topics.Features)));
        await maintenance.RunOnceAsync(CancellationToken.None).ConfigureAwait(false);
        await workers.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(processorTask, scorerTask, sinkTask, watcherTask, driftTask).ConfigureAwait(false);
        progress.Print(sink.IsBackingOff);
        progress.Finish();

        await PrintSummaryAsync(runtime, counters, simulator, simulatedStart, producer, started.Elapsed, publishingTime, drained, shortfalls).ConfigureAwait(false);
        return drained && shortfalls.Count == 0 ? 0 : 1;
    }

    private static string Describe(PipelineRuntime runtime)
    {
        var builder = new NpgsqlConnectionStringBuilder(runtime.ConnectionString);
        var where = runtime.LocalPostgres is { } local ? $"private cluster in {local.ClusterDirectory}" : "configured server";
        return $"{builder.Host}:{builder.Port}/{builder.Database} ({where})";
    }

    private static void ThrowIfFaulted(Task task, string role)
    {
        if (task.IsFaulted)
            throw new InvalidOperationException($"The {role} stopped with an error.", task.Exception?.GetBaseException());
    }

    private static async Task PrintSummaryAsync(PipelineRuntime runtime, PipelineCounters counters, FleetSimulator simulator,
        DateTimeOffset simulatedStart, SimulatorProducer producer, TimeSpan elapsed, TimeSpan publishingTime, bool drained,
        IReadOnlyList<string> shortfalls)
    {
        Console.WriteLine();
        Console.WriteLine($"Summary ({elapsed.TotalSeconds:0.0} s wall, {simulator.Now - simulatedStart:g} of simulated time up to {simulator.Now:yyyy-MM-dd HH:mm} UTC)");
        Console.WriteLine($"  published   {producer.Produced,12:N0} records ({producer.Broken:N0} deliberately broken), {producer.Produced / Math.Max(0.001, publishingTime.TotalSeconds),8:N0}/s over {publishingTime.TotalSeconds:0.0} s");
        Console.WriteLine($"  accepted    {counters.Accepted,12:N0} samples into windows");
        Console.WriteLine($"  rejected    {counters.Rejected,12:N0} → dead-letter topic  {Format(counters.RejectedByReason)}");
        Console.WriteLine($"  windows     {counters.Windows,12:N0} closed (entity × window), published as features");
        Console.WriteLine($"  alerts      {counters.Alerts,12:N0} events  {Format(counters.AlertsByStatus)}");
        Console.WriteLine($"  incidents   {simulator.Labels.Count,12:N0} injected and ended  {Format(simulator.Labels.GroupBy(l => l.Kind.ToString()).ToDictionary(g => g.Key, g => (long)g.Count()))}");
        Console.WriteLine("  database rows (counted in the database):");
        await using var connection = await runtime.DataSource.OpenConnectionAsync().ConfigureAwait(false);
        foreach (var table in new[] { "metrics", "features", "anomaly_scores", "alerts", "predictions", "dead_letters" })
        {
            await using var count = new NpgsqlCommand($"SELECT count(*) FROM {table}", connection);
            var rows = (long)(await count.ExecuteScalarAsync().ConfigureAwait(false))!;
            Console.WriteLine($"    {table,-16}{rows,12:N0}");
        }
        await PrintLatestAsync(connection, Console.Out).ConfigureAwait(false);
        if (!drained)
            Console.WriteLine("  WARNING: the pipeline had not caught up within 60 s of the end; see the counts above.");
        foreach (var shortfall in shortfalls)
            Console.WriteLine($"  INCOMPLETE: {shortfall}");
        if (drained && shortfalls.Count == 0)
            Console.WriteLine("  All published records were processed and written.");
        Console.WriteLine($"Grafana: the run's data spans {simulatedStart:yyyy-MM-dd HH:mm} – {simulator.Now:yyyy-MM-dd HH:mm} UTC " +
                          "(the dashboards' default last 6 hours shows its end).");
        Console.WriteLine($"Explore: {ExploreCommand(runtime.LocalPostgres is not null, runtime.ConnectionString, "SELECT entity, status, severity, score, payload->'contributors'->0->>'metric' AS top_metric FROM alerts ORDER BY time DESC LIMIT 10")}");
    }

    /// <summary>What this run published and what became of it, from the run's own counters (not table totals).</summary>
    internal sealed record DemoTally(long Published, long DeliberatelyBroken, long Accepted, long Rejected,
        IReadOnlyDictionary<string, long> RejectedByReason, long Windows, long TelemetryWritten, long FeaturesWritten);

    /// <summary>
    /// Why the run did not do its job, one sentence each; empty when it did. Only the deliberately broken records may be
    /// dead-lettered: a dead-lettered valid sample (late, after a rerun on a persistent broker) is in no window, so it counts
    /// as missing, not as processed.
    /// </summary>
    internal static IReadOnlyList<string> Shortfalls(DemoTally tally)
    {
        var problems = new List<string>();
        var unprocessed = tally.Published - tally.Accepted - tally.Rejected;
        if (unprocessed > 0)
            problems.Add($"{unprocessed:N0} of {tally.Published:N0} published records were not processed.");
        var validRejected = tally.Rejected - tally.DeliberatelyBroken;
        if (validRejected > 0)
            problems.Add($"{validRejected:N0} valid samples were dead-lettered beyond the {tally.DeliberatelyBroken:N0} deliberately broken records " +
                         $"({string.Join(", ", tally.RejectedByReason.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value:N0}"))}); " +
                         "they are in no window. `late` after a rerun means the topics still hold an earlier run's state: use fresh topics " +
                         "(the embedded Kafka, or other Topics:* names) or continue after the earlier run's simulated time.");
        if (tally.Accepted > 0 && tally.Windows == 0)
            problems.Add($"{tally.Accepted:N0} samples were accepted but no window closed.");
        if (tally.TelemetryWritten < tally.Published)
            problems.Add($"{tally.Published - tally.TelemetryWritten:N0} of {tally.Published:N0} telemetry records were not written to the database.");
        if (tally.FeaturesWritten < tally.Windows)
            problems.Add($"{tally.Windows - tally.FeaturesWritten:N0} of {tally.Windows:N0} closed windows' features were not written to the database.");
        return problems;
    }

    /// <summary>
    /// A command line that works as printed: the private cluster through `streaming db psql` (it knows the password and starts
    /// the cluster, which the demo stops at exit); a configured server through $STREAMING_PG when that is where it came from.
    /// </summary>
    internal static string ExploreCommand(bool privateCluster, string connectionString, string sql)
    {
        if (privateCluster)
            return $"./streaming db psql -c \"{sql}\"";
        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("STREAMING_PG")))
            return $"psql \"$STREAMING_PG\" -c \"{sql}\"";
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return $"PGPASSWORD=... psql -h {builder.Host} -p {builder.Port} -U {builder.Username} -d {builder.Database} -c \"{sql}\"";
    }

    private static async Task ClearPipelineTablesAsync(PipelineRuntime runtime)
    {
        await using var connection = await runtime.DataSource.OpenConnectionAsync().ConfigureAwait(false);
        // Rollups are tables on servers without continuous aggregates and views (refreshed from metrics) on the others.
        await using var truncate = new NpgsqlCommand("""
            TRUNCATE metrics, features, anomaly_scores, alerts, predictions, dead_letters, sink_offsets, sink_batches;
            DO $$ BEGIN
              IF (SELECT relkind FROM pg_class WHERE oid = to_regclass('metrics_1m')) = 'r' THEN TRUNCATE metrics_1m; END IF;
              IF (SELECT relkind FROM pg_class WHERE oid = to_regclass('metrics_1h')) = 'r' THEN TRUNCATE metrics_1h; END IF;
            END $$;
            """, connection);
        await truncate.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    /// <summary>The newest alerts and downtime predictions with their explanations, as an operator would read them.</summary>
    internal static async Task PrintLatestAsync(NpgsqlConnection connection, TextWriter output)
    {
        output.WriteLine("  latest anomaly alerts (entity, status, score/threshold, top metrics: share, expected → actual):");
        var alerts = await connection.QueryAsync<LatestAlert>("""
            SELECT entity, status, severity, score, threshold, payload->>'contributors' AS contributors FROM alerts
            WHERE kind = 'anomaly' AND status = 'open' ORDER BY time DESC LIMIT 5
            """).ConfigureAwait(false);
        foreach (var alert in alerts)
        {
            var contributors = System.Text.Json.JsonDocument.Parse(alert.Contributors).RootElement.EnumerateArray()
                .Select(c => $"{c.GetProperty("metric").GetString()} {c.GetProperty("share").GetDouble():P0} ({c.GetProperty("expected").GetDouble():0.##} → {c.GetProperty("actual").GetDouble():0.##})");
            output.WriteLine($"    {alert.Entity} {alert.Status} {alert.Severity} {alert.Score:0.00}/{alert.Threshold:0.00}: {string.Join(", ", contributors)}");
        }
        output.WriteLine("  latest downtime predictions (entity, status, P(down within 5/15/30 min), estimated time to downtime, top metric):");
        var predictions = await connection.QueryAsync<LatestPrediction>("""
            SELECT entity, payload->>'status' AS status, p_5m AS P5m, p_15m AS P15m, p_30m AS P30m,
                   time_to_downtime_seconds AS TimeToDowntimeSeconds, top_metric AS TopMetric
            FROM predictions ORDER BY time DESC LIMIT 5
            """).ConfigureAwait(false);
        foreach (var p in predictions)
        {
            var eta = p.TimeToDowntimeSeconds is { } seconds ? $"{seconds / 60:0} min" : "?";
            output.WriteLine($"    {p.Entity} {p.Status} {p.P5m:P0}/{p.P15m:P0}/{p.P30m:P0}, down in ~{eta}, driven by {p.TopMetric ?? "?"}");
        }
    }

    private sealed record LatestAlert(string Entity, string Status, string Severity, double Score, double Threshold, string Contributors);

    private sealed record LatestPrediction(string Entity, string Status, double P5m, double P15m, double P30m, double? TimeToDowntimeSeconds, string? TopMetric);

    private static string Format(IReadOnlyDictionary<string, long> counts) =>
        counts.Count == 0 ? "" : "(" + string.Join(", ", counts.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value:N0}")) + ")";

    /// <summary>One line that rewrites itself on a terminal, or a line every few seconds when output is redirected (CI logs).</summary>
    private sealed class ProgressLine(PipelineCounters counters, FleetSimulator simulator, Stopwatch started)
    {
        private readonly bool _interactive = !Console.IsOutputRedirected;
        private long _lastProduced;
        private TimeSpan _lastAt;

        public TimeSpan Interval => _interactive ? TimeSpan.FromMilliseconds(500) : TimeSpan.FromSeconds(5);

        public void Print(bool backingOff)
        {
            var now = started.Elapsed;
            var produced = counters.Produced;
            var rate = (produced - _lastProduced) / Math.Max(0.001, (now - _lastAt).TotalSeconds);
            _lastProduced = produced;
            _lastAt = now;
            var line = $"[{now:mm\\:ss}] {produced:N0} samples ({rate:N0}/s) | windows {counters.Windows:N0} | alerts {counters.Alerts:N0} | " +
                       $"rows {counters.Rows:N0} | dead letters {counters.Rejected:N0} | sim {simulator.Now:MM-dd HH:mm}{(backingOff ? " | DB unavailable, sink paused" : "")}";
            if (_interactive)
                Console.Write("\r" + line.PadRight(Math.Min(Console.BufferWidth > 0 ? Console.BufferWidth - 1 : 160, 160)));
            else
                Console.WriteLine(line);
        }

        public void Finish()
        {
            if (_interactive)
                Console.WriteLine();
        }
    }
}
