using Microsoft.Extensions.Logging;
using Streaming.Models.Pipeline;

namespace Streaming.Host.Modeling;

/// <summary><c>Models:Scope</c>: one fleet model for every entity, or an entity's own model where one is active.</summary>
public enum ModelScope
{
    Fleet,
    PerEntity,
}

/// <summary>
/// Polls the registry and swaps the provider's active (and, in shadow mode, candidate) bundle when it changes: hot reload
/// without a restart. A bundle that fails to load is logged and the previous one stays in use.
/// </summary>
internal sealed partial class ModelWatcher(ModelRegistry registry, ModelSetProvider provider, bool shadow, TimeSpan interval, ILogger logger,
    ModelScope scope = ModelScope.Fleet)
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
            if (scope == ModelScope.PerEntity)
            {
                var entities = await registry.ActiveEntityModelsAsync(cancellationToken).ConfigureAwait(false);
                var current = provider.EntityBundles;
                if (entities.Count != current.Count || entities.Any(e => !current.TryGetValue(e.Key, out var b) || b.Version != e.Value.Version))
                {
                    // Reuse the bundles already loaded; load only new versions.
                    provider.SetEntityBundles(entities.ToDictionary(e => e.Key,
                        e => current.TryGetValue(e.Key, out var b) && b.Version == e.Value.Version ? b : ModelBundle.Load(e.Value.ArtifactPath),
                        StringComparer.Ordinal));
                    LogEntityModels(logger, entities.Count);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} entities score with their own model version (Models:Scope=PerEntity)")]
    private static partial void LogEntityModels(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not load a model version from the registry; keeping the current one: {Reason}")]
    private static partial void LogReloadFailed(ILogger logger, string reason);
}
