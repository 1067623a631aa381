using System.Text;
using Streaming.Models.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Scoring.Detection;
using Streaming.Processing.Windows;
using Streaming.Simulation;

namespace Streaming.UnitTests;

/// <summary>
/// The ensemble's snapshot: the online detectors and each entity's feature ring and bundle version round-trip, and a
/// restored entity keeps its members' likelihoods only when the bundle active now is the one that scored it.
/// </summary>
public sealed class EnsembleSnapshotTests
{
    private static ModelBundle Bundle(string version) =>
        new(new BundleInfo(version, DateTimeOffset.UnixEpoch, "test", [.. FleetSimulator.MetricNames.Select(m => m + ".mean")], [], new Dictionary<string, double>()), null, null, null);

    [Test]
    public void An_ensemble_restored_mid_stream_scores_the_rest_as_the_original_does()
    {
        var models = new ModelSetProvider();
        models.Activate(Bundle("v1"));
        var windows = Windows();
        var original = new EnsembleWindowScorer(models, new BaselineOptions(), new DetectionOptions(), new EnsembleOptions(), 3);
        var half = windows.Count / 2;
        foreach (var window in windows.Take(half))
            original.Assess(window);

        var restored = new EnsembleWindowScorer(models, new BaselineOptions(), new DetectionOptions(), new EnsembleOptions(), 3);
        var bytes = Write(original);
        using (var reader = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8))
            restored.ReadState(reader);
        Assert.That(Write(restored), Is.EqualTo(bytes), "the restored state writes the same snapshot");

        var expected = windows.Skip(half).Select(w => Describe(original.Assess(w))).ToList();
        var actual = windows.Skip(half).Select(w => Describe(restored.Assess(w))).ToList();
        Assert.That(actual, Is.EqualTo(expected));
        Assert.That(expected.Count(e => e.Contains("ensemble", StringComparison.Ordinal)), Is.GreaterThan(100), "scored by the ensemble, not warming up");
    }

    [Test]
    public void A_restored_entity_adopts_only_the_bundle_version_that_scored_it()
    {
        var state = new EnsembleEntityState { ScoredBy = Bundle("v1") };
        var bytes = Write(state.WriteState);
        var likelihoods = new LikelihoodOptions();

        var same = Read(bytes, likelihoods);
        Assert.That(same.AdoptRestored(Bundle("v1")), Is.True);
        Assert.That(same.ScoredBy!.Version, Is.EqualTo("v1"));
        Assert.That(Read(bytes, likelihoods).AdoptRestored(Bundle("v2")), Is.False, "another version starts its likelihoods over");
        Assert.That(new EnsembleEntityState().AdoptRestored(Bundle("v1")), Is.False, "nothing restored, nothing adopted");

        static EnsembleEntityState Read(byte[] bytes, LikelihoodOptions options)
        {
            var state = new EnsembleEntityState();
            using var reader = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8);
            state.ReadState(reader, options);
            return state;
        }
    }

    private static byte[] Write(Processing.Snapshots.IStateSnapshot state) => Write(state.WriteState);

    private static byte[] Write(Action<BinaryWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            write(writer);
        return stream.ToArray();
    }

    private static string Describe(WindowAssessment? a) => a is null
        ? "warming up"
        : $"{a.Window.Entity} {a.Window.Bounds} {a.Score:R} {a.Model} {a.ModelVersion} {string.Join(",", a.Contributors)} {string.Join(",", a.Members)}";

    private static List<ClosedWindow> Windows()
    {
        var start = new DateTimeOffset(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = 3, Seed = 2, Start = start, IncidentsPerEntityDay = 20 });
        var aggregator = new WindowAggregator(new WindowOptions { Size = TimeSpan.FromMinutes(1), Grace = TimeSpan.FromSeconds(20) });
        var samples = new List<Streaming.Contracts.TelemetrySample>();
        var windows = new List<ClosedWindow>();
        while (simulator.Now < start.AddHours(4))
        {
            samples.Clear();
            simulator.NextTick(samples);
            foreach (var sample in samples)
                aggregator.Add(sample);
            aggregator.CollectClosed(windows);
        }
        return windows;
    }
}
