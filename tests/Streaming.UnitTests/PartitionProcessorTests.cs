using Streaming.Contracts;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;

namespace Streaming.UnitTests;

public sealed class PartitionProcessorTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    private static PartitionProcessor NewProcessor() => new(new ProcessorSettings
    {
        Windows = new WindowOptions { Size = TimeSpan.FromMinutes(1), Grace = TimeSpan.FromSeconds(10) },
        Baseline = new BaselineOptions { MinHistory = 3, HistoryWindows = 10 },
    }, TimeProvider.System);

    [Test]
    public void A_record_after_the_idle_policy_closed_everything_is_dead_lettered_as_late_not_a_crash()
    {
        var processor = NewProcessor();
        var output = new CollectingOutput();
        processor.AdvanceStreamTime(long.MaxValue / 2);

        var accepted = processor.Process(new TelemetrySample("web-1", Start.ToUnixTimeMilliseconds(), [new MetricValue("cpu", 1)]), output);

        Assert.That(accepted, Is.False);
        Assert.That(output.Rejections.Single().Reason, Is.EqualTo(RejectionReason.Late));
        Assert.That(output.Rejections.Single().Detail, Does.Contain("end of input"));
    }

    [Test]
    public void Unparseable_bytes_are_rejected_with_the_parser_reason_and_nothing_else_happens()
    {
        var processor = NewProcessor();
        var output = new CollectingOutput();

        var accepted = processor.Process("{\"entity\":"u8, Start.ToUnixTimeMilliseconds(), output);

        Assert.That(accepted, Is.False);
        Assert.That(output.Rejections.Single().Reason, Is.EqualTo(RejectionReason.MalformedJson));
        Assert.That(processor.EmitClosed(output), Is.Zero);
    }

    [Test]
    public void A_spike_after_warm_up_opens_one_alert_on_its_entity()
    {
        var processor = NewProcessor();
        var output = new CollectingOutput();
        for (var minute = 0; minute < 12; minute++)
        {
            for (var second = 0; second < 60; second += 10)
            {
                var cpu = minute == 8 ? 95.0 : 20 + (second % 20) / 10.0;
                processor.Process(new TelemetrySample("web-1", Start.AddMinutes(minute).AddSeconds(second).ToUnixTimeMilliseconds(), [new MetricValue("cpu", cpu)]), output);
            }
        }
        processor.AdvanceStreamTime(Start.AddMinutes(20).ToUnixTimeMilliseconds());
        processor.EmitClosed(output);

        Assert.That(output.Windows, Has.Count.EqualTo(12));
        var open = output.Alerts.Where(a => a.Status == AlertStatus.Open).ToList();
        Assert.That(open, Has.Count.EqualTo(1));
        Assert.That(open[0].WindowStart, Is.EqualTo(Start.AddMinutes(8)));
        Assert.That(open[0].Contributors[0].Metric, Is.EqualTo("cpu"));
    }

    [Test]
    public void Adding_samples_to_open_windows_allocates_nothing()
    {
        var aggregator = new WindowAggregator(new WindowOptions { Size = TimeSpan.FromMinutes(1), Grace = TimeSpan.FromSeconds(10) });
        MetricValue[] metrics = [new("cpu", 1), new("memory", 2), new("latency", 3)];
        var start = Start.ToUnixTimeMilliseconds();
        // Warm up: the windows, their value buffers and the duplicate-detection sets exist after the first pass.
        for (var i = 0; i < 50; i++)
            aggregator.Add($"host-{i % 5}", start + i * 100, metrics);
        string[] entities = ["host-0", "host-1", "host-2", "host-3", "host-4"];

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 50; i < 60; i++)
            aggregator.Add(entities[i % 5], start + i * 100, metrics);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(allocated, Is.Zero);
    }

    private sealed class CollectingOutput : IProcessorOutput
    {
        public List<Rejection> Rejections { get; } = [];
        public List<ClosedWindow> Windows { get; } = [];
        public List<AnomalyEvent> Alerts { get; } = [];

        public void Rejected(Rejection rejection) => Rejections.Add(rejection);

        public void WindowClosed(ClosedWindow window) => Windows.Add(window);

        public List<WindowAssessment> Assessments { get; } = [];

        public void Scored(WindowAssessment assessment) => Assessments.Add(assessment);

        public void Alert(AnomalyEvent alert) => Alerts.Add(alert);

        public List<DowntimePredictionEvent> Predictions { get; } = [];

        public void Prediction(DowntimePredictionEvent prediction) => Predictions.Add(prediction);
    }
}
