using Streaming.Contracts;
using Streaming.Simulation;

namespace Streaming.UnitTests;

public sealed class FleetSimulatorTests
{
    private static List<TelemetrySample> Run(FleetSimulator simulator, TimeSpan duration, TimeSpan interval)
    {
        var samples = new List<TelemetrySample>();
        var ticks = (int)(duration / interval);
        for (var i = 0; i < ticks; i++)
            simulator.NextTick(samples);
        return samples;
    }

    private static string Fingerprint(TelemetrySample s) =>
        $"{s.Entity}|{s.TimestampMs}|{string.Join(',', s.Metrics.Select(m => $"{m.Name}={m.Value:R}"))}";

    [Test]
    public void Same_seed_gives_identical_samples_and_labels()
    {
        var options = new SimulatorOptions { Entities = 4, Seed = 11, IncidentsPerEntityDay = 24, WarmUp = TimeSpan.FromMinutes(10) };
        var first = new FleetSimulator(options);
        var second = new FleetSimulator(options);

        var a = Run(first, TimeSpan.FromHours(6), options.SampleInterval);
        var b = Run(second, TimeSpan.FromHours(6), options.SampleInterval);

        Assert.That(a.Select(Fingerprint), Is.EqualTo(b.Select(Fingerprint)));
        Assert.That(first.Labels, Is.EqualTo(second.Labels));
        Assert.That(first.Labels, Is.Not.Empty);
    }

    [Test]
    public void Different_seeds_give_different_samples()
    {
        var a = Run(new FleetSimulator(new SimulatorOptions { Entities = 2, Seed = 1 }), TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(10));
        var b = Run(new FleetSimulator(new SimulatorOptions { Entities = 2, Seed = 2 }), TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(10));

        Assert.That(a.Select(Fingerprint), Is.Not.EqualTo(b.Select(Fingerprint)));
    }

    [Test]
    public void Without_incidents_every_entity_reports_every_metric_on_every_tick()
    {
        var options = new SimulatorOptions { Entities = 3, IncidentsPerEntityDay = 0 };
        var simulator = new FleetSimulator(options);

        var samples = Run(simulator, TimeSpan.FromHours(1), options.SampleInterval);

        Assert.That(samples, Has.Count.EqualTo(3 * 360));
        Assert.That(simulator.Labels, Is.Empty);
        Assert.That(samples.All(s => s.Metrics.Select(m => m.Name).SequenceEqual(FleetSimulator.MetricNames)), Is.True);
        Assert.That(samples.All(s => s.Metrics.All(m => double.IsFinite(m.Value) && m.Value >= 0)), Is.True);
        Assert.That(samples.Select(s => s.Entity).Distinct(), Is.EqualTo(new[] { "host-001", "host-002", "host-003" }));
    }

    [Test]
    public void Labels_appear_after_warm_up_with_the_kinds_metric()
    {
        var options = new SimulatorOptions { Entities = 5, Seed = 5, IncidentsPerEntityDay = 12, WarmUp = TimeSpan.FromMinutes(30) };
        var simulator = new FleetSimulator(options);

        Run(simulator, TimeSpan.FromDays(1), options.SampleInterval);

        Assert.That(simulator.Labels, Has.Count.GreaterThan(10));
        Assert.That(simulator.Labels.Select(l => l.Kind).Distinct().Count(), Is.GreaterThan(3));
        foreach (var label in simulator.Labels)
        {
            Assert.That(label.Start, Is.GreaterThanOrEqualTo(options.Start + options.WarmUp), label.ToString());
            Assert.That(label.End, Is.GreaterThan(label.Start), label.ToString());
            Assert.That(FleetSimulator.MetricNames, Does.Contain(label.Metric), label.ToString());
        }
        Assert.That(simulator.Labels.Where(l => l.Kind == FailureKind.Spike).Select(l => l.Metric).Distinct(), Is.SubsetOf(new[] { "cpu_usage", "network_in" }));
    }

    [Test]
    public void Memory_leak_ends_in_downtime_without_samples_from_that_entity()
    {
        var options = new SimulatorOptions
        {
            Entities = 3, Seed = 9, IncidentsPerEntityDay = 12, WarmUp = TimeSpan.FromMinutes(10), Kinds = [FailureKind.MemoryLeak],
        };
        var simulator = new FleetSimulator(options);

        var samples = Run(simulator, TimeSpan.FromDays(1), options.SampleInterval);

        var leaks = simulator.Labels;
        Assert.That(leaks, Has.Count.GreaterThan(3));
        foreach (var leak in leaks)
        {
            Assert.That(leak.Kind, Is.EqualTo(FailureKind.MemoryLeak));
            Assert.That(leak.Metric, Is.EqualTo("memory_usage"));
            Assert.That(leak.DowntimeStart, Is.EqualTo(leak.End), leak.ToString());
            Assert.That(leak.DowntimeEnd - leak.DowntimeStart, Is.EqualTo(TimeSpan.FromMinutes(15)), leak.ToString());
            var own = samples.Where(s => s.Entity == leak.Entity).ToList();
            var duringDowntime = own.Where(s => s.Timestamp >= leak.DowntimeStart && s.Timestamp < leak.DowntimeEnd).Select(s => s.Timestamp);
            Assert.That(duringDowntime, Is.Empty, $"samples during downtime of {leak}");
            var lastBefore = own.Last(s => s.Timestamp < leak.DowntimeStart);
            Assert.That(lastBefore.Metrics.Single(m => m.Name == "memory_usage").Value, Is.GreaterThan(95), $"memory climbs toward 99 % before {leak}");
            Assert.That(own.Where(s => s.Timestamp >= leak.Start && s.Timestamp < leak.End), Is.Not.Empty, $"the leak itself is observed: {leak}");
            if (leak.DowntimeEnd < simulator.Now)
                Assert.That(own.Any(s => s.Timestamp >= leak.DowntimeEnd), Is.True, "the entity comes back after downtime");
        }
    }

    [Test]
    public void Invalid_options_throw_naming_the_setting()
    {
        Assert.That(() => new FleetSimulator(new SimulatorOptions { Entities = 0 }), Throws.ArgumentException.With.Message.StartWith("Simulator:Entities"));
        Assert.That(() => new FleetSimulator(new SimulatorOptions { SampleInterval = TimeSpan.Zero }), Throws.ArgumentException.With.Message.StartWith("Simulator:SampleInterval"));
        Assert.That(() => new FleetSimulator(new SimulatorOptions { IncidentsPerEntityDay = double.NaN }), Throws.ArgumentException.With.Message.StartWith("Simulator:IncidentsPerEntityDay"));
    }
}
