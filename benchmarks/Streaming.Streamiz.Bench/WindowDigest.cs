using System.Text.Json;
using Streaming.Contracts;

namespace Streaming.Streamiz.Bench;

/// <summary>
/// What one engine emitted: the number of final windows and an order-independent checksum of their features as the worker
/// serialises them (JSON), so two engines that emit the same windows with the same features, in any order, agree.
/// Serialising is part of the measured work on both sides.
/// </summary>
internal sealed class WindowDigest
{
    private long _windows;
    private ulong _sum;

    public long Windows => Volatile.Read(ref _windows);

    public ulong Checksum => Volatile.Read(ref _sum);

    public void Add(FeatureVectorEvent window)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(window, ContractsJsonContext.Default.FeatureVectorEvent);
        // FNV-1a per window, summed: equal multisets of windows give equal sums whatever the emission order.
        var hash = 14695981039346656037UL;
        foreach (var b in bytes)
            hash = (hash ^ b) * 1099511628211UL;
        Volatile.Write(ref _sum, _sum + hash);
        Volatile.Write(ref _windows, _windows + 1);
    }
}
