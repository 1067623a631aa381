using System.Text.Json;
using Streaming.Contracts;
using Streaming.Host.Configuration;

namespace Streaming.IntegrationTests;

/// <summary>The read_committed outputs of a processor run, compared between an uninterrupted run and an interrupted one.</summary>
internal sealed record ProcessorOutputs(List<string> Features, List<string> Scores, List<string> Alerts);

/// <summary>Waiting for a processor run on the embedded broker and reading what it committed (recovery and restore tests).</summary>
internal static class ProcessorRunHarness
{
    public static async Task WaitForAsync(Func<bool> condition, Task worker, CancellationToken cancellationToken)
    {
        while (!condition())
        {
            if (worker.IsFaulted)
                await worker;
            if (cancellationToken.IsCancellationRequested)
                Assert.Fail("The processor did not get through the input in time.");
            await Task.Delay(100, CancellationToken.None);
        }
    }

    /// <summary>Reads the output topics (read_committed) once the idle policy has closed the last of the samples' windows.</summary>
    public static async Task<ProcessorOutputs> ReadOutputsAsync(StreamingSettings settings, IEnumerable<TelemetrySample> samples, Task worker, CancellationToken cancellationToken)
    {
        var expectedWindows = samples.Select(s => (s.Entity, s.TimestampMs / 60_000)).Distinct().Count();
        while (true)
        {
            var features = await TestStack.ReadTopicAsync(settings.Topics.Features);
            if (features.Count >= expectedWindows || cancellationToken.IsCancellationRequested || worker.IsFaulted)
            {
                if (worker.IsFaulted)
                    await worker;
                var alerts = (await TestStack.ReadTopicAsync(settings.Topics.Alerts)).Select(WithoutDetectionTime).ToList();
                return new ProcessorOutputs(features, await TestStack.ReadTopicAsync(settings.Topics.Scores), alerts);
            }
            await Task.Delay(500, CancellationToken.None);
        }
    }

    /// <summary>detected_at is processing time, the one field a re-run legitimately changes.</summary>
    private static string WithoutDetectionTime(string json)
    {
        var alert = JsonSerializer.Deserialize(json, ContractsJsonContext.Default.AnomalyEvent)!;
        return JsonSerializer.Serialize(alert with { DetectedAt = DateTimeOffset.UnixEpoch }, ContractsJsonContext.Default.AnomalyEvent);
    }
}
