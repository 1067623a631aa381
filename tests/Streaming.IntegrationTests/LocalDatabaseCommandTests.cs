using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Storage;

namespace Streaming.IntegrationTests;

/// <summary>
/// Nothing is left running after a command: a private PostgreSQL cluster that a command started is stopped when it exits
/// (its data stays); one that was already running is left alone; `db start` / `db stop` manage one across commands; and
/// `db psql`, which the demo prints as its closing "Explore:" line, works as printed (no password prompt or error).
/// </summary>
public sealed class LocalDatabaseCommandTests
{
    [Test, CancelAfter(180_000)]
    public async Task Commands_stop_the_private_database_they_started_and_leave_one_already_running_to_db_stop(CancellationToken cancellationToken)
    {
        var state = Path.Combine(TestStack.RepoRoot, ".local", TestStack.UniqueName("dbcmd"));
        var options = new LocalPostgresOptions { StateDirectory = state };
        try
        {
            Assert.That((await StreamingAsync(state, cancellationToken, "db", "status")).ExitCode, Is.EqualTo(3), "not running before anything started it");

            // The demo's closing line runs `streaming db psql -c ...`: it starts the cluster (initdb on first use), answers, and stops it again.
            var psql = await StreamingAsync(state, cancellationToken, "db", "psql", "-c", "SELECT 40 + 2 AS answer");
            Assert.That(psql.ExitCode, Is.Zero, psql.Output);
            Assert.That(psql.Output, Does.Contain("42").And.Not.Contain("password"));
            Assert.That(await LocalPostgres.IsRunningAsync(options, cancellationToken), Is.False, $"db psql stopped the cluster it started:\n{psql.Output}");

            // `models list` starts it for itself too, prints a header row, and stops it.
            var list = await StreamingAsync(state, cancellationToken, "models", "list");
            Assert.That(list.ExitCode, Is.Zero, list.Output);
            Assert.That(list.Output, Does.Contain("Stopped the private database this command started"));
            Assert.That(await LocalPostgres.IsRunningAsync(options, cancellationToken), Is.False, "models list stopped the cluster it started");

            // Started to stay up (as `run` leaves it): later commands reuse it and leave it running; `db stop` stops it.
            Assert.That((await StreamingAsync(state, cancellationToken, "db", "start")).ExitCode, Is.Zero);
            var reused = await StreamingAsync(state, cancellationToken, "models", "list");
            Assert.That(reused.ExitCode, Is.Zero, reused.Output);
            Assert.That(await LocalPostgres.IsRunningAsync(options, cancellationToken), Is.True, "a command leaves a cluster it did not start running");
            Assert.That((await StreamingAsync(state, cancellationToken, "db", "status")).ExitCode, Is.Zero);
            var stop = await StreamingAsync(state, cancellationToken, "db", "stop");
            Assert.That(stop.Output, Does.Contain("Stopped the private database"));
            Assert.That(await LocalPostgres.IsRunningAsync(options, cancellationToken), Is.False, "db stop stopped it");
        }
        finally
        {
            await LocalPostgres.StopIfRunningAsync(options, NullLogger.Instance, CancellationToken.None);
            if (Directory.Exists(state))
                Directory.Delete(state, recursive: true);
        }
    }

    [Test]
    public void The_demo_explore_line_is_the_db_psql_command_tested_above_and_never_a_passwordless_psql()
    {
        var line = Streaming.Host.Cli.DemoCommand.ExploreCommand(privateCluster: true, "Host=127.0.0.1;Port=5;Username=postgres;Password=secret;Database=streaming", "SELECT 1");
        Assert.That(line, Is.EqualTo("./streaming db psql -c \"SELECT 1\""));
        Assert.That(File.Exists(Path.Combine(TestStack.RepoRoot, "streaming")), "the wrapper the line runs is in the checkout");
        var own = Streaming.Host.Cli.DemoCommand.ExploreCommand(privateCluster: false, "Host=db;Port=5432;Username=u;Password=secret;Database=streaming", "SELECT 1");
        Assert.That(own, Does.Not.Contain("secret"), "a password is never printed");
        Assert.That(own, Does.Contain("$STREAMING_PG").Or.Contain("PGPASSWORD"), "and the line says where the password comes from");
    }

    [Test]
    public void Models_list_prints_a_header_row_in_the_same_columns_as_its_rows()
    {
        var header = Streaming.Host.Cli.ModelsCommand.ModelRow("VERSION", "STATUS", "SCOPE", "CREATED (UTC)", "ACTIVATED (UTC)", "ARTIFACTS");
        var row = Streaming.Host.Cli.ModelsCommand.ModelRow("20261122-101500", "active", "fleet", "2026-11-22 10:15:00", "2026-11-22 10:16:00", "/m/x");
        Assert.That(header.IndexOf("STATUS", StringComparison.Ordinal), Is.EqualTo(row.IndexOf("active", StringComparison.Ordinal)));
        Assert.That(header.IndexOf("ARTIFACTS", StringComparison.Ordinal), Is.EqualTo(row.IndexOf("/m/x", StringComparison.Ordinal)));
    }

    private static async Task<(int ExitCode, string Output)> StreamingAsync(string stateDirectory, CancellationToken cancellationToken, params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(typeof(Streaming.Host.Cli.RunCommand).Assembly.Location);
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        info.Environment.Remove("STREAMING_PG");
        info.Environment.Remove("Storage__ConnectionString");
        info.Environment["Storage__StateDirectory"] = stateDirectory;
        info.Environment["Models__Directory"] = Path.Combine(stateDirectory, "models");
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
        var output = $"{await stdout}\n{await stderr}";
        TestContext.Out.WriteLine($"$ streaming {string.Join(' ', arguments)} → {process.ExitCode}\n{output.Trim()}");
        return (process.ExitCode, output);
    }
}
