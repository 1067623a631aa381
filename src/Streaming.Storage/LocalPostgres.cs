using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Streaming.Storage;

/// <summary>
/// A private PostgreSQL 15 + TimescaleDB cluster for development and tests: initdb on first use, listening on
/// 127.0.0.1 only, password (SCRAM) auth, reused across runs while it is running.
/// PostgreSQL refuses to run as root, so when this process is root every server binary runs as the postgres OS user.
/// </summary>
internal sealed class LocalPostgres
{
    private const string AdminUser = "postgres";

    private readonly LocalPostgresOptions _options;
    private readonly ILogger _logger;

    private LocalPostgres(LocalPostgresOptions options, ILogger logger, string clusterDirectory, int port, string password)
    {
        _options = options;
        _logger = logger;
        ClusterDirectory = clusterDirectory;
        Port = port;
        AdminConnectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = port,
            Username = AdminUser,
            Password = password,
            Database = "postgres",
        }.ConnectionString;
    }

    /// <summary>Where the cluster lives: the requested state directory, or a /var/tmp fallback the postgres user can reach.</summary>
    public string ClusterDirectory { get; }

    public string DataDirectory => Path.Combine(ClusterDirectory, "data");

    public int Port { get; }

    /// <summary>Superuser connection to the "postgres" database.</summary>
    public string AdminConnectionString { get; }

    /// <summary>True when StartAsync found the cluster already running (e.g. started by an earlier run) and reused it.</summary>
    public bool Reused { get; private set; }

    private static bool RunsAsRoot => Environment.IsPrivilegedProcess;

    public static async Task<LocalPostgres> StartAsync(LocalPostgresOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("LocalPostgres drives a Unix PostgreSQL installation; on Windows point the application at a server instead.");
        }

        options.Validate();

        var clusterDirectory = await PrepareDirectoryAsync(Path.GetFullPath(options.StateDirectory), logger, cancellationToken);
        // Two processes starting on the same state directory (the host and a test run) must not both initdb or start.
        await using var startLock = await AcquireStartLockAsync(Path.Combine(clusterDirectory, "start.lock"), options.StartTimeout, cancellationToken);
        var port = ResolvePort(clusterDirectory, options.Port);
        var dataDirectory = Path.Combine(clusterDirectory, "data");
        var passwordFile = Path.Combine(clusterDirectory, "admin.password");

        var initialised = File.Exists(Path.Combine(dataDirectory, "PG_VERSION"));
        if (!initialised)
        {
            await InitialiseAsync(options, dataDirectory, passwordFile, cancellationToken);
        }

        var cluster = new LocalPostgres(options, logger, clusterDirectory, port, (await File.ReadAllTextAsync(passwordFile, cancellationToken)).Trim());
        if (await cluster.IsRunningAsync(cancellationToken))
        {
            await cluster.WaitUntilReadyAsync(cancellationToken);
            cluster.Reused = true;
            StorageLog.LocalPostgresReady(logger, "reused", port, dataDirectory);
        }
        else
        {
            await cluster.StartServerAsync(cancellationToken);
            StorageLog.LocalPostgresReady(logger, initialised ? "started" : "initialised and started", port, dataDirectory);
        }

        return cluster;
    }

    /// <summary>Creates a database (with the timescaledb extension unless told otherwise) and returns its connection string.</summary>
    public Task<string> CreateDatabaseAsync(string name, bool withTimescale = true, CancellationToken cancellationToken = default) =>
        PostgresAdmin.CreateDatabaseAsync(AdminConnectionString, name, withTimescale, cancellationToken);

    public Task DropDatabaseAsync(string name, CancellationToken cancellationToken = default) =>
        PostgresAdmin.DropDatabaseAsync(AdminConnectionString, name, cancellationToken);

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (!await IsRunningAsync(cancellationToken))
        {
            return;
        }

        // Pooled connections to a stopped server are dead; clearing them makes the next open reconnect.
        NpgsqlConnection.ClearAllPools();
        await RunServerToolCheckedAsync(_options, "pg_ctl", ["-D", DataDirectory, "-m", "fast", "-w", "stop"], cancellationToken);
        StorageLog.LocalPostgresStopped(_logger, DataDirectory);
    }

    /// <summary>Whether the cluster of these options runs now (without creating or starting anything).</summary>
    public static Task<bool> IsRunningAsync(LocalPostgresOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return IsRunningAsync(options, DataDirectoryOf(options), cancellationToken);
    }

    /// <summary>Stops the cluster of these options if it runs (its data stays); false when it was not running.</summary>
    public static async Task<bool> StopIfRunningAsync(LocalPostgresOptions options, ILogger logger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var dataDirectory = DataDirectoryOf(options);
        if (!await IsRunningAsync(options, dataDirectory, cancellationToken))
        {
            return false;
        }

        NpgsqlConnection.ClearAllPools();
        await RunServerToolCheckedAsync(options, "pg_ctl", ["-D", dataDirectory, "-m", "fast", "-w", "stop"], cancellationToken);
        StorageLog.LocalPostgresStopped(logger, dataDirectory);
        return true;
    }

    private static string DataDirectoryOf(LocalPostgresOptions options) => OperatingSystem.IsWindows()
        ? throw new PlatformNotSupportedException("LocalPostgres drives a Unix PostgreSQL installation.")
        : Path.Combine(ChooseClusterDirectory(Path.GetFullPath(options.StateDirectory), RunsAsRoot), "data");

    private static async Task<bool> IsRunningAsync(LocalPostgresOptions options, string dataDirectory, CancellationToken cancellationToken)
    {
        var status = await RunServerToolAsync(options, "pg_ctl", ["-D", dataDirectory, "status"], cancellationToken);
        return status.ExitCode == 0;
    }

    private async Task<bool> IsRunningAsync(CancellationToken cancellationToken)
    {
        // pg_ctl status: 0 = running, 3 = not running (a stale postmaster.pid counts as not running), 4 = no data directory.
        var status = await RunServerToolAsync(_options, "pg_ctl", ["-D", DataDirectory, "status"], cancellationToken);
        return status.ExitCode == 0;
    }

    private async Task StartServerAsync(CancellationToken cancellationToken)
    {
        var log = Path.Combine(ClusterDirectory, "server.log");
        var seconds = ((int)Math.Ceiling(_options.StartTimeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        var result = await RunServerToolAsync(
            _options,
            "pg_ctl",
            ["-D", DataDirectory, "-l", log, "-w", "-t", seconds, "-o", $"-p {Port.ToString(CultureInfo.InvariantCulture)}", "start"],
            cancellationToken);
        if (result.ExitCode != 0)
        {
            var tail = File.Exists(log) ? string.Join('\n', (await File.ReadAllLinesAsync(log, cancellationToken)).TakeLast(15)) : "(no server log)";
            throw new InvalidOperationException(
                $"pg_ctl start failed for {DataDirectory} on port {Port} (exit {result.ExitCode}): {result.Output}\nServer log tail:\n{tail}");
        }

        await WaitUntilReadyAsync(cancellationToken);
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + _options.StartTimeout;
        var portText = Port.ToString(CultureInfo.InvariantCulture);
        while (true)
        {
            var ready = await ProcessRunner.RunAsync(
                Path.Combine(_options.BinDirectory, "pg_isready"), ["-h", "127.0.0.1", "-p", portText, "-t", "2"], cancellationToken);
            if (ready.ExitCode == 0)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException(
                    $"PostgreSQL in {DataDirectory} is running but not accepting connections on 127.0.0.1:{Port} after {_options.StartTimeout} " +
                    $"({ready.Output}). If it runs on another port, stop it with pg_ctl -D {DataDirectory} stop.");
            }

            await Task.Delay(200, cancellationToken);
        }
    }

    [UnsupportedOSPlatform("windows")]
    private static async Task InitialiseAsync(
        LocalPostgresOptions options, string dataDirectory, string passwordFile, CancellationToken cancellationToken)
    {
        if (Directory.Exists(dataDirectory) && Directory.EnumerateFileSystemEntries(dataDirectory).Any())
        {
            throw new InvalidOperationException(
                $"{dataDirectory} exists but holds no PG_VERSION: not a cluster this code created. Move it away or choose another LocalPostgres:StateDirectory.");
        }

        var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)).Replace('+', 'x').Replace('/', 'y');
        await File.WriteAllTextAsync(passwordFile, password + "\n", cancellationToken);
        File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        if (RunsAsRoot)
        {
            await ProcessRunner.RunCheckedAsync("chown", ["postgres:postgres", passwordFile], cancellationToken);
        }

        await RunServerToolCheckedAsync(
            options,
            "initdb",
            ["-D", dataDirectory, "-U", AdminUser, "--pwfile", passwordFile, "--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
             "-E", "UTF8", "--no-locale"],
            cancellationToken);

        // Loopback only: this cluster is private to the machine. The port is passed at start (-p) so it can be re-chosen.
        var settings = new StringBuilder()
            .AppendLine()
            .AppendLine("# Streaming LocalPostgres")
            .AppendLine("listen_addresses = '127.0.0.1'")
            // TCP only: a Unix socket under a deep checkout path can exceed the 107-byte socket path limit.
            .AppendLine("unix_socket_directories = ''")
            .AppendLine("shared_preload_libraries = 'timescaledb'")
            .AppendLine("max_connections = 200")
            .ToString();
        await File.AppendAllTextAsync(Path.Combine(dataDirectory, "postgresql.conf"), settings, cancellationToken);
    }

    [UnsupportedOSPlatform("windows")]
    private static async Task<string> PrepareDirectoryAsync(string requested, ILogger logger, CancellationToken cancellationToken)
    {
        var directory = ChooseClusterDirectory(requested, RunsAsRoot);
        if (directory != requested)
        {
            StorageLog.LocalPostgresFallbackDirectory(logger, requested, directory);
        }

        Directory.CreateDirectory(directory);
        if (RunsAsRoot)
        {
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            await ProcessRunner.RunCheckedAsync("chown", ["postgres:postgres", directory], cancellationToken);
        }

        return directory;
    }

    /// <summary>
    /// The requested directory, unless the server must run as the postgres user and cannot reach it (e.g. a checkout
    /// under /root): then a /var/tmp directory keyed by a hash of the requested path, so each checkout keeps its own cluster.
    /// </summary>
    [UnsupportedOSPlatform("windows")]
    internal static string ChooseClusterDirectory(string requested, bool runsAsRoot)
    {
        if (!runsAsRoot || PostgresCanTraverseParents(requested))
        {
            return requested;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(requested)))[..16];
        return Path.Combine("/var/tmp", $"streaming-pg-{hash}");
    }

    /// <summary>Every existing ancestor must be world-searchable (the postgres user owns none of them).</summary>
    [UnsupportedOSPlatform("windows")]
    private static bool PostgresCanTraverseParents(string directory)
    {
        for (var parent = Path.GetDirectoryName(directory); parent is not null; parent = Path.GetDirectoryName(parent))
        {
            if (Directory.Exists(parent) && (File.GetUnixFileMode(parent) & UnixFileMode.OtherExecute) == 0)
            {
                return false;
            }
        }

        return true;
    }

    private static async Task<FileStream> AcquireStartLockAsync(string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                // FileShare.None takes an exclusive advisory lock on Unix; it is released when the stream is disposed.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }

    private static int ResolvePort(string clusterDirectory, int requested)
    {
        var portFile = Path.Combine(clusterDirectory, "port");
        if (requested == 0 && File.Exists(portFile)
            && int.TryParse(File.ReadAllText(portFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var remembered))
        {
            return remembered;
        }

        var port = requested;
        if (port == 0)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        File.WriteAllText(portFile, port.ToString(CultureInfo.InvariantCulture) + "\n");
        return port;
    }

    private static Task<ProcessRunner.Result> RunServerToolAsync(
        LocalPostgresOptions options, string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var executable = Path.Combine(options.BinDirectory, tool);
        return RunsAsRoot
            ? ProcessRunner.RunAsync("runuser", ["-u", "postgres", "--", executable, .. arguments], cancellationToken)
            : ProcessRunner.RunAsync(executable, arguments, cancellationToken);
    }

    private static async Task RunServerToolCheckedAsync(
        LocalPostgresOptions options, string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var result = await RunServerToolAsync(options, tool, arguments, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} exited with {result.ExitCode}: {result.Output}");
        }
    }
}
