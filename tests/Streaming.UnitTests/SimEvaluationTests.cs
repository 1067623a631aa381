using Streaming.Evaluation.Simulation;

namespace Streaming.UnitTests;

public sealed class SimEvaluationTests
{
    [Test]
    public void The_simulator_evaluation_is_deterministic_and_finds_the_injected_spikes_and_level_shifts()
    {
        var options = new SimEvaluationOptions { Entities = 8, Days = 0.5, Seed = 42 };
        var first = SimEvaluation.Run(options);
        var second = SimEvaluation.Run(options);

        Assert.That(second.PointWise, Is.EqualTo(first.PointWise));
        Assert.That(second.EventWise.TimesToDetect, Is.EqualTo(first.EventWise.TimesToDetect));
        Assert.That(second.Labels, Is.EqualTo(first.Labels));
        Assert.That(first.Rejected, Is.Zero, "the simulator's JSON is all valid and in order");
        Assert.That(first.EventWise.Incidents, Is.EqualTo(first.Labels.Count).And.GreaterThan(0));
        Assert.That(first.Samples, Is.GreaterThan(8 * 8640 / 2 * 9 / 10), "about one sample per entity every 10 s, minus downtimes");
        // A 55-point CPU spike or a 30-point level shift is far outside the baseline's noise: every one must be found.
        Assert.That(first.ByKind.Where(k => k.Kind is Simulation.FailureKind.Spike or Simulation.FailureKind.LevelShift).Sum(k => k.Incidents), Is.GreaterThan(0));
        foreach (var kind in first.ByKind.Where(k => k.Kind is Simulation.FailureKind.Spike or Simulation.FailureKind.LevelShift))
            Assert.That(kind.Detected, Is.EqualTo(kind.Incidents), kind.Kind.ToString());
    }

    [Test]
    public void Invalid_simulator_evaluation_options_are_rejected_with_the_option_name()
    {
        var ex = Assert.Throws<ArgumentException>(() => SimEvaluation.Run(new SimEvaluationOptions { Days = 0 }));
        Assert.That(ex!.Message, Does.Contain("--days"));
    }
}
