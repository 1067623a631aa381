namespace Streaming.Storage;

internal sealed class LocalPostgresOptions
{
    /// <summary>Directory holding the cluster (data/, port, admin password, server log). Created if missing.</summary>
    public string StateDirectory { get; set; } = "";

    /// <summary>TCP port on 127.0.0.1; 0 picks a free port once and remembers it in the state directory.</summary>
    public int Port { get; set; }

    public string BinDirectory { get; set; } = "/usr/lib/postgresql/15/bin";

    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(60);

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(StateDirectory))
        {
            throw new InvalidOperationException(
                "LocalPostgres:StateDirectory is empty. Set it to a writable directory (e.g. <repo>/.local/postgres).");
        }

        if (Port is < 0 or > 65535)
        {
            throw new InvalidOperationException($"LocalPostgres:Port is {Port}. Use 0 (choose a free port once) or 1-65535.");
        }

        if (!File.Exists(Path.Combine(BinDirectory, "pg_ctl")))
        {
            throw new InvalidOperationException(
                $"LocalPostgres:BinDirectory '{BinDirectory}' has no pg_ctl. Run ./infra/setup.sh (installs postgresql-15) " +
                "or point BinDirectory at the PostgreSQL bin directory.");
        }

        if (StartTimeout <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"LocalPostgres:StartTimeout is {StartTimeout}; it must be positive (e.g. 00:01:00).");
        }
    }
}
