using System.Text;
using Confluent.Kafka;
using Streaming.Contracts;
using Streaming.Kafka;
using Streaming.Simulation;

namespace Streaming.Host.Pipeline;

/// <summary>
/// Publishes the fleet simulator's samples to the telemetry topic at a fixed wall-clock rate, keyed by entity. Simulated
/// time runs as fast as the rate allows but never passes the wall clock, so samples are never "from the future".
/// A small share of deliberately broken records exercises the dead-letter path.
/// </summary>
public sealed class SimulatorProducer(FleetSimulator simulator, KafkaCluster kafka, string topic, int rate, double badRecordRate, PipelineCounters counters, TimeProvider clock)
{
    private static readonly string[] BrokenRecords =
    [
        "{\"entity\":\"host-bad\",\"ts\":",                                 // truncated JSON
        "{\"host\":\"host-bad\",\"timestamp\":\"2026-11-22T10:00:00Z\",\"cpu_usage\":\"NaN\"}",
        "{\"ts\":1763805600000,\"metrics\":{\"cpu_usage\":1}}",             // no entity
        "[1,2,3]",
    ];

    public long Produced { get; private set; }

    public long Broken { get; private set; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var producer = new ProducerBuilder<string, byte[]>(kafka.ProducerConfig("simulator")).Build();
        var random = new Random(7);
        var samples = new List<TelemetrySample>(simulator.EntityCount);
        var started = clock.GetTimestamp();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var due = (long)(clock.GetElapsedTime(started).TotalSeconds * rate);
                if (Produced >= due || simulator.Now > clock.GetUtcNow())
                {
                    await Task.Delay(10, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                samples.Clear();
                simulator.NextTick(samples);
                foreach (var sample in samples)
                {
                    var value = random.NextDouble() < badRecordRate
                        ? Encoding.UTF8.GetBytes(BrokenRecords[(int)(Broken++ % BrokenRecords.Length)])
                        : TelemetryJson.ToUtf8(sample);
                    ProduceWithBackpressure(producer, new Message<string, byte[]> { Key = sample.Entity, Value = value });
                }
                Produced += samples.Count;
                counters.AddProduced(samples.Count);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        producer.Flush(TimeSpan.FromSeconds(30));
    }

    private void ProduceWithBackpressure(IProducer<string, byte[]> producer, Message<string, byte[]> message)
    {
        while (true)
        {
            try
            {
                producer.Produce(topic, message);
                return;
            }
            catch (ProduceException<string, byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
            {
                producer.Poll(TimeSpan.FromMilliseconds(50));
            }
        }
    }
}
