using Streaming.Host.Pipeline;

namespace Streaming.IntegrationTests;

/// <summary>The snapshot topic's record format: chunking, checksums and format versions (no broker needed).</summary>
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

    private static SnapshotChunk Decode(byte[] record)
    {
        Assert.That(SnapshotRecords.TryDecode(record, out var chunk, out var problem, out _), problem);
        return chunk!;
    }
}
