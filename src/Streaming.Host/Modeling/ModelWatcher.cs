using Microsoft.Extensions.Logging;
using Streaming.Models.Pipeline;

namespace Streaming.Host.Modeling;

/// <summary>
/// Polls the registry and swaps the provider's active (and, in shadow mode, candidate) bundle when it changes: hot reload
/// without a restart. A bundle that fails to load is logged and the previous one stays in use.
/// </summary>
internal sealed partial class ModelWatcher(ModelRegistry registry, ModelSetProvider provider, bool shadow, TimeSpan interval, ILogger logger)
{
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        do
        {
            await RefreshAsync(cancellationToken).ConfigureAwait(false);
        }
        while (await WaitAsync(timer, cancellationToken).ConfigureAwait(false));
    }

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        try
        {
            var active = await registry.ActiveAsync(cancellationToken).ConfigureAwait(false);
            if (active?.Version != provider.Active?.Version)
            {
                provider.Activate(active is null ? null : ModelBundle.Load(active.ArtifactPath));
                LogActivated(logger, active?.Version ?? "(none: baseline only)");
            }
            if (shadow)
            {
                var candidate = await registry.ShadowCandidateAsync(cancellationToken).ConfigureAwait(false);
                if (candidate?.Version != provider.Candidate?.Version)
                {
                    provider.SetCandidate(candidate is null ? null : ModelBundle.Load(candidate.ArtifactPath));
                    LogShadow(logger, candidate?.Version ?? "(none)");
                }
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or Npgsql.NpgsqlException or System.Text.Json.JsonException)
        {
            LogReloadFailed(logger, ex.Message);
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Model version {Version} is now active")]
    private static partial void LogActivated(ILogger logger, string version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shadow-scoring candidate model version {Version}")]
    private static partial void LogShadow(ILogger logger, string version);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not load a model version from the registry; keeping the current one: {Reason}")]
    private static partial void LogReloadFailed(ILogger logger, string reason);
}
