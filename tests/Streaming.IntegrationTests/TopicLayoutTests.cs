using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Streaming.IntegrationTests.Reliability;
using Streaming.Kafka;
using Streaming.Storage;
using Microsoft.Extensions.Logging;

namespace Streaming.IntegrationTests;

/// <summary>
/// Existing topics are checked at start-up against what the pipeline needs: the positions topic stores telemetry (and
/// features) partition p's position in its partition p, so it needs at least as many partitions, and it must be compacted.
/// </summary>
public sealed class TopicLayoutTests
{
    [Test, CancelAfter(120_000)]
    public async Task A_telemetry_topic_with_more_partitions_than_the_positions_topic_stops_run_naming_both_and_what_is_needed(CancellationToken cancellationToken)
    {
        var name = TestStack.UniqueName("layout");
        var settings = TestStack.IsolatedSettings(name);
        settings.Validated();
        // Created beforehand with 6 partitions, while Kafka:Partitions (4) is what the pipeline gives the topics it creates.
        await CreateTopicAsync(settings.Topics.Telemetry, 6);
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All.Where(t => t != settings.Topics.Telemetry));
        var connectionString = await TestStack.CreateDatabaseAsync(name);
        await DatabaseMigrator.ApplyAsync(connectionString, TestStack.Loggers.CreateLogger("migrate"), cancellationToken);

        using var child = PipelineProcess.Start(Reliability.Reliability.Environment(settings, connectionString), "processor", "sink");
        var exitCode = await child.WaitForExitAsync(TimeSpan.FromSeconds(60), "with a mismatched telemetry topic");
        var output = child.Tail();
        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(2), $"a start-up error, not a crash later on; output:\n{output}");
            Assert.That(output, Does.Contain($"Topic '{settings.Topics.ProcessorOffsets}' has 4 partitions but '{settings.Topics.Telemetry}' has 6"));
            Assert.That(output, Does.Contain("needs at least 6"));
            Assert.That(output, Does.Not.Contain("Unknown partition"));
        });
    }

    [Test, CancelAfter(60_000)]
    public async Task Topics_the_pipeline_created_itself_pass_the_check()
    {
        var settings = TestStack.IsolatedSettings(TestStack.UniqueName("layoutok"));
        var warnings = new List<string>();
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.Layout, warnings.Add);
        // And a second start, on the now existing topics, as well.
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.Layout, warnings.Add);
        TestContext.Out.WriteLine(string.Join('\n', warnings));
    }

    [Test]
    public void The_cluster_tells_its_id_and_the_mock_names_no_controller_of_its_own()
    {
        var identity = TestStack.Kafka.Identity();
        TestContext.Out.WriteLine(identity);
        Assert.That(identity.ClusterId, Is.Not.Empty);
        Assert.That(TestStack.Kafka.Identity().ClusterId, Is.EqualTo(identity.ClusterId), "stable");
        if (TestStack.Kafka.IsEmbedded)
        {
            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = TestStack.Kafka.BootstrapServers }).Build();
            Assert.That(admin.GetMetadata(TimeSpan.FromSeconds(10)).Brokers.Select(b => b.BrokerId), Does.Not.Contain(identity.ControllerId),
                "librdkafka's mock names a controller that is none of its brokers, so DescribeConfigs cannot work there");
        }
    }

    [Test]
    public void A_positions_topic_without_compaction_is_named_with_its_policy_and_the_fix()
    {
        var layout = new TopicLayout(["telemetry", "features", "processor-offsets"], "processor-offsets", ["telemetry", "features"]);
        var partitions = new Dictionary<string, int> { ["telemetry"] = 4, ["features"] = 4, ["processor-offsets"] = 4 };
        Assert.That(layout.Problems(partitions, new Dictionary<string, string> { ["processor-offsets"] = "compact" }), Is.Empty);
        Assert.That(layout.Problems(partitions, new Dictionary<string, string> { ["processor-offsets"] = "compact,delete" }), Is.Empty);
        Assert.That(layout.Problems(partitions, cleanupPolicies: null), Is.Empty, "not checkable (the mock): no claim either way");
        var problems = layout.Problems(partitions, new Dictionary<string, string> { ["processor-offsets"] = "delete" });
        Assert.That(problems, Has.Count.EqualTo(1));
        Assert.That(problems[0], Does.Contain("'processor-offsets' has cleanup.policy=delete; it needs cleanup.policy=compact")
            .And.Contain("--add-config cleanup.policy=compact"));
    }

    [Test]
    public void Every_mismatch_is_reported_at_once_a_features_topic_too_and_a_missing_topic()
    {
        var layout = new TopicLayout(["telemetry", "features", "scores", "processor-offsets"], "processor-offsets", ["telemetry", "features"]);
        var partitions = new Dictionary<string, int> { ["telemetry"] = 4, ["features"] = 8, ["processor-offsets"] = 4 };
        var problems = layout.Problems(partitions, null);
        Assert.That(problems, Has.Count.EqualTo(2), string.Join('\n', problems));
        Assert.That(problems, Has.One.Contains("Topic 'scores' does not exist"));
        Assert.That(problems, Has.One.Contains("'processor-offsets' has 4 partitions but 'features' has 8").And.Contains("--partitions 8"));
        Assert.That(new TopicLayoutException(problems).Message, Does.Contain("scores").And.Contain("features"));
    }

    [Test]
    public void The_snapshot_topic_is_checked_like_the_positions_topic_for_compaction_and_partitions()
    {
        var layout = new TopicLayout(["telemetry", "features", "processor-offsets", "processor-state"], "processor-offsets", ["telemetry", "features"], "processor-state");
        var partitions = new Dictionary<string, int> { ["telemetry"] = 4, ["features"] = 4, ["processor-offsets"] = 4, ["processor-state"] = 2 };
        var problems = layout.Problems(partitions, new Dictionary<string, string> { ["processor-offsets"] = "compact", ["processor-state"] = "delete" });

        Assert.That(layout.Compacted, Is.EqualTo(new[] { "processor-offsets", "processor-state" }));
        Assert.That(problems, Has.Count.EqualTo(3), string.Join('\n', problems));
        Assert.That(problems, Has.Exactly(2).Contains("'processor-state' has 2 partitions but"));
        Assert.That(problems, Has.One.Contains("'processor-state' has cleanup.policy=delete; it needs cleanup.policy=compact")
            .And.Contain("newest state snapshot"));
        partitions.Remove("processor-state");
        Assert.That(layout.Problems(partitions, null), Has.One.Contains("Topic 'processor-state' does not exist"));
    }

    private static async Task CreateTopicAsync(string topic, int partitions)
    {
        if (TestStack.Kafka.Embedded is { } embedded)
        {
            embedded.CreateTopic(topic, partitions);
            return;
        }
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = TestStack.Kafka.BootstrapServers }).Build();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = partitions, ReplicationFactor = 1 }]);
    }
}
