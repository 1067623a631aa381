using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Streaming.Evaluation.Nab;
using Streaming.Evaluation.Rul;
using Streaming.Evaluation.Simulation;
using Streaming.Processing.Scoring;
using Streaming.Simulation;

namespace Streaming.Host.Cli;

/// <summary>`streaming eval nab|cmapss|sim|msl`: accuracy of the production detectors on public benchmarks and on the labelled simulator.</summary>
internal static partial class EvalCommand
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    public static Command Create()
    {
        var command = new Command("eval", """
            Measures detection accuracy through the production code path (the Kafka-free partition processor).

              streaming eval nab --data ../shared/datasets/nab-dev/data --windows ../shared/datasets/nab-dev/labels/combined_windows.json --out results/nab
              streaming eval cmapss --train ../shared/datasets/cmapss/train_FD001.txt
              streaming eval sim --entities 20 --days 2 --seed 42
              streaming eval msl --data ../shared/datasets/msl
            """);
        command.Subcommands.Add(CreateNab());
        command.Subcommands.Add(CmapssEvalCommand.Create());
        command.Subcommands.Add(CreateSim());
        command.Subcommands.Add(CreateMsl());
        return command;
    }

    private static Command CreateNab()
    {
        var data = new Option<DirectoryInfo>("--data") { Description = "NAB data directory (<category>/<file>.csv)", Required = true };
        var windows = new Option<FileInfo>("--windows") { Description = "NAB labels: combined_windows.json", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Where to write NAB result files (<out>/<detector>/<category>/<detector>_<file>.csv)", Required = true };
        var profiles = new Option<FileInfo?>("--profiles") { Description = "NAB profiles.json (default: NAB's standard, reward_low_FP_rate, reward_low_FN_rate weights)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON summary object on stdout instead of tables" };
        var command = new Command("nab", """
            Replays every NAB series through the production partition processor (one window per sampling interval, grace 0)
            as two detectors (every window's baseline score; alert openings only), runs the LSTM forecaster trained on each
            file's probationary period as a third, writes NAB result files, optimises each profile's threshold over the
            corpus and prints NAB's normalised scores (100 = a detection at the start of every window, 0 = never firing).

              streaming eval nab --data ../shared/datasets/nab-dev/data \
                --windows ../shared/datasets/nab-dev/labels/combined_windows.json \
                --profiles ../shared/datasets/nab-dev/config/profiles.json --out results/nab
            """) { data, windows, output, profiles, json };
        command.SetAction(parse =>
        {
            var asJson = parse.GetValue(json);
            IReadOnlyList<NabFile> files;
            IReadOnlyList<NabProfile> profileList;
            try
            {
                files = NabCorpus.Load(parse.GetValue(data)!.FullName, parse.GetValue(windows)!.FullName);
                profileList = parse.GetValue(profiles) is { } p ? NabCorpus.ReadProfiles(p.FullName) : NabCorpus.StandardProfiles;
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or JsonException or UnauthorizedAccessException or KeyNotFoundException)
            {
                Console.Error.WriteLine($"Cannot read the NAB corpus: {ex.Message}");
                return 2;
            }
            if (files.All(f => f.Windows.Count == 0))
            {
                // NAB normalises by the perfect score, which is 0 without windows: there is nothing to score against.
                Console.Error.WriteLine($"The NAB corpus has no labelled windows ({files.Count} file(s)): the windows file must label at least one of the data files.");
                return 2;
            }
            var outputDirectory = parse.GetValue(output)!.FullName;
            // The configured detectors (appsettings.json + environment, as `run` uses them), one configuration for every file.
            if (CliSupport.LoadEvaluationTemplate() is not { } template)
                return 2;
            var baseline = PipelineNabDetector.Production(PipelineSignal.EveryWindow, template);
            var alerts = PipelineNabDetector.Production(PipelineSignal.AlertOpenings, template);
            INabDetector[] detectors = [baseline, alerts, new LstmNabDetector(seed: 42)];
            var results = new List<NabDetectorResult>();
            foreach (var detector in detectors)
            {
                var progress = new StderrProgress(detector.Name);
                results.Add(NabBenchmark.Run(detector, files, profileList, outputDirectory,
                    new SynchronousProgress<(int Done, int Total, string File)>(x => progress.Report(x.Done, x.Total, x.File))));
                progress.Done();
            }
            if (asJson)
            {
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    command = "eval nab",
                    files = files.Count,
                    windows = files.Sum(f => f.Windows.Count),
                    rejected_rows = baseline.RejectedRows,
                    detectors = results.Select(r => new
                    {
                        detector = r.Detector,
                        elapsed_seconds = Math.Round(r.Elapsed.TotalSeconds, 3),
                        profiles = r.Profiles.Select(x => new
                        {
                            profile = x.Profile,
                            score = x.Score,
                            threshold = x.Threshold,
                            raw_score = x.RawScore,
                            null_score = x.NullScore,
                            perfect_score = x.PerfectScore,
                            detected_windows = x.DetectedWindows,
                            windows = x.Windows,
                            false_positive_rows = x.FalsePositiveRows,
                            files = x.Files.Select(f => new
                            {
                                file = f.File,
                                raw_score = f.Score.Raw,
                                normalized_score = f.Normalized,
                                detected_windows = f.Score.DetectedWindows,
                                windows = f.Score.Windows,
                                true_positive_rows = f.Score.TruePositiveRows,
                                false_positive_rows = f.Score.FalsePositiveRows,
                            }),
                        }),
                    }),
                    result_directory = outputDirectory,
                }, Json));
                return 0;
            }
            Console.WriteLine($"NAB: {files.Count} files, {files.Sum(f => f.Windows.Count)} labelled windows; result files under {outputDirectory}");
            Console.WriteLine("Scores are NAB-normalised over the corpus: 100 = a detection at the start of every window, 0 = never firing.");
            Console.WriteLine($"Rows the production processor rejected (they keep their window's score): {(baseline.RejectedRows.Count == 0 ? "none" : string.Join(", ", baseline.RejectedRows.Select(x => $"{x.Key} {x.Value}")))}");
            Console.WriteLine();
            Console.WriteLine($"{"detector",-22}{string.Join("", profileList.Select(x => $"{x.Name,20}"))}");
            foreach (var r in results)
                Console.WriteLine($"{r.Detector,-22}{string.Join("", r.Profiles.Select(x => $"{x.Score,20:F1}"))}");
            foreach (var r in results)
            {
                Console.WriteLine();
                Console.WriteLine($"{r.Detector}  ({r.Elapsed.TotalSeconds:F1} s)");
                Console.WriteLine($"  {"profile",-20}{"threshold",12}{"raw",10}{"null",8}{"perfect",9}{"windows hit",13}{"FP rows",9}");
                foreach (var x in r.Profiles)
                    Console.WriteLine($"  {x.Profile,-20}{x.Threshold,12:F4}{x.RawScore,10:F2}{x.NullScore,8:F1}{x.PerfectScore,9:F1}{$"{x.DetectedWindows}/{x.Windows}",13}{x.FalsePositiveRows,9}");
                var standard = r.Profiles[0];
                Console.WriteLine($"  per file ({standard.Profile}, normalised within the file where it has windows):");
                foreach (var f in standard.Files)
                    Console.WriteLine($"    {f.File,-58}{(f.Normalized is { } n ? n.ToString("F1", CultureInfo.InvariantCulture) : "-"),8}  raw {f.Score.Raw,7:F2}  windows {f.Score.DetectedWindows}/{f.Score.Windows}  FP rows {f.Score.FalsePositiveRows}");
            }
            return 0;
        });
        return command;
    }

    private static Command CreateSim()
    {
        var entities = new Option<int>("--entities") { Description = "Simulated machines", DefaultValueFactory = _ => 20 };
        var days = new Option<double>("--days") { Description = "Simulated days", DefaultValueFactory = _ => 1 };
        var seed = new Option<int>("--seed") { Description = "Simulator seed", DefaultValueFactory = _ => 42 };
        var labels = new Option<FileInfo?>("--labels") { Description = "Also write the simulator's incident labels to this file (JSON lines)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON summary object on stdout instead of tables" };
        var command = new Command("sim", """
            Runs the seeded fleet simulator with labelled failures through the production partition processor (JSON, parser,
            1-minute windows with 30 s grace, robust baseline, alert lifecycle) and reports point-wise (per window) and
            event-wise (per incident, per alert) precision/recall/F1, time to detect and false alarms per entity-day.

              streaming eval sim --entities 20 --days 2 --seed 42 --labels results/sim-labels.jsonl
            """) { entities, days, seed, labels, json };
        command.SetAction(parse =>
        {
            if (CliSupport.LoadEvaluationTemplate() is not { } template)
                return 2;
            var options = new SimEvaluationOptions
            {
                Entities = parse.GetValue(entities), Days = parse.GetValue(days), Seed = parse.GetValue(seed),
                Template = template,
            };
            SimEvaluationResult result;
            var progress = new StderrProgress("simulating");
            try
            {
                result = SimEvaluation.Run(options, new SynchronousProgress<double>(f => progress.Report((int)(f * 100), 100, "%")));
            }
            catch (ArgumentException ex)
            {
                progress.Done();
                Console.Error.WriteLine(ex.Message);
                return 2;
            }
            progress.Done();
            if (parse.GetValue(labels) is { } labelFile)
            {
                Directory.CreateDirectory(labelFile.DirectoryName!);
                FailureLabelFile.Write(labelFile.FullName, result.Labels);
            }
            var e = result.EventWise;
            var p = result.PointWise;
            const string NoDowntime = "the robust baseline emits no downtime predictions, so downtime precision/recall and lead time are not measured";
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    command = "eval sim",
                    entities = options.Entities,
                    days = options.Days,
                    seed = options.Seed,
                    samples = result.Samples,
                    scored_windows = result.ScoredWindows,
                    rejected = result.Rejected,
                    incidents = e.Incidents,
                    downtimes = result.Downtimes,
                    point_wise = new { tp = p.TruePositives, fp = p.FalsePositives, fn = p.FalseNegatives, tn = p.TrueNegatives, precision = p.Precision, recall = p.Recall, f1 = p.F1 },
                    event_wise = new
                    {
                        detected_incidents = e.DetectedIncidents,
                        alerts = e.Alerts,
                        true_alerts = e.TrueAlerts,
                        precision = e.Precision,
                        recall = e.Recall,
                        f1 = e.F1,
                        tolerance_seconds = options.Tolerance.TotalSeconds,
                        time_to_detect_seconds = new { mean = e.MeanTimeToDetect?.TotalSeconds, median = e.MedianTimeToDetect?.TotalSeconds, p95 = e.P95TimeToDetect?.TotalSeconds },
                        false_alarms_per_entity_day = e.FalseAlarmsPerEntityDay,
                    },
                    recall_by_kind = result.ByKind.Select(k => new { kind = k.Kind.ToString(), incidents = k.Incidents, detected = k.Detected }),
                    downtime_prediction = NoDowntime,
                    labels_file = parse.GetValue(labels)?.FullName,
                    elapsed_seconds = Math.Round(result.Elapsed.TotalSeconds, 3),
                }, Json));
                return 0;
            }
            Console.WriteLine($"Simulator: {options.Entities} entities × {options.Days:0.##} days, seed {options.Seed}: {result.Samples:N0} samples, {result.ScoredWindows:N0} scored windows, {e.Incidents} incidents ({result.Downtimes} ending in downtime); {result.Elapsed.TotalSeconds:F1} s");
            Console.WriteLine();
            Console.WriteLine($"  {"",-12}{"precision",11}{"recall",9}{"F1",7}");
            Console.WriteLine($"  {"point-wise",-12}{p.Precision,11:F3}{p.Recall,9:F3}{p.F1,7:F3}   (windows: TP {p.TruePositives}, FP {p.FalsePositives}, FN {p.FalseNegatives}, TN {p.TrueNegatives})");
            Console.WriteLine($"  {"event-wise",-12}{e.Precision,11:F3}{e.Recall,9:F3}{e.F1,7:F3}   (incidents detected {e.DetectedIncidents}/{e.Incidents}; alerts true {e.TrueAlerts}/{e.Alerts}; tolerance {options.Tolerance.TotalMinutes:0} min)");
            Console.WriteLine();
            Console.WriteLine($"  time to detect: mean {Format(e.MeanTimeToDetect)}, median {Format(e.MedianTimeToDetect)}, p95 {Format(e.P95TimeToDetect)}");
            Console.WriteLine($"  false alarms per entity-day: {e.FalseAlarmsPerEntityDay:F2}  ({e.FalseAlerts} false alerts)");
            Console.WriteLine($"  recall by kind: {string.Join(", ", result.ByKind.Select(k => $"{k.Kind} {k.Detected}/{k.Incidents}"))}");
            Console.WriteLine($"  downtime prediction: {NoDowntime}.");
            if (parse.GetValue(labels) is { } written)
                Console.WriteLine($"  labels written to {written.FullName}");
            return 0;
        });
        return command;
    }

    private static string Format(TimeSpan? time) => time is { } t ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : "-";

    /// <summary>Reports on the calling thread, unlike <see cref="Progress{T}"/>, which posts to the thread pool.</summary>
    internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    /// <summary>A one-line progress display on stderr, so stdout stays clean for tables and --json.</summary>
    internal sealed class StderrProgress(string label)
    {
        private readonly Lock _lock = new();
        private readonly bool _interactive = !Console.IsErrorRedirected;

        public void Report(int done, int total, string item)
        {
            if (!_interactive)
                return;
            lock (_lock)
                Console.Error.Write($"\r  {label} {done}/{total} {item}".PadRight(80));
        }

        public void Done()
        {
            if (_interactive)
                Console.Error.Write("\r" + new string(' ', 82) + "\r");
        }
    }
}
