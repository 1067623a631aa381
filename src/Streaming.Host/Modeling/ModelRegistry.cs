using Npgsql;
using NpgsqlTypes;
using Streaming.Models.Pipeline;

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

    public string ModelsDirectory { get; } = modelsDirectory;

    public async Task<RegisteredModel> RegisterAsync(ModelBundle bundle, bool activate, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(ModelsDirectory, bundle.Version);
        bundle.Save(directory);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var insert = new NpgsqlCommand(
            "INSERT INTO model_registry (model_name, version, kind, artifact_path, manifest, status, entity) VALUES (@n, @v, 'ensemble', @p, @m, 'candidate', @e)",
            connection, tx))
        {
            insert.Parameters.AddWithValue("n", ModelName);
            insert.Parameters.AddWithValue("v", bundle.Version);
            insert.Parameters.AddWithValue("p", Path.GetFullPath(directory));
            insert.Parameters.Add(new NpgsqlParameter("m", NpgsqlDbType.Jsonb) { Value = ModelBundle.InfoJson(bundle.Info) });
            insert.Parameters.Add(new NpgsqlParameter("e", NpgsqlDbType.Text) { Value = (object?)bundle.Info.Entity ?? DBNull.Value });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await tx.CommitAsync(cancellationToken);
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
        await using (var exists = new NpgsqlCommand("SELECT 1 FROM model_registry WHERE model_name = @n AND version = @v FOR UPDATE", connection, tx))
        {
            exists.Parameters.AddWithValue("n", ModelName);
            exists.Parameters.AddWithValue("v", version);
            if (await exists.ExecuteScalarAsync(cancellationToken) is null)
                throw new InvalidOperationException($"No model version '{version}' is registered; `streaming models list` shows them.");
        }
        await using (var retire = new NpgsqlCommand(
            "UPDATE model_registry SET status = 'retired' WHERE model_name = @n AND status = 'active' AND version <> @v " +
            "AND entity IS NOT DISTINCT FROM (SELECT entity FROM model_registry WHERE model_name = @n AND version = @v)", connection, tx))
        {
            retire.Parameters.AddWithValue("n", ModelName);
            retire.Parameters.AddWithValue("v", version);
            await retire.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var activate = new NpgsqlCommand("UPDATE model_registry SET status = 'active', activated_at = now() WHERE model_name = @n AND version = @v", connection, tx))
        {
            activate.Parameters.AddWithValue("n", ModelName);
            activate.Parameters.AddWithValue("v", version);
            await activate.ExecuteNonQueryAsync(cancellationToken);
        }
        await tx.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<RegisteredModel>> ListAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT version, status, artifact_path, created_at, activated_at, entity FROM model_registry WHERE model_name = @n ORDER BY created_at, id");
        command.Parameters.AddWithValue("n", ModelName);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var models = new List<RegisteredModel>();
        while (await reader.ReadAsync(cancellationToken))
        {
            models.Add(new RegisteredModel(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                reader.GetFieldValue<DateTimeOffset>(3), reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4),
                reader.IsDBNull(5) ? null : reader.GetString(5)));
        }
        return models;
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
