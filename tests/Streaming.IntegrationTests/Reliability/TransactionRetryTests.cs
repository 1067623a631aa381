using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Host.Pipeline;
using Streaming.Simulation;

namespace Streaming.IntegrationTests.Reliability;

/// <summary>
/// A broker error that makes the open transaction abortable (issue 16: a broker restart stopped the processor with
/// KafkaTxnRequiresAbortException) must abort and redo the batch, not stop the worker. Needs the mock cluster's request
/// error injection (<c>rd_kafka_mock_push_request_errors_array</c>), so it skips on a real cluster.
/// </summary>
public sealed class TransactionRetryTests
{
    private const short ProduceApiKey = 0;

    [Test, CancelAfter(180_000)]
    public async Task A_produce_error_that_requires_an_abort_is_aborted_and_redone_and_the_processor_keeps_going(CancellationToken cancellationToken)
    {
        if (TestStack.Kafka.Embedded is not { } embedded)
        {
            Assert.Ignore("Needs the embedded mock cluster's request error injection; KAFKA_BOOTSTRAP_SERVERS points at a real cluster.");
            return;
        }
        var name = TestStack.UniqueName("txnretry");
        var settings = TestStack.IsolatedSettings(name);
        settings.Processor.IdleMode = IdleMode.CloseAll;
        settings.Processor.IdleTimeout = TimeSpan.FromSeconds(5);
        settings.Validated();
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All, cancellationToken);
        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-1), TimeSpan.Zero);
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = 6, Seed = 31, Start = start, IncidentsPerEntityDay = 0 });
        var samples = new List<TelemetrySample>();
        while (simulator.Now < start.AddMinutes(15))
            simulator.NextTick(samples);
        var windows = samples.Select(s => (s.Entity, s.TimestampMs / 60_000)).Distinct().Count();
        TestStack.Produce(settings.Topics.Telemetry, samples);
        // The processor's next produce requests are refused with a permanent error: librdkafka marks its transaction abortable.
        embedded.PushRequestErrors(ProduceApiKey, ErrorCode.TopicAuthorizationFailed, ErrorCode.TopicAuthorizationFailed);

        using var counters = new PipelineCounters();
        var worker = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger(name), name);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var task = worker.RunAsync(stop.Token);
        try
        {
            await Reliability.WaitUntilAsync(() => worker.Processed >= samples.Count && counters.Windows >= windows,
                TimeSpan.FromSeconds(90), "the processor got through the input after the refused requests",
                () => Reliability.Stopped(task, "processor"));
        }
        finally
        {
            await stop.CancelAsync();
        }
        await task;

        var features = await TestStack.ReadTopicAsync(settings.Topics.Features);
        Assert.Multiple(() =>
        {
            Assert.That(worker.TransactionRetries, Is.GreaterThanOrEqualTo(1), "the refused produce made a transaction abort and redo");
            Assert.That(worker.Processed, Is.EqualTo(samples.Count), "every sample committed once");
            // The mock shows aborted records to read_committed readers too, so the redone batch may appear twice here; on a
            // real broker only the committed copy is visible. Every window is there either way.
            Assert.That(features.Distinct().Count(), Is.EqualTo(windows), "every window's features");
        });
    }
}
