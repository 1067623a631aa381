using Streaming.Contracts;
using Streaming.Simulation;

namespace Streaming.UnitTests;

public sealed class FailureLabelFileTests
{
    [Test]
    public void Labels_written_as_json_lines_read_back_identical()
    {
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = 3, Seed = 5, IncidentsPerEntityDay = 48, WarmUp = TimeSpan.FromMinutes(5) });
        var samples = new List<TelemetrySample>();
        for (var i = 0; i < 6 * 360; i++)
            simulator.NextTick(samples);
        Assert.That(simulator.Labels, Has.Some.Matches<FailureLabel>(l => l.DowntimeStart is not null));

        using var writer = new StringWriter();
        FailureLabelFile.Write(writer, simulator.Labels);
        var text = writer.ToString();
        var read = FailureLabelFile.Read(new StringReader(text));

        Assert.That(read, Is.EqualTo(simulator.Labels));
        Assert.That(text.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(simulator.Labels.Count));
        Assert.That(text, Does.Contain("\"downtime_start\":"));
    }

    [Test]
    public void Running_incidents_are_labelled_with_their_planned_end_and_become_the_same_label_when_they_end()
    {
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = 1, Seed = 3, IncidentsPerEntityDay = 96, WarmUp = TimeSpan.Zero });
        var samples = new List<TelemetrySample>();
        FailureLabel? running = null;
        for (var i = 0; i < 8640 && running is null; i++)
        {
            simulator.NextTick(samples);
            running = simulator.RunningIncidents().SingleOrDefault();
        }
        Assert.That(running, Is.Not.Null);
        while (simulator.Labels.Count == 0)
            simulator.NextTick(samples);
        Assert.That(simulator.Labels[0], Is.EqualTo(running));
        Assert.That(simulator.RunningIncidents(), Is.Empty);
    }
}
