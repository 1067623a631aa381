using Streaming.Host.Configuration;
using Streaming.Host.Pipeline;
using Streaming.Processing.Pipeline;

namespace Streaming.IntegrationTests;

/// <summary>The snapshot topic's record format (chunking, checksums, format versions), its settings and their fingerprint; no broker needed.</summary>
public sealed class SnapshotRecordsTests
{
    private static readonly byte[] Payload = [.. Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7 % 251))];

    [Test]
    public void A_state_larger_than_a_chunk_is_split_and_reassembled_exactly()
    {
        var records = SnapshotRecords.Encode("processor", "telemetry", 3, 1234, "abc", Payload, chunkBytes: 16 * 1024);

        Assert.That(records, Has.Count.EqualTo(7));
        Assert.That(records.Max(r => r.Length), Is.LessThan(16 * 1024 + 200), "each record stays near the chunk size");
        var chunks = records.Select(Decode).Reverse().ToList();
        Assert.That(chunks.Select(c => c.Offset).Distinct(), Is.EqualTo(new[] { 1234L }));
        Assert.That(SnapshotRecords.Assemble(chunks, out var problem), Is.EqualTo(Payload), problem);
    }

    [Test]
    public void A_flipped_bit_fails_the_checksum_and_a_missing_chunk_is_noticed()
    {
        var records = SnapshotRecords.Encode("processor", "telemetry", 0, 10, "abc", Payload, chunkBytes: 40_000);
        records[1][^3] ^= 0x10;

        Assert.That(SnapshotRecords.Assemble([.. records.Select(Decode)], out var problem), Is.Null);
        Assert.That(problem, Does.Contain("checksum"));
        Assert.That(SnapshotRecords.Assemble([Decode(records[0]), Decode(records[2])], out problem), Is.Null);
        Assert.That(problem, Does.Contain("chunks do not add up"));
    }

    [Test]
    public void A_record_of_another_format_version_or_no_snapshot_at_all_is_refused_with_the_reason()
    {
        var record = SnapshotRecords.Encode("scorer", "features", 0, 10, "abc", [1, 2, 3], chunkBytes: 16 * 1024)[0];
        record[4] = 2;

        Assert.That(SnapshotRecords.TryDecode(record, out _, out var problem, out var unknownVersion), Is.False);
        Assert.That(unknownVersion);
        Assert.That(problem, Does.Contain("format version 2, this build reads version 1"));
        Assert.That(SnapshotRecords.TryDecode("{\"not\": \"a snapshot\"}"u8.ToArray(), out _, out problem, out unknownVersion), Is.False);
        Assert.That(unknownVersion, Is.False);
        Assert.That(problem, Does.Contain("bad magic"));
        Assert.That(SnapshotRecords.TryDecode(record[..20], out _, out problem, out _), Is.False, "a record cut short");
    }

    [TestCase("Interval", "Processor:Snapshots:Interval")]
    [TestCase("EveryBatches", "Processor:Snapshots:EveryBatches")]
    [TestCase("ChunkBytes", "Processor:Snapshots:ChunkBytes")]
    public void Snapshot_settings_outside_their_range_are_refused_at_start_up_naming_the_setting(string setting, string name)
    {
        var settings = new StreamingSettings();
        _ = setting switch
        {
            "Interval" => settings.Processor.Snapshots.Interval = TimeSpan.FromMilliseconds(10),
            "EveryBatches" => (object?)(settings.Processor.Snapshots.EveryBatches = 0),
            _ => settings.Processor.Snapshots.ChunkBytes = 1000,
        };

        var error = Assert.Throws<Streaming.Kafka.OptionsException>(() => settings.Validated())!;

        Assert.That(error.Setting, Is.EqualTo(name));
        Assert.That(new StreamingSettings().Validated().Processor.Snapshots.Interval, Is.EqualTo(TimeSpan.FromMinutes(1)), "the default is valid");
    }

    [Test]
    public void Every_setting_that_shapes_the_state_changes_the_fingerprint_and_nothing_else_does()
    {
        var settings = new StreamingSettings();
        var baseline = settings.ToProcessorSettings().Fingerprint();
        Assert.That(new StreamingSettings().ToProcessorSettings().Fingerprint(), Is.EqualTo(baseline), "stable for the same settings");

        settings.Windows.Size = TimeSpan.FromMinutes(5);
        var windows = settings.ToProcessorSettings().Fingerprint();
        settings = new StreamingSettings();
        settings.Detection = settings.Detection with { Likelihood = settings.Detection.Likelihood with { HistoryWindow = 1000 } };
        var likelihood = settings.ToProcessorSettings().Fingerprint();
        settings = new StreamingSettings();
        settings.Processor.Scoring = ScoringMode.Separate;
        var separate = settings.ToProcessorSettings().Fingerprint();
        settings = new StreamingSettings();
        settings.Processor.MaxBatch = 17;
        settings.Processor.Snapshots.Interval = TimeSpan.FromSeconds(5);

        Assert.That(new[] { windows, likelihood, separate }, Has.None.EqualTo(baseline));
        Assert.That(settings.ToProcessorSettings().Fingerprint(), Is.EqualTo(baseline), "batching and snapshot timing do not shape the state");
    }

    private static SnapshotChunk Decode(byte[] record)
    {
        Assert.That(SnapshotRecords.TryDecode(record, out var chunk, out var problem, out _), problem);
        return chunk!;
    }
}
