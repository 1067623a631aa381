using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Streaming.Models.Kernels;

/// <summary>
/// 64-byte aligned buffers on the pinned object heap. Managed arrays are only 8/16-byte aligned, so 32-byte vector
/// loads of GEMM operands can straddle cache lines depending on where an allocation happened to land, which made
/// the batch-1 LSTM step up to ~2x slower from one process to the next.
/// </summary>
internal static class AlignedMemory
{
    private const int Alignment = 64;

    public static ArraySegment<T> Allocate<T>(int length)
        where T : unmanaged
    {
        var size = Unsafe.SizeOf<T>();
        var array = GC.AllocateArray<T>(length + (Alignment / size), pinned: true);

        // Objects on the pinned object heap never move, so the address (and the offset) stays valid.
        var handle = GCHandle.Alloc(array, GCHandleType.Pinned);
        var address = handle.AddrOfPinnedObject();
        handle.Free();
        var misalignment = (int)(address % Alignment);
        var offset = misalignment == 0 ? 0 : (Alignment - misalignment) / size;
        return new ArraySegment<T>(array, offset, length);
    }
}
