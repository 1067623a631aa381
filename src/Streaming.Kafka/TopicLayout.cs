namespace Streaming.Kafka;

/// <summary>
/// The topics a pipeline needs and how they relate: every topic must exist; <see cref="Positions"/> stores, in its
/// partition p, the position of partition p of each of <see cref="PositionedInputs"/>, so it needs at least as many
/// partitions as each of them; and it must be compacted, or retention would delete a quiet partition's last position.
/// <see cref="Snapshots"/>, when set, is laid out the same way (partition p holds partition p's state snapshots) and must be
/// compacted too, or retention would delete the newest snapshot and a restart would replay the whole input again.
/// </summary>
public sealed record TopicLayout(IReadOnlyList<string> Topics, string Positions, IReadOnlyList<string> PositionedInputs, string? Snapshots = null)
{
    /// <summary>The topics that hold per-input-partition state: the positions topic and, when set, the snapshot topic.</summary>
    public IReadOnlyList<string> Compacted => Snapshots is null ? [Positions] : [Positions, Snapshots];

    /// <summary>
    /// What is wrong with the existing topics, one sentence each naming the topic, what it has, what is needed and the fix.
    /// <paramref name="cleanupPolicies"/> is null when the broker cannot describe topic configurations (librdkafka's mock).
    /// </summary>
    public IReadOnlyList<string> Problems(IReadOnlyDictionary<string, int> partitions, IReadOnlyDictionary<string, string>? cleanupPolicies)
    {
        var problems = new List<string>();
        foreach (var topic in Topics.Concat(Compacted).Distinct(StringComparer.Ordinal))
        {
            if (!partitions.ContainsKey(topic))
                problems.Add($"Topic '{topic}' does not exist and could not be created; create it (kafka-topics.sh --create --topic {topic}) or check the broker's permissions.");
        }
        foreach (var store in Compacted)
        {
            var what = store == Positions ? "position" : "state snapshots";
            if (partitions.TryGetValue(store, out var storePartitions))
            {
                foreach (var input in PositionedInputs)
                {
                    if (partitions.TryGetValue(input, out var inputPartitions) && inputPartitions > storePartitions)
                    {
                        problems.Add($"Topic '{store}' has {storePartitions} partitions but '{input}' has {inputPartitions}: the {what} of " +
                                     $"'{input}' partition p is stored in partition p of '{store}', so it needs at least {inputPartitions}. " +
                                     $"Add partitions (kafka-topics.sh --alter --topic {store} --partitions {inputPartitions}), or recreate " +
                                     "the topics with one partition count (Kafka:Partitions).");
                    }
                }
            }
            if (cleanupPolicies is not null && cleanupPolicies.TryGetValue(store, out var policy)
                && !policy.Split(',', StringSplitOptions.TrimEntries).Contains("compact", StringComparer.Ordinal))
            {
                var loss = store == Positions
                    ? "last stored position of a quiet partition and a restart reprocesses it from the beginning"
                    : "newest state snapshot of a quiet partition and a restart replays its whole input to rebuild state";
                problems.Add($"Topic '{store}' has cleanup.policy={policy}; it needs cleanup.policy=compact, or retention deletes the " +
                             $"{loss}. Set it with " +
                             $"kafka-configs.sh --alter --entity-type topics --entity-name {store} --add-config cleanup.policy=compact.");
            }
        }
        return problems;
    }
}

/// <summary>Existing topics that do not fit what the pipeline needs; the message lists every problem.</summary>
public sealed class TopicLayoutException(IReadOnlyList<string> problems)
    : Exception("The Kafka topics do not fit this pipeline:\n  " + string.Join("\n  ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
