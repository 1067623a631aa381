using Streaming.Evaluation.Nab;
using Streaming.Evaluation.Rul;
using Streaming.Models.Data;

namespace Streaming.UnitTests;

public sealed class RulEvaluationTests
{
    [Test]
    public void Rul_metrics_use_the_asymmetric_NASA_score_that_punishes_late_predictions_more()
    {
        // Errors −13 (early) and +10 (late): NASA terms e¹ − 1 each; RMSE √((169 + 100) / 2); MAE 11.5.
        var metrics = RulMetrics.Of([87, 60], [100, 50]);
        Assert.That(metrics.NasaScore, Is.EqualTo(2 * (Math.E - 1)).Within(1e-12));
        Assert.That(metrics.Rmse, Is.EqualTo(Math.Sqrt(134.5)).Within(1e-12));
        Assert.That(metrics.Mae, Is.EqualTo(11.5));
        Assert.That(RulMetrics.NasaTerm(10), Is.GreaterThan(RulMetrics.NasaTerm(-10)));
        Assert.That(RulMetrics.Of([5], [5]).NasaScore, Is.Zero);
    }

    [Test]
    public void The_seeded_hold_out_keeps_engines_apart_and_knows_each_cut_engines_true_rul()
    {
        var engines = Cmapss.Read(Path.Combine(Datasets.Root, "cmapss", "train_FD001.txt"));
        var (train, test) = CmapssSplit.HoldOut(engines, 0.2, 30, seed: 4);
        var (train2, test2) = CmapssSplit.HoldOut(engines, 0.2, 30, seed: 4);

        Assert.That(engines, Has.Count.EqualTo(100));
        Assert.That((train.Count, test.Count), Is.EqualTo((80, 20)));
        Assert.That(train.Select(e => e.Unit).Intersect(test.Select(t => t.Observed.Unit)), Is.Empty);
        Assert.That(test2.Select(t => (t.Observed.Unit, t.Rul)), Is.EqualTo(test.Select(t => (t.Observed.Unit, t.Rul))));
        Assert.That(train2.Select(e => e.Unit), Is.EqualTo(train.Select(e => e.Unit)));
        foreach (var t in test)
        {
            Assert.That(t.Observed.Cycles + t.Rul, Is.EqualTo(t.FullRun!.Cycles));
            Assert.That(t.Observed.Cycles, Is.GreaterThanOrEqualTo(30));
            Assert.That(t.Rul, Is.GreaterThanOrEqualTo(1));
            Assert.That(t.Observed.Row(t.Observed.Cycles - 1).ToArray(), Is.EqualTo(t.FullRun.Row(t.Observed.Cycles - 1).ToArray()));
        }
        Assert.That(test.Select(t => t.Rul).Distinct().Count(), Is.GreaterThan(10), "cut points are spread, not fixed");
    }

    [Test]
    public void Training_windows_of_a_short_history_are_padded_with_the_first_cycle_like_a_short_test_engine()
    {
        var engine = Cmapss.Read(Path.Combine(Datasets.Root, "cmapss", "train_FD001.txt"))[0];
        string[] features = ["s2", "s3"];
        var raw = Cmapss.Select([engine], features);
        var padded = Cmapss.BuildSamples([engine], features, r => r, 50, [10], 125, stride: 1, minimumHistory: 30);
        var full = Cmapss.BuildSamples([engine], features, r => r, 50, [10], 125, stride: 1);

        Assert.That((padded.Count, full.Count), Is.EqualTo((engine.Cycles - 29, engine.Cycles - 49)));
        var first = padded[0].Sequence;
        for (var t = 0; t <= 20; t++)
        {
            Assert.That(first.AsSpan(t * 2, 2).ToArray(), Is.EqualTo(raw.AsSpan(0, 2).ToArray()), $"row {t} repeats cycle 0");
        }

        Assert.That(first.AsSpan(21 * 2, 2).ToArray(), Is.EqualTo(raw.AsSpan(2, 2).ToArray()), "row 21 is cycle 1");
        Assert.That(first.AsSpan(49 * 2, 2).ToArray(), Is.EqualTo(raw.AsSpan(29 * 2, 2).ToArray()), "the window ends at cycle 29");
        Assert.That(padded[0].ScaledTimeToDowntime, Is.EqualTo((float)(Math.Min(engine.Cycles - 30, 125) / 125.0)));
        Assert.That(padded[20].Sequence, Is.EqualTo(full[0].Sequence), "from 50 observed cycles on, the windows are the full ones");
    }

    [Test]
    public void The_test_and_rul_files_pair_engines_with_their_true_rul_in_order()
    {
        var directory = Directory.CreateTempSubdirectory("cmapss-").FullName;
        try
        {
            var rows = File.ReadLines(Path.Combine(Datasets.Root, "cmapss", "train_FD001.txt")).Where(l => l.StartsWith("1 ", StringComparison.Ordinal) || l.StartsWith("2 ", StringComparison.Ordinal)).ToArray();
            File.WriteAllLines(Path.Combine(directory, "test.txt"), rows);
            File.WriteAllLines(Path.Combine(directory, "rul.txt"), ["112", "98"]);
            var test = CmapssSplit.FromFiles(Path.Combine(directory, "test.txt"), Path.Combine(directory, "rul.txt"));
            Assert.That(test.Select(t => (t.Observed.Unit, t.Rul)), Is.EqualTo(new[] { (1, 112), (2, 98) }));
            File.WriteAllLines(Path.Combine(directory, "rul.txt"), ["112"]);
            Assert.Throws<InvalidDataException>(() => CmapssSplit.FromFiles(Path.Combine(directory, "test.txt"), Path.Combine(directory, "rul.txt")));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public void A_short_cmapss_evaluation_is_deterministic_and_beats_predicting_the_mean()
    {
        var options = new CmapssEvaluationOptions
        {
            TrainFile = Path.Combine(Datasets.Root, "cmapss", "train_FD001.txt"),
            Epochs = 3,
            HiddenSize = 8,
            Stride = 5,
            Seed = 3,
        };
        var first = CmapssEvaluation.Run(options);
        var second = CmapssEvaluation.Run(options);

        Assert.That(second.First.Rul, Is.EqualTo(first.First.Rul));
        Assert.That((first.TrainEngines, first.ValidationEngines, first.TestEngines), Is.EqualTo((68, 12, 20)));
        Assert.That(double.IsFinite(first.First.Rul.Rmse) && double.IsFinite(first.First.Rul.NasaScore), Is.True);
        Assert.That(first.First.RulVsCapped.Rmse, Is.LessThan(first.MeanBaselineVsCapped.Rmse));
        Assert.That(first.First.Downtime.Select(d => d.Horizon), Is.EqualTo(new long[] { 10, 20, 30 }));
        Assert.That(first.First.Downtime.Select(d => d.Downtimes), Is.All.EqualTo(20));
        Assert.That(first.First.Downtime.SelectMany(d => d.LeadTimes).All(lead => lead >= 1 && lead <= 30), Is.True);
    }

    [Test]
    public void The_refit_trains_each_seed_on_the_validation_engines_too_for_its_best_epoch_count()
    {
        var file = Path.Combine(Datasets.Root, "cmapss", "train_FD001.txt");
        var options = new CmapssEvaluationOptions { TrainFile = file, Epochs = 3, Patience = 3, HiddenSize = 8, Stride = 5, Seeds = [1, 2] };
        var refit = CmapssEvaluation.Run(options);
        var fit = CmapssEvaluation.Run(options with { Refit = false });

        // All 80 non-test engines, windowed like the training engines: from the 30th cycle, every 5th.
        var (pool, _) = CmapssSplit.HoldOut(Cmapss.Read(file), 0.2, 30, options.Seed);
        Assert.That(pool, Has.Count.EqualTo(80));
        Assert.That(refit.RefitSamples, Is.EqualTo(pool.Sum(e => ((e.Cycles - 30) / 5) + 1)));
        Assert.That(refit.RefitSamples, Is.GreaterThan(refit.TrainSamples));
        Assert.That(fit.RefitSamples, Is.Null);
        Assert.That(refit.TestEngines, Is.EqualTo(20));
        for (var i = 0; i < 2; i++)
        {
            var seed = refit.Seeds[i];
            Assert.That(seed.Refit!.Epochs, Is.EqualTo(seed.Training!.BestEpoch), seed.Name);
            Assert.That(seed.Refit.Result.TrainLoss, Has.Count.EqualTo(seed.Training.BestEpoch), seed.Name);
            Assert.That(seed.Refit.DecayEpochs, Is.All.LessThan(seed.Training.BestEpoch), seed.Name);

            // The first fit is the same either way (its validation RMSE is reported); only the scored model differs.
            Assert.That(seed.ValidationRmse, Is.EqualTo(fit.Seeds[i].ValidationRmse), seed.Name);
            Assert.That(fit.Seeds[i].Refit, Is.Null);
            Assert.That(seed.Rul, Is.Not.EqualTo(fit.Seeds[i].Rul), seed.Name);
        }
    }

    [Test]
    public void Every_horizon_probability_of_an_evaluation_run_is_monotone_and_beats_the_base_rate_brier()
    {
        var options = new CmapssEvaluationOptions
        {
            TrainFile = Path.Combine(Datasets.Root, "cmapss", "train_FD001.txt"),
            Epochs = 3,
            HiddenSize = 8,
            Stride = 5,
            Seeds = [1, 2],
        };
        var result = CmapssEvaluation.Run(options);
        var models = new[] { result.Seeds[0], result.Seeds[1], result.Ensemble! };
        foreach (var model in models)
        {
            // One row per scored cycle of every held-out engine: thousands of predictions, none may fall as the horizon grows.
            Assert.That(model.ProbabilityRows, Has.Count.GreaterThan(2000), model.Name);
            var violations = model.ProbabilityRows.Count(row => row.Zip(row.Skip(1)).Any(p => p.Second < p.First));
            Assert.That(violations, Is.Zero, model.Name);
            Assert.That(model.ProbabilityRows.SelectMany(r => r).All(p => p is >= 0 and <= 1), Is.True, model.Name);
            foreach (var horizon in model.Calibration)
            {
                Assert.That(horizon.Brier, Is.LessThan(horizon.BaseRateBrier), $"{model.Name}, {horizon.Horizon} cycles");
                Assert.That(horizon.Reliability.Sum(b => b.Count), Is.EqualTo(horizon.Predictions));
            }
        }
    }

    [Test]
    public void The_lstm_nab_detector_is_deterministic_and_scores_the_labelled_jump_above_the_quiet_rows()
    {
        var file = NabCorpus.Load(Datasets.NabData, Datasets.NabWindows, ["artificialWithAnomaly/art_daily_jumpsup.csv"]).Single();
        var first = new LstmNabDetector(seed: 42).Detect(file);
        var second = new LstmNabDetector(seed: 42).Detect(file);

        Assert.That(second, Is.EqualTo(first));
        Assert.That(first, Is.All.InRange(0.0, 1.0));
        var window = file.Windows.Single();
        var inside = file.TimestampsMs.Select((t, i) => (t, i)).Where(x => x.t >= window.StartMs && x.t <= window.EndMs).Max(x => first[x.i]);
        Assert.That(inside, Is.GreaterThan(file.TimestampsMs.Select((t, i) => (t, i)).Where(x => x.t < window.StartMs).Max(x => first[x.i])),
            "the jump scores higher than anything before it");
    }
}
