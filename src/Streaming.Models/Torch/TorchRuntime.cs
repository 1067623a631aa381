using TorchSharp;

namespace Streaming.Models.Torch;

/// <summary>
/// The one place that touches LibTorch's process-wide state: loading the native library with a clear error, and the
/// intra-op thread count. LibTorch keeps that count per OS thread (OpenMP), so a scoring thread pins itself to one thread
/// once and does not fight the consume loop; training sets its own count (<see cref="Training.TrainingOptions.Threads"/>).
/// </summary>
internal static class TorchRuntime
{
    private static readonly Lock Gate = new();
    private static bool loaded;

    [ThreadStatic]
    private static int threadsOnThisThread;

    /// <summary>Loads LibTorch (once) or throws an exception that says why and what to do.</summary>
    public static void EnsureLoaded()
    {
        if (Volatile.Read(ref loaded))
        {
            return;
        }

        lock (Gate)
        {
            if (loaded)
            {
                return;
            }

            try
            {
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e) when (e is NotSupportedException or DllNotFoundException or TypeInitializationException)
            {
                throw new InvalidOperationException(
                    "TorchSharp could not load LibTorch. On Debian 12 the build marks libLibTorchSharp.so's GLIBCXX_3.4.32 requirement " +
                    "weak (build/TorchSharpLoadFix.targets); run from a build output, not a copy made without it. " + e.Message, e);
            }

            Volatile.Write(ref loaded, true);
        }
    }

    /// <summary>Scoring: one intra-op thread on the calling (worker) thread; cheap after the first call on a thread.</summary>
    public static void UseScoringThread() => UseThreads(1);

    /// <summary>Training: <paramref name="threads"/> intra-op threads on the calling thread.</summary>
    public static void UseTrainingThreads(int threads) => UseThreads(threads);

    private static void UseThreads(int threads)
    {
        EnsureLoaded();
        if (threadsOnThisThread != threads)
        {
            torch.set_num_threads(threads);
            threadsOnThisThread = threads;
        }
    }
}
