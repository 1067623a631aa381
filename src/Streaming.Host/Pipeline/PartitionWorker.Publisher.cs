using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Streaming.Host.Pipeline;

/// <summary>
/// The publisher stage: owns the producer and commits each processed batch (one Kafka transaction with exactly-once).
/// Every Kafka call it makes has a timeout, but librdkafka's transactional calls have been seen to block past theirs (on
/// the mock cluster after a coordinator outage, <c>SendOffsetsToTransaction</c> waited in <c>rd_kafka_txn_op_req0</c> for
/// minutes with a 30 s timeout). A stuck call must not stall the consume loop, a rebalance or shutdown forever: after
/// <see cref="PublisherStallLimit"/> inside one call the worker stops with an error naming the call, and a publisher that
/// does not stop in that time is left behind (its producer undisposed) instead of being waited for.
/// </summary>
internal abstract partial class PartitionWorker<TState>
{
    /// <summary>Longest time one publisher call may take: every call has a timeout of at most 30 s, so this is far past any.</summary>
    internal TimeSpan PublisherStallLimit { get; init; } = TimeSpan.FromMinutes(2);

    private string? _publisherCall;
    private long _publisherCallStarted;
    private volatile bool _publisherAbandoned;
    private long _transactionRetries;

    private void PublishLoop(IProducer<string?, byte[]> producer)
    {
        var reader = _channel.Reader;
        try
        {
            while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                while (reader.TryRead(out var batch))
                {
                    if (BeforePublish is { } hook)
                        Call(nameof(BeforePublish), hook);
                    Publish(producer, batch);
                    Interlocked.Add(ref _inFlightRecords, -batch.Records);
                    Counters.AddInFlight(Role, -1, -batch.Records);
                    lock (_gate)
                    {
                        Interlocked.Decrement(ref _inFlight);
                        Monitor.PulseAll(_gate);
                    }
                }
            }
        }
        finally
        {
            lock (_gate)
                Monitor.PulseAll(_gate);
        }
    }

    private void Publish(IProducer<string?, byte[]> producer, InFlightBatch batch)
    {
        if (_exactlyOnce)
        {
            PublishInTransaction(producer, batch);
        }
        else
        {
            ProduceAll(producer, batch.Messages);
            Call("Flush", () => producer.Flush(TimeSpan.FromSeconds(30)));
            if (batch.Offsets.Count > 0)
                Call("Commit", () => _commitOffsets!(batch.Offsets));
        }
        Interlocked.Add(ref _processed, batch.Records);
        Counters.AddStageRecords(Role, batch.Records);
        _committedBatches++;
        Volatile.Write(ref _recreationsSinceCommit, 0);
    }

    /// <summary>
    /// One transaction for the batch, with Confluent's documented handling: a retriable error repeats the call (librdkafka
    /// resumes it), an error that requires an abort aborts and redoes the whole batch (its outputs are still in memory), both
    /// within <see cref="TransactionRetryBudget"/> (a broker restart took 22–58 s). Any other error, or one past the budget,
    /// aborts what it can and stops the publisher: state has absorbed the batch, so it is rebuilt from the committed position,
    /// by a new producer and session when the error is fatal (PartitionWorker.Recovery.cs), else by a restart.
    /// </summary>
    private void PublishInTransaction(IProducer<string?, byte[]> producer, InFlightBatch batch)
    {
        var started = Stopwatch.GetTimestamp();
        bool WithinBudget() => Stopwatch.GetElapsedTime(started) < TransactionRetryBudget;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Retrying("BeginTransaction", producer.BeginTransaction, WithinBudget);
                if (CrashAfterBatches is { } crashAfter && _committedBatches >= crashAfter)
                {
                    _crashed = true;
                    throw new SimulatedCrashException();
                }
                ProduceAll(producer, batch.Messages);
                // On a real broker the transaction makes outputs and position atomic. librdkafka's mock cluster neither
                // hides aborted records from read_committed readers nor stores transactional offset commits, so the
                // position also goes to a topic, and only after the outputs are durable: there a crash can repeat a
                // batch's outputs but never lose them.
                Call("Flush", () => producer.Flush(TimeSpan.FromSeconds(30)));
                foreach (var offset in batch.Offsets)
                {
                    producer.Produce(new TopicPartition(Settings.Topics.ProcessorOffsets, offset.Partition), new Message<string?, byte[]>
                    {
                        Key = PositionKey(offset.Topic, offset.Partition.Value),
                        Value = Encoding.UTF8.GetBytes(offset.Offset.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    });
                }
                // The mock cluster does not store them (and its coordinator is where SendOffsetsToTransaction got stuck):
                // there the positions topic alone says where to resume.
                if (batch.Offsets.Count > 0 && !_kafka.IsEmbedded)
                    Retrying("SendOffsetsToTransaction", () => producer.SendOffsetsToTransaction(batch.Offsets, batch.Group, TimeSpan.FromSeconds(30)), WithinBudget);
                Retrying("CommitTransaction", () => producer.CommitTransaction(TimeSpan.FromSeconds(30)), WithinBudget);
                return;
            }
            catch (KafkaException ex) when (RequiresAbort(ex) && !ex.Error.IsFatal && WithinBudget())
            {
                Interlocked.Increment(ref _transactionRetries);
                LogTransactionRedone(_logger, Role, attempt, ex.Error.Reason);
                if (!TryAbortOpenTransaction(producer))
                {
                    NoteProducerFailure(ex);
                    throw;
                }
                Thread.Sleep(TimeSpan.FromMilliseconds(Math.Min(100 * attempt, 2000)));
            }
            catch (KafkaException ex)
            {
                NoteProducerFailure(ex);
                LogTransactionFailed(_logger, Role, ex.Error.Code.ToString(), ex.Error.IsFatal, ex.Error.Reason);
                TryAbortOpenTransaction(producer);
                throw;
            }
        }
    }

    /// <summary>Aborted transactions that were redone, and retried calls (a broker restart shows here).</summary>
    public long TransactionRetries => Interlocked.Read(ref _transactionRetries);

    /// <summary>How long one batch may keep retrying its transaction before the worker gives up.</summary>
    internal TimeSpan TransactionRetryBudget { get; init; } = TimeSpan.FromMinutes(5);

    // A message produced while the transaction is already in its abortable state is refused with a state error.
    private static bool RequiresAbort(KafkaException ex) =>
        ex is KafkaTxnRequiresAbortException || ex is ProduceException<string?, byte[]> { Error.Code: ErrorCode.Local_State };

    /// <summary>A transactional call repeated while it fails retriably (librdkafka resumes the same call) and time remains.</summary>
    private void Retrying(string name, Action call, Func<bool> withinBudget)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Call(name, call);
                return;
            }
            catch (KafkaRetriableException ex) when (!ex.Error.IsFatal && withinBudget())
            {
                Interlocked.Increment(ref _transactionRetries);
                LogCallRetried(_logger, Role, name, attempt, ex.Error.Reason);
                Thread.Sleep(TimeSpan.FromMilliseconds(Math.Min(100 * attempt, 2000)));
            }
        }
    }

    /// <summary>Runs one blocking producer call, recording which call it is and since when (read by <see cref="PublisherStall"/>).</summary>
    private void Call(string name, Action call)
    {
        Volatile.Write(ref _publisherCallStarted, Stopwatch.GetTimestamp());
        Volatile.Write(ref _publisherCall, name);
        try
        {
            call();
        }
        finally
        {
            Volatile.Write(ref _publisherCall, null);
        }
    }

    /// <summary>A description of the publisher call that has run longer than <see cref="PublisherStallLimit"/>, or null.</summary>
    private string? PublisherStall()
    {
        var call = Volatile.Read(ref _publisherCall);
        if (call is null)
            return null;
        var elapsed = Stopwatch.GetElapsedTime(Volatile.Read(ref _publisherCallStarted));
        return elapsed > PublisherStallLimit
            ? $"The {Role} publisher has been inside {call} for {elapsed.TotalSeconds:0} s (no call it makes has a timeout over 30 s): " +
              "the producer is stuck, so the worker stops; a restart resumes from the committed position."
            : null;
    }

    /// <summary>Waits until every batch handed to the publisher is committed (or the publisher has failed or is stuck).</summary>
    private void DrainInFlight()
    {
        lock (_gate)
        {
            while (Volatile.Read(ref _inFlight) > 0 && !_publisher.IsCompleted && !_publisherAbandoned)
            {
                if (PublisherStall() is { } stall)
                    throw new TimeoutException(stall);
                Monitor.Wait(_gate, TimeSpan.FromMilliseconds(200));
            }
        }
    }

    /// <summary>Completes the channel and waits for the publisher; true when it stopped (false: stuck, and left behind).</summary>
    private bool StopPublisher()
    {
        _channel.Writer.TryComplete();
        try
        {
            while (!_publisher.Wait(TimeSpan.FromMilliseconds(500)))
            {
                if (PublisherStall() is { } stall)
                {
                    _publisherAbandoned = true;
                    LogPublisherFailed(_logger, Role, stall);
                    return false;
                }
            }
        }
        catch (AggregateException ex) when (ex.InnerException is SimulatedCrashException)
        {
            // The publisher "crashed" (test hook): nothing more to stop.
        }
        catch (AggregateException ex)
        {
            // Reported again by ThrowIfPublisherFailed when this is a clean stop; logged here for the exceptional path.
            LogPublisherFailed(_logger, Role, ex.GetBaseException().Message);
        }
        return true;
    }

    private void ThrowIfPublisherFailed()
    {
        if (_publisher.IsFaulted)
            ExceptionDispatchInfo.Capture(_publisher.Exception!.GetBaseException()).Throw();
        if (_publisher.IsCompleted && !_channel.Reader.Completion.IsCompleted)
            throw new InvalidOperationException($"The {Role} publisher stopped unexpectedly.");
        if (PublisherStall() is { } stall)
            throw new TimeoutException(stall);
    }

    private static string PositionKey(string topic, int partition) => $"{topic}:{partition}";

    private static void ProduceAll(IProducer<string?, byte[]> producer, List<PendingMessage> messages)
    {
        foreach (var pending in messages)
        {
            while (true)
            {
                try
                {
                    if (pending.Partition is { } partition)
                        producer.Produce(new TopicPartition(pending.Topic, partition), pending.Message);
                    else
                        producer.Produce(pending.Topic, pending.Message);
                    break;
                }
                catch (ProduceException<string?, byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(50));
                }
            }
        }
    }

    /// <summary>
    /// Aborts the open transaction, if any, repeating a retriable failure a few times. A failed abort is logged, never
    /// thrown: it must not hide the error that led here. False when the transaction could not be aborted.
    /// </summary>
    private bool TryAbortOpenTransaction(IProducer<string?, byte[]> producer)
    {
        if (Volatile.Read(ref _producerFatal) is { } fatal)
        {
            LogAbortSkipped(_logger, Role, fatal.Reason);
            return false;
        }
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                producer.AbortTransaction(TimeSpan.FromSeconds(10));
                return true;
            }
            catch (KafkaException ex) when (ex.Error.Code is ErrorCode.Local_State && ex is not KafkaRetriableException)
            {
                // No transaction was open: nothing to abort.
                return true;
            }
            catch (KafkaRetriableException ex) when (attempt < 6)
            {
                LogCallRetried(_logger, Role, "AbortTransaction", attempt, ex.Error.Reason);
                Thread.Sleep(TimeSpan.FromMilliseconds(200 * attempt));
            }
            catch (KafkaException ex)
            {
                NoteFatal(ex.Error);
                LogAbortFailed(_logger, Role, ex.Error.Reason);
                return false;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The {Role} transaction failed with {Code} (fatal: {Fatal}): {Reason}")]
    private static partial void LogTransactionFailed(ILogger logger, string role, string code, bool fatal, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "The {Role} publisher failed: {Reason}")]
    private static partial void LogPublisherFailed(ILogger logger, string role, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Role} transaction needs an abort (attempt {Attempt}); aborting and redoing the batch: {Reason}")]
    private static partial void LogTransactionRedone(ILogger logger, string role, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Role} retries {Call} (attempt {Attempt}): {Reason}")]
    private static partial void LogCallRetried(ILogger logger, string role, string call, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Role} could not abort its open transaction: {Reason}")]
    private static partial void LogAbortFailed(ILogger logger, string role, string reason);
}
