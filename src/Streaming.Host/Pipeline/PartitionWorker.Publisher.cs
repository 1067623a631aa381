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
            Call("BeginTransaction", producer.BeginTransaction);
            try
            {
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
                    Call("SendOffsetsToTransaction", () => producer.SendOffsetsToTransaction(batch.Offsets, batch.Group, TimeSpan.FromSeconds(30)));
                Call("CommitTransaction", () => producer.CommitTransaction(TimeSpan.FromSeconds(30)));
            }
            catch (KafkaException ex)
            {
                LogTransactionFailed(_logger, Role, ex.Error.Reason);
                TryAbortOpenTransaction(producer);
                // State already absorbed this batch; continuing would publish later batches without this one. Stop and
                // let a restart rebuild state from the committed position.
                throw;
            }
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

    /// <summary>Aborts the open transaction, if any. A failed abort is logged, never thrown: it must not hide the error that led here.</summary>
    private void TryAbortOpenTransaction(IProducer<string?, byte[]> producer)
    {
        try
        {
            producer.AbortTransaction(TimeSpan.FromSeconds(10));
        }
        catch (KafkaException ex) when (ex.Error.Code is ErrorCode.Local_State)
        {
            // No transaction was open: nothing to abort.
        }
        catch (KafkaException ex)
        {
            LogAbortFailed(_logger, Role, ex.Error.Reason);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The {Role} transaction failed and was aborted: {Reason}")]
    private static partial void LogTransactionFailed(ILogger logger, string role, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "The {Role} publisher failed: {Reason}")]
    private static partial void LogPublisherFailed(ILogger logger, string role, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Role} could not abort its open transaction: {Reason}")]
    private static partial void LogAbortFailed(ILogger logger, string role, string reason);
}
