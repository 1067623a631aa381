using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Streaming.Evaluation.Msl;

namespace Streaming.Host.Cli;

/// <summary>`streaming eval msl`: NASA's telemanom channels (MSL; SMAP in the same layout) through the production path.</summary>
internal static partial class EvalCommand
{
    private static Command CreateMsl()
    {
        var data = new Option<DirectoryInfo>("--data") { Description = "Directory holding train/<chan>.npy and test/<chan>.npy (telemanom layout)", Required = true };
        var labels = new Option<FileInfo?>("--labels") { Description = "labeled_anomalies.csv (default: inside --data, else one level up)" };
        var spacecraft = new Option<string?>("--spacecraft") { Description = "Only the label rows of this spacecraft (MSL or SMAP); default: every channel that has a test file" };
        var channels = new Option<string?>("--channels") { Description = "Only these channels, comma-separated (e.g. C-1,T-9)" };
        var commands = new Option<bool>("--commands")
        {
            Description = "Also pass the 54 one-hot command columns as metrics cmd_01..cmd_54 (default: the telemetry value alone; see docs/accuracy.md)",
        };
        var detector = new Option<string>("--detector")
        {
            Description = "online: the production default online detectors; forecaster: an LSTM trained per channel on its train file, "
                + "telemanom's dynamic threshold of smoothed errors; forecaster-likelihood: that forecaster as the production "
                + "ensemble's only member (anomaly likelihood of its errors)",
            DefaultValueFactory = _ => DefaultMslDetector,
        };
        detector.AcceptOnlyFromAmong("online", "forecaster", "forecaster-likelihood");
        var models = new Option<DirectoryInfo?>("--models")
        {
            Description = "forecaster detectors: save each channel's trained bundle as <models>/<chan> and load it from there when present (skips training; a saved bundle is used whatever --hidden/--layers/--context/--epochs say)",
        };
        var epochs = new Option<int>("--epochs") { Description = "forecaster detectors: training epochs per channel (early stopping, patience 10)", DefaultValueFactory = _ => new MslForecasterOptions().Epochs };
        var hidden = new Option<int>("--hidden") { Description = "forecaster detectors: LSTM hidden size", DefaultValueFactory = _ => new MslForecasterOptions().HiddenSize };
        var layers = new Option<int>("--layers") { Description = "forecaster detectors: stacked LSTM layers", DefaultValueFactory = _ => new MslForecasterOptions().Layers };
        var context = new Option<int>("--context") { Description = "forecaster detectors: rows of context per forecast", DefaultValueFactory = _ => new MslForecasterOptions().Context };
        var hold = new Option<int?>("--hold") { Description = "forecaster: rows a flag is held after the error that raised it (default: telemanom's error buffer, 100)" };
        var perChannel = new Option<bool>("--per-channel") { Description = "Also print one row per channel" };
        var json = new Option<bool>("--json") { Description = "Print one JSON summary object on stdout (with per-channel rows) instead of tables" };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Also write <out>/<chan>.csv (row,label,scored,score,is_anomaly) and <out>/summary.json" };
        var command = new Command("msl", """
            Multivariate evaluation on NASA's spacecraft telemetry (Hundman et al., KDD 2018). For each channel, the train
            file is streamed first (the detector learns from it; none of it is scored), then the test file, row by row,
            through the production partition processor: one entity per channel, one window per row (1 minute of synthetic
            event time, grace 0), column 0 as the metric `value`. One configuration for every channel.

            --detector forecaster (the default: the best online F1 measured, 0.294 against 0.261 for the online detectors,
            docs/accuracy.md) first trains, one channel at a time and on its train file only, the models layer's LSTM
            forecaster (context 50 rows of all 55 columns, hidden 64, one layer, seed 42, one LibTorch thread, telemanom's
            35 epochs with early stopping; about 4 minutes for all 27 channels on 2 cores, deterministic) to predict the
            value (column 0) of the next row, then scores the test rows with telemanom's thresholding: EWMA-smoothed
            absolute errors against a nonparametric threshold re-chosen every 70 rows over the last 2,100, flags held for
            the 100-row error buffer (Hundman et al.'s defaults). --models DIR keeps the trained bundles (ordinary model
            bundles) and reuses them; the scorer is the one `run` builds with Models:Scorer=Telemanom (docs/accuracy.md).
            --detector forecaster-likelihood scores the same forecaster with the production ensemble's anomaly likelihood
            instead; --detector online runs the production default online detectors (no training; --commands applies here).

            Metrics pool all channels' test rows, point-wise WITHOUT point adjustment:
              precision / recall / F1 at the detector's own online decision (score >= its threshold, no labels used);
              best F1 over every distinct score as one threshold (an ORACLE that reads the labels, for comparison only);
              event-wise recall (labelled sequences with at least one online detection inside);
              false alarms per 1,000 test rows (online detections outside every sequence).
            Rows the detector does not score (warm-up) count as not anomalous with score 0, and are counted.
            Published best-F1 without point adjustment on MSL: LSTM-NDT 0.41, OmniAnomaly 0.43.

              streaming eval msl --data ../shared/datasets/msl
              streaming eval msl --data ../shared/datasets/msl --per-channel --out results/msl
              streaming eval msl --data data/SMAP_MSL --spacecraft SMAP --json
            """) { data, labels, spacecraft, channels, commands, detector, models, epochs, hidden, layers, context, hold, perChannel, json, output };
        command.SetAction(parse =>
        {
            if (CliSupport.LoadEvaluationTemplate() is not { } template)
                return 2;
            var options = new MslEvaluationOptions
            {
                DataDirectory = parse.GetValue(data)!.FullName,
                LabelsFile = parse.GetValue(labels)?.FullName,
                Spacecraft = parse.GetValue(spacecraft),
                Channels = parse.GetValue(channels)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                IncludeCommands = parse.GetValue(commands),
                Template = template,
                Detector = ParseMslDetector(parse.GetValue(detector)!),
                Forecaster = new MslForecasterOptions { ModelsDirectory = parse.GetValue(models)?.FullName, Epochs = parse.GetValue(epochs), HiddenSize = parse.GetValue(hidden), Layers = parse.GetValue(layers), Context = parse.GetValue(context), Telemanom = new() { Hold = parse.GetValue(hold) } },
            };
            var progress = new StderrProgress("channels");
            MslEvaluationResult result;
            try
            {
                result = MslEvaluation.Run(options, new SynchronousProgress<(int Done, int Total, string Channel)>(x => progress.Report(x.Done, x.Total, x.Channel)));
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
            {
                progress.Done();
                Console.Error.WriteLine($"Cannot run the MSL evaluation: {ex.Message}");
                return 2;
            }
            progress.Done();
            var summary = JsonSerializer.Serialize(MslSummary(result), Json);
            if (parse.GetValue(output) is { } outDirectory)
            {
                MslResultWriter.Write(outDirectory.FullName, result);
                File.WriteAllText(Path.Combine(outDirectory.FullName, "summary.json"), summary + "\n");
            }
            if (parse.GetValue(json))
            {
                Console.WriteLine(summary);
                return 0;
            }
            PrintMsl(result, parse.GetValue(perChannel), parse.GetValue(output)?.FullName);
            return 0;
        });
        return command;
    }

    /// <summary>What <c>eval msl</c> runs without --detector: the variant that scored best (docs/accuracy.md, NASA MSL).</summary>
    private const string DefaultMslDetector = "forecaster";

    private static MslDetector ParseMslDetector(string name) => name switch
    {
        "online" => MslDetector.Online,
        "forecaster" => MslDetector.Forecaster,
        "forecaster-likelihood" => MslDetector.ForecasterLikelihood,
        _ => throw new ArgumentException($"Unknown detector '{name}'."),
    };

    private static string MslDetectorName(MslDetector detector) => detector switch
    {
        MslDetector.Online => "online",
        MslDetector.Forecaster => "forecaster",
        _ => "forecaster-likelihood",
    };

    private static void PrintMsl(MslEvaluationResult r, bool perChannel, string? outDirectory)
    {
        var o = r.Online;
        var b = r.Oracle.Counts;
        Console.WriteLine($"Telemanom channels from {r.Layout.DataDirectory}: {r.Channels.Count} channels ({string.Join(", ", r.Channels.Select(c => c.Spacecraft).Distinct(StringComparer.Ordinal))}), {r.TrainRows:N0} train rows (learned, not scored), {r.TestRows:N0} test rows, {r.Sequences} labelled sequences; {r.Elapsed.TotalSeconds:F1} s");
        var forecasting = r.Options.Detector != MslDetector.Online;
        Console.WriteLine($"  detector: {MslDetectorName(r.Options.Detector)} ({string.Join(", ", r.Models.Take(3))}{(r.Models.Count > 3 ? $", … {r.Models.Count} models" : "")}); metrics: {(r.Options.IncludeCommands || forecasting ? "value + cmd_01..cmd_54" : "value")}");
        if (forecasting)
        {
            var f = r.Options.Forecaster;
            Console.WriteLine($"  forecaster: context {f.Context}, hidden {f.HiddenSize} × {f.Layers} layer(s), ≤ {f.Epochs} epochs, seed {f.Seed}, 1 LibTorch thread per channel; training {r.Training.TotalSeconds:F1} s summed over channels ({r.LoadedModels} loaded from --models)");
        }
        Console.WriteLine($"  unscored test rows (warm-up; counted as not anomalous, score 0): {r.UnscoredRows:N0}; rejected rows: {(r.Rejections.Count == 0 ? "none" : string.Join(", ", r.Rejections.Select(x => $"{x.Key} {x.Value}")))}");
        Console.WriteLine();
        Console.WriteLine("  point-wise over all test rows, no point adjustment");
        Console.WriteLine($"  {"",-28}{"precision",11}{"recall",9}{"F1",7}");
        Console.WriteLine($"  {"online threshold",-28}{o.Precision,11:F3}{o.Recall,9:F3}{o.F1,7:F3}   (TP {o.TruePositives}, FP {o.FalsePositives}, FN {o.FalseNegatives}, TN {o.TrueNegatives})");
        Console.WriteLine($"  {"best F1 (oracle threshold)",-28}{b.Precision,11:F3}{b.Recall,9:F3}{b.F1,7:F3}   (score >= {FormatThreshold(r.Oracle.Threshold)}; reads the labels: comparison only)");
        Console.WriteLine();
        Console.WriteLine($"  event-wise recall: {r.EventRecall:F3}  ({r.DetectedSequences}/{r.Sequences} sequences with an online detection inside)");
        Console.WriteLine($"  false alarms per 1,000 test rows: {r.FalseAlarmsPerThousandRows:F2}  ({o.FalsePositives} online detections outside every sequence)");
        Console.WriteLine("  published on MSL, best F1 without point adjustment: LSTM-NDT 0.41, OmniAnomaly 0.43");
        if (perChannel)
        {
            Console.WriteLine();
            Console.WriteLine($"  {"channel",-8}{"train",7}{"test",7}{"seqs hit",10}{"unscored",10}{"precision",11}{"recall",8}{"F1",7}{"FA/1k",8}{"oracle F1",11}");
            foreach (var c in r.Channels)
                Console.WriteLine($"  {c.Channel,-8}{c.TrainRows,7}{c.TestRows,7}{$"{c.DetectedSequences}/{c.Sequences.Count}",10}{c.Rows.UnscoredRows,10}{c.Online.Precision,11:F3}{c.Online.Recall,8:F3}{c.Online.F1,7:F3}{c.FalseAlarmsPerThousandRows,8:F2}{c.Oracle.Counts.F1,11:F3}");
            Console.WriteLine("  (oracle F1 per channel uses that channel's own best threshold)");
        }
        if (outDirectory is not null)
            Console.WriteLine($"  per-row results and summary.json written to {outDirectory}");
    }

    private static string FormatThreshold(double threshold) =>
        double.IsPositiveInfinity(threshold) ? "+inf (nothing flagged)" : threshold.ToString("G6", CultureInfo.InvariantCulture);

    private static object Confusion(Evaluation.Metrics.ConfusionCounts c) => new
    {
        tp = c.TruePositives, fp = c.FalsePositives, fn = c.FalseNegatives, tn = c.TrueNegatives, precision = c.Precision, recall = c.Recall, f1 = c.F1,
    };

    private static object Oracle(OracleF1 o) => new
    {
        threshold = double.IsFinite(o.Threshold) ? o.Threshold : (double?)null,
        counts = Confusion(o.Counts),
    };

    private static object MslSummary(MslEvaluationResult r) => new
    {
        command = "eval msl",
        data_directory = r.Layout.DataDirectory,
        labels_file = r.Layout.LabelsFile,
        spacecraft = r.Options.Spacecraft,
        include_commands = r.Options.IncludeCommands || r.Options.Detector != MslDetector.Online,
        detector = MslDetectorName(r.Options.Detector),
        models = r.Models,
        training_seconds_summed = Math.Round(r.Training.TotalSeconds, 3),
        loaded_models = r.LoadedModels,
        channels = r.Channels.Count,
        train_rows = r.TrainRows,
        test_rows = r.TestRows,
        unscored_test_rows = r.UnscoredRows,
        rejected_rows = r.Rejections,
        sequences = r.Sequences,
        point_wise_online = Confusion(r.Online),
        point_wise_best_f1_oracle = Oracle(r.Oracle),
        event_wise_recall = r.EventRecall,
        detected_sequences = r.DetectedSequences,
        false_alarms_per_1000_rows = r.FalseAlarmsPerThousandRows,
        published_best_f1_without_point_adjustment = new { lstm_ndt = 0.41, omni_anomaly = 0.43 },
        per_channel = r.Channels.Select(c => new
        {
            channel = c.Channel,
            spacecraft = c.Spacecraft,
            train_rows = c.TrainRows,
            test_rows = c.TestRows,
            unscored_test_rows = c.Rows.UnscoredRows,
            sequences = c.Sequences.Select(s => new[] { s.Start, s.End }),
            detected_sequences = c.DetectedSequences,
            online = Confusion(c.Online),
            false_alarms_per_1000_rows = c.FalseAlarmsPerThousandRows,
            best_f1_oracle = Oracle(c.Oracle),
        }),
        elapsed_seconds = Math.Round(r.Elapsed.TotalSeconds, 3),
    };
}
