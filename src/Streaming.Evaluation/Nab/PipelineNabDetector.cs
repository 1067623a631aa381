using Streaming.Contracts;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;

namespace Streaming.Evaluation.Nab;

/// <summary>Which of the processor's outputs becomes the NAB anomaly score.</summary>
internal enum PipelineSignal
{
    /// <summary>Every scored window: the raw per-window verdict stream (the "scores" topic).</summary>
    EveryWindow,

    /// <summary>Only windows where the alert lifecycle opens an alert (the "alerts" topic); every other row scores 0.</summary>
    AlertOpenings,
}

/// <summary>
/// The production path as a NAB detector: each row is replayed as a <see cref="TelemetrySample"/> through a
/// <see cref="PartitionProcessor"/> whose windows are one sampling interval wide (the file's median spacing, grace 0), so
/// each window holds one row and the production scorer judges each row against the rows before it. The score s (surprise,
/// −log10 of the tail probability) maps to anomaly_score = s / (s + threshold): 0.5 at the production alert threshold. Rows before the scorer has enough
/// history score 0; rows sharing a window share its score. With <see cref="PipelineSignal.AlertOpenings"/> only the window
/// that opens an alert keeps its score, which is how an operator sees the pipeline: one alert per incident, not one per
/// anomalous window.
/// </summary>
internal sealed class PipelineNabDetector(string name, Func<WindowOptions, ProcessorSettings> settings, PipelineSignal signal) : INabDetector
{
    public const string MetricName = "value";

    private readonly Dictionary<string, int> _rejected = new(StringComparer.Ordinal);

    /// <summary>The production defaults (the online detectors and the alert lifecycle) on <paramref name="signal"/>.</summary>
    public static PipelineNabDetector Production(PipelineSignal signal, ProcessorSettings? template = null) =>
        new(signal == PipelineSignal.EveryWindow ? "streaming_online" : "streaming_alerts",
            windows => (template ?? new ProcessorSettings { Windows = windows }) with { Windows = windows }, signal);

    public string Name => name;

    /// <summary>Rows the processor rejected so far, by file and reason (repeated or out-of-order timestamps), reported next to the scores.</summary>
    public IReadOnlyDictionary<string, int> RejectedRows
    {
        get
        {
            lock (_rejected)
                return new SortedDictionary<string, int>(_rejected, StringComparer.Ordinal);
        }
    }

    public double[] Detect(NabFile file)
    {
        var timestamps = file.TimestampsMs;
        var scores = new double[timestamps.Length];
        if (timestamps.Length == 0)
            return scores;
        var sizeMs = MedianSpacingMs(timestamps);
        var processor = new PartitionProcessor(settings(new WindowOptions { Size = TimeSpan.FromMilliseconds(sizeMs), Grace = TimeSpan.Zero }), TimeProvider.System);
        var output = new Collector(signal);
        var entity = file.Name;
        for (var i = 0; i < timestamps.Length; i++)
        {
            processor.Process(new TelemetrySample(entity, timestamps[i], [new MetricValue(MetricName, file.Values[i])]), output);
            processor.EmitClosed(output);
        }
        processor.AdvanceStreamTime(timestamps[^1] + sizeMs);
        processor.EmitClosed(output);
        lock (_rejected)
        {
            foreach (var (reason, count) in output.Rejections)
                _rejected[$"{file.RelativePath} {reason}"] = count;
        }

        // Windows start at multiples of the size since the epoch, so a row's window is found by flooring its timestamp.
        for (var i = 0; i < timestamps.Length; i++)
        {
            var start = timestamps[i] - (((timestamps[i] % sizeMs) + sizeMs) % sizeMs);
            scores[i] = output.ByWindowStart.GetValueOrDefault(start);
        }
        return scores;
    }

    /// <summary>The median gap between consecutive timestamps, at least 1 ms.</summary>
    public static long MedianSpacingMs(ReadOnlySpan<long> timestamps)
    {
        if (timestamps.Length < 2)
            return 1;
        var gaps = new long[timestamps.Length - 1];
        for (var i = 1; i < timestamps.Length; i++)
            gaps[i - 1] = timestamps[i] - timestamps[i - 1];
        Array.Sort(gaps);
        return Math.Max(1, gaps[gaps.Length / 2]);
    }

    /// <summary>NAB wants [0, 1]: score / (score + threshold) is 0.5 at the alert threshold and monotone, so the sweep ranks rows as the score does.</summary>
    public static double ToAnomalyScore(double score, double threshold) => score <= 0 ? 0 : score / (score + threshold);

    private sealed class Collector(PipelineSignal signal) : IProcessorOutput
    {
        private readonly Dictionary<long, double> _scores = [];

        public Dictionary<long, double> ByWindowStart { get; } = [];

        public Dictionary<string, int> Rejections { get; } = new(StringComparer.Ordinal);

        // A rejected row (a repeated or out-of-order timestamp) is dropped as production would drop it; it still gets its window's score.
        public void Rejected(Rejection rejection) => Rejections[rejection.Code] = Rejections.GetValueOrDefault(rejection.Code) + 1;

        public void WindowClosed(ClosedWindow window)
        {
        }

        public void Scored(WindowAssessment assessment)
        {
            var value = ToAnomalyScore(assessment.Score, assessment.Threshold);
            if (signal == PipelineSignal.EveryWindow)
                ByWindowStart[assessment.Window.Bounds.StartMs] = value;
            else
                _scores[assessment.Window.Bounds.StartMs] = value;
        }

        // NAB scores anomalies only.
        public void Prediction(DowntimePredictionEvent prediction)
        {
        }

        // The processor reports a window's alert right after its score, so the score is at hand.
        public void Alert(AnomalyEvent alert)
        {
            var start = alert.WindowStart.ToUnixTimeMilliseconds();
            if (signal == PipelineSignal.AlertOpenings && alert.Status == AlertStatus.Open)
                ByWindowStart[start] = _scores[start];
        }
    }
}
