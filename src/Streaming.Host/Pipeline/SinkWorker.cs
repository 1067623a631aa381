using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Confluent.SchemaRegistry;
using Streaming.Contracts;
using Streaming.Contracts.Avro;
using Streaming.Host.Configuration;
using Streaming.Kafka;
using Streaming.Storage;

namespace Streaming.Host.Pipeline;

/// <summary>
/// The sink role: reads every topic (read_committed) and writes raw metrics, features, scores, alerts and dead letters to
/// TimescaleDB in batches. Exactly-once into the database: each batch's next offsets are stored in the same transaction as
/// its rows, and on assignment the consumer seeks to the stored offsets, so a crash neither loses nor duplicates a row.
/// When the database is unreachable the sink pauses its partitions, backs off, retries the same batch and resumes.
/// Features, scores and alerts are read in either format, per record (Avro in the Confluent wire format, or JSON); a record
/// that is neither becomes a dead-letter row (reason <c>undecodable_event</c>) in the same transaction, and is counted.
/// </summary>
internal sealed partial class SinkWorker
{
    private readonly StreamingSettings settings;
    private readonly KafkaCluster kafka;
    private readonly TimescaleWriter writer;
    private readonly PipelineCounters counters;
    private readonly TimeProvider clock;
    private readonly ILogger logger;
    private readonly ConcurrentDictionary<string, long> _recordsByTopic = new(StringComparer.Ordinal);
    private readonly SinkBatch _batch = new();
    private readonly ISchemaRegistryClient _schemaRegistry;
    private readonly EventDeserializer<FeatureVectorEvent> _features;
    private readonly EventDeserializer<ScoreEvent> _scores;
    private readonly AlertRecordReader _alerts;

    public SinkWorker(StreamingSettings settings, KafkaCluster kafka, TimescaleWriter writer, PipelineCounters counters, TimeProvider clock, ILogger logger)
    {
        this.settings = settings;
        this.kafka = kafka;
        this.writer = writer;
        this.counters = counters;
        this.clock = clock;
        this.logger = logger;
        // Fixed ids without a registry; with one, ids this process has not seen are fetched once and cached.
        _schemaRegistry = EventSerializers.CreateSchemaRegistry(settings.SchemaRegistry);
        _features = new EventDeserializer<FeatureVectorEvent>(AvroContracts.FeatureVector, _schemaRegistry);
        _scores = new EventDeserializer<ScoreEvent>(AvroContracts.Score, _schemaRegistry);
        _alerts = new AlertRecordReader(_schemaRegistry);
    }

    /// <summary>Records per topic whose rows (if any) are committed to the database.</summary>
    public long RecordsWritten(string topic) => _recordsByTopic.GetValueOrDefault(topic);

    public bool IsBackingOff { get; private set; }

    public Task RunAsync(CancellationToken cancellationToken) =>
        Task.Factory.StartNew(() => Run(cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken cancellationToken)
    {
        var group = settings.Sink.GroupId;
        using var consumer = new ConsumerBuilder<string?, byte[]>(kafka.ConsumerConfig(group, $"sink-{Environment.ProcessId}"))
            .SetErrorHandler((_, e) => LogKafkaError(logger, e.Code.ToString(), e.Reason))
            .SetPartitionsAssignedHandler((c, assigned) =>
            {
                // The database, not Kafka, is the source of truth for where this sink stopped, once it is sure that the
                // offsets count these topics: written for this cluster, and not beyond a partition's log end.
                var stored = writer.LoadOffsetsAsync(group, cancellationToken).GetAwaiter().GetResult();
                var clusters = writer.LoadOffsetClustersAsync(group, cancellationToken).GetAwaiter().GetResult();
                foreach (var tp in assigned)
                {
                    if (!stored.TryGetValue((tp.Topic, tp.Partition.Value), out var storedNext))
                        continue;
                    if (clusters.GetValueOrDefault((tp.Topic, tp.Partition.Value)) is { } storedCluster && writer.ClusterId is { } cluster
                        && !string.Equals(storedCluster, cluster, StringComparison.Ordinal))
                        throw SinkOffsetsException.OtherCluster(group, tp.Topic, storedCluster, cluster, kafka.BootstrapServers);
                    long logEnd;
                    try
                    {
                        logEnd = c.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(15)).High.Value;
                    }
                    catch (KafkaException ex) when (!ex.Error.IsFatal)
                    {
                        // A broker outage during a rebalance: the sink resumes from the stored offset as before, and says so.
                        LogLogEndUnchecked(logger, tp.Topic, tp.Partition.Value, ex.Error.Reason);
                        continue;
                    }
                    if (storedNext > logEnd)
                        throw SinkOffsetsException.BeyondLogEnd(group, tp.Topic, tp.Partition.Value, storedNext, logEnd);
                }
                return assigned.Select(tp => stored.TryGetValue((tp.Topic, tp.Partition.Value), out var next)
                    ? new TopicPartitionOffset(tp, new Offset(next))
                    : new TopicPartitionOffset(tp, Offset.Beginning));
            })
            .Build();
        consumer.Subscribe(settings.Topics.Data);
        var records = new List<ConsumeResult<string?, byte[]>>(settings.Sink.MaxBatch);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                records.Clear();
                var deadline = clock.GetUtcNow() + settings.Sink.BatchLinger;
                while (records.Count < settings.Sink.MaxBatch)
                {
                    var remaining = deadline - clock.GetUtcNow();
                    if (remaining <= TimeSpan.Zero || consumer.Consume(remaining) is not { } record)
                        break;
                    if (!record.IsPartitionEOF)
                        records.Add(record);
                }
                if (records.Count == 0)
                    continue;
                BuildBatch(records, cancellationToken);
                var offsets = records.GroupBy(r => (r.Topic, r.Partition.Value))
                    .Select(g => new SourceOffset(g.Key.Topic, g.Key.Value, g.Max(r => r.Offset.Value) + 1))
                    .ToList();
                var writeStarted = clock.GetTimestamp();
                if (!WriteWithRetry(consumer, offsets, cancellationToken))
                    continue;
                counters.RecordSinkBatch(records.Count, clock.GetElapsedTime(writeStarted));
                counters.AddStageRecords("sink", records.Count);
                foreach (var g in records.GroupBy(r => r.Topic))
                    _recordsByTopic.AddOrUpdate(g.Key, g.Count(), (_, n) => n + g.Count());
                // Kafka's committed offsets only feed lag monitoring; the database's decide where the sink resumes. So a
                // commit that fails while the group coordinator is unreachable is logged, not fatal: the next batch's commit
                // covers it (a broker outage used to stop the sink here).
                try
                {
                    consumer.Commit(offsets.Select(o => new TopicPartitionOffset(o.Topic, o.Partition, o.NextOffset)));
                }
                catch (KafkaException ex) when (!ex.Error.IsFatal)
                {
                    LogCommitFailed(logger, ex.Error.Reason);
                }
                counters.UpdateLag("sink", consumer);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            consumer.Close();
            (_schemaRegistry as IDisposable)?.Dispose();
        }
    }

    /// <summary>Writes the batch, retrying while the database is unavailable; false when the batch was dropped to re-read from the database's offsets.</summary>
    private bool WriteWithRetry(IConsumer<string?, byte[]> consumer, List<SourceOffset> offsets, CancellationToken cancellationToken)
    {
        var backoff = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            try
            {
                var outcome = writer.WriteBatchAsync(_batch, settings.Sink.GroupId, offsets, cancellationToken).GetAwaiter().GetResult();
                if (outcome == BatchOutcome.Written)
                {
                    counters.AddRows("metrics", _batch.Metrics.Count);
                    counters.AddRows("features", _batch.Features.Count);
                    counters.AddRows("anomaly_scores", _batch.Scores.Count);
                    counters.AddRows("alerts", _batch.Alerts.Count);
                    counters.AddRows("predictions", _batch.Predictions.Count);
                    counters.AddRows("dead_letters", _batch.DeadLetters.Count);
                }
                if (IsBackingOff)
                {
                    consumer.Resume(consumer.Assignment);
                    IsBackingOff = false;
                    LogRecovered(logger);
                }
                return true;
            }
            catch (OffsetConflictException ex)
            {
                // Part of this batch is already in the database (another sink instance wrote it, or the topics were
                // recreated under the same group): go back to what the database says and read from there.
                LogOffsetConflict(logger, ex.Message);
                var stored = writer.LoadOffsetsAsync(settings.Sink.GroupId, cancellationToken).GetAwaiter().GetResult();
                foreach (var tp in consumer.Assignment)
                {
                    consumer.Seek(new TopicPartitionOffset(tp,
                        stored.TryGetValue((tp.Topic, tp.Partition.Value), out var next) ? new Offset(next) : Offset.Beginning));
                }
                return false;
            }
            catch (Exception ex) when (TimescaleWriter.IsTransient(ex) && !cancellationToken.IsCancellationRequested)
            {
                if (!IsBackingOff)
                {
                    consumer.Pause(consumer.Assignment);
                    IsBackingOff = true;
                }
                LogBackingOff(logger, backoff.TotalSeconds, ex.Message);
                // Polling while paused keeps this member in its group without fetching more records.
                consumer.Consume(backoff);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, settings.Sink.MaxBackoff.Ticks));
            }
        }
    }

    private void BuildBatch(List<ConsumeResult<string?, byte[]>> records, CancellationToken cancellationToken)
    {
        _batch.Clear();
        var topics = settings.Topics;
        var limits = settings.Ingest.ToLimits();
        foreach (var record in records)
        {
            var value = record.Message.Value ?? [];
            if (record.Topic == topics.Telemetry)
            {
                AddTelemetry(value, record.Message.Timestamp.UnixTimestampMs, limits);
            }
            else if (record.Topic == topics.Features)
            {
                var read = ReadWithRetry(_features, value, cancellationToken);
                if (read.Success)
                    AddFeatures(read.Value);
                else
                    AddUndecodable(record, read.Error);
            }
            else if (record.Topic == topics.Scores)
            {
                var read = ReadWithRetry(_scores, value, cancellationToken);
                if (read.Success)
                    AddScore(read.Value);
                else
                    AddUndecodable(record, read.Error);
            }
            else if (record.Topic == topics.Alerts)
            {
                var alert = ReadAlertWithRetry(value, cancellationToken);
                // The payload column holds the JSON contract: the record itself when it is JSON, re-encoded when it is Avro.
                if (alert.Anomaly is { } anomaly)
                    AddAlert(anomaly, alert.Format == SerializationFormat.Json ? Encoding.UTF8.GetString(value) : Encoding.UTF8.GetString(alert.ToJson()));
                else if (alert.Prediction is { } prediction)
                    AddPrediction(prediction, alert.Format == SerializationFormat.Json ? Encoding.UTF8.GetString(value) : Encoding.UTF8.GetString(alert.ToJson()));
                else
                    AddUndecodable(record, alert.Error ?? "unreadable alert record");
            }
            else if (record.Topic == topics.DeadLetter)
            {
                AddDeadLetter(record);
            }
        }
    }

    /// <summary>
    /// A record of our own topics that breaks its contract: kept, with the reason, as a dead-letter row written in the same
    /// transaction as the batch (so exactly once), counted, and logged; never fatal.
    /// </summary>
    private void AddUndecodable(ConsumeResult<string?, byte[]> record, string reason)
    {
        counters.AddRejected(RejectionReason.UndecodableEvent);
        LogUnreadable(logger, record.Topic, record.Partition.Value, record.Offset.Value, reason);
        _batch.DeadLetters.Add(new DeadLetterRow(record.Message.Timestamp.UtcDateTime, record.Topic, record.Partition.Value, record.Offset.Value,
            RejectionReason.UndecodableEvent.ToCode(), reason, record.Message.Value ?? []));
    }

    /// <summary>
    /// Decodes a value; completes without waiting unless a Schema Registry id must be fetched. While the registry cannot be
    /// reached the sink waits and retries (the record is fine, its schema is just out of reach); an id the registry does not
    /// know is a failed read, not a wait.
    /// </summary>
    private EventReadResult<T> ReadWithRetry<T>(EventDeserializer<T> deserializer, byte[] value, CancellationToken cancellationToken)
    {
        var pending = deserializer.ReadAsync(value, cancellationToken);
        if (pending.IsCompletedSuccessfully)
            return pending.Result;
        return RetryRegistry(() => deserializer.ReadAsync(value, cancellationToken), pending, cancellationToken);
    }

    private AlertRecord ReadAlertWithRetry(byte[] value, CancellationToken cancellationToken)
    {
        var pending = _alerts.ReadAsync(value, cancellationToken);
        if (pending.IsCompletedSuccessfully)
            return pending.Result;
        return RetryRegistry(() => _alerts.ReadAsync(value, cancellationToken), pending, cancellationToken);
    }

    private TResult RetryRegistry<TResult>(Func<ValueTask<TResult>> read, ValueTask<TResult> first, CancellationToken cancellationToken)
    {
        var backoff = TimeSpan.FromMilliseconds(200);
        var attempt = first;
        while (true)
        {
            try
            {
                return attempt.AsTask().GetAwaiter().GetResult();
            }
            catch (Exception ex) when (ex is HttpRequestException or SchemaRegistryException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                LogRegistryUnavailable(logger, backoff.TotalSeconds, ex.Message);
                cancellationToken.WaitHandle.WaitOne(backoff);
                cancellationToken.ThrowIfCancellationRequested();
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, settings.Sink.MaxBackoff.Ticks));
                attempt = read();
            }
        }
    }

    private void AddTelemetry(byte[] value, long referenceMs, TelemetryLimits limits)
    {
        // Same parser and reference time as the processor, so both stages agree on which records are valid; invalid
        // records reach the database through the dead-letter topic instead.
        if (!TelemetryParser.TryParse(value, limits, DateTimeOffset.FromUnixTimeMilliseconds(referenceMs), out var sample, out _))
            return;
        var time = sample!.Timestamp;
        foreach (var metric in sample.Metrics)
            _batch.Metrics.Add(new MetricRow(time, sample.Entity, metric.Name, metric.Value));
    }

    private void AddFeatures(FeatureVectorEvent e)
    {
        foreach (var f in e.Features)
        {
            _batch.Features.Add(new FeatureRow(e.WindowStart, e.WindowEnd, e.Entity, f.Metric, f.Count, f.Mean, f.Std, f.Min, f.Max,
                f.First, f.Last, f.Slope, f.Ewma, f.P50, f.P95, f.RateOfChange, f.MissingRatio));
        }
    }

    private void AddScore(ScoreEvent e) =>
        _batch.Scores.Add(new ScoreRow(e.WindowEnd, e.Entity, e.Model, e.ModelVersion, e.Score, e.Threshold, e.IsAnomaly));

    private void AddAlert(AnomalyEvent e, string payload) =>
        _batch.Alerts.Add(new AlertRow(e.AlertId, e.WindowEnd, e.Entity, e.Kind, e.Status, e.Severity, e.Score, e.Threshold, e.Model,
            e.ModelVersion, e.Contributors.Count > 0 ? e.Contributors[0].Metric : null, payload));

    private void AddPrediction(DowntimePredictionEvent e, string payload)
    {
        double At(double minutes) => e.Horizons.Where(h => h.Minutes >= minutes).MinBy(h => h.Minutes)?.Probability ?? 0;
        _batch.Predictions.Add(new PredictionRow(e.WindowEnd, e.Entity, e.Model, e.ModelVersion, e.TimeToDowntimeSeconds, At(5), At(15), At(30),
            e.Contributors.Count > 0 ? e.Contributors[0].Metric : null, payload));
    }

    private void AddDeadLetter(ConsumeResult<string?, byte[]> record)
    {
        var headers = record.Message.Headers;
        string Header(string name) => headers is not null && headers.TryGetLastBytes(name, out var bytes) ? Encoding.UTF8.GetString(bytes) : "";
        _ = int.TryParse(Header(DeadLetterHeaders.SourcePartition), out var partition);
        _ = long.TryParse(Header(DeadLetterHeaders.SourceOffset), out var offset);
        _batch.DeadLetters.Add(new DeadLetterRow(record.Message.Timestamp.UtcDateTime, Header(DeadLetterHeaders.SourceTopic), partition, offset,
            Header(DeadLetterHeaders.Reason), Header(DeadLetterHeaders.Detail), record.Message.Value ?? []));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka consumer error {Code}: {Reason}")]
    private static partial void LogKafkaError(ILogger logger, string code, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database unavailable; sink paused, retrying in {Seconds:0.0} s: {Reason}")]
    private static partial void LogBackingOff(ILogger logger, double seconds, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Sink batch overlaps rows already committed; re-reading from the database's offsets: {Reason}")]
    private static partial void LogOffsetConflict(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the log end of {Topic}[{Partition}] to check the stored sink offset ({Reason}); resuming from it unchecked")]
    private static partial void LogLogEndUnchecked(ILogger logger, string topic, int partition, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka offset commit (lag monitoring only; the database holds the sink's position) failed: {Reason}")]
    private static partial void LogCommitFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Database reachable again; sink resumed")]
    private static partial void LogRecovered(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Schema Registry unavailable; sink retrying in {Seconds:0.0} s: {Reason}")]
    private static partial void LogRegistryUnavailable(ILogger logger, double seconds, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Undecodable record on {Topic}[{Partition}]@{Offset} kept as a dead-letter row: {Reason}")]
    private static partial void LogUnreadable(ILogger logger, string topic, int partition, long offset, string reason);
}

/// <summary>The sink's stored offsets do not count the topics it reads: it stops rather than skip their records.</summary>
internal sealed class SinkOffsetsException(string message) : Exception(message)
{
    private static string Reset(string group) =>
        $"If these topics are the ones to store, forget the stored offsets with `streaming reset-sink-offsets --group {group}` " +
        "(the sink then reads the topics from their beginning), or give this sink a group of its own (Sink:GroupId).";

    public static SinkOffsetsException OtherCluster(string group, string topic, string storedCluster, string cluster, string bootstrap) =>
        new($"The sink's stored offsets for group '{group}' (table sink_offsets, topic '{topic}') were written for Kafka cluster " +
            $"'{storedCluster}', but the Kafka at {bootstrap} is cluster '{cluster}': they count another cluster's topics, and " +
            $"resuming from them would skip or repeat records. {Reset(group)}");

    public static SinkOffsetsException BeyondLogEnd(string group, string topic, int partition, long storedNext, long logEnd) =>
        new($"The sink's stored offset {storedNext} for {topic}[{partition}] (group '{group}', table sink_offsets) lies beyond the " +
            $"partition's log end {logEnd}: the topic was recreated or the offsets belong to another cluster, and resuming would " +
            $"skip the records it holds. {Reset(group)}");
}
