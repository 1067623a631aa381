using System.Globalization;
using Streaming.Contracts;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;

namespace Streaming.Evaluation.Msl;

/// <summary>
/// One channel's test rows as the production path saw them: the scorer's continuous score, its own online decision
/// (<see cref="WindowAssessment.IsAnomaly"/>), and whether it scored the row at all.
/// </summary>
internal sealed record ChannelScores(double[] Scores, bool[] Online, bool[] Scored, IReadOnlyDictionary<string, int> Rejections, IReadOnlyList<string> Models)
{
    public int UnscoredRows => Scored.Count(s => !s);
}

/// <summary>
/// Streams one telemanom channel through a <see cref="PartitionProcessor"/> built from the given settings, like
/// <see cref="Nab.BaselineNabDetector"/> does for NAB: one entity (the channel), one <see cref="TelemetrySample"/> per row at
/// a synthetic event time (<see cref="RowInterval"/> apart), windows one row wide with grace 0, so each row is one window
/// and the scorer sees them in order. The train rows go first and are not scored by the evaluation (the scorer learns from
/// them as it would from any stream); the test rows follow without a gap. Column 0 is the metric <c>value</c>; with
/// <c>includeCommands</c> columns 1.. are the metrics <c>cmd_01</c>, <c>cmd_02</c>, … too.
/// </summary>
internal static class MslReplay
{
    public const string ValueMetric = "value";

    /// <summary>Each row's synthetic spacing in event time.</summary>
    public static readonly TimeSpan RowInterval = TimeSpan.FromMinutes(1);

    /// <summary>Event time of the first train row: an arbitrary fixed date, so runs are reproducible.</summary>
    public static readonly long StartMs = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    public static string CommandMetric(int column) => "cmd_" + column.ToString("D2", CultureInfo.InvariantCulture);

    /// <summary>
    /// The processor settings of every channel: one row per window, grace 0, and the detector of the production defaults
    /// (<paramref name="scorerFactory"/> null: what <see cref="ScoringStage"/> builds by default).
    /// </summary>
    public static ProcessorSettings Settings(BaselineOptions baseline, Func<IWindowScorer>? scorerFactory, ProcessorSettings? template = null)
    {
        var windows = new WindowOptions { Size = RowInterval, Grace = TimeSpan.Zero };
        return template is null
            ? new ProcessorSettings { Windows = windows, Baseline = baseline, ScorerFactory = scorerFactory }
            : template with { Windows = windows, ScorerFactory = scorerFactory ?? template.ScorerFactory };
    }

    public static ChannelScores Run(MslChannel channel, ProcessorSettings settings, bool includeCommands)
    {
        var processor = new PartitionProcessor(settings, TimeProvider.System);
        var columns = includeCommands ? channel.Test.Columns : 1;
        var names = new string[columns];
        names[0] = ValueMetric;
        for (var c = 1; c < columns; c++)
            names[c] = CommandMetric(c);
        var intervalMs = (long)RowInterval.TotalMilliseconds;
        var testStartMs = StartMs + channel.Train.Rows * intervalMs;
        var output = new Collector(testStartMs, intervalMs, channel.Test.Rows);
        Stream(processor, output, channel.Name, channel.Train, names, StartMs, intervalMs);
        Stream(processor, output, channel.Name, channel.Test, names, testStartMs, intervalMs);
        processor.AdvanceStreamTime(testStartMs + channel.Test.Rows * intervalMs);
        processor.EmitClosed(output);
        return new ChannelScores(output.Scores, output.Online, output.ScoredRows,
            new SortedDictionary<string, int>(output.Rejections, StringComparer.Ordinal), [.. output.Models.Order(StringComparer.Ordinal)]);
    }

    private static void Stream(PartitionProcessor processor, Collector output, string entity, NpyMatrix rows, string[] names, long startMs, long intervalMs)
    {
        for (var r = 0; r < rows.Rows; r++)
        {
            var row = rows.Row(r);
            var metrics = new MetricValue[names.Length];
            for (var c = 0; c < names.Length; c++)
                metrics[c] = new MetricValue(names[c], row[c]);
            processor.Process(new TelemetrySample(entity, startMs + r * intervalMs, metrics), output);
            processor.EmitClosed(output);
        }
    }

    private sealed class Collector(long testStartMs, long intervalMs, int testRows) : IProcessorOutput
    {
        public double[] Scores { get; } = new double[testRows];

        public bool[] Online { get; } = new bool[testRows];

        public bool[] ScoredRows { get; } = new bool[testRows];

        public Dictionary<string, int> Rejections { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Models { get; } = new(StringComparer.Ordinal);

        // Rows are one per window at distinct times: a rejection is a bug in the replay, counted and reported, not hidden.
        public void Rejected(Rejection rejection) => Rejections[rejection.Code] = Rejections.GetValueOrDefault(rejection.Code) + 1;

        public void WindowClosed(ClosedWindow window)
        {
        }

        public void Scored(WindowAssessment assessment)
        {
            var start = assessment.Window.Bounds.StartMs;
            if (start < testStartMs)
                return;
            var row = (start - testStartMs) / intervalMs;
            if (row >= testRows || (start - testStartMs) % intervalMs != 0)
                throw new InvalidOperationException($"A scored window starts at {assessment.Window.Bounds.Start:O}, which is no test row of '{assessment.Window.Entity}'.");
            if (!double.IsFinite(assessment.Score))
                throw new InvalidOperationException($"{assessment.Model} scored test row {row} of '{assessment.Window.Entity}' {assessment.Score}, not a finite number.");
            Scores[row] = assessment.Score;
            Online[row] = assessment.IsAnomaly;
            ScoredRows[row] = true;
            Models.Add($"{assessment.Model} v{assessment.ModelVersion}");
        }

        public void Alert(AnomalyEvent alert)
        {
        }

        public void Prediction(DowntimePredictionEvent prediction)
        {
        }
    }
}
