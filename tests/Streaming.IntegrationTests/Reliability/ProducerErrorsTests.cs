using Confluent.Kafka;
using Streaming.Host.Pipeline;

namespace Streaming.IntegrationTests.Reliability;

/// <summary>How a producer error that retries and aborts did not absorb is handled (no broker needed).</summary>
public sealed class ProducerErrorsTests
{
    [Test]
    public void A_fatal_error_recreates_the_producer() =>
        Assert.That(ProducerErrors.Classify(new Error(ErrorCode.TransactionalIdAuthorizationFailed, "denied", true), null),
            Is.EqualTo(ProducerErrorAction.Recreate));

    [TestCase(ErrorCode.Local_Fenced)]
    [TestCase(ErrorCode.ProducerFenced)]
    [TestCase(ErrorCode.InvalidProducerEpoch)]
    public void A_fenced_producer_is_never_recreated(ErrorCode code) =>
        Assert.That(ProducerErrors.Classify(new Error(code, "fenced", true), null), Is.EqualTo(ProducerErrorAction.Fenced));

    [Test]
    public void A_produce_that_only_says_fatal_is_judged_by_the_producers_own_fatal_error()
    {
        var produce = new Error(ErrorCode.Local_Fatal, "fatal error", true);
        Assert.Multiple(() =>
        {
            Assert.That(ProducerErrors.Classify(produce, new Error(ErrorCode.Local_Fenced, "fenced", true)), Is.EqualTo(ProducerErrorAction.Fenced));
            Assert.That(ProducerErrors.Classify(produce, new Error(ErrorCode.InvalidTxnState, "state", true)), Is.EqualTo(ProducerErrorAction.Recreate));
            Assert.That(ProducerErrors.Classify(produce, null), Is.EqualTo(ProducerErrorAction.Recreate));
        });
    }

    [Test]
    public void An_abortable_error_whose_abort_failed_fatally_recreates_the_producer() =>
        Assert.That(ProducerErrors.Classify(new Error(ErrorCode.UnknownProducerId, "abortable", false),
            new Error(ErrorCode.InvalidTxnState, "abort failed", true)), Is.EqualTo(ProducerErrorAction.Recreate));

    [Test]
    public void A_non_fatal_error_of_a_healthy_producer_stops_the_worker_as_before() =>
        Assert.That(ProducerErrors.Classify(new Error(ErrorCode.MsgSizeTooLarge, "too large", false), null),
            Is.EqualTo(ProducerErrorAction.Fail));
}
