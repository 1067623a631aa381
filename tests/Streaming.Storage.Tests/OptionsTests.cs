using Streaming.Storage;

namespace Streaming.Storage.Tests;

public sealed class OptionsTests
{
    [Test]
    public void Local_postgres_without_a_state_directory_is_refused_naming_the_setting()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new LocalPostgresOptions().Validate());
        Assert.That(error!.Message, Does.Contain("LocalPostgres:StateDirectory"));
    }

    [Test]
    public void Local_postgres_with_a_wrong_bin_directory_points_at_the_setup_script()
    {
        var options = new LocalPostgresOptions { StateDirectory = "/tmp/x", BinDirectory = "/nonexistent" };
        var error = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.That(error!.Message, Does.Contain("LocalPostgres:BinDirectory").And.Contain("infra/setup.sh"));
    }

    [Test]
    public void Local_postgres_port_out_of_range_is_refused()
    {
        var error = Assert.Throws<InvalidOperationException>(new LocalPostgresOptions { StateDirectory = "/tmp/x", Port = 70000 }.Validate);
        Assert.That(error!.Message, Does.Contain("LocalPostgres:Port"));
    }

    [Test]
    public void Maintenance_lookback_longer_than_raw_retention_is_refused()
    {
        var options = new MaintenanceOptions { RefreshLookback = TimeSpan.FromDays(40) };
        var error = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.That(error!.Message, Does.Contain("Maintenance:RefreshLookback").And.Contain("Maintenance:RawRetention"));
    }

    [Test]
    public void Maintenance_with_a_zero_interval_is_refused()
    {
        var error = Assert.Throws<InvalidOperationException>(new MaintenanceOptions { Interval = TimeSpan.Zero }.Validate);
        Assert.That(error!.Message, Does.Contain("Maintenance:Interval"));
    }

    [Test]
    public void Default_options_are_valid()
    {
        Assert.DoesNotThrow(new MaintenanceOptions().Validate);
        Assert.DoesNotThrow(new LocalPostgresOptions { StateDirectory = "/tmp/x" }.Validate);
    }

    [Test]
    public void Every_migration_is_embedded_in_order()
    {
        var migrations = DatabaseMigrator.LoadMigrations();
        Assert.That(migrations.Select(m => m.Version), Is.EqualTo(new[] { 1, 2, 3, 4, 5, 6, 7 }));
        Assert.That(migrations.Select(m => m.Name), Is.EqualTo(new[] { "core_tables", "rollups", "policies", "roles", "models_drift", "output_natural_keys", "sink_offsets_cluster" }));
    }
}

public sealed class LocalPostgresDirectoryTests
{
    [Test]
    public void A_state_directory_under_a_private_parent_falls_back_to_var_tmp_keyed_by_its_path()
    {
        var parent = Directory.CreateTempSubdirectory("streaming-private-");
        try
        {
            File.SetUnixFileMode(parent.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var requested = Path.Combine(parent.FullName, "state");

            var chosen = LocalPostgres.ChooseClusterDirectory(requested, runsAsRoot: true);

            Assert.That(chosen, Does.StartWith("/var/tmp/streaming-pg-"));
            Assert.That(LocalPostgres.ChooseClusterDirectory(requested, runsAsRoot: true), Is.EqualTo(chosen), "stable across runs");
            Assert.That(LocalPostgres.ChooseClusterDirectory(requested + "-other", runsAsRoot: true), Is.Not.EqualTo(chosen));
            Assert.That(LocalPostgres.ChooseClusterDirectory(requested, runsAsRoot: false), Is.EqualTo(requested),
                "without root the server runs as the current user, who can reach its own directories");
        }
        finally
        {
            parent.Delete(recursive: true);
        }
    }

    [Test]
    public void A_state_directory_with_traversable_parents_is_used_as_is()
    {
        var parent = Directory.CreateTempSubdirectory("streaming-public-");
        try
        {
            File.SetUnixFileMode(parent.FullName, (UnixFileMode)0b111_101_101);
            var requested = Path.Combine(parent.FullName, "state");
            Assert.That(LocalPostgres.ChooseClusterDirectory(requested, runsAsRoot: true), Is.EqualTo(requested));
        }
        finally
        {
            parent.Delete(recursive: true);
        }
    }
}
