using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Streaming.Host.Configuration;
using Streaming.Storage;

namespace Streaming.Host.Pipeline;

/// <summary>
/// The private PostgreSQL clusters this process started. A command stops them when it exits (their data stays, and the next
/// command starts them again), so nothing is left running after `demo`, `load`, `train` or `models`; a cluster that was
/// already running is never touched. `run` and `db start` keep theirs running for other processes (`streaming db stop`).
/// </summary>
internal static class LocalDatabases
{
    private static readonly ConcurrentQueue<LocalPostgres> Started = new();
    private static string? _keptBy;

    public static LocalPostgresOptions Options(StorageSettings storage) => new()
    {
        StateDirectory = RepositoryPaths.Resolve(storage.StateDirectory),
        Port = storage.Port,
    };

    /// <summary>Starts (or reuses) the private cluster; one started here is stopped when the command exits.</summary>
    public static async Task<LocalPostgres> StartAsync(StorageSettings storage, ILogger logger, CancellationToken cancellationToken)
    {
        var local = await LocalPostgres.StartAsync(Options(storage), logger, cancellationToken).ConfigureAwait(false);
        if (!local.Reused)
            Started.Enqueue(local);
        return local;
    }

    /// <summary>This command's clusters serve other processes too (`run`, `db start`): leave them running at exit.</summary>
    public static void KeepRunning(string command) => _keptBy = command;

    /// <summary>At exit: stops what this process started, unless told to keep it, and says which on stderr.</summary>
    public static async Task StopStartedAsync()
    {
        while (Started.TryDequeue(out var local))
        {
            if (_keptBy is not null)
            {
                Console.Error.WriteLine($"The private database in {local.ClusterDirectory} (port {local.Port}) keeps running for other " +
                                        $"processes ({_keptBy} started it); `streaming db stop` stops it, its data stays.");
                continue;
            }
            await local.StopAsync(CancellationToken.None).ConfigureAwait(false);
            Console.Error.WriteLine($"Stopped the private database this command started ({local.ClusterDirectory}); its data stays for the next run.");
        }
    }
}
