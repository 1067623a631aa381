using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Confluent.SchemaRegistry;
using Streaming.Contracts;
using Streaming.Contracts.Avro;
using Streaming.Host.Configuration;
using Streaming.Kafka;
using Streaming.Models.Drift;
using Streaming.Models.Pipeline;
using Streaming.Processing.Windows;

namespace Streaming.Host.Pipeline;

/// <summary>
/// The drift monitor: consumes the features topic (read_committed, its own consumer group, so the processor is untouched),
/// compares the newest windows of the whole fleet with the active bundle's training reference per feature
/// (<see cref="FeatureDriftTracker"/>), exports <c>streaming_model_drift{model,version,feature}</c>, and publishes a
/// <see cref="DriftEvent"/> (kind <c>drift</c>) on the alerts topic when drift opens or resolves. With
/// <c>Models:Retrain:OnDrift</c>, an opening also starts <paramref name="retrain"/> (at most once per MinInterval).
/// Its window sample lives in memory: after a restart it refills from the group's committed position.
/// </summary>
internal sealed partial class DriftWorker(
    StreamingSettings settings, KafkaCluster kafka, ModelSetProvider models, PipelineCounters counters, TimeProvider clock, ILogger logger,
    Func<CancellationToken, Task>? retrain = null, string? instanceId = null)
{
    private readonly DriftOptions _options = settings.Drift.ToOptions().Validated();
    // Features may be JSON or Avro (Serialization:Format); with a Schema Registry, ids not seen yet are fetched once.
    private readonly ISchemaRegistryClient _schemaRegistry = EventSerializers.CreateSchemaRegistry(settings.SchemaRegistry);
    private EventDeserializer<FeatureVectorEvent>? _reader;
    private readonly string _clientId = $"drift-{instanceId ?? Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
    private long _windows;
    private long _events;
    private DateTimeOffset? _lastRetrain;
    private Task _retraining = Task.CompletedTask;

    /// <summary>Feature windows read so far.</summary>
    public long Windows => Interlocked.Read(ref _windows);

    /// <summary>Drift events published so far.</summary>
    public long Events => Interlocked.Read(ref _events);

    /// <summary>The retraining started by the last drift opening (completed when none runs).</summary>
    public Task Retraining => _retraining;

    /// <summary>
    /// The monitor as <c>run</c> and <c>demo</c> start it; with <c>Models:Retrain:OnDrift</c>, an opening trains a new version
    /// from the last <c>Models:Retrain:History</c> of the database's metrics and registers it (activated only with
    /// <c>Models:Retrain:Activate</c>; otherwise a candidate, e.g. for shadow scoring).
    /// </summary>
    public static DriftWorker Create(StreamingSettings settings, KafkaCluster kafka, ModelSetProvider models, Modeling.ModelRegistry registry,
        Npgsql.NpgsqlDataSource database, PipelineCounters counters, TimeProvider clock, ILoggerFactory loggers)
    {
        var policy = settings.Models.Retrain;
        Func<CancellationToken, Task>? retrain = policy.OnDrift
            ? ct => Cli.TrainCommand.TrainFromHistoryAsync(settings, registry, Cli.TrainingSource.Database(database),
                new Modeling.HistoryQuery(clock.GetUtcNow() - policy.History, null, []), policy.Activate, version: null, TextWriter.Null, ct)
            : null;
        return new DriftWorker(settings, kafka, models, counters, clock, loggers.CreateLogger<DriftWorker>(), retrain);
    }

    public async Task RunAsync(CancellationToken stop)
    {
        _reader = new EventDeserializer<FeatureVectorEvent>(AvroContracts.FeatureVector, _schemaRegistry);
        // Drift events go out in the alerts topic's configured format, as the processor's alerts do (registered at start-up with a registry).
        var serializer = await EventSerializers.CreateAsync(settings.Serialization, AvroContracts.Drift, settings.Topics.Alerts, _schemaRegistry, stop,
            settings.SchemaRegistry.SubjectNameStrategy).ConfigureAwait(false);
        await Task.Factory.StartNew(() => Run(serializer, stop), stop, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
    }

    private void Run(IEventSerializer<DriftEvent> serializer, CancellationToken stop)
    {
        var config = kafka.ConsumerConfig(settings.Drift.GroupId, _clientId);
        config.EnableAutoCommit = true;
        config.AutoCommitIntervalMs = 2_000;
        using var consumer = new ConsumerBuilder<string?, byte[]>(config).Build();
        using var producer = new ProducerBuilder<string, byte[]>(kafka.ProducerConfig(_clientId)).Build();
        consumer.Subscribe(settings.Topics.Features);
        FeatureDriftTracker? tracker = null;
        string? withoutReference = null;
        var alertId = Guid.Empty;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                ConsumeResult<string?, byte[]>? record;
                try
                {
                    record = consumer.Consume(TimeSpan.FromMilliseconds(250));
                }
                catch (ConsumeException ex) when (!ex.Error.IsFatal)
                {
                    LogConsumeError(logger, ex.Error.Reason);
                    continue;
                }
                if (record is null || record.IsPartitionEOF)
                    continue;
                Interlocked.Increment(ref _windows);

                var active = models.Active;
                if (active?.Version != tracker?.Version)
                {
                    tracker = active is null ? null : FeatureDriftTracker.For(active, _options);
                    alertId = Guid.Empty;
                    if (active is not null && tracker is null && withoutReference != active.Version)
                    {
                        withoutReference = active.Version;
                        LogNoReference(logger, active.Version);
                    }
                }
                var pending = _reader!.ReadAsync(record.Message.Value ?? [], stop);
                var read = pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
                if (!read.Success)
                {
                    // Our own topic carries our own contract; a record that breaks it is counted and skipped, never fatal.
                    counters.AddRejected(RejectionReason.UndecodableEvent);
                    LogUnreadable(logger, record.Partition.Value, record.Offset.Value, read.Error);
                }
                else if (tracker is not null && tracker.Add(ToWindow(read.Value)) is { } evaluation)
                {
                    counters.SetDrift(EnsembleWindowScorer.EnsembleName, tracker.Version, evaluation.Features, evaluation.Values(_options.Statistic));
                    if (evaluation.Transition != DriftTransition.None)
                    {
                        if (evaluation.Transition == DriftTransition.Opened)
                            alertId = Guid.NewGuid();
                        Publish(producer, serializer, Event(evaluation, tracker.Version, alertId));
                        if (evaluation.Transition == DriftTransition.Opened)
                            MaybeRetrain(stop);
                    }
                }
                consumer.StoreOffset(record);
            }
        }
        finally
        {
            consumer.Close();
        }
    }

    private static ClosedWindow ToWindow(FeatureVectorEvent e) => new(e.Entity,
        new WindowBounds(e.WindowStart.ToUnixTimeMilliseconds(), e.WindowEnd.ToUnixTimeMilliseconds()), e.SampleCount, [.. e.Features]);

    private DriftEvent Event(DriftEvaluation evaluation, string version, Guid alertId)
    {
        var values = evaluation.Values(_options.Statistic);
        var max = values.Max();
        var total = values.Sum();
        var contributors = Enumerable.Range(0, values.Length)
            .OrderByDescending(i => values[i]).ThenBy(i => evaluation.Features[i], StringComparer.Ordinal)
            .Take(settings.Alerts.TopContributors)
            .Select(i => new Contributor(evaluation.Features[i], total > 0 ? Math.Round(values[i] / total, 4) : 0,
                Math.Round(evaluation.ReferenceMean[i], 4), Math.Round(evaluation.LiveMean[i], 4)))
            .ToArray();
        return new DriftEvent(Guid.NewGuid(), alertId, DriftEvent.KindName,
            evaluation.Transition == DriftTransition.Opened ? AlertStatus.Open : AlertStatus.Resolved, DriftEvent.FleetEntity,
            DateTimeOffset.FromUnixTimeMilliseconds(evaluation.FirstWindowEndMs), DateTimeOffset.FromUnixTimeMilliseconds(evaluation.LastWindowEndMs),
            clock.GetUtcNow(), Math.Round(max, 4), _options.Threshold, max >= 2 * _options.Threshold ? Severity.Critical : Severity.Warning,
            EnsembleWindowScorer.EnsembleName, version, contributors, _options.Statistic == DriftStatistic.Psi ? "psi" : "ks", evaluation.Windows,
            [.. Enumerable.Range(0, values.Length).Select(i => new FeatureDrift(evaluation.Features[i], Math.Round(evaluation.Psi[i], 4), Math.Round(evaluation.Ks[i], 4)))]);
    }

    private void Publish(IProducer<string, byte[]> producer, IEventSerializer<DriftEvent> serializer, DriftEvent drift)
    {
        // Rare (an open or a resolve), so each waits for its acknowledgement: a lost drift event would leave an alert open forever.
        producer.ProduceAsync(settings.Topics.Alerts, new Message<string, byte[]>
        {
            Key = drift.Model,
            Value = serializer.Serialize(drift),
        }).GetAwaiter().GetResult();
        Interlocked.Increment(ref _events);
        counters.AddAlert($"drift_{drift.Status}");
        LogDrift(logger, drift.Status, drift.ModelVersion, drift.Contributors.Count > 0 ? drift.Contributors[0].Metric : "-", drift.Score, drift.Statistic);
    }

    private void MaybeRetrain(CancellationToken stop)
    {
        var policy = settings.Models.Retrain;
        if (!policy.OnDrift || retrain is null || !_retraining.IsCompleted)
            return;
        var now = clock.GetUtcNow();
        if (_lastRetrain is { } last && now - last < policy.MinInterval)
        {
            LogRetrainSkipped(logger, policy.MinInterval, last);
            return;
        }
        _lastRetrain = now;
        LogRetraining(logger);
        _retraining = Task.Run(async () =>
        {
            try
            {
                await retrain(stop).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The pipeline keeps its current model; the failure is reported, and the next drift after MinInterval retries.
                LogRetrainFailed(logger, ex.Message);
            }
        }, stop);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drift monitor: cannot read the features topic: {Reason}")]
    private static partial void LogConsumeError(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drift monitor: model version {Version} has no training reference in its manifest; drift is not monitored for it (retrain to add one)")]
    private static partial void LogNoReference(ILogger logger, string version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drift monitor: features record {Partition}@{Offset} is unreadable and skipped: {Reason}")]
    private static partial void LogUnreadable(ILogger logger, int partition, long offset, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Model drift {Status} for version {Version}: {Feature} {Statistic} {Score}")]
    private static partial void LogDrift(ILogger logger, string status, string version, string feature, double score, string statistic);

    [LoggerMessage(Level = LogLevel.Information, Message = "Drift opened: training a new model version from the database's recent history (Models:Retrain:OnDrift)")]
    private static partial void LogRetraining(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Drift opened, but the last retraining at {Last} is within Models:Retrain:MinInterval ({Interval}); not retraining")]
    private static partial void LogRetrainSkipped(ILogger logger, TimeSpan interval, DateTimeOffset last);

    [LoggerMessage(Level = LogLevel.Error, Message = "Retraining after drift failed; the current model stays active: {Reason}")]
    private static partial void LogRetrainFailed(ILogger logger, string reason);
}
