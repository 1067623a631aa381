using Streaming.Processing.Scoring.Detection;

namespace Streaming.UnitTests;

public sealed class SeasonalModelTests
{
    private static readonly SeasonalOptions Options = new() { MaxPeriod = 200, MinPeriod = 8 };

    // A daily-like cycle: a plateau for a third of each period, low otherwise, with a little noise.
    private static double Cycle(int t, int period, Random random) => (t % period < period / 3 ? 80 : 20) + random.NextDouble();

    [Test]
    public void A_regular_cycle_is_found_with_its_period_and_its_turns_are_expected()
    {
        var random = new Random(1);
        var model = new SeasonalModel(Options, levelWindows: 30);
        var zAtTurns = new List<double>();
        for (var t = 0; t < 600; t++)
        {
            var verdict = model.Update(Cycle(t, 48, random));
            if (t >= 400 && t % 48 is 0 or 16 && verdict is { } v)
                zAtTurns.Add(v.Z);
        }

        Assert.That(model.Period, Is.EqualTo(48));
        Assert.That(zAtTurns, Is.Not.Empty);
        Assert.That(zAtTurns.Max(), Is.LessThan(5), "the cycle's own turns are what it expects");
    }

    [Test]
    public void A_cycle_is_in_use_before_its_third_turn()
    {
        var random = new Random(6);
        var model = new SeasonalModel(Options, levelWindows: 30);
        // A 100-window cycle has turned twice at window 200; the model looks at window 256, before the third turn ends.
        for (var t = 0; t < 300; t++)
            model.Update(Cycle(t, 100, random));

        Assert.That(model.Period, Is.EqualTo(100));
    }

    [Test]
    public void An_incident_inside_the_remembered_cycles_does_not_make_the_model_drop_its_cycle()
    {
        var random = new Random(4);
        // Only the one cycle is searchable, so what is tested is keeping it, not the choice among its multiples.
        var model = new SeasonalModel(new SeasonalOptions { MaxPeriod = 60, MinPeriod = 8 }, levelWindows: 30);
        var periods = new List<int>();
        var zAtTurns = new List<double>();
        for (var t = 0; t < 1500; t++)
        {
            // One whole cycle 30 above the others (t = 912 starts a cycle): the one-cycle-back error of the next
            // estimates counts it twice, against the cycle before and the cycle after.
            var value = Cycle(t, 48, random) + (t is >= 912 and < 960 ? 30 : 0);
            var verdict = model.Update(value);
            if (t >= 960)
                periods.Add(model.Period);
            if (t >= 960 && t % 48 is 0 or 16 && verdict is { } v)
                zAtTurns.Add(v.Z);
        }

        Assert.That(periods.Distinct(), Is.EqualTo(new[] { 48 }));
        Assert.That(zAtTurns.Max(), Is.LessThan(5), "after the incident the cycle's turns are still what it expects");
    }

    [Test]
    public void A_turn_of_the_cycle_that_does_not_come_stands_out()
    {
        var random = new Random(2);
        var model = new SeasonalModel(Options, levelWindows: 30);
        for (var t = 0; t < 576; t++)
            model.Update(Cycle(t, 48, random));

        // t = 576 is the start of a plateau: the cycle expects 80, the metric stays at 20. Its first window could be a turn
        // one window late (the phase before it is low too), so the second window is where a missing plateau shows.
        model.Update(20 + random.NextDouble());
        var verdict = model.Update(20 + random.NextDouble());

        Assert.That(verdict, Is.Not.Null);
        Assert.That(verdict!.Value.Expected, Is.EqualTo(80).Within(1.5));
        Assert.That(verdict.Value.Z, Is.GreaterThan(20));
    }

    [Test]
    public void A_spike_that_comes_one_window_late_is_ordinary_but_a_spike_twice_as_high_is_not()
    {
        // An hourly job seen through five-minute windows: one window in twelve is high.
        var random = new Random(7);
        var model = new SeasonalModel(Options, levelWindows: 30);
        double Spike(int t) => (t % 12 == 0 ? 60 : 30) + random.NextDouble();
        for (var t = 0; t < 600; t++)
            model.Update(Spike(t));
        Assert.That(model.Period, Is.EqualTo(12));

        // t = 600 is a spike's phase: this turn the spike comes one window later.
        var onTime = model.Update(30 + random.NextDouble());
        var late = model.Update(60 + random.NextDouble());
        for (var t = 602; t < 612; t++)
            model.Update(Spike(t));
        var twiceAsHigh = model.Update(90 + random.NextDouble());

        Assert.That(onTime!.Value.Z, Is.LessThan(5), "the window before a late spike matches the phase before the spike");
        Assert.That(late!.Value.Z, Is.LessThan(5), "a spike one window late matches the spike's phase");
        Assert.That(twiceAsHigh!.Value.Z, Is.GreaterThan(20));
    }

    [Test]
    public void An_established_cycle_stays_in_use_when_an_incident_makes_the_search_find_its_multiple()
    {
        var random = new Random(8);
        var model = new SeasonalModel(Options, levelWindows: 30);
        var periods = new List<int>();
        for (var t = 0; t < 2400; t++)
        {
            // One whole cycle 40 below the others spoils the one-turn pairs around it more than the two-turn ones, so the
            // search finds 96 (before, the model moved to 96, then 192 and 144).
            var value = Cycle(t, 48, random) - (t is >= 960 and < 1008 ? 40 : 0);
            model.Update(value);
            if (t >= 960)
                periods.Add(model.Period);
        }

        Assert.That(periods.Distinct(), Is.EqualTo(new[] { 48 }));
    }

    [Test]
    public void Noise_without_a_cycle_gets_no_period_and_no_seasonal_verdict()
    {
        var random = new Random(3);
        var model = new SeasonalModel(Options, levelWindows: 30);
        (double, double)? last = null;
        for (var t = 0; t < 600; t++)
            last = model.Update(50 + 5 * random.NextDouble());

        Assert.That(model.Period, Is.Zero);
        Assert.That(last, Is.Null);
    }

    [Test]
    public void A_slow_cycle_that_the_recent_level_already_follows_is_not_used()
    {
        // A smooth wave of period 120 seen through fine windows: the mean of the last 3 windows predicts it about as well as
        // the last cycle does, so the level baseline keeps the metric.
        var random = new Random(4);
        var model = new SeasonalModel(Options, levelWindows: 3);
        for (var t = 0; t < 600; t++)
            model.Update(50 + 10 * Math.Sin(2 * Math.PI * t / 120) + 3 * random.NextDouble());

        Assert.That(model.Period, Is.Zero);
    }

    [Test]
    public void Memory_is_bounded_by_three_of_the_longest_cycles()
    {
        Assert.That(SeasonalModel.BytesFor(Options), Is.EqualTo(3 * 200 * sizeof(float)));
        Assert.That(SeasonalModel.BytesFor(Options with { Enabled = false }), Is.Zero);
    }

    [Test]
    public void Seasonal_settings_that_cannot_work_are_refused_naming_the_setting()
    {
        Assert.That(() => new SeasonalOptions { MinPeriod = 100, MaxPeriod = 150 }.Validated(),
            Throws.ArgumentException.With.Message.Contains("Detection:Seasonal"));
        Assert.That(() => new SeasonalOptions { MinCorrelation = 1.5 }.Validated(),
            Throws.ArgumentException.With.Message.Contains("MinCorrelation"));
        Assert.That(() => new SeasonalOptions { MaxErrorRatio = 0 }.Validated(),
            Throws.ArgumentException.With.Message.Contains("MaxErrorRatio"));
    }
}

public sealed class LikelihoodRecurrenceTests
{
    private static readonly LikelihoodOptions Options = new() { AveragingWindow = 1, HistoryWindow = 2000, LearningPeriod = 100, MinimumStd = 0.01, Recurrences = 3 };

    private static List<double> TailsAtSpikes(LikelihoodOptions options, int spikes)
    {
        var likelihood = new AnomalyLikelihood(options);
        var random = new Random(5);
        var tails = new List<double>();
        for (var t = 0; t < 200 + 100 * spikes; t++)
        {
            var spike = t >= 200 && t % 100 == 0;
            var tail = likelihood.Update(spike ? 0.9 : 0.05 * random.NextDouble());
            if (spike)
                tails.Add(tail);
        }
        return tails;
    }

    [Test]
    public void A_spike_that_keeps_coming_back_alerts_the_first_times_and_then_is_routine()
    {
        var tails = TailsAtSpikes(Options, spikes: 8);

        Assert.That(tails.Take(3), Has.All.LessThan(1e-5), "the first three are news");
        Assert.That(tails.Skip(3), Has.All.GreaterThan(1e-3), "from the fourth on the stream has shown it three times");
    }

    [Test]
    public void Without_recurrences_every_spike_keeps_its_gaussian_tail()
    {
        var tails = TailsAtSpikes(Options with { Recurrences = 0 }, spikes: 8);

        Assert.That(tails, Has.All.LessThan(1e-3));
    }

    [Test]
    public void One_long_incident_is_one_episode_not_many()
    {
        var options = Options with { Recurrences = 2 };
        static double TailAfterIncident(LikelihoodOptions options)
        {
            var likelihood = new AnomalyLikelihood(options);
            var random = new Random(6);
            for (var t = 0; t < 1000; t++)
                likelihood.Update(0.05 * random.NextDouble());
            // One incident of 10 high scores in a row, then calm again.
            for (var t = 0; t < 10; t++)
                likelihood.Update(0.9);
            for (var t = 0; t < 100; t++)
                likelihood.Update(0.05 * random.NextDouble());
            return likelihood.Update(0.9);
        }

        var tail = TailAfterIncident(options);

        Assert.That(tail, Is.LessThan(1e-5), "one earlier incident, however many updates it lasted, is not a routine");
        Assert.That(tail, Is.EqualTo(TailAfterIncident(options with { Recurrences = 0 })));
    }
}
