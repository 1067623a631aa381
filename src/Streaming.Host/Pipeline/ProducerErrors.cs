using Confluent.Kafka;

namespace Streaming.Host.Pipeline;

/// <summary>What a worker does about a producer error that its transaction retries and aborts did not absorb.</summary>
internal enum ProducerErrorAction
{
    /// <summary>Not a producer failure: the worker stops with the error, as before.</summary>
    Fail,

    /// <summary>The producer is unusable (a fatal error): dispose it, create one with the same transactional id and go on.</summary>
    Recreate,

    /// <summary>A newer instance with the same transactional id took over: stop, never recreate and fight it.</summary>
    Fenced,
}

/// <summary>
/// Confluent's documented handling of transactional producer errors, for what is left after retriable errors were retried
/// and abortable ones aborted and redone: a fatal error means a new producer with the same <c>transactional.id</c> (its
/// <c>InitTransactions</c> aborts the old open transaction), unless the producer was fenced by another instance.
/// </summary>
internal static class ProducerErrors
{
    /// <summary>librdkafka reports a fenced producer as <c>Local_Fenced</c> (it folds the two broker codes into it).</summary>
    public static bool IsFenced(Error error) =>
        error.Code is ErrorCode.Local_Fenced or ErrorCode.ProducerFenced or ErrorCode.InvalidProducerEpoch;

    /// <summary>
    /// Classifies <paramref name="error"/>, the error that stopped the publisher. <paramref name="producerFatal"/> is the
    /// fatal error the producer itself raised, if any (through its error handler or a transactional call): once a producer
    /// has one, every later call fails (a produce with only <c>Local_Fatal</c>, an abort with the fatal error), so that
    /// error, not the one that surfaced, decides.
    /// </summary>
    public static ProducerErrorAction Classify(Error error, Error? producerFatal)
    {
        var cause = producerFatal ?? error;
        if (IsFenced(cause))
            return ProducerErrorAction.Fenced;
        return cause.IsFatal || cause.Code == ErrorCode.Local_Fatal ? ProducerErrorAction.Recreate : ProducerErrorAction.Fail;
    }
}
