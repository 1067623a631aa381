using Streaming.Processing.Pipeline;
using Streaming.Evaluation.Metrics;
using Streaming.Processing.Scoring;

namespace Streaming.Evaluation.Msl;

internal sealed record MslEvaluationOptions
{
    /// <summary>The directory holding <c>train/</c> and <c>test/</c>.</summary>
    public required string DataDirectory { get; init; }

    /// <summary><c>labeled_anomalies.csv</c>; null looks inside the data directory, then one level up.</summary>
    public string? LabelsFile { get; init; }

    /// <summary>Only the label rows of this spacecraft (MSL, SMAP); null: every channel that has a test file.</summary>
    public string? Spacecraft { get; init; }

    /// <summary>Only these channels (after the spacecraft filter); null: all of them.</summary>
    public IReadOnlyList<string>? Channels { get; init; }

    /// <summary>Also pass the one-hot command columns as metrics <c>cmd_01</c>..; false passes the telemetry value alone.</summary>
    public bool IncludeCommands { get; init; }

    public BaselineOptions Baseline { get; init; } = new();

    /// <summary>The configured detector and alert settings (the windows are the evaluation's own); defaults when null.</summary>
    public ProcessorSettings? Template { get; init; }

    /// <summary>The detector; null is the production default (what <c>ProcessorSettings.ScorerFactory = null</c> builds).</summary>
    public Func<IWindowScorer>? ScorerFactory { get; init; }

    /// <summary>
    /// <see cref="MslDetector.Online"/>: <see cref="ScorerFactory"/> for every channel. Otherwise a forecaster trained on each
    /// channel's train file (<see cref="Forecaster"/>) scores that channel, with every column as a metric.
    /// </summary>
    public MslDetector Detector { get; init; } = MslDetector.Online;

    public MslForecasterOptions Forecaster { get; init; } = new();
}

internal sealed record MslChannelResult(
    string Channel, string Spacecraft, int TrainRows, int TestRows, IReadOnlyList<RowSequence> Sequences, int DetectedSequences,
    ConfusionCounts Online, OracleF1 Oracle, ChannelScores Rows)
{
    public double FalseAlarmsPerThousandRows => PointMetrics.FalseAlarmsPerThousandRows(Online);
}

internal sealed record MslEvaluationResult(
    MslLayout Layout, MslEvaluationOptions Options, IReadOnlyList<MslChannelResult> Channels, ConfusionCounts Online, OracleF1 Oracle,
    int Sequences, int DetectedSequences, long TestRows, long TrainRows, long UnscoredRows, IReadOnlyList<string> Models,
    IReadOnlyDictionary<string, int> Rejections, TimeSpan Elapsed)
{
    /// <summary>Sum over channels of the forecasters' training time (channels train in parallel, so above the wall time's share).</summary>
    public TimeSpan Training { get; init; }

    /// <summary>Channels whose forecaster was loaded from the models directory instead of trained.</summary>
    public int LoadedModels { get; init; }

    public double EventRecall => Sequences == 0 ? 0 : (double)DetectedSequences / Sequences;

    public double FalseAlarmsPerThousandRows => PointMetrics.FalseAlarmsPerThousandRows(Online);
}

/// <summary>
/// The multivariate evaluation on NASA's telemanom channels (MSL, and SMAP in the same layout): each channel's train file
/// then its test file through the production processor (<see cref="MslReplay"/>), one configuration for all channels,
/// channels in parallel. Metrics pool every channel's test rows, point-wise without point adjustment: precision, recall
/// and F1 at the scorer's own online decision; the best F1 over every distinct score as one threshold for all channels
/// (an oracle); event-wise recall; false alarms per 1,000 rows. Rows the scorer does not score count as not anomalous
/// with score 0. Output order is the channels' ordinal order whatever the scheduling.
/// </summary>
internal static class MslEvaluation
{
    public static MslEvaluationResult Run(MslEvaluationOptions options, IProgress<(int Done, int Total, string Channel)>? progress = null)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        MslCorpus.CheckDirectories(options.DataDirectory);
        var labelsFile = MslCorpus.LocateLabels(options.DataDirectory, options.LabelsFile);
        var labels = TelemanomLabels.Read(labelsFile);
        var layout = MslCorpus.Plan(options.DataDirectory, labelsFile, options.Spacecraft, labels);
        if (options.Channels is { } only)
        {
            var unknown = only.Where(c => !layout.Channels.Contains(c, StringComparer.Ordinal)).ToArray();
            if (unknown.Length > 0)
                throw new ArgumentException($"Unknown channel(s) {string.Join(", ", unknown)}; the data has {string.Join(", ", layout.Channels)}.");
            layout = layout with { Channels = [.. layout.Channels.Where(c => only.Contains(c, StringComparer.Ordinal))] };
        }
        var byChannel = labels.ToDictionary(l => l.Channel, StringComparer.Ordinal);
        var settings = MslReplay.Settings(options.Baseline, options.ScorerFactory, options.Template);
        // Loaded up front, so a bad file is reported as itself rather than inside an AggregateException.
        var loaded = layout.Channels.Select(c => MslCorpus.Load(layout, byChannel[c])).ToArray();
        var results = new MslChannelResult[loaded.Length];
        // Forecasters train one channel at a time, in channel order, before any channel is scored: with TorchSharp scoring
        // on other threads during a training, 4 of 27 channels' weights differed between two runs (measured).
        var models = options.Detector == MslDetector.Online
            ? new MslChannelModel?[loaded.Length]
            : [.. loaded.Select(c => (MslChannelModel?)MslForecaster.Prepare(c, options.Forecaster))];
        var done = 0;
        Parallel.For(0, results.Length, i =>
        {
            var channel = loaded[i];
            var channelSettings = settings;
            if (models[i] is { } model)
                channelSettings = settings with { ScorerFactory = MslForecaster.Scorer(model.Bundle, options.Detector, options.Forecaster, settings) };
            results[i] = Score(channel, MslReplay.Run(channel, channelSettings, options.IncludeCommands || options.Detector != MslDetector.Online));
            progress?.Report((Interlocked.Increment(ref done), results.Length, channel.Name));
        });
        return Pool(layout, options, results, started.Elapsed) with
        {
            Training = TimeSpan.FromTicks(models.Sum(m => m?.Training.Ticks ?? 0)),
            LoadedModels = models.Count(m => m?.Loaded == true),
        };
    }

    public static MslChannelResult Score(MslChannel channel, ChannelScores rows)
    {
        var labels = channel.RowLabels();
        return new MslChannelResult(channel.Name, channel.Spacecraft, channel.Train.Rows, channel.Test.Rows, channel.Sequences,
            PointMetrics.DetectedSequences(channel.Sequences, rows.Online), PointMetrics.Count(labels, rows.Online),
            PointMetrics.BestF1(rows.Scores, labels), rows);
    }

    /// <summary>Pools channel results: sums of their confusion matrices, and the oracle sweep over all their rows at once.</summary>
    public static MslEvaluationResult Pool(MslLayout layout, MslEvaluationOptions options, IReadOnlyList<MslChannelResult> channels, TimeSpan elapsed)
    {
        var rows = channels.Sum(c => c.TestRows);
        var scores = new double[rows];
        var labels = new bool[rows];
        var offset = 0;
        long tp = 0, fp = 0, fn = 0, tn = 0;
        var rejections = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var c in channels)
        {
            c.Rows.Scores.CopyTo(scores, offset);
            foreach (var s in c.Sequences)
                labels.AsSpan(offset + s.Start, s.Length).Fill(true);
            offset += c.TestRows;
            (tp, fp, fn, tn) = (tp + c.Online.TruePositives, fp + c.Online.FalsePositives, fn + c.Online.FalseNegatives, tn + c.Online.TrueNegatives);
            foreach (var (code, count) in c.Rows.Rejections)
                rejections[$"{c.Channel} {code}"] = count;
        }
        return new MslEvaluationResult(layout, options, channels, new ConfusionCounts(tp, fp, fn, tn), PointMetrics.BestF1(scores, labels),
            channels.Sum(c => c.Sequences.Count), channels.Sum(c => c.DetectedSequences), rows, channels.Sum(c => (long)c.TrainRows),
            channels.Sum(c => (long)c.Rows.UnscoredRows), [.. channels.SelectMany(c => c.Rows.Models).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
            rejections, elapsed);
    }
}
