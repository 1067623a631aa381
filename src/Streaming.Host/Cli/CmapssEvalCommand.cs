using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Streaming.Evaluation.Rul;
using Streaming.Models.Training;

namespace Streaming.Host.Cli;

/// <summary>`streaming eval cmapss`: the downtime predictor on NASA C-MAPSS, per training seed and as a seed ensemble.</summary>
internal static class CmapssEvalCommand
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    public static Command Create()
    {
        var defaults = new CmapssEvaluationOptions { TrainFile = "" };
        var train = new Option<FileInfo>("--train") { Description = "C-MAPSS training file (train_FD001.txt)", Required = true };
        var test = new Option<FileInfo?>("--test") { Description = "C-MAPSS test file (test_FD001.txt); without it, a seeded hold-out of training engines is cut at random cycles" };
        var rul = new Option<FileInfo?>("--rul") { Description = "True RUL per test engine (RUL_FD001.txt); required with --test" };
        var seed = new Option<int>("--seed") { Description = "Seed of the hold-out and the truncation points (and of training without --seeds)", DefaultValueFactory = _ => defaults.Seed };
        var seeds = new Option<string?>("--seeds") { Description = "Comma-separated training seeds, e.g. 1,2,3: one model each, reported each and as their ensemble" };
        var epochs = new Option<int>("--epochs") { Description = "Maximum training epochs (early stopping after --patience without improvement)", DefaultValueFactory = _ => defaults.Epochs };
        var patience = new Option<int>("--patience") { Description = "Epochs without validation improvement before stopping", DefaultValueFactory = _ => defaults.Patience };
        var window = new Option<int>("--window") { Description = "Cycles per input window", DefaultValueFactory = _ => defaults.SequenceLength };
        var hidden = new Option<int>("--hidden") { Description = "LSTM hidden size", DefaultValueFactory = _ => defaults.HiddenSize };
        var layers = new Option<int>("--layers") { Description = "LSTM layers", DefaultValueFactory = _ => defaults.NumLayers };
        var conv = new Option<int>("--conv") { Description = "Conv1d channels before the LSTM (0: none)", DefaultValueFactory = _ => defaults.Head.ConvChannels };
        var kernel = new Option<int>("--kernel") { Description = "Conv1d kernel width (odd)", DefaultValueFactory = _ => defaults.Head.ConvKernel };
        var attention = new Option<bool>("--attention") { Description = "Attention over all LSTM states next to the last one", DefaultValueFactory = _ => defaults.Head.Attention };
        var headHidden = new Option<int>("--head-hidden") { Description = "ReLU layer width before the head (0: none)", DefaultValueFactory = _ => defaults.Head.HiddenSize };
        var dropout = new Option<double>("--dropout") { Description = "Dropout before the head (and between LSTM layers)", DefaultValueFactory = _ => defaults.Head.Dropout };
        var smoothing = new Option<double>("--smoothing") { Description = "Exponential smoothing factor α over each input window (0: none)", DefaultValueFactory = _ => defaults.Head.Smoothing };
        var timeWeight = new Option<double>("--time-weight") { Description = "Weight of the time-to-downtime error next to the horizons' cross-entropy in the loss", DefaultValueFactory = _ => defaults.Head.TimeWeight };
        var plateau = new Option<int>("--plateau") { Description = "Halve the learning rate after this many epochs without validation improvement (0: constant)", DefaultValueFactory = _ => defaults.PlateauEpochs };
        var learningRate = new Option<double>("--lr") { Description = "Adam learning rate", DefaultValueFactory = _ => defaults.LearningRate };
        var batch = new Option<int>("--batch") { Description = "Mini-batch size", DefaultValueFactory = _ => defaults.BatchSize };
        var stride = new Option<int>("--stride") { Description = "Training window stride in cycles", DefaultValueFactory = _ => defaults.Stride };
        var minHistory = new Option<int>("--min-history") { Description = "Training windows start at this many observed cycles, padded with the first cycle (0: full windows only)", DefaultValueFactory = _ => defaults.TrainMinimumHistory ?? 0 };
        var refit = new Option<bool>("--refit")
        {
            Description = """
                On by default. After each seed's first fit (early stopping on the validation engines), retrain that seed from
                scratch on all non-test engines (training + validation, z-scored with all of their statistics) for the first
                fit's best epoch count, halving the learning rate after the same epochs as the first fit's plateau did, and
                score the refit models. Why: early stopping needs engines the model does not train on, but once they have
                chosen the configuration and the epoch count they are 15% of the data left unused; refitting uses them
                without touching the test engines. Validation RMSEs shown are the first fits'. --refit false scores the first
                fits (the protocol before); --refit-check measures the protocol on the validation engines alone
                """,
            DefaultValueFactory = _ => defaults.Refit,
        };
        var minMax = new Option<bool>("--min-max") { Description = "Scale each sensor to [-1, 1] by the training engines' minimum and maximum instead of z-scores" };
        var refitCheck = new Option<bool>("--refit-check")
        {
            Description = "Test the refit protocol on the validation engines alone: a first fit on 56 training engines (early stopping on the other 12) against its refit on all 68, both scored on the 12 validation engines; the test engines are not read",
        };
        var validationOnly = new Option<bool>("--validation-only") { Description = "Report only the validation engines' RMSE (for model selection): the test engines are not scored" };
        var json = new Option<bool>("--json") { Description = "Print one JSON summary object on stdout instead of tables" };
        var command = new Command("cmapss", """
            Trains the downtime predictor (remaining useful life + a hazard head whose failure-within-horizon probabilities,
            10/20/30 cycles, cannot decrease with the horizon) on C-MAPSS engines and reports RUL RMSE and NASA's score at
            each test engine's last observed cycle next to a mean baseline, per-horizon alarm precision/recall/lead time, and
            the Brier score with a reliability table next to the training base rate. With --seeds: each seed and the ensemble.
            By default each seed is then refit on the training + validation engines at its selected epoch count (--refit).

              streaming eval cmapss --train ../shared/datasets/cmapss/train_FD001.txt --seeds 1,2,3
              streaming eval cmapss --train ../shared/datasets/cmapss/train_FD001.txt --seeds 1,2,3 --validation-only
              streaming eval cmapss --train train_FD001.txt --test test_FD001.txt --rul RUL_FD001.txt --json
            """) { train, test, rul, seed, seeds, epochs, patience, window, hidden, layers, conv, kernel, attention, headHidden, dropout, smoothing, timeWeight, plateau, learningRate, batch, stride, minHistory, refit, minMax, refitCheck, validationOnly, json };
        command.SetAction(parse =>
        {
            var options = new CmapssEvaluationOptions
            {
                TrainFile = parse.GetValue(train)!.FullName,
                TestFile = parse.GetValue(test)?.FullName,
                RulFile = parse.GetValue(rul)?.FullName,
                Seed = parse.GetValue(seed),
                Seeds = parse.GetValue(seeds) is { } list ? [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture))] : null,
                Epochs = parse.GetValue(epochs),
                Patience = parse.GetValue(patience),
                SequenceLength = parse.GetValue(window),
                HiddenSize = parse.GetValue(hidden),
                NumLayers = parse.GetValue(layers),
                Head = new DowntimeHead(parse.GetValue(conv), parse.GetValue(kernel), parse.GetValue(attention), parse.GetValue(headHidden), parse.GetValue(dropout), parse.GetValue(smoothing), parse.GetValue(timeWeight)),
                LearningRate = parse.GetValue(learningRate),
                PlateauEpochs = parse.GetValue(plateau),
                BatchSize = parse.GetValue(batch),
                Stride = parse.GetValue(stride),
                TrainMinimumHistory = parse.GetValue(minHistory) is > 0 and var m ? m : null,
                Refit = parse.GetValue(refit),
                MinMax = parse.GetValue(minMax),
            };
            var progress = new EvalCommand.StderrProgress("training");
            var report = new EvalCommand.SynchronousProgress<TrainingProgress>(p =>
                progress.Report(p.Epoch, p.Epochs, $"epoch, batch {p.Batch}/{p.Batches}, loss {p.Loss:F4}"));
            try
            {
                if (parse.GetValue(refitCheck))
                {
                    var started = System.Diagnostics.Stopwatch.StartNew();
                    var (perSeed, fitEnsemble, refitEnsemble) = CmapssEvaluation.CheckRefit(options, report);
                    progress.Done();
                    foreach (var s in perSeed)
                        Console.WriteLine($"validation RMSE seed {s.Seed}: first fit (56 engines) {s.Fit:F2}, refit (68 engines, {s.Epochs} epochs) {s.Refit:F2}");
                    Console.WriteLine($"validation RMSE mean of seeds: first fit {perSeed.Average(s => s.Fit):F2}, refit {perSeed.Average(s => s.Refit):F2}; ensemble {fitEnsemble:F2} / {refitEnsemble:F2}; {started.Elapsed.TotalSeconds:F0} s");
                    return 0;
                }

                if (parse.GetValue(validationOnly))
                {
                    var started = System.Diagnostics.Stopwatch.StartNew();
                    var (perSeed, ensembleRmse) = CmapssEvaluation.Validate(options, report);
                    progress.Done();
                    foreach (var s in perSeed)
                        Console.WriteLine($"validation RMSE seed {s.Seed}: {s.Rmse:F2} (best epoch {s.BestEpoch}{Halvings(s.DecayEpochs)})");
                    Console.WriteLine($"validation RMSE mean of seeds {perSeed.Average(s => s.Rmse):F2}, ensemble {ensembleRmse:F2}; {started.Elapsed.TotalSeconds:F0} s");
                    return 0;
                }

                var result = CmapssEvaluation.Run(options, report);
                progress.Done();
                if (parse.GetValue(json))
                    Console.WriteLine(JsonSerializer.Serialize(Summary(result, options), Json));
                else
                    Print(result, options);
                return 0;
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or ArgumentException or FormatException or UnauthorizedAccessException)
            {
                progress.Done();
                Console.Error.WriteLine(ex.Message);
                return 2;
            }
        });
        return command;
    }

    private static object Summary(CmapssEvaluationResult result, CmapssEvaluationOptions options) => new
    {
        command = "eval cmapss",
        test_source = result.TestSource,
        train_engines = result.TrainEngines,
        validation_engines = result.ValidationEngines,
        test_engines = result.TestEngines,
        train_samples = result.TrainSamples,
        refit_samples = result.RefitSamples,
        rul_cap = options.RulCap,
        mean_baseline = new { prediction = result.MeanPrediction, rmse = result.MeanBaseline.Rmse, nasa_score = result.MeanBaseline.NasaScore, rmse_vs_capped = result.MeanBaselineVsCapped.Rmse, nasa_score_vs_capped = result.MeanBaselineVsCapped.NasaScore },
        seeds = result.Seeds.Select(Model),
        mean_of_seeds = new
        {
            rmse = result.Seeds.Average(s => s.Rul.Rmse),
            rmse_vs_capped = result.Seeds.Average(s => s.RulVsCapped.Rmse),
            nasa_score = result.Seeds.Average(s => s.Rul.NasaScore),
        },
        ensemble = result.Ensemble is { } e ? Model(e) : null,
        alarm_probability = CmapssEvaluation.AlarmProbability,
        downtime_scope = result.DowntimeScope,
        elapsed_seconds = Math.Round(result.Elapsed.TotalSeconds, 3),
    };

    private static object Model(CmapssModelResult m) => new
    {
        name = m.Name,
        validation_rmse = m.ValidationRmse,
        epochs_run = m.Training?.EpochsRun,
        best_epoch = m.Training?.BestEpoch,
        refit = m.Refit is { } r ? new { epochs = r.Epochs, lr_halved_after_epochs = r.DecayEpochs, train_samples = r.TrainSamples, final_train_loss = r.Result.TrainLoss.LastOrDefault() } : null,
        rmse = m.Rul.Rmse,
        mae = m.Rul.Mae,
        nasa_score = m.Rul.NasaScore,
        rmse_vs_capped = m.RulVsCapped.Rmse,
        nasa_score_vs_capped = m.RulVsCapped.NasaScore,
        horizons = m.Downtime.Zip(m.Calibration).Select(p => new
        {
            horizon_cycles = p.First.Horizon,
            precision = p.First.Precision,
            recall = p.First.Recall,
            alarms = p.First.Alarms,
            mean_lead_cycles = p.First.MeanLeadTime,
            brier = p.Second.Brier,
            base_rate = p.Second.BaseRate,
            base_rate_brier = p.Second.BaseRateBrier,
            reliability = p.Second.Reliability.Select(b => new { low = b.Low, high = b.High, count = b.Count, mean_predicted = b.MeanPredicted, observed = b.ObservedRate }),
        }),
    };

    private static string Halvings(IReadOnlyList<int> epochs) =>
        epochs.Count == 0 ? "" : $", lr halved after {string.Join("/", epochs)}";

    private static void Print(CmapssEvaluationResult result, CmapssEvaluationOptions options)
    {
        Console.WriteLine($"C-MAPSS: trained on {result.TrainEngines} engines ({result.TrainSamples:N0} windows; {result.ValidationEngines} more for early stopping), {result.Elapsed.TotalSeconds:F1} s");
        if (result.RefitSamples is { } refitSamples)
            Console.WriteLine($"  refit: each seed retrained on all {result.TrainEngines + result.ValidationEngines} engines ({refitSamples:N0} windows) for its best epoch count; the refit models are scored (validation RMSE: the first fit's)");
        Console.WriteLine($"  test: {result.TestSource}");
        Console.WriteLine();
        Console.WriteLine($"  {"RUL at the last observed cycle",-32}{"valid RMSE",11}{"RMSE",8}{"NASA",9}{$"RMSE vs cap {options.RulCap}",18}{"NASA",9}  epochs");
        var models = result.Ensemble is { } ensemble ? [.. result.Seeds, ensemble] : result.Seeds;
        foreach (var m in models)
        {
            var epochs = m.Training is { } t ? $"{t.BestEpoch}/{t.EpochsRun}" : "";
            if (m.Refit is { } r)
                epochs += $", refit {r.Epochs}{Halvings(r.DecayEpochs)}";
            Console.WriteLine($"  {m.Name,-32}{m.ValidationRmse,11:F2}{m.Rul.Rmse,8:F2}{m.Rul.NasaScore,9:F1}{m.RulVsCapped.Rmse,18:F2}{m.RulVsCapped.NasaScore,9:F1}  {epochs}");
        }
        if (result.Seeds.Count > 1)
            Console.WriteLine($"  {"mean of the seeds",-32}{result.Seeds.Average(s => s.ValidationRmse),11:F2}{result.Seeds.Average(s => s.Rul.Rmse),8:F2}{result.Seeds.Average(s => s.Rul.NasaScore),9:F1}{result.Seeds.Average(s => s.RulVsCapped.Rmse),18:F2}{result.Seeds.Average(s => s.RulVsCapped.NasaScore),9:F1}");
        Console.WriteLine($"  {$"predict the mean ({result.MeanPrediction:F1} cycles)",-32}{"",11}{result.MeanBaseline.Rmse,8:F2}{result.MeanBaseline.NasaScore,9:F1}{result.MeanBaselineVsCapped.Rmse,18:F2}{result.MeanBaselineVsCapped.NasaScore,9:F1}");

        var shown = models[^1];
        Console.WriteLine();
        Console.WriteLine($"  {shown.Name}: downtime alarms (P ≥ {CmapssEvaluation.AlarmProbability}) and calibration over {result.DowntimeScope}:");
        Console.WriteLine($"  {"horizon",-10}{"precision",11}{"recall",9}{"alarms",8}{"mean lead",11}{"Brier",9}{"base-rate Brier",17}{"skill",8}");
        foreach (var (h, c) in shown.Downtime.Zip(shown.Calibration))
            Console.WriteLine($"  {$"{h.Horizon} cycles",-10}{h.Precision,11:F3}{h.Recall,9:F3}{h.Alarms,8}{(h.MeanLeadTime is { } lead ? lead.ToString("F1", CultureInfo.InvariantCulture) : "-"),11}{c.Brier,9:F4}{c.BaseRateBrier,17:F4}{c.BrierSkill,8:F2}");
        Console.WriteLine();
        Console.WriteLine($"  reliability ({shown.Name}): predicted-probability bin → predictions, mean predicted, observed rate");
        foreach (var c in shown.Calibration)
        {
            Console.WriteLine($"  {c.Horizon} cycles (base rate {c.BaseRate:F3}):");
            foreach (var b in c.Reliability)
                Console.WriteLine($"    [{b.Low:F1}, {b.High:F1})  {b.Count,6}  {b.MeanPredicted,6:F3}  {b.ObservedRate,6:F3}");
        }
    }
}
