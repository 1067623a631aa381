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
        Assert.That(migrations.Select(m => m.Version), Is.EqualTo(new[] { 1, 2, 3, 4 }));
        Assert.That(migrations.Select(m => m.Name), Is.EqualTo(new[] { "core_tables", "rollups", "policies", "roles" }));
    }
}
