using Dapper;
using Npgsql;
using Streaming.Models.Pipeline;
using Streaming.Storage;

namespace Streaming.Host.Modeling;

/// <summary>One registered bundle version; <see cref="Entity"/> is null for a fleet bundle, the entity's name for a per-entity one.</summary>
internal sealed record RegisteredModel(string Version, string Status, string ArtifactPath, DateTimeOffset CreatedAt, DateTimeOffset? ActivatedAt, string? Entity = null);

/// <summary>
/// Model versions: bundles saved under the models directory and listed in the <c>model_registry</c> table, where exactly
/// one fleet version is <c>active</c> (and at most one per entity for per-entity bundles) and any number are
/// <c>candidate</c> (a candidate marked for shadow scoring is the newest fleet candidate when shadow mode is on) or <c>retired</c>.
/// </summary>
internal sealed class ModelRegistry(NpgsqlDataSource dataSource, string modelsDirectory)
{
    public const string ModelName = "fleet-ensemble";

    static ModelRegistry() => DapperTypes.Register();

    public string ModelsDirectory { get; } = modelsDirectory;

    public async Task<RegisteredModel> RegisterAsync(ModelBundle bundle, bool activate, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(ModelsDirectory, bundle.Version);
        bundle.Save(directory);
        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO model_registry (model_name, version, kind, artifact_path, manifest, status, entity) " +
                "VALUES (@Name, @Version, 'ensemble', @Path, CAST(@Manifest AS jsonb), 'candidate', @Entity)",
                new { Name = ModelName, bundle.Version, Path = Path.GetFullPath(directory), Manifest = ModelBundle.InfoJson(bundle.Info), bundle.Info.Entity },
                cancellationToken: cancellationToken));
        }
        if (activate)
            await ActivateAsync(bundle.Version, cancellationToken);
        return (await ListAsync(cancellationToken)).First(m => m.Version == bundle.Version);
    }

    /// <summary>
    /// Makes <paramref name="version"/> the active one and retires the previous active version of the same scope (the fleet,
    /// or the same entity); running processors switch at their next window.
    /// </summary>
    public async Task ActivateAsync(string version, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        var key = new { Name = ModelName, Version = version };
        var exists = await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            "SELECT 1 FROM model_registry WHERE model_name = @Name AND version = @Version FOR UPDATE", key, tx, cancellationToken: cancellationToken));
        if (exists is null)
            throw new InvalidOperationException($"No model version '{version}' is registered; `streaming models list` shows them.");
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE model_registry SET status = 'retired' WHERE model_name = @Name AND status = 'active' AND version <> @Version " +
            "AND entity IS NOT DISTINCT FROM (SELECT entity FROM model_registry WHERE model_name = @Name AND version = @Version)",
            key, tx, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE model_registry SET status = 'active', activated_at = now() WHERE model_name = @Name AND version = @Version",
            key, tx, cancellationToken: cancellationToken));
        await tx.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<RegisteredModel>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var models = await connection.QueryAsync<RegisteredModel>(new CommandDefinition(
            "SELECT version, status, artifact_path AS ArtifactPath, created_at AS CreatedAt, activated_at AS ActivatedAt, entity " +
            "FROM model_registry WHERE model_name = @Name ORDER BY created_at, id", new { Name = ModelName }, cancellationToken: cancellationToken));
        return models.AsList();
    }

    /// <summary>The active fleet version.</summary>
    public async Task<RegisteredModel?> ActiveAsync(CancellationToken cancellationToken) =>
        (await ListAsync(cancellationToken)).LastOrDefault(m => m.Status == "active" && m.Entity is null);

    /// <summary>The active per-entity versions, by entity.</summary>
    public async Task<IReadOnlyDictionary<string, RegisteredModel>> ActiveEntityModelsAsync(CancellationToken cancellationToken) =>
        (await ListAsync(cancellationToken)).Where(m => m.Status == "active" && m.Entity is not null)
            .GroupBy(m => m.Entity!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);

    /// <summary>The newest fleet candidate registered after the active fleet version, for shadow scoring.</summary>
    public async Task<RegisteredModel?> ShadowCandidateAsync(CancellationToken cancellationToken)
    {
        var models = (await ListAsync(cancellationToken)).Where(m => m.Entity is null).ToList();
        var active = models.LastOrDefault(m => m.Status == "active");
        return models.LastOrDefault(m => m.Status == "candidate" && (active is null || m.CreatedAt >= active.CreatedAt));
    }
}
