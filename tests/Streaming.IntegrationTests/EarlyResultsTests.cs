using System.Text.Json;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Host.Pipeline;
using Streaming.Simulation;

namespace Streaming.IntegrationTests;

/// <summary>
/// Early (updating) window results through the real processor and broker: provisional results go to their own topic while
/// the features topic keeps exactly one final result per window.
/// </summary>
public sealed class EarlyResultsTests
{
    [Test]
    [CancelAfter(120_000)]
    public async Task With_early_results_open_windows_are_reported_provisionally_and_each_window_still_has_one_final_result()
    {
        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(-1), TimeSpan.Zero);
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = 4, Seed = 11, Start = start, IncidentsPerEntityDay = 0 });
        var samples = new List<TelemetrySample>();
        while (simulator.Now < start.AddMinutes(20))
            simulator.NextTick(samples);
        var windows = samples.Select(s => (s.Entity, s.TimestampMs / 60_000)).Distinct().Count();

        var settings = TestStack.IsolatedSettings(TestStack.UniqueName("early"));
        settings.Windows.EarlyResults = TimeSpan.FromSeconds(20);
        settings.Processor.MaxBatch = 50;
        settings.Processor.IdleMode = IdleMode.CloseAll;
        settings.Processor.IdleTimeout = TimeSpan.FromSeconds(3);
        settings.Validated();
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);
        TestStack.Produce(settings.Topics.Telemetry, samples);

        using var counters = new PipelineCounters();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(100));
        var worker = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("early"), "early");
        var task = worker.RunAsync(stop.Token);
        List<FeatureVectorEvent> finals;
        do
        {
            await Task.Delay(500);
            Assert.That(task.IsFaulted, Is.False, () => task.Exception!.ToString());
            finals = (await TestStack.ReadTopicAsync(settings.Topics.Features)).Select(Parse).ToList();
        }
        while (finals.Count < windows && !stop.IsCancellationRequested);
        var updates = (await TestStack.ReadTopicAsync(settings.Topics.FeatureUpdates)).Select(Parse).ToList();
        await stop.CancelAsync();
        await task;

        var finalByWindow = finals.ToDictionary(f => (f.Entity, f.WindowStart));
        Assert.Multiple(() =>
        {
            Assert.That(finals, Has.Count.EqualTo(windows), "one final result per window");
            Assert.That(updates, Is.Not.Empty);
            // Every provisional result is of a real window, and holds no more samples than the window's final result.
            Assert.That(updates.All(u => finalByWindow.TryGetValue((u.Entity, u.WindowStart), out var f) && u.SampleCount <= f.SampleCount));
            Assert.That(updates.Any(u => u.SampleCount < finalByWindow[(u.Entity, u.WindowStart)].SampleCount), "some updates came before the window was complete");
        });
    }

    private static FeatureVectorEvent Parse(string json) => JsonSerializer.Deserialize(json, ContractsJsonContext.Default.FeatureVectorEvent)!;
}
