using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Streaming.Kafka;

/// <summary>
/// Makes Confluent.Kafka load Debian's librdkafka. Its P/Invokes name <c>librdkafka</c> and <c>libdl</c>, which exist on
/// Debian only as <c>librdkafka.so.1</c> and <c>libdl.so.2</c>; the redist package that would ship them is not on the mirror.
/// </summary>
public static class NativeLibraries
{
    internal const string Librdkafka = "librdkafka.so.1";
    private static int _initialized;

    public static void EnsureLoaded()
    {
        if (Interlocked.Exchange(ref _initialized, 1) == 1)
            return;
        NativeLibrary.SetDllImportResolver(typeof(ProducerBuilder<,>).Assembly, Resolve);
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        var mapped = name switch
        {
            "librdkafka" => Librdkafka,
            "libdl" => "libdl.so.2",
            _ => null,
        };
        if (mapped is null)
            return IntPtr.Zero;
        if (NativeLibrary.TryLoad(mapped, assembly, path, out var handle))
            return handle;
        throw new DllNotFoundException(
            $"Could not load {mapped} for Confluent.Kafka. Install it with `apt-get install librdkafka1` (./infra/setup.sh does this).");
    }
}
