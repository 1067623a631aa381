using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Contracts.Avro;
using Streaming.Host.Cli;
using Streaming.Host.Configuration;
using Streaming.Host.Pipeline;
using Streaming.Simulation;

namespace Streaming.IntegrationTests;

/// <summary>
/// The scorer as its own role (issue 7) on the embedded broker: processors with <c>Processor:Scoring=Separate</c> publish
/// features only, the scorer turns them into scores, alerts and predictions — exactly the events of an inline run, also
/// across a scorer crash and restart.
/// </summary>
public sealed class ScorerRoleTests
{
    private List<TelemetrySample> _samples = null!;
    private int _windows;
    private Outputs _inline = null!;

    [OneTimeSetUp]
    public async Task RunInlineReference()
    {
        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-1), TimeSpan.Zero);
        var simulator = new FleetSimulator(new SimulatorOptions
        {
            Entities = 8, Seed = 9, Start = start, IncidentsPerEntityDay = 40, WarmUp = TimeSpan.FromMinutes(15),
        });
        _samples = [];
        while (simulator.Now < start.AddMinutes(90))
            simulator.NextTick(_samples);
        _windows = _samples.Select(s => (s.Entity, s.TimestampMs / 60_000)).Distinct().Count();

        var settings = await CreateTopicsAsync("inline", ScoringMode.Inline);
        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var processor = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("inline"), "inline");
        var task = processor.RunAsync(stop.Token);
        await WaitForAsync(() => processor.Processed >= _samples.Count, task, stop.Token);
        await WaitForAsync(() => CountRecords(settings.Topics.Features) >= _windows, task, stop.Token);
        _inline = await ReadOutputsAsync(settings);
        await stop.CancelAsync();
        await task;
        Assert.That(_inline.Features, Has.Count.EqualTo(_windows), "the inline run closed every window once");
        Assert.That(_inline.Scores, Is.Not.Empty, "the inline run scored windows");
        Assert.That(_inline.Alerts, Is.Not.Empty, "the inline run has alerts to compare");
    }

    [Test]
    public async Task Processor_publishing_features_and_a_separate_scorer_give_exactly_the_inline_scores_alerts_and_predictions()
    {
        var settings = await CreateTopicsAsync("separate", ScoringMode.Separate);
        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var processor = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("processor"), "separate");
        var scorer = new ScorerWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("scorer"), "separate");
        var tasks = Task.WhenAll(processor.RunAsync(stop.Token), scorer.RunAsync(stop.Token));
        await WaitForAsync(() => processor.Processed >= _samples.Count, tasks, stop.Token);
        await WaitForAsync(() => scorer.Processed >= _windows, tasks, stop.Token);
        var outputs = await ReadOutputsAsync(settings);
        await stop.CancelAsync();
        await tasks;

        AssertSameAsInline(outputs);
    }

    [Test]
    public async Task Scorer_crash_mid_stream_and_restart_gives_exactly_the_inline_scores_and_alerts()
    {
        var settings = await CreateTopicsAsync("scorer_crash", ScoringMode.Separate);
        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var processor = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("processor"), "crash");
        var processorTask = processor.RunAsync(stop.Token);
        await WaitForAsync(() => processor.Processed >= _samples.Count, processorTask, stop.Token);
        await WaitForAsync(() => CountRecords(settings.Topics.Features) >= _windows, processorTask, stop.Token);

        settings.Processor.MaxBatch = 100;
        var crashing = new ScorerWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("crashing"), "crash")
        {
            CrashAfterBatches = 3,
        };
        await crashing.RunAsync(stop.Token);
        Assert.That(crashing.Processed, Is.GreaterThan(0).And.LessThan(_windows), "the crash came mid-stream");
        var restarted = new ScorerWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("restarted"), "crash");
        var scorerTask = restarted.RunAsync(stop.Token);
        await WaitForAsync(() => crashing.Processed + restarted.Processed >= _windows, scorerTask, stop.Token);
        var outputs = await ReadOutputsAsync(settings);
        await stop.CancelAsync();
        await Task.WhenAll(processorTask, scorerTask);

        Assert.That(restarted.Replayed, Is.EqualTo(crashing.Processed), "the restart rebuilt scoring state from exactly the committed feature records");
        AssertSameAsInline(outputs);
    }

    [Test]
    public async Task A_scorer_restarted_after_snapshots_replays_only_the_features_after_them_and_gives_the_inline_events()
    {
        var settings = await CreateTopicsAsync("scorer_snapshot", ScoringMode.Separate);
        settings.Processor.Snapshots.EveryBatches = 2;
        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var processor = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("processor"), "snapshot");
        var processorTask = processor.RunAsync(stop.Token);
        await WaitForAsync(() => processor.Processed >= _samples.Count, processorTask, stop.Token);
        await WaitForAsync(() => CountRecords(settings.Topics.Features) >= _windows, processorTask, stop.Token);

        settings.Processor.MaxBatch = 100;
        var crashing = new ScorerWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("crashing"), "snapshot")
        {
            CrashAfterBatches = 5,
        };
        await crashing.RunAsync(stop.Token);
        Assert.That(crashing.Processed, Is.GreaterThan(0).And.LessThan(_windows), "the crash came mid-stream");
        Assert.That(crashing.SnapshotsWritten, Is.GreaterThan(0));
        var restarted = new ScorerWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("restarted"), "snapshot");
        var scorerTask = restarted.RunAsync(stop.Token);
        await WaitForAsync(() => crashing.Processed + restarted.Processed >= _windows, scorerTask, stop.Token);
        var outputs = await ReadOutputsAsync(settings);
        await stop.CancelAsync();
        await Task.WhenAll(processorTask, scorerTask);

        Assert.That(restarted.SnapshotsLoaded, Is.GreaterThan(0), "the restarted scorer started from snapshots");
        // The features topic is transactional: its offsets count commit markers too, so the records before each snapshot are counted, not subtracted.
        var beforeSnapshots = CountRecordsBefore(settings.Topics.Features, restarted.RestoredFrom);
        Assert.That(beforeSnapshots, Is.GreaterThan(0));
        Assert.That(restarted.Replayed, Is.EqualTo(crashing.Processed - beforeSnapshots),
            "it replayed only the committed feature records after each partition's snapshot");
        AssertSameAsInline(outputs);
    }

    [Test]
    public async Task With_avro_on_the_wire_the_scorer_reads_avro_features_and_gives_the_inline_events()
    {
        var settings = await CreateTopicsAsync("separate_avro", ScoringMode.Separate);
        settings.Serialization.Format = SerializationFormat.Avro;
        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var processor = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("processor"), "avro");
        var scorer = new ScorerWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("scorer"), "avro");
        var tasks = Task.WhenAll(processor.RunAsync(stop.Token), scorer.RunAsync(stop.Token));
        await WaitForAsync(() => processor.Processed >= _samples.Count, tasks, stop.Token);
        await WaitForAsync(() => scorer.Processed >= _windows, tasks, stop.Token);
        var features = await TestStack.ReadValuesAsync(settings.Topics.Features);
        var scores = await TestStack.ReadValuesAsync(settings.Topics.Scores);
        var alerts = await TestStack.ReadValuesAsync(settings.Topics.Alerts);
        await stop.CancelAsync();
        await tasks;

        Assert.That(features.Concat(scores).Concat(alerts).All(v => v.Length > 5 && v[0] == 0), Is.True, "every value is in the Avro wire format");
        Assert.That(counters.Rejected, Is.Zero, "the scorer decoded every Avro feature vector");
        var (actualFeatures, expectedFeatures) = (await Normalized(features, Feature), await Normalized(Utf8(_inline.Features), Feature));
        var (actualScores, expectedScores) = (await Normalized(scores, Score), await Normalized(Utf8(_inline.Scores), Score));
        var (actualAlerts, expectedAlerts) = (await Normalized(alerts, Alert), await Normalized(Utf8(_inline.Alerts), Alert));
        Assert.Multiple(() =>
        {
            Assert.That(TestStack.Difference(actualFeatures, expectedFeatures), Is.Empty, "the same feature vectors");
            Assert.That(TestStack.Difference(actualScores, expectedScores), Is.Empty, "the same scores");
            Assert.That(TestStack.Difference(actualAlerts, expectedAlerts), Is.Empty, "the same alert events");
        });
    }

    private static List<byte[]> Utf8(List<string> values) => values.Select(Encoding.UTF8.GetBytes).ToList();

    /// <summary>Each value decoded (JSON or Avro) and written back as its JSON contract, so both formats compare.</summary>
    private static async Task<List<string>> Normalized(List<byte[]> values, Func<byte[], ValueTask<string>> decode)
    {
        var decoded = new List<string>(values.Count);
        foreach (var value in values)
            decoded.Add(await decode(value));
        return decoded;
    }

    private static async ValueTask<string> Feature(byte[] value)
    {
        var read = await new EventDeserializer<FeatureVectorEvent>(AvroContracts.FeatureVector, FixedIdSchemaRegistry.Instance).ReadAsync(value, CancellationToken.None);
        return read.Success ? JsonSerializer.Serialize(read.Value, ContractsJsonContext.Default.FeatureVectorEvent) : $"unreadable: {read.Error}";
    }

    private static async ValueTask<string> Score(byte[] value)
    {
        var read = await new EventDeserializer<ScoreEvent>(AvroContracts.Score, FixedIdSchemaRegistry.Instance).ReadAsync(value, CancellationToken.None);
        return read.Success ? JsonSerializer.Serialize(read.Value, ContractsJsonContext.Default.ScoreEvent) : $"unreadable: {read.Error}";
    }

    private static async ValueTask<string> Alert(byte[] value)
    {
        var read = await new AlertRecordReader(FixedIdSchemaRegistry.Instance).ReadAsync(value, CancellationToken.None);
        return read.Anomaly is { } anomaly
            ? JsonSerializer.Serialize(anomaly with { DetectedAt = DateTimeOffset.UnixEpoch }, ContractsJsonContext.Default.AnomalyEvent)
            : read.Prediction is { } prediction
                ? JsonSerializer.Serialize(prediction, ContractsJsonContext.Default.DowntimePredictionEvent)
                : $"unreadable: {read.Error}";
    }

    [Test]
    public void Scorer_role_with_inline_scoring_is_refused_naming_the_setting()
    {
        Assert.That(RunCommand.TryParseRoles(["scorer"], out var roles, out _), Is.True);

        Assert.That(RunCommand.TryResolveScoring(ref roles, ScoringMode.Inline, out var problem), Is.False);
        Assert.That(problem, Does.Contain("Processor:Scoring=Separate"));

        var all = Roles.All;
        Assert.That(RunCommand.TryResolveScoring(ref all, ScoringMode.Separate, out _), Is.True);
        Assert.That(all.HasFlag(Roles.Scorer), Is.True, "running every role with separate scoring includes the scorer");
    }

    private void AssertSameAsInline(Outputs outputs)
    {
        Assert.Multiple(() =>
        {
            Assert.That(TestStack.Difference(outputs.Features, _inline.Features), Is.Empty, "identical feature records, each once");
            Assert.That(TestStack.Difference(outputs.Scores, _inline.Scores), Is.Empty, "identical score records, each once");
            Assert.That(TestStack.Difference(outputs.Alerts, _inline.Alerts), Is.Empty, "identical alert and prediction events, each once");
        });
    }

    private async Task<StreamingSettings> CreateTopicsAsync(string label, ScoringMode scoring)
    {
        var name = TestStack.UniqueName(label);
        var settings = TestStack.IsolatedSettings(name);
        settings.Processor.Scoring = scoring;
        settings.Processor.MaxBatch = 300;
        // Idle closing only once all input is consumed: the closing is not in the log, so it must not happen mid-run.
        settings.Processor.IdleMode = IdleMode.CloseAll;
        settings.Processor.IdleTimeout = TimeSpan.FromSeconds(8);
        settings.Validated();
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);
        if (_samples is not null)
            TestStack.Produce(settings.Topics.Telemetry, _samples);
        return settings;
    }

    private static int CountRecords(string topic) => TestStack.ReadTopicAsync(topic).GetAwaiter().GetResult().Count;

    /// <summary>Committed records before the given offset of each partition.</summary>
    private static long CountRecordsBefore(string topic, IReadOnlyDictionary<int, long> offsets)
    {
        var config = TestStack.Kafka.ConsumerConfig(TestStack.UniqueName("count"), "count");
        config.EnablePartitionEof = true;
        using var consumer = new ConsumerBuilder<string?, byte[]>(config).Build();
        var count = 0L;
        foreach (var (partition, before) in offsets)
        {
            consumer.Assign(new TopicPartitionOffset(topic, partition, Offset.Beginning));
            while (consumer.Consume(TimeSpan.FromSeconds(30)) is { IsPartitionEOF: false } record && record.Offset.Value < before)
                count++;
        }
        consumer.Close();
        return count;
    }

    private static async Task WaitForAsync(Func<bool> condition, Task workers, CancellationToken cancellationToken)
    {
        while (!condition())
        {
            if (workers.IsFaulted)
                await workers;
            if (cancellationToken.IsCancellationRequested)
                Assert.Fail("The workers did not get through the input in time.");
            await Task.Delay(500, CancellationToken.None);
        }
    }

    private sealed record Outputs(List<string> Features, List<string> Scores, List<string> Alerts);

    private static async Task<Outputs> ReadOutputsAsync(StreamingSettings settings) => new(
        await TestStack.ReadTopicAsync(settings.Topics.Features),
        await TestStack.ReadTopicAsync(settings.Topics.Scores),
        (await TestStack.ReadTopicAsync(settings.Topics.Alerts)).Select(BackpressureTests.WithoutDetectionTime).ToList());
}
