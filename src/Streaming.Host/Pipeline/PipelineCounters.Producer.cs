using Prometheus;

namespace Streaming.Host.Pipeline;

/// <summary>Producer recovery metrics: producers recreated after a fatal error (issue 16).</summary>
public sealed partial class PipelineCounters
{
    private readonly Counter _producerRecreations;
    private long _producerRecreationsTotal;

    private static Counter CreateProducerMetrics(MetricFactory metrics) =>
        metrics.CreateCounter("streaming_producer_recreations_total",
            "Transactional producers disposed and created again with the same transactional id after a fatal error, by role and error code",
            "role", "error");

    /// <summary>Producers recreated since start (any role).</summary>
    public long ProducerRecreations => Interlocked.Read(ref _producerRecreationsTotal);

    public void AddProducerRecreation(string role, string error)
    {
        Interlocked.Increment(ref _producerRecreationsTotal);
        _producerRecreations.WithLabels([role, error]).Inc();
    }
}
