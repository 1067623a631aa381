using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Streaming.Host.Pipeline;

/// <summary>
/// Recovery from a fatal producer error (issue 16), Confluent's documented handling: the producer cannot be used again, so
/// the worker ends the session as a clean stop would (publisher stopped, group left), disposes the producer, creates a new
/// one with the same <c>transactional.id</c> (its <c>InitTransactions</c> aborts the old open transaction) and starts over
/// from the committed position, exactly like a restart: every partition's state is rebuilt from its snapshot and replay,
/// batches processed but not committed are dropped and processed again. A fenced producer is not recreated: another
/// instance with the same transactional id owns the work now, and this worker stops with the fencing error.
/// </summary>
internal abstract partial class PartitionWorker<TState>
{
    /// <summary>Producers recreated in a row without a committed batch before the worker gives up (the error persists).</summary>
    internal int MaxProducerRecreations { get; init; } = 5;

    private Exception? _producerFailure;
    private Error? _producerFatal;
    private long _producerRecreations;
    private int _recreationsSinceCommit;
    private long _inFlightRecords;

    /// <summary>Producers disposed and created again after a fatal error.</summary>
    public long ProducerRecreations => Interlocked.Read(ref _producerRecreations);

    private string? TransactionalId => _exactlyOnce ? $"{GroupId}-{_instanceId}" : null;

    private void Run(CancellationToken cancellationToken)
    {
        while (true)
        {
            var producer = CreateProducer();
            try
            {
                Run(producer, cancellationToken);
                return;
            }
            catch (KafkaException ex) when (ReferenceEquals(ex, Volatile.Read(ref _producerFailure)) && !cancellationToken.IsCancellationRequested)
            {
                if (!MayRecreate(ex))
                    throw;
            }
            finally
            {
                // Disposing a producer while a stuck publisher is inside one of its calls would block here too.
                if (!_publisherAbandoned)
                    producer.Dispose();
            }
            ResetForNewProducer();
        }
    }

    private IProducer<string?, byte[]> CreateProducer()
    {
        var producerConfig = _kafka.ProducerConfig($"{Role}-{_instanceId}");
        producerConfig.TransactionalId = TransactionalId;
        producerConfig.QueueBufferingMaxMessages = 500_000;
        return new ProducerBuilder<string?, byte[]>(producerConfig)
            .SetErrorHandler((_, e) =>
            {
                if (e.IsFatal)
                    NoteFatal(e);
                LogKafkaError(_logger, $"{Role} producer", e.Code.ToString(), e.Reason);
            })
            .Build();
    }

    /// <summary>Records the producer's first fatal error (from its error handler or a failed call): it decides what happens.</summary>
    private void NoteFatal(Error error)
    {
        if (error.IsFatal)
            Interlocked.CompareExchange(ref _producerFatal, error, null);
    }

    /// <summary>The publisher (or InitTransactions) stops with <paramref name="ex"/>: remembered so the run loop can tell it from other errors.</summary>
    private void NoteProducerFailure(KafkaException ex)
    {
        NoteFatal(ex.Error);
        Volatile.Write(ref _producerFailure, ex);
    }

    /// <summary>Whether to recreate the producer after <paramref name="ex"/>; logs the decision. False: the error is thrown as it is.</summary>
    private bool MayRecreate(KafkaException ex)
    {
        var fatal = Volatile.Read(ref _producerFatal);
        switch (ProducerErrors.Classify(ex.Error, fatal))
        {
            case ProducerErrorAction.Fenced:
                LogFenced(_logger, Role, TransactionalId ?? "", (fatal ?? ex.Error).Reason);
                return false;
            case ProducerErrorAction.Recreate when _exactlyOnce && !_crashed:
                var inARow = Interlocked.Increment(ref _recreationsSinceCommit);
                if (inARow > MaxProducerRecreations)
                {
                    LogRecreationsExhausted(_logger, Role, MaxProducerRecreations, ex.Error.Reason);
                    return false;
                }
                var cause = fatal ?? ex.Error;
                Interlocked.Increment(ref _producerRecreations);
                Counters.AddProducerRecreation(Role, cause.Code.ToString());
                LogRecreating(_logger, Role, TransactionalId ?? "", cause.Code.ToString(), cause.Reason, ex.Error.Reason, inARow);
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// Forgets everything past the committed position: partition state (kept or parked) has absorbed batches that were never
    /// committed, so the next session rebuilds it on assignment, as a restarted process would.
    /// </summary>
    private void ResetForNewProducer()
    {
        Counters.AddInFlight(Role, -Volatile.Read(ref _inFlight), -Interlocked.Read(ref _inFlightRecords));
        Volatile.Write(ref _inFlight, 0);
        Interlocked.Exchange(ref _inFlightRecords, 0);
        _partitions.Clear();
        _parked.Clear();
        _batch.Clear();
        _snapshotSchedules.Clear();
        _commitOffsets = null;
        _publisher = Task.CompletedTask;
        Volatile.Write(ref _assignedCount, 0);
        Volatile.Write(ref _producerFailure, null);
        Volatile.Write(ref _producerFatal, null);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The {Role} producer (transactional id {TransactionalId}) was fenced: another instance with this transactional id took over, so this worker stops and does not recreate its producer: {Reason}")]
    private static partial void LogFenced(ILogger logger, string role, string transactionalId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Role} producer (transactional id {TransactionalId}) had a fatal error {Code} ({Reason}; the call failed with: {Failure}); recreating it with the same transactional id and resuming from the committed position (recreation {InARow} in a row)")]
    private static partial void LogRecreating(ILogger logger, string role, string transactionalId, string code, string reason, string failure, int inARow);

    [LoggerMessage(Level = LogLevel.Error, Message = "The {Role} producer failed fatally again after {Recreations} recreations without a committed batch; the worker stops: {Reason}")]
    private static partial void LogRecreationsExhausted(ILogger logger, string role, int recreations, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Role} does not abort its transaction: the producer has a fatal error ({Reason}); the next producer with its transactional id aborts it")]
    private static partial void LogAbortSkipped(ILogger logger, string role, string reason);
}
