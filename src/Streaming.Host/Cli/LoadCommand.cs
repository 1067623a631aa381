using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Host.Modeling;
using Streaming.Host.Pipeline;
using Streaming.Kafka;
using Streaming.Models.Pipeline;
using Streaming.Simulation;

namespace Streaming.Host.Cli;

/// <summary>
/// `streaming load`: a sustained input rate for a fixed time through producer → processor → sink → database, in one process,
/// then throughput, end-to-end latency percentiles and consumer lag.
/// </summary>
internal static class LoadCommand
{
    public static Command Create()
    {
        var rate = new Option<int>("--rate") { Description = "Samples per second to publish (sustained)", DefaultValueFactory = _ => 2000 };
        var duration = new Option<string>("--duration") { Description = "How long to publish, e.g. 30s, 5m", DefaultValueFactory = _ => "30s" };
        var entities = new Option<int?>("--entities") { Description = "Simulated machines (default Simulator:Entities, 20)" };
        var badRate = new Option<double>("--bad-rate") { Description = "Share of deliberately malformed records (dead-letter path), 0-1", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print the summary as one JSON object on stdout (progress goes to stderr)" };
        var verbose = new Option<bool>("--verbose") { Description = "Log component start-up and rebalances" };
        var command = new Command("load", """
            Load test: publishes simulated telemetry at a sustained --rate for --duration while the processor and the sink run in
            this process, then drains and reports:
              throughput   achieved input rate; records processed and written to the database per second while loading
              latency      p50/p95/p99/max, per sample, in milliseconds:
                             processor: the sample produced → the processor batch holding it had its outputs flushed to
                                        Kafka (that batch's record in the processor-offsets topic, written after them)
                             database:  the sample produced → its metric rows committed in the database (the sink's committed
                                        Kafka offsets, polled every 100 ms: resolution 100 ms)
              lag          processor and sink consumer lag (records behind the high watermark): maximum while loading, when
                           publishing stopped, and at the end of the drain
              dead letters records rejected by the processor
            Runs on the embedded Kafka and the private database unless KAFKA_BOOTSTRAP_SERVERS / STREAMING_PG are set. Each run
            uses topics and consumer groups of its own (load-<time>-*); rows are added to the database's tables.

              streaming load --rate 5000 --duration 60s
              streaming load --rate 20000 --duration 2m --entities 200 --json > load.json
            """) { rate, duration, entities, badRate, json, verbose };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var durationText = parse.GetValue(duration)!;
            if (!CliSupport.TryParseDuration(durationText, out var length) || length <= TimeSpan.Zero)
            {
                Console.Error.WriteLine($"--duration '{durationText}' is not a positive duration; use e.g. 30s, 5m or 00:01:00.");
                return 2;
            }
            if (parse.GetValue(rate) is var r && r < 1)
            {
                Console.Error.WriteLine($"--rate must be at least 1 sample/s, was {r}.");
                return 2;
            }
            if (parse.GetValue(badRate) is var bad && bad is < 0 or > 1 || double.IsNaN(bad))
            {
                Console.Error.WriteLine($"--bad-rate must be between 0 and 1, was {bad.ToString(CultureInfo.InvariantCulture)}.");
                return 2;
            }
            var overrides = new List<KeyValuePair<string, string?>>();
            if (parse.GetValue(entities) is { } n)
                overrides.Add(new("Simulator:Entities", n.ToString(CultureInfo.InvariantCulture)));
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
            var run = new LoadRun(settings, new LoadOptions(r, length, bad, parse.GetValue(json)), loggers, TimeProvider.System);
            return await run.RunAsync(linked.Token).ConfigureAwait(false);
        });
        return command;
    }
}

internal sealed record LoadOptions(int Rate, TimeSpan Duration, double BadRate, bool Json);

/// <summary>One load run: its own topics and groups, the workers, the measurements and the summary.</summary>
internal sealed class LoadRun
{
    private static readonly byte[] BrokenRecord = Encoding.UTF8.GetBytes("{\"entity\":\"load-bad\",\"ts\":");
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(60);

    private readonly StreamingSettings _settings;
    private readonly LoadOptions _options;
    private readonly ILoggerFactory _loggers;
    private readonly TimeProvider _clock;
    private readonly TextWriter _progress;
    private readonly ProducedRecords _produced = new();
    private readonly SinkProgress _sinkProgress = new();

    public LoadRun(StreamingSettings settings, LoadOptions options, ILoggerFactory loggers, TimeProvider clock)
    {
        _options = options;
        _loggers = loggers;
        _clock = clock;
        _progress = options.Json ? Console.Error : Console.Out;
        // Topics and groups of this run only: nothing of an earlier run (or of a production pipeline) mixes in.
        settings.IsolatedAs($"load-{clock.GetUtcNow():yyyyMMdd-HHmmss}");
        // The simulated fleet runs ahead of real time (rate / entities ticks per second); its event times start far enough
        // back that they never pass the wall clock, and the accepted age covers them.
        var simulated = TimeSpan.FromTicks((long)(settings.Simulator.SampleInterval.Ticks * (options.Duration.TotalSeconds * options.Rate / settings.Simulator.Entities + 1)));
        SimulatedSpan = simulated + TimeSpan.FromMinutes(10);
        if (settings.Ingest.MaxAge is { } maxAge && maxAge < SimulatedSpan + TimeSpan.FromHours(1))
            settings.Ingest.MaxAge = SimulatedSpan + TimeSpan.FromHours(1);
        _settings = settings.Validated();
    }

    private TimeSpan SimulatedSpan { get; }

    public async Task<int> RunAsync(CancellationToken stop)
    {
        var started = _clock.GetTimestamp();
        _progress.WriteLine($"Load: {_options.Rate:N0} samples/s for {_options.Duration} from {_settings.Simulator.Entities} simulated machines");
        await using var runtime = await PipelineRuntime.StartAsync(_settings, _loggers, _clock, stop).ConfigureAwait(false);
        _progress.WriteLine($"  Kafka     {(runtime.Kafka.IsEmbedded ? "embedded" : "external")} at {runtime.Kafka.BootstrapServers}, topics {_settings.Topics.Telemetry} ... ({_settings.Kafka.Partitions} partitions)");

        var registry = new ModelRegistry(runtime.DataSource, RepositoryPaths.Resolve(_settings.Models.Directory));
        var models = new ModelSetProvider();
        var watcher = new ModelWatcher(registry, models, _settings.Models.Shadow, _settings.Models.ReloadInterval, _loggers.CreateLogger<ModelWatcher>());
        await watcher.RefreshAsync(stop).ConfigureAwait(false);
        var modelText = models.Active is { } active ? $"ensemble version {active.Version}" : "robust baseline only (no model bundle registered)";
        _progress.WriteLine($"  Models    {modelText}");

        using var counters = new PipelineCounters();
        var lag = new LagSampler(counters);
        using var workers = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var processor = new ProcessorWorker(_settings, runtime.Kafka, counters, _clock, _loggers.CreateLogger<ProcessorWorker>(), models: models);
        var sink = new SinkWorker(_settings, runtime.Kafka, runtime.Writer, counters, _clock, _loggers.CreateLogger<SinkWorker>());
        var processorTask = processor.RunAsync(workers.Token);
        // With Processor:Scoring=Separate the processor publishes features only; the scorer role scores them.
        var scorerTask = _settings.Processor.Scoring == ScoringMode.Separate
            ? new ScorerWorker(_settings, runtime.Kafka, counters, _clock, _loggers.CreateLogger<ScorerWorker>(), models: models).RunAsync(workers.Token)
            : Task.CompletedTask;
        var sinkTask = sink.RunAsync(workers.Token);
        var watcherTask = watcher.RunAsync(workers.Token);
        var monitorTask = MonitorSinkAsync(runtime.Kafka, workers.Token);

        // Publishing starts once the processor owns its partitions (a group join takes about 3 s on the embedded broker, and
        // the sink joins at the same time), so the latencies describe the steady state rather than the start-up.
        var joinStarted = _clock.GetTimestamp();
        while (processor.AssignedPartitions == 0 && _clock.GetElapsedTime(joinStarted) < TimeSpan.FromSeconds(60) && !stop.IsCancellationRequested)
        {
            ThrowIfFaulted(processorTask, "processor");
            await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
        }
        await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);

        using var publishing = CancellationTokenSource.CreateLinkedTokenSource(stop);
        publishing.CancelAfter(_options.Duration);
        var producerTask = Task.Factory.StartNew(() => Produce(runtime.Kafka, counters, publishing.Token), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var loadStarted = _clock.GetTimestamp();
        var interval = Console.IsOutputRedirected || _options.Json ? TimeSpan.FromSeconds(5) : TimeSpan.FromSeconds(1);
        var nextProgress = interval;
        while (!producerTask.IsCompleted)
        {
            await Task.WhenAny(producerTask, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None)).ConfigureAwait(false);
            lag.Sample();
            ThrowIfFaulted(processorTask, "processor");
            ThrowIfFaulted(scorerTask, "scorer");
            ThrowIfFaulted(sinkTask, "sink");
            if (_clock.GetElapsedTime(loadStarted) >= nextProgress)
            {
                nextProgress += interval;
                PrintProgress(loadStarted, counters, processor, sink, lag);
            }
        }
        await producerTask.ConfigureAwait(false);
        var loadTime = _clock.GetElapsedTime(loadStarted);
        var processedDuringLoad = processor.Processed;
        var writtenDuringLoad = sink.RecordsWritten(_settings.Topics.Telemetry);
        lag.Sample();
        var lagAtEnd = lag.Current;

        // Drain: everything published reaches the processor's outputs and the database (bounded).
        var drainStarted = _clock.GetTimestamp();
        while (_clock.GetElapsedTime(drainStarted) < DrainLimit && !stop.IsCancellationRequested
               && (processor.Processed < _produced.Count || sink.RecordsWritten(_settings.Topics.Telemetry) < _produced.Count
                   || _sinkProgress.CommittedTotal < _produced.Count
                   // The sink also stores the processor's last outputs: "final" lag is measured once it has read them too.
                   || lag.Current.Sink > 0 || lag.Current.Processor > 0))
        {
            ThrowIfFaulted(processorTask, "processor");
            ThrowIfFaulted(scorerTask, "scorer");
            ThrowIfFaulted(sinkTask, "sink");
            await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
            lag.Sample();
        }
        var drainTime = _clock.GetElapsedTime(drainStarted);
        var drained = processor.Processed >= _produced.Count && sink.RecordsWritten(_settings.Topics.Telemetry) >= _produced.Count;
        lag.Sample();
        var lagFinal = lag.Current;
        await workers.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(processorTask, scorerTask, sinkTask, watcherTask, monitorTask).ConfigureAwait(false);

        var positions = await Task.Run(() => ReadPositions(runtime.Kafka), CancellationToken.None).ConfigureAwait(false);
        var summary = new LoadSummary
        {
            Kafka = runtime.Kafka.IsEmbedded ? "embedded" : "external",
            Model = modelText,
            Cores = Environment.ProcessorCount,
            TargetRate = _options.Rate,
            Entities = _settings.Simulator.Entities,
            LoadSeconds = loadTime.TotalSeconds,
            Produced = _produced.Count,
            ProduceFailures = _produced.Failures,
            Processed = processor.Processed,
            ProcessedDuringLoad = processedDuringLoad,
            Written = sink.RecordsWritten(_settings.Topics.Telemetry),
            WrittenDuringLoad = writtenDuringLoad,
            DeadLetters = counters.Rejected,
            Windows = counters.Windows,
            Alerts = counters.Alerts,
            Drained = drained,
            DrainSeconds = drainTime.TotalSeconds,
            ProcessorLatency = Percentiles.Of(_produced.LatenciesTo(positions)),
            DatabaseLatency = Percentiles.Of(_produced.LatenciesTo(_sinkProgress.Snapshot())),
            MaxLag = lag.Max,
            LagAtEnd = lagAtEnd,
            LagFinal = lagFinal,
            WallSeconds = _clock.GetElapsedTime(started).TotalSeconds,
        };
        if (_options.Json)
            Console.Out.WriteLine(summary.ToJson());
        else
            summary.Print(Console.Out);
        return drained ? 0 : 1;
    }

    private void Produce(KafkaCluster kafka, PipelineCounters counters, CancellationToken cancellationToken)
    {
        var now = _clock.GetUtcNow();
        var simulator = new FleetSimulator(_settings.Simulator with { Start = now - SimulatedSpan });
        var config = kafka.ProducerConfig("load");
        config.QueueBufferingMaxMessages = 1_000_000;
        using var producer = new ProducerBuilder<string, byte[]>(config).Build();
        var random = new Random(_settings.Simulator.Seed);
        var samples = new List<TelemetrySample>(simulator.EntityCount);
        var started = _clock.GetTimestamp();
        var produced = 0L;
        while (!cancellationToken.IsCancellationRequested)
        {
            var due = (long)(_clock.GetElapsedTime(started).TotalSeconds * _options.Rate);
            if (produced >= due || simulator.Now > _clock.GetUtcNow())
            {
                Thread.Sleep(1);
                continue;
            }
            samples.Clear();
            simulator.NextTick(samples);
            foreach (var sample in samples)
            {
                var value = _options.BadRate > 0 && random.NextDouble() < _options.BadRate ? BrokenRecord : TelemetryJson.ToUtf8(sample);
                var at = _clock.GetUtcNow();
                var message = new Message<string, byte[]> { Key = sample.Entity, Value = value, Timestamp = new Timestamp(at) };
                var atMs = at.ToUnixTimeMilliseconds();
                while (true)
                {
                    try
                    {
                        // The delivery report does not carry the timestamp back on every broker (the embedded one reports
                        // none), so the produce time travels with the callback.
                        producer.Produce(_settings.Topics.Telemetry, message, report => _produced.OnDelivered(report, atMs));
                        break;
                    }
                    catch (ProduceException<string, byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                    {
                        producer.Poll(TimeSpan.FromMilliseconds(20));
                    }
                }
            }
            produced += samples.Count;
            counters.AddProduced(samples.Count);
        }
        producer.Flush(TimeSpan.FromSeconds(60));
    }

    /// <summary>Polls the sink group's committed offsets of the telemetry topic: the sink commits them after its database commit.</summary>
    private async Task MonitorSinkAsync(KafkaCluster kafka, CancellationToken cancellationToken)
    {
        using var monitor = new ConsumerBuilder<Ignore, Ignore>(kafka.ConsumerConfig(_settings.Sink.GroupId, "load-monitor")).Build();
        var partitions = Enumerable.Range(0, _settings.Kafka.Partitions).Select(p => new TopicPartition(_settings.Topics.Telemetry, p)).ToList();
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var committed = await Task.Run(() => monitor.Committed(partitions, TimeSpan.FromSeconds(5)), CancellationToken.None).ConfigureAwait(false);
                var at = _clock.GetUtcNow().ToUnixTimeMilliseconds();
                foreach (var c in committed)
                    _sinkProgress.Observe(c.Partition.Value, c.Offset.Value, at);
            }
            catch (KafkaException)
            {
                // A slow or failed fetch only lowers the resolution of the database latency; the next poll catches up.
            }
            try
            {
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>The processor's position records: (telemetry partition, next offset, time the batch's outputs were flushed).</summary>
    private List<(int Partition, long NextOffset, long AtMs)> ReadPositions(KafkaCluster kafka)
    {
        var config = kafka.ConsumerConfig($"{_settings.Processor.GroupId}-load-reader", "load-positions");
        config.EnablePartitionEof = true;
        using var reader = new ConsumerBuilder<string?, byte[]>(config).Build();
        reader.Assign(Enumerable.Range(0, _settings.Kafka.Partitions).Select(p => new TopicPartitionOffset(_settings.Topics.ProcessorOffsets, p, Offset.Beginning)));
        var positions = new List<(int, long, long)>();
        var atEnd = new HashSet<int>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (atEnd.Count < _settings.Kafka.Partitions && DateTime.UtcNow < deadline)
        {
            if (reader.Consume(TimeSpan.FromSeconds(1)) is not { } record)
                continue;
            if (record.IsPartitionEOF)
            {
                atEnd.Add(record.Partition.Value);
                continue;
            }
            if (long.TryParse(Encoding.UTF8.GetString(record.Message.Value), NumberStyles.Integer, CultureInfo.InvariantCulture, out var next))
                positions.Add((record.Partition.Value, next, record.Message.Timestamp.UnixTimestampMs));
        }
        reader.Close();
        return positions;
    }

    private void PrintProgress(long loadStarted, PipelineCounters counters, ProcessorWorker processor, SinkWorker sink, LagSampler lag)
    {
        var elapsed = _clock.GetElapsedTime(loadStarted);
        var current = lag.Current;
        _progress.WriteLine($"[{elapsed:mm\\:ss}] produced {_produced.Count:N0} ({_produced.Count / Math.Max(0.001, elapsed.TotalSeconds):N0}/s) | " +
                            $"processed {processor.Processed:N0} | in database {sink.RecordsWritten(_settings.Topics.Telemetry):N0} | " +
                            $"lag processor {current.Processor:N0} sink {current.Sink:N0} | dead letters {counters.Rejected:N0}");
    }

    private static void ThrowIfFaulted(Task task, string role)
    {
        if (task.IsFaulted)
            throw new InvalidOperationException($"The {role} stopped with an error.", task.Exception?.GetBaseException());
    }
}

/// <summary>Every delivered telemetry record's partition, offset and produce time (ms), in delivery order per partition.</summary>
internal sealed class ProducedRecords
{
    private readonly Lock _gate = new();
    private readonly Dictionary<int, (List<long> Offsets, List<long> AtMs)> _partitions = [];
    private long _count;
    private long _failures;

    public long Count => Interlocked.Read(ref _count);

    public long Failures => Interlocked.Read(ref _failures);

    public void OnDelivered(DeliveryReport<string, byte[]> report, long producedAtMs)
    {
        if (report.Error.IsError)
        {
            Interlocked.Increment(ref _failures);
            return;
        }
        lock (_gate)
        {
            if (!_partitions.TryGetValue(report.Partition.Value, out var partition))
                _partitions[report.Partition.Value] = partition = ([], []);
            partition.Offsets.Add(report.Offset.Value);
            partition.AtMs.Add(producedAtMs);
        }
        Interlocked.Increment(ref _count);
    }

    /// <summary>
    /// For every record, the time from its production to the first observation at which <paramref name="progress"/> (per
    /// partition: next offset reached, at time) had passed it. Records never passed are left out.
    /// </summary>
    public List<long> LatenciesTo(IEnumerable<(int Partition, long NextOffset, long AtMs)> progress)
    {
        var byPartition = progress.GroupBy(p => p.Partition).ToDictionary(g => g.Key, g => g.OrderBy(p => p.AtMs).ToList());
        var latencies = new List<long>((int)Count);
        lock (_gate)
        {
            foreach (var (partition, (offsets, atMs)) in _partitions)
            {
                if (!byPartition.TryGetValue(partition, out var steps))
                    continue;
                // Offsets grow in delivery order and positions only move forward: one merge pass.
                var order = Enumerable.Range(0, offsets.Count).OrderBy(i => offsets[i]).ToArray();
                var step = 0;
                var reached = long.MinValue;
                foreach (var i in order)
                {
                    while (reached <= offsets[i] && step < steps.Count)
                        reached = Math.Max(reached, steps[step++].NextOffset);
                    if (reached <= offsets[i])
                        break;
                    latencies.Add(Math.Max(0, steps[step - 1].AtMs - atMs[i]));
                }
            }
        }
        return latencies;
    }
}

/// <summary>The sink's committed telemetry offsets over time, as the monitor saw them.</summary>
internal sealed class SinkProgress
{
    private readonly Lock _gate = new();
    private readonly List<(int Partition, long NextOffset, long AtMs)> _steps = [];
    private readonly Dictionary<int, long> _latest = [];

    public long CommittedTotal
    {
        get
        {
            lock (_gate)
                return _latest.Values.Sum();
        }
    }

    public void Observe(int partition, long nextOffset, long atMs)
    {
        if (nextOffset < 0)
            return;
        lock (_gate)
        {
            if (_latest.TryGetValue(partition, out var previous) && previous >= nextOffset)
                return;
            _latest[partition] = nextOffset;
            _steps.Add((partition, nextOffset, atMs));
        }
    }

    public List<(int Partition, long NextOffset, long AtMs)> Snapshot()
    {
        lock (_gate)
            return [.. _steps];
    }
}

/// <summary>Reads the workers' own consumer lag (per role, summed over partitions) and keeps the maximum seen.</summary>
internal sealed class LagSampler(PipelineCounters counters)
{
    public LagValues Current { get; private set; }

    public LagValues Max { get; private set; }

    public void Sample()
    {
        var processor = counters.ConsumerLag("processor");
        var sink = counters.ConsumerLag("sink");
        Current = new LagValues(processor, sink);
        Max = new LagValues(Math.Max(Max.Processor, processor), Math.Max(Max.Sink, sink));
    }
}

internal readonly record struct LagValues(long Processor, long Sink);

internal readonly record struct Percentiles(long Count, long P50, long P95, long P99, long Max)
{
    public static Percentiles Of(List<long> values)
    {
        if (values.Count == 0)
            return default;
        values.Sort();
        long At(double q) => values[Math.Clamp((int)Math.Ceiling(q * values.Count) - 1, 0, values.Count - 1)];
        return new Percentiles(values.Count, At(0.50), At(0.95), At(0.99), values[^1]);
    }

    public override string ToString() => Count == 0
        ? "no samples"
        : $"p50 {P50:N0} ms, p95 {P95:N0} ms, p99 {P99:N0} ms, max {Max:N0} ms ({Count:N0} samples)";
}

internal sealed class LoadSummary
{
    public required string Kafka { get; init; }
    public required string Model { get; init; }
    public int Cores { get; init; }
    public int TargetRate { get; init; }
    public int Entities { get; init; }
    public double LoadSeconds { get; init; }
    public long Produced { get; init; }
    public long ProduceFailures { get; init; }
    public long Processed { get; init; }
    public long ProcessedDuringLoad { get; init; }
    public long Written { get; init; }
    public long WrittenDuringLoad { get; init; }
    public long DeadLetters { get; init; }
    public long Windows { get; init; }
    public long Alerts { get; init; }
    public bool Drained { get; init; }
    public double DrainSeconds { get; init; }
    public Percentiles ProcessorLatency { get; init; }
    public Percentiles DatabaseLatency { get; init; }
    public LagValues MaxLag { get; init; }
    public LagValues LagAtEnd { get; init; }
    public LagValues LagFinal { get; init; }
    public double WallSeconds { get; init; }

    private double Rate(long count) => count / Math.Max(0.001, LoadSeconds);

    public void Print(TextWriter output)
    {
        output.WriteLine();
        output.WriteLine($"Load summary ({WallSeconds:0.0} s wall; Kafka {Kafka}; {Cores} cores; {Model})");
        output.WriteLine($"  input       {Produced,12:N0} samples in {LoadSeconds:0.0} s = {Rate(Produced),9:N0}/s (target {TargetRate:N0}/s, {Entities} entities, {ProduceFailures:N0} produce failures)");
        output.WriteLine($"  processed   {ProcessedDuringLoad,12:N0} while loading = {Rate(ProcessedDuringLoad),9:N0}/s; {Processed:N0} after the drain");
        output.WriteLine($"  in database {WrittenDuringLoad,12:N0} while loading = {Rate(WrittenDuringLoad),9:N0}/s; {Written:N0} after the drain");
        output.WriteLine($"  windows     {Windows,12:N0} closed, {Alerts:N0} alert events, {DeadLetters:N0} dead letters");
        output.WriteLine($"  latency     produce → processor outputs flushed:      {ProcessorLatency}");
        output.WriteLine($"              produce → rows committed in the database: {DatabaseLatency} (100 ms resolution)");
        output.WriteLine($"  lag         processor: max {MaxLag.Processor:N0}, when publishing stopped {LagAtEnd.Processor:N0}, final {LagFinal.Processor:N0}");
        output.WriteLine($"              sink:      max {MaxLag.Sink:N0}, when publishing stopped {LagAtEnd.Sink:N0}, final {LagFinal.Sink:N0}");
        output.WriteLine(Drained
            ? $"  drained in {DrainSeconds:0.0} s: every published sample was processed and written."
            : $"  WARNING: not drained within {DrainSeconds:0} s of the end of publishing; the numbers above cover what was done.");
    }

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("kafka", Kafka);
            json.WriteString("model", Model);
            json.WriteNumber("cores", Cores);
            json.WriteNumber("target_rate", TargetRate);
            json.WriteNumber("entities", Entities);
            json.WriteNumber("load_seconds", Math.Round(LoadSeconds, 3));
            json.WriteNumber("produced", Produced);
            json.WriteNumber("produce_failures", ProduceFailures);
            json.WriteNumber("input_rate", Math.Round(Rate(Produced), 1));
            json.WriteNumber("processed", Processed);
            json.WriteNumber("processed_during_load", ProcessedDuringLoad);
            json.WriteNumber("processed_rate", Math.Round(Rate(ProcessedDuringLoad), 1));
            json.WriteNumber("written", Written);
            json.WriteNumber("written_during_load", WrittenDuringLoad);
            json.WriteNumber("written_rate", Math.Round(Rate(WrittenDuringLoad), 1));
            json.WriteNumber("windows", Windows);
            json.WriteNumber("alerts", Alerts);
            json.WriteNumber("dead_letters", DeadLetters);
            json.WriteBoolean("drained", Drained);
            json.WriteNumber("drain_seconds", Math.Round(DrainSeconds, 3));
            json.WriteStartObject("latency_ms");
            Write(json, "processor", ProcessorLatency);
            Write(json, "database", DatabaseLatency);
            json.WriteEndObject();
            json.WriteStartObject("lag");
            foreach (var (role, pick) in new (string, Func<LagValues, long>)[] { ("processor", l => l.Processor), ("sink", l => l.Sink) })
            {
                json.WriteStartObject(role);
                json.WriteNumber("max", pick(MaxLag));
                json.WriteNumber("at_end_of_load", pick(LagAtEnd));
                json.WriteNumber("final", pick(LagFinal));
                json.WriteEndObject();
            }
            json.WriteEndObject();
            json.WriteNumber("wall_seconds", Math.Round(WallSeconds, 3));
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Write(Utf8JsonWriter json, string name, Percentiles p)
    {
        json.WriteStartObject(name);
        json.WriteNumber("count", p.Count);
        json.WriteNumber("p50", p.P50);
        json.WriteNumber("p95", p.P95);
        json.WriteNumber("p99", p.P99);
        json.WriteNumber("max", p.Max);
        json.WriteEndObject();
    }
}
