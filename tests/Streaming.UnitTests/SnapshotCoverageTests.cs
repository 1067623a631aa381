using System.Reflection;
using Streaming.Processing.Alerts;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Scoring.Detection;
using Streaming.Processing.Windows;

namespace Streaming.UnitTests;

/// <summary>
/// A guard for merges: every field of every class a partition snapshot holds is listed here as either written by its
/// codec (src/Streaming.Processing/Snapshots) or deliberately not (settings given to the constructor, scratch buffers). A
/// field added to one of these classes fails this test until its codec, and this list, say what happens to it.
/// </summary>
public sealed class SnapshotCoverageTests
{
    private static readonly Assembly Processing = typeof(PartitionProcessor).Assembly;

    private static readonly Dictionary<string, string[]> Fields = new()
    {
        [typeof(PartitionProcessor).FullName!] = ["_settings", "_windows", "_scoring", "_closed"],
        [typeof(ScoringStage).FullName!] = ["_scorer", "_alerts", "_predictions"],
        [typeof(WindowAggregator).FullName!] =
        [
            "_options", "_sizeMs", "_advanceMs", "_graceMs", "_metricIds", "_metricNames", "_open", "_seenTimestamps", "_pool", "_closing",
            "_isBeforeCutoff", "_pruneCutoff", "_nextUpdateMs", "<StreamTimeMs>k__BackingField",
        ],
        ["Streaming.Processing.Windows.WindowAggregator+WindowState"] =
            ["_metrics", "_values", "_metricCount", "<Entity>k__BackingField", "<StartMs>k__BackingField", "<SampleCount>k__BackingField", "<ChangedSinceUpdate>k__BackingField"],
        ["Streaming.Processing.Windows.MetricAccumulator"] =
            ["Count", "Mean", "M2", "Min", "Max", "FirstT", "First", "LastT", "Last", "MeanT", "M2T", "CoMoment", "Ewma"],
        [typeof(RobustBaselineScorer).FullName!] = ["_options", "_history"],
        ["Streaming.Processing.Scoring.RobustBaselineScorer+History"] = ["_values", "_sorted", "_unordered", "_next", "<Count>k__BackingField", "<Frozen>k__BackingField"],
        [typeof(BaselineWindowScorer).FullName!] = ["_baseline", "<topContributors>P"],
        [typeof(OnlineWindowScorer).FullName!] = ["_options", "_baseline", "_topContributors", "_baselineWindows", "_entities"],
        ["Streaming.Processing.Scoring.Detection.MetricDetector"] =
        [
            "_options", "_baselineThreshold", "_forest", "_forestLikelihood", "_seed", "_forestPeriod", "_baselineLikelihood", "_seasonalLikelihood",
            "_seasonal", "_shingle", "_point", "_shingleNext", "_shingleCount", "_min", "_max", "_seen", "_rangeGrewAt",
            "_sustained", "_rangeDelay", "_rangeDelayNext",
        ],
        ["Streaming.Processing.Scoring.Detection.SustainedDeviation"] = ["_recent", "_next", "_count"],
        [typeof(AnomalyLikelihood).FullName!] =
            ["_options", "_recent", "_history", "_recentSum", "_recentNext", "_recentCount", "_historyNext", "_historyCount", "_sum", "_sumSquares", "_seen"],
        ["Streaming.Processing.Scoring.Detection.SeasonalModel"] =
            ["_options", "_values", "_capacity", "_next", "_count", "_seen", "_nextEstimate", "_meanAbsoluteResidual", "_confirmations", "_levelWindows", "<Period>k__BackingField"],
        [typeof(RandomCutForest).FullName!] = ["_trees", "_point", "_next", "<Dimensions>k__BackingField", "<SampleSize>k__BackingField", "<Count>k__BackingField"],
        ["Streaming.Processing.Scoring.Detection.RandomCutTree"] =
        [
            "_dims", "_maxNodes", "_parent", "_left", "_right", "_mass", "_cutDim", "_cutValue", "_min", "_max", "_capacity", "_leafOfSlot",
            "_free", "_random", "_root",
        ],
        ["Streaming.Processing.Scoring.Detection.SplitMix64"] = ["_state"],
        [typeof(AlertTracker).FullName!] = ["<clock>P", "_options", "_entities"],
        ["Streaming.Processing.Alerts.AlertTracker+EntityAlert"] = ["AlertId", "IsOpen", "PeakScore", "Severity", "NormalStreak", "WindowsSinceResolve"],
        [typeof(DowntimeTracker).FullName!] = ["<clock>P", "_options", "_entities"],
        ["Streaming.Processing.Alerts.DowntimeTracker+State"] = ["AlertId", "IsOpen", "Severity", "LowStreak"],
    };

    [TestCaseSource(nameof(Types))]
    public void Every_field_of_a_snapshotted_class_is_accounted_for(string type)
    {
        var actual = Processing.GetType(type, throwOnError: true)!
            .GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .Select(f => f.Name)
            .Order(StringComparer.Ordinal);

        Assert.That(actual, Is.EqualTo(Fields[type].Order(StringComparer.Ordinal)),
            "a field was added or removed: write it in the class's snapshot codec (or say why not) and update this list");
    }

    private static IEnumerable<string> Types() => Fields.Keys;
}
