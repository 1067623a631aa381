using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;
using Streaming.Storage;

namespace Streaming.Storage.Tests;

public sealed partial class GrafanaDashboardTests
{
    private static readonly string GrafanaDirectory = Path.Combine(TestServer.RepoRoot, "grafana");
    private static readonly string[] DashboardFiles = Directory.GetFiles(Path.Combine(GrafanaDirectory, "dashboards"), "*.json").Order().ToArray();

    private static readonly Dictionary<string, string> Variables = new()
    {
        ["entity"] = "press-03",
        ["metric"] = "vibration",
        ["model"] = SampleData.Model,
    };

    // As the pipeline has them: the registry names the bundle (ModelRegistry.ModelName), scores name the scorer that wrote
    // them. A test with one name in both tables could not see a model picker that offered only the bundle's name.
    private const string RegistryModelName = "fleet-ensemble";

    private readonly Dictionary<bool, (TestDatabase Db, string ReaderConnectionString)> _databases = [];
    private readonly List<string> _readerRoles = [];
    private DateTimeOffset _end;

    [GeneratedRegex(@"^\s*uid:\s*(\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex ProvisionedUid();

    [GeneratedRegex(@"^\s*type:\s*(\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex ProvisionedType();

    [OneTimeSetUp]
    public async Task FillDatabasesAsync()
    {
        _end = DateTimeOffset.UtcNow;
        foreach (var timescale in new[] { true, false })
        {
            var db = await TestServer.CreateDatabaseAsync(timescale ? "grafana_ts" : "grafana_plain", timescale);
            var capabilities = await DatabaseMigrator.ApplyAsync(db.ConnectionString, new TestLogger(), CancellationToken.None);
            await using (var dataSource = NpgsqlDataSource.Create(db.ConnectionString))
            {
                var writer = new TimescaleWriter(dataSource, capabilities, TimeProvider.System, new TestLogger());
                await writer.WriteBatchAsync(SampleData.Build(_end), "grafana-test", [new SourceOffset("telemetry", 0, 1)], CancellationToken.None);
                using var maintenance = new MaintenanceLoop(dataSource, capabilities, new MaintenanceOptions(), TimeProvider.System, new TestLogger());
                Assert.That(await maintenance.RunOnceAsync(CancellationToken.None), Is.True);
            }

            await db.ExecuteAsync($$"""
                INSERT INTO model_registry (model_name, version, kind, artifact_path, manifest, status, activated_at)
                VALUES ('{{RegistryModelName}}', '1.1.0', 'anomaly', '/models/if-1.1.0.onnx', '{"features": 24}', 'retired', now() - INTERVAL '2 days'),
                       ('{{RegistryModelName}}', '{{SampleData.ModelVersion}}', 'anomaly', '/models/if-1.2.0.onnx', '{"features": 27}', 'active', now())
                """);

            // Grafana logs in as a member of streaming_reader: run the queries with exactly that privilege.
            var role = "grafana_" + db.Name;
            var password = Guid.NewGuid().ToString("N");
            await using (var admin = new NpgsqlConnection(TestServer.AdminConnectionString))
            {
                await admin.OpenAsync();
                await using var create = new NpgsqlCommand($"CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE streaming_reader", admin);
                await create.ExecuteNonQueryAsync();
            }

            _readerRoles.Add(role);
            var reader = new NpgsqlConnectionStringBuilder(db.ConnectionString) { Username = role, Password = password }.ConnectionString;
            _databases[timescale] = (db, reader);
        }
    }

    [OneTimeTearDown]
    public async Task DropDatabasesAsync()
    {
        foreach (var (db, _) in _databases.Values)
        {
            await TestServer.DropDatabaseAsync(db);
        }

        await using var admin = new NpgsqlConnection(TestServer.AdminConnectionString);
        await admin.OpenAsync();
        foreach (var role in _readerRoles)
        {
            await using var drop = new NpgsqlCommand($"DROP ROLE IF EXISTS {role}", admin);
            await drop.ExecuteNonQueryAsync();
        }
    }

    public static IEnumerable<TestCaseData> Dashboards() =>
        DashboardFiles.Select(f => new TestCaseData(Path.GetFileName(f)).SetArgDisplayNames(Path.GetFileName(f)));

    public static IEnumerable<TestCaseData> Queries()
    {
        foreach (var timescale in new[] { true, false })
        {
            foreach (var file in DashboardFiles)
            {
                foreach (var (where, sql) in SqlQueries(Load(Path.GetFileName(file))))
                {
                    var mode = timescale ? "timescaledb" : "plain-postgres";
                    yield return new TestCaseData(timescale, sql).SetArgDisplayNames(mode, Path.GetFileName(file), where);
                }
            }
        }
    }

    [Test]
    public void There_are_the_four_dashboards()
    {
        Assert.That(DashboardFiles.Select(Path.GetFileName),
            Is.EquivalentTo(new[] { "entity-drilldown.json", "fleet-overview.json", "models-drift.json", "pipeline-health.json" }));
    }

    [TestCaseSource(nameof(Dashboards))]
    public void Dashboard_is_valid_json_with_a_uid_a_title_and_unique_panel_ids(string file)
    {
        var root = Load(file);
        Assert.That(root.GetProperty("uid").GetString(), Is.Not.Null.And.Not.Empty);
        Assert.That(root.GetProperty("title").GetString(), Does.StartWith("Streaming / "));
        var ids = Panels(root).Select(p => p.GetProperty("id").GetInt32()).ToList();
        Assert.That(ids, Is.Not.Empty);
        Assert.That(ids, Is.Unique);
    }

    [Test]
    public void Dashboard_uids_are_unique_across_files()
    {
        Assert.That(DashboardFiles.Select(f => Load(Path.GetFileName(f)).GetProperty("uid").GetString()), Is.Unique);
    }

    [TestCaseSource(nameof(Dashboards))]
    public void Every_panel_query_variable_and_annotation_uses_the_provisioned_datasource(string file)
    {
        var provisioning = File.ReadAllText(Path.Combine(GrafanaDirectory, "provisioning", "datasources", "streaming.yaml"));
        var uid = ProvisionedUid().Match(provisioning).Groups[1].Value;
        var type = ProvisionedType().Match(provisioning).Groups[1].Value;
        Assert.That(uid, Is.EqualTo("streaming-timescaledb"));
        Assert.That(provisioning, Does.Contain("timescaledb: true"));

        var root = Load(file);
        var datasources = new List<(string Where, JsonElement Datasource)>();
        foreach (var panel in Panels(root))
        {
            var title = panel.GetProperty("title").GetString();
            datasources.Add(($"panel '{title}'", panel.GetProperty("datasource")));
            datasources.AddRange(panel.GetProperty("targets").EnumerateArray().Select(t => ($"panel '{title}' target", t.GetProperty("datasource"))));
        }

        datasources.AddRange(root.GetProperty("templating").GetProperty("list").EnumerateArray()
            .Select(v => ($"variable {v.GetProperty("name").GetString()}", v.GetProperty("datasource"))));
        datasources.AddRange(root.GetProperty("annotations").GetProperty("list").EnumerateArray()
            .Select(a => ($"annotation {a.GetProperty("name").GetString()}", a.GetProperty("datasource"))));

        Assert.Multiple(() =>
        {
            foreach (var (where, ds) in datasources)
            {
                Assert.That(ds.GetProperty("uid").GetString(), Is.EqualTo(uid), where);
                Assert.That(ds.GetProperty("type").GetString(), Is.EqualTo(type), where);
            }
        });
    }

    [Test]
    public void The_dashboard_provider_loads_files_from_the_mounted_dashboards_folder()
    {
        var provider = File.ReadAllText(Path.Combine(GrafanaDirectory, "provisioning", "dashboards", "streaming.yaml"));
        Assert.That(provider, Does.Contain("type: file").And.Contain("path: /var/lib/grafana/dashboards/streaming"));
    }

    [TestCaseSource(nameof(Queries))]
    public async Task Query_runs_as_the_reader_role_and_returns_rows(bool timescale, string sql)
    {
        var expanded = GrafanaMacros.Expand(sql, _end.AddHours(-3), _end.AddMinutes(5), TimeSpan.FromMinutes(1), Variables, timescaleMode: timescale);
        await using var connection = new NpgsqlConnection(_databases[timescale].ReaderConnectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(expanded, connection);
        await using var reader = await cmd.ExecuteReaderAsync();
        var rows = 0;
        while (await reader.ReadAsync())
        {
            rows++;
        }

        Assert.That(rows, Is.GreaterThan(0), expanded);
    }

    [Test]
    public async Task Every_model_the_models_dashboard_offers_has_scores_in_its_panels([Values] bool timescale)
    {
        var root = Load("models-drift.json");
        var picker = SqlQueries(root).Single(q => q.Where == "variable $model").Sql;
        var distribution = SqlQueries(root).Single(q => q.Where.Contains("'Score distribution ($model)'", StringComparison.Ordinal)).Sql;
        await using var connection = new NpgsqlConnection(_databases[timescale].ReaderConnectionString);
        await connection.OpenAsync();
        var offered = new List<string>();
        await using (var cmd = new NpgsqlCommand(Expand(picker, Variables, timescale), connection))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
                offered.Add(reader.GetString(0));
        }

        Assert.That(offered, Does.Contain(SampleData.Model), "the scores' own model name is offered");
        foreach (var model in offered)
        {
            var variables = new Dictionary<string, string>(Variables) { ["model"] = model };
            await using var cmd = new NpgsqlCommand(Expand(distribution, variables, timescale), connection);
            Assert.That(await cmd.ExecuteScalarAsync(), Is.Not.Null, $"model '{model}' offered by the picker has scores in range");
        }
    }

    private string Expand(string sql, Dictionary<string, string> variables, bool timescale) =>
        GrafanaMacros.Expand(sql, _end.AddHours(-3), _end.AddMinutes(5), TimeSpan.FromMinutes(1), variables, timescaleMode: timescale);

    [Test]
    public void Macro_expansion_matches_grafana_for_both_modes()
    {
        var from = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var to = from.AddHours(1);
        var vars = new Dictionary<string, string> { ["entity"] = "e1" };
        const string Sql = "SELECT $__timeGroupAlias(time, $__interval), x FROM t WHERE $__timeFilter(time) AND e = '$entity' AND t < $__timeTo()";

        Assert.That(GrafanaMacros.Expand(Sql, from, to, TimeSpan.FromMinutes(1), vars, timescaleMode: true), Is.EqualTo(
            "SELECT time_bucket('60s',time) AS \"time\", x FROM t WHERE time BETWEEN '2026-01-02T03:04:05Z' AND '2026-01-02T04:04:05Z' " +
            "AND e = 'e1' AND t < '2026-01-02T04:04:05Z'"));
        Assert.That(GrafanaMacros.Expand(Sql, from, to, TimeSpan.FromMinutes(1), vars, timescaleMode: false), Does.StartWith(
            "SELECT floor(extract(epoch from time)/60)*60 AS \"time\", x"));
        Assert.Throws<InvalidOperationException>(() => GrafanaMacros.Expand("SELECT '$unknown'", from, to, TimeSpan.FromMinutes(1), vars, true));
    }

    private static JsonElement Load(string file)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(GrafanaDirectory, "dashboards", file)));
        return document.RootElement.Clone();
    }

    private static IEnumerable<JsonElement> Panels(JsonElement root)
    {
        foreach (var panel in root.GetProperty("panels").EnumerateArray())
        {
            yield return panel;
            if (panel.TryGetProperty("panels", out var nested))
            {
                foreach (var inner in nested.EnumerateArray())
                {
                    yield return inner;
                }
            }
        }
    }

    private static IEnumerable<(string Where, string Sql)> SqlQueries(JsonElement root)
    {
        foreach (var panel in Panels(root))
        {
            if (!panel.TryGetProperty("targets", out var targets))
            {
                continue;
            }

            foreach (var target in targets.EnumerateArray())
            {
                yield return ($"panel {panel.GetProperty("id").GetInt32()} '{panel.GetProperty("title").GetString()}' {target.GetProperty("refId").GetString()}",
                    target.GetProperty("rawSql").GetString()!);
            }
        }

        foreach (var variable in root.GetProperty("templating").GetProperty("list").EnumerateArray())
        {
            yield return ($"variable ${variable.GetProperty("name").GetString()}", variable.GetProperty("query").GetString()!);
        }

        foreach (var annotation in root.GetProperty("annotations").GetProperty("list").EnumerateArray())
        {
            yield return ($"annotation '{annotation.GetProperty("name").GetString()}'", annotation.GetProperty("target").GetProperty("rawSql").GetString()!);
        }
    }
}
