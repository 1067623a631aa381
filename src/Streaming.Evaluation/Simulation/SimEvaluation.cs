using Streaming.Contracts;
using Streaming.Evaluation.Metrics;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Windows;
using Streaming.Simulation;

namespace Streaming.Evaluation.Simulation;

internal sealed record SimEvaluationOptions
{
    public int Entities { get; init; } = 20;
    public double Days { get; init; } = 1;
    public int Seed { get; init; } = 42;

    /// <summary>The detector and alert settings to evaluate (the windows are the evaluation's own); the production defaults when null.</summary>
    public ProcessorSettings? Template { get; init; }

    /// <summary>How long after an incident ends a detection or alert still counts for it.</summary>
    public TimeSpan Tolerance { get; init; } = TimeSpan.FromMinutes(2);

    public SimEvaluationOptions Validated()
    {
        if (Entities < 1)
            throw new ArgumentException($"--entities must be at least 1, was {Entities}.");
        if (!(Days > 0) || Days > 365)
            throw new ArgumentException($"--days must be in (0, 365], was {Days}.");
        return this;
    }
}

internal sealed record KindRecall(FailureKind Kind, int Incidents, int Detected);

internal sealed record SimEvaluationResult(
    SimEvaluationOptions Options, SimulatorOptions Simulator, WindowOptions Windows, long Samples, int ScoredWindows, int Rejected,
    ConfusionCounts PointWise, EventMetrics EventWise, IReadOnlyList<KindRecall> ByKind, int Downtimes,
    IReadOnlyList<FailureLabel> Labels, TimeSpan Elapsed);

/// <summary>
/// Runs the seeded fleet simulator through the production processing path (JSON → parser → windows → baseline → alerts,
/// in one <see cref="PartitionProcessor"/>) with the production default settings, and scores the windows and alerts
/// against the simulator's labelled incidents.
/// </summary>
internal static class SimEvaluation
{
    public static SimEvaluationResult Run(SimEvaluationOptions options, IProgress<double>? progress = null)
    {
        options.Validated();
        var started = System.Diagnostics.Stopwatch.StartNew();
        var simulatorOptions = new SimulatorOptions { Entities = options.Entities, Seed = options.Seed };
        var windows = new WindowOptions { Size = TimeSpan.FromMinutes(1), Grace = TimeSpan.FromSeconds(30), ExpectedSampleInterval = simulatorOptions.SampleInterval };
        var settings = options.Template is { } template ? template with { Windows = windows } : new ProcessorSettings { Windows = windows };
        var processor = new PartitionProcessor(settings, TimeProvider.System);
        var simulator = new FleetSimulator(simulatorOptions);
        var output = new Collector();
        var ticks = (long)(TimeSpan.FromDays(options.Days) / simulatorOptions.SampleInterval);
        var batch = new List<TelemetrySample>(options.Entities);
        long samples = 0;
        for (long t = 0; t < ticks; t++)
        {
            batch.Clear();
            simulator.NextTick(batch);
            foreach (var sample in batch)
                processor.Process(TelemetryJson.ToUtf8(sample), sample.TimestampMs, output);
            samples += batch.Count;
            processor.EmitClosed(output);
            if (progress is not null && t % 2048 == 0)
                progress.Report((double)t / ticks);
        }
        var endMs = simulator.Now.ToUnixTimeMilliseconds();
        processor.AdvanceStreamTime(endMs + windows.SizeMs + windows.GraceMs);
        processor.EmitClosed(output);
        progress?.Report(1);

        // Incidents still running at the end are cut there, so their anomalous windows are not counted as false alarms.
        var labels = simulator.Labels.Concat(simulator.RunningIncidents()
            .Select(l => l with { End = l.End.ToUnixTimeMilliseconds() > endMs ? DateTimeOffset.FromUnixTimeMilliseconds(endMs) : l.End }))
            .ToArray();
        var incidents = labels.Select(l => new EntityInterval(l.Entity, l.Start.ToUnixTimeMilliseconds(), l.End.ToUnixTimeMilliseconds())).ToArray();
        var pointWise = ClassificationMetrics.PointWise(output.Verdicts, incidents);
        var eventWise = ClassificationMetrics.EventWise(output.Verdicts, output.AlertOpenings, incidents, options.Entities * options.Days, options.Tolerance);
        var byKind = labels.Select((l, i) => (l.Kind, Incident: incidents[i]))
            .GroupBy(x => x.Kind)
            .OrderBy(g => g.Key)
            .Select(g =>
            {
                var kindIncidents = g.Select(x => x.Incident).ToArray();
                var metrics = ClassificationMetrics.EventWise(output.Verdicts, [], kindIncidents, options.Entities * options.Days, options.Tolerance);
                return new KindRecall(g.Key, kindIncidents.Length, metrics.DetectedIncidents);
            })
            .ToArray();
        var downtimes = labels.Count(l => l.DowntimeStart is { } s && s.ToUnixTimeMilliseconds() <= endMs);
        return new SimEvaluationResult(options, simulatorOptions, windows, samples, output.Verdicts.Count, output.RejectedCount,
            pointWise, eventWise, byKind, downtimes, labels, started.Elapsed);
    }

    private sealed class Collector : IProcessorOutput
    {
        public List<WindowVerdictPoint> Verdicts { get; } = [];

        public List<EntityInterval> AlertOpenings { get; } = [];

        public int RejectedCount { get; private set; }

        public void Rejected(Rejection rejection) => RejectedCount++;

        public void WindowClosed(ClosedWindow window)
        {
        }

        public void Scored(WindowAssessment assessment) =>
            Verdicts.Add(new WindowVerdictPoint(assessment.Window.Entity, assessment.Window.Bounds.StartMs, assessment.Window.Bounds.EndMs, assessment.IsAnomaly));

        // The evaluation runs the baseline, which predicts no downtime (see the command's output).
        public void Prediction(DowntimePredictionEvent prediction)
        {
        }

        public void Alert(AnomalyEvent alert)
        {
            if (alert.Status == AlertStatus.Open)
                AlertOpenings.Add(new EntityInterval(alert.Entity, alert.WindowStart.ToUnixTimeMilliseconds(), alert.WindowEnd.ToUnixTimeMilliseconds()));
        }
    }
}
