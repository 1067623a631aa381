using System.Globalization;
using Microsoft.Extensions.Logging;
using Npgsql;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Host.Pipeline;
using Streaming.Models.Pipeline;
using Streaming.Simulation;
using Streaming.Storage;

namespace Streaming.IntegrationTests.Reliability;

/// <summary>
/// The whole pipeline — processor and sink — as its own process (`streaming run --role processor --role sink`), killed with
/// SIGKILL mid-stream and started again, compared with an uninterrupted in-process processor over the same input.
/// <para>
/// What must hold: every sample exactly once in the database (the sink commits rows and offsets in one transaction); every
/// feature, score and alert record of the uninterrupted run present, with identical values; and in the database, every
/// window's features, scores and alert events exactly once.
/// </para>
/// <para>
/// What the embedded broker allows on the topics: on a real broker the processor's outputs and its position commit in one
/// transaction, so a read_committed reader sees each output once. librdkafka's mock cluster (2.0.2, and 2.16.0 alike) neither hides aborted
/// transactional records from read_committed readers nor stores transactional offset commits, so the processor writes its
/// position to the positions topic only after the batch's outputs are flushed: a kill between that flush and the commit
/// repeats the in-flight batch's outputs after the restart (never loses them). The test therefore compares outputs by their
/// identity (entity, window, kind, model, event id), requires identical values and nothing missing, and bounds the
/// duplicates to what one in-flight batch can produce: each repeated record at most twice, and at most
/// <see cref="MaxBatch"/> samples' worth of closed windows — with samples every 10 s from <see cref="Entities"/> entities, a
/// batch advances stream time by at most MaxBatch / Entities × 10 s = 50 s, closing at most one window per entity.
/// </para>
/// </summary>
public sealed class ProcessorKillTests
{
    private const int Entities = 20;
    private const int MaxBatch = 100;

    [Test, CancelAfter(240_000)]
    public async Task Killing_the_pipeline_process_mid_stream_and_restarting_it_gives_the_uninterrupted_output(CancellationToken cancellationToken)
    {
        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-1), TimeSpan.Zero);
        var simulator = new FleetSimulator(new SimulatorOptions
        {
            Entities = Entities, Seed = 21, Start = start, IncidentsPerEntityDay = 40, WarmUp = TimeSpan.FromMinutes(15),
        });
        var samples = new List<TelemetrySample>();
        while (simulator.Now < start.AddMinutes(100))
            simulator.NextTick(samples);
        var windows = samples.Select(s => (s.Entity, s.TimestampMs / 60_000)).Distinct().Count();

        var name = TestStack.UniqueName("pkill");
        var killed = await PrepareAsync($"{name}k", samples);
        var reference = await PrepareAsync($"{name}r", samples);
        var connectionString = await TestStack.CreateDatabaseAsync(name);
        await DatabaseMigrator.ApplyAsync(connectionString, TestStack.Loggers.CreateLogger("migrate"), cancellationToken);
        await using var dataSource = NpgsqlDataSource.Create(connectionString);

        // The uninterrupted reference runs in this process meanwhile, scoring as `run` does with no model registered.
        using var referenceCounters = new PipelineCounters();
        using var stopReference = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var referenceWorker = new ProcessorWorker(reference, TestStack.Kafka, referenceCounters, TimeProvider.System,
            TestStack.Loggers.CreateLogger("reference"), $"{name}-reference", new ModelSetProvider());
        var referenceTask = referenceWorker.RunAsync(stopReference.Token);

        var environment = Reliability.Environment(killed, connectionString);
        var processedAtKill = 0L;
        using (var first = PipelineProcess.Start(environment, "processor", "sink"))
        {
            // Mid-stream: the processor has committed some batches but is far from the end.
            await Reliability.WaitUntilAsync(async () => (processedAtKill = await ProcessedAsync(first)) >= samples.Count / 4, TimeSpan.FromSeconds(90),
                "the first process handled a quarter of the input", first.Problem);
            await first.KillAsync();
        }
        var rowsAtKill = await Reliability.ScalarAsync(dataSource, "SELECT count(*) FROM metrics");
        var featureRowsAtKill = await Reliability.ScalarAsync(dataSource, "SELECT count(*) FROM features");
        var expectedRows = (long)samples.Count * FleetSimulator.MetricNames.Length;

        using (var second = PipelineProcess.Start(environment, "processor", "sink"))
        {
            await Reliability.WaitUntilAsync(async () =>
                    await Reliability.ScalarAsync(dataSource, "SELECT count(*) FROM metrics") >= expectedRows
                    && await Reliability.ScalarAsync(dataSource, "SELECT count(DISTINCT (entity, window_start)) FROM features") >= windows,
                TimeSpan.FromSeconds(150), "the restarted process wrote every sample and every window", second.Problem);
            // Give a duplicate, if there were one, the time to land before counting.
            await Task.Delay(TimeSpan.FromSeconds(3), CancellationToken.None);
            await second.KillAsync();
        }

        await Reliability.WaitUntilAsync(() => referenceCounters.Windows >= windows, TimeSpan.FromSeconds(60),
            "the reference run closed every window", () => Reliability.Stopped(referenceTask, "reference processor"));
        await stopReference.CancelAsync();
        await referenceTask;

        TestContext.Out.WriteLine($"killed after ~{processedAtKill} of {samples.Count} records processed; {rowsAtKill} of {expectedRows} metric rows " +
                                  $"and {featureRowsAtKill} of {windows * FleetSimulator.MetricNames.Length} feature rows in the database");
        Assert.Multiple(async () =>
        {
            // The sink is much faster than the processor, so it is usually through the raw samples by then (SinkKillTests
            // covers killing it mid-way); the processor, and the sink's feature rows, are mid-stream.
            Assert.That(processedAtKill, Is.LessThan(samples.Count), "the kill came mid-stream for the processor");
            Assert.That(featureRowsAtKill, Is.LessThan((long)windows * FleetSimulator.MetricNames.Length), "and for the sink's feature rows");
            Assert.That(await Reliability.ScalarAsync(dataSource, "SELECT count(*) FROM metrics"), Is.EqualTo(expectedRows), "one row per sample and metric");
            Assert.That(await Reliability.ScalarAsync(dataSource, "SELECT count(DISTINCT (entity, time)) FROM metrics"), Is.EqualTo(samples.Count), "every sample");
        });

        foreach (var (topic, kind) in new[] { (killed.Topics.Features, "features"), (killed.Topics.Scores, "scores"), (killed.Topics.Alerts, "alerts") })
        {
            var referenceTopic = kind switch { "features" => reference.Topics.Features, "scores" => reference.Topics.Scores, _ => reference.Topics.Alerts };
            var expected = await ByIdentityAsync(referenceTopic, kind);
            var actual = await ByIdentityAsync(topic, kind);
            Assert.That(expected.Values.Max(v => v.Count), Is.EqualTo(1), $"the uninterrupted run produced each {kind} record once");
            var missing = expected.Keys.Where(k => !actual.ContainsKey(k)).ToList();
            var extra = actual.Keys.Where(k => !expected.ContainsKey(k)).ToList();
            var different = actual.Where(kv => expected.TryGetValue(kv.Key, out var e) && kv.Value.Any(v => v != e[0])).Select(kv => kv.Key).ToList();
            var repeated = actual.Where(kv => kv.Value.Count > 1).ToList();
            TestContext.Out.WriteLine($"{kind}: {expected.Count} in the reference; after the kill {actual.Values.Sum(v => v.Count)} records, {repeated.Count} repeated");
            Assert.Multiple(() =>
            {
                Assert.That(missing, Is.Empty, $"no {kind} record of the uninterrupted run is missing");
                Assert.That(extra, Is.Empty, $"no {kind} record the uninterrupted run did not produce");
                Assert.That(different, Is.Empty, $"every {kind} record identical to the uninterrupted run's");
                Assert.That(repeated.Select(kv => kv.Value.Count), Has.All.EqualTo(2), $"a repeated {kind} record comes from the one in-flight batch: twice at most");
                if (kind == "features")
                    Assert.That(repeated, Has.Count.LessThanOrEqualTo(Entities), "repeats bounded by one batch's closed windows (one per entity)");
            });
        }

        // The database holds each result once, whatever the topic repeated.
        Assert.Multiple(async () =>
        {
            Assert.That(await Reliability.ScalarAsync(dataSource, "SELECT count(*) FROM features"),
                Is.EqualTo((long)windows * FleetSimulator.MetricNames.Length), "one features row per window and metric");
            Assert.That(await Reliability.ScalarAsync(dataSource, "SELECT count(*) - count(DISTINCT (entity, model, model_version, time)) FROM anomaly_scores"),
                Is.Zero, "one score row per window and model");
            Assert.That(await Reliability.ScalarAsync(dataSource, "SELECT count(*) - count(DISTINCT payload->>'event_id') FROM alerts"),
                Is.Zero, "each alert event once");
            Assert.That(await Reliability.ScalarAsync(dataSource, "SELECT count(*) FROM alerts"),
                Is.EqualTo(referenceCounters.Alerts - referenceCounters.AlertsByStatus.Where(kv => kv.Key.StartsWith("prediction_", StringComparison.Ordinal)).Sum(kv => kv.Value)),
                "as many alert rows as the uninterrupted run's anomaly alert events");
        });
    }

    private static async Task<StreamingSettings> PrepareAsync(string name, List<TelemetrySample> samples)
    {
        var settings = TestStack.IsolatedSettings(name);
        settings.Processor.MaxBatch = MaxBatch;
        settings.Sink.MaxBatch = 500;
        // Idle closing only once all input is consumed: the closing is not in the log, so it must not happen mid-run.
        settings.Processor.IdleMode = IdleMode.CloseAll;
        settings.Processor.IdleTimeout = TimeSpan.FromSeconds(8);
        settings.Validated();
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);
        TestStack.Produce(settings.Topics.Telemetry, samples);
        return settings;
    }

    /// <summary>Each output record's values by identity; a key with two values is a repeated record.</summary>
    private static async Task<Dictionary<string, List<string>>> ByIdentityAsync(string topic, string kind)
    {
        var records = await Reliability.ReadTopicAsync(TestStack.Kafka, topic);
        return records.Select(r => Reliability.WithoutDetectionTime(r.Text))
            .GroupBy(json => Reliability.Identity(kind, json), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
    }

    /// <summary>Records the child's processor has committed, from its own /metrics (0 until its HTTP server is up).</summary>
    private static async Task<long> ProcessedAsync(PipelineProcess process)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        string text;
        try
        {
            text = await http.GetStringAsync($"http://127.0.0.1:{process.Port}/metrics");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return 0;
        }
        var line = text.Split('\n').FirstOrDefault(l =>
            l.StartsWith("streaming_stage_records_total{", StringComparison.Ordinal) && l.Contains("stage=\"processor\"", StringComparison.Ordinal));
        return line is null ? 0 : (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
    }
}
