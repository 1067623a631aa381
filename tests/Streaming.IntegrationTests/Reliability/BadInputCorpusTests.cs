using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Host.Pipeline;
using Streaming.Simulation;

namespace Streaming.IntegrationTests.Reliability;

/// <summary>
/// The committed bad-input corpus (<c>bad-input-corpus.jsonl</c>: malformed JSON, wrong types, NaN and Infinity, huge values
/// and records, missing fields, far-future and ancient timestamps, duplicates, out-of-order samples), mixed into a stream of
/// good telemetry on the embedded broker: each bad record lands on the dead-letter topic with its own reason, the processor
/// keeps running, and every input record is either accepted or rejected.
/// </summary>
public sealed partial class BadInputCorpusTests
{
    private const string CorpusEntity = "corpus-1";

    /// <summary>One line of the corpus: what it exercises, the expected verdict (a rejection code or "accepted"), the raw record.</summary>
    private sealed record CorpusCase(string Case, string Expect, byte[] Record)
    {
        public bool Accepted => Expect == "accepted";
    }

    [Test, CancelAfter(120_000)]
    public async Task Every_bad_record_goes_to_the_dead_letter_topic_with_its_reason_and_the_processor_keeps_going(CancellationToken cancellationToken)
    {
        var name = TestStack.UniqueName("corpus");
        var settings = TestStack.IsolatedSettings(name).Validated();
        await TestStack.Kafka.EnsureTopicsAsync(settings.Topics.All);

        // Record time ("now") is fixed and set on every record, so the time-range verdicts do not depend on when the test runs.
        var now = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 60_000 * 60_000);
        var corpusStart = now.AddHours(-3);
        var corpus = LoadCorpus(corpusStart, now);
        Assert.That(corpus.Where(c => !c.Accepted).Select(c => c.Expect).Distinct().Count(), Is.GreaterThanOrEqualTo(14), "the corpus covers every kind of bad input");

        // Good telemetry after the corpus's time range, so it neither makes corpus samples late nor is made late by them.
        var simulator = new FleetSimulator(new SimulatorOptions { Entities = 10, Seed = 3, Start = corpusStart.AddMinutes(10), IncidentsPerEntityDay = 0 });
        var fleet = new List<TelemetrySample>();
        while (simulator.Now < corpusStart.AddMinutes(30))
            simulator.NextTick(fleet);

        using var counters = new PipelineCounters();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var processor = new ProcessorWorker(settings, TestStack.Kafka, counters, TimeProvider.System, TestStack.Loggers.CreateLogger("corpus"), name);
        var processorTask = processor.RunAsync(stop.Token);

        // The corpus first (one key, so one partition, in file order), then the good stream.
        var sources = new Dictionary<(int Partition, long Offset), CorpusCase>();
        using (var producer = new ProducerBuilder<string, byte[]>(TestStack.Kafka.ProducerConfig("corpus")).Build())
        {
            foreach (var c in corpus)
            {
                var delivered = await producer.ProduceAsync(settings.Topics.Telemetry,
                    new Message<string, byte[]> { Key = CorpusEntity, Value = c.Record, Timestamp = new Timestamp(now) }, cancellationToken);
                sources[(delivered.Partition.Value, delivered.Offset.Value)] = c;
            }
        }
        TestStack.Produce(settings.Topics.Telemetry, fleet);
        var total = corpus.Count + fleet.Count;

        await Reliability.WaitUntilAsync(() => processor.Processed >= total, TimeSpan.FromSeconds(90), "the processor consumed every record",
            () => Reliability.Stopped(processorTask, "processor"));
        var rejected = corpus.Where(c => !c.Accepted).ToList();
        var deadLetters = await Reliability.ReadTopicAsync(TestStack.Kafka, settings.Topics.DeadLetter);

        Assert.Multiple(() =>
        {
            Assert.That(processorTask.IsCompleted, Is.False, "the processor is still running");
            Assert.That(processor.Processed, Is.EqualTo(total), "every input record was consumed once");
            Assert.That(counters.Accepted + counters.Rejected, Is.EqualTo(total), "input = accepted + rejected");
            Assert.That(counters.Accepted, Is.EqualTo(fleet.Count + corpus.Count(c => c.Accepted)), "the good records, corpus and fleet, all accepted");
            Assert.That(counters.RejectedByReason.OrderBy(kv => kv.Key, StringComparer.Ordinal),
                Is.EqualTo(rejected.GroupBy(c => c.Expect).Select(g => new KeyValuePair<string, long>(g.Key, g.Count())).OrderBy(kv => kv.Key, StringComparer.Ordinal)),
                "rejections counted in metrics by reason");
            Assert.That(deadLetters, Has.Count.EqualTo(rejected.Count), "one dead letter per bad record");
        });

        // Each dead letter points back at its source record, which must be a bad corpus line with exactly this reason.
        var seen = new HashSet<(int, long)>();
        foreach (var letter in deadLetters)
        {
            var source = (int.Parse(letter.Headers[DeadLetterHeaders.SourcePartition], CultureInfo.InvariantCulture),
                long.Parse(letter.Headers[DeadLetterHeaders.SourceOffset], CultureInfo.InvariantCulture));
            Assert.That(sources.TryGetValue(source, out var c), Is.True, $"dead letter {letter.Text} points at a corpus record");
            Assert.Multiple(() =>
            {
                Assert.That(letter.Headers[DeadLetterHeaders.Reason], Is.EqualTo(c!.Expect), $"reason for \"{c.Case}\"");
                Assert.That(letter.Headers[DeadLetterHeaders.Detail], Is.Not.Empty, $"an explanation for \"{c.Case}\"");
                Assert.That(letter.Headers[DeadLetterHeaders.SourceTopic], Is.EqualTo(settings.Topics.Telemetry));
                Assert.That(letter.Value, Is.EqualTo(c.Record), $"the original bytes of \"{c.Case}\"");
            });
            seen.Add(source);
        }
        var missing = sources.Where(s => !s.Value.Accepted && !seen.Contains(s.Key)).Select(s => s.Value.Case).ToList();
        Assert.That(missing, Is.Empty, "every bad corpus record is on the dead-letter topic");

        await stop.CancelAsync();
        await processorTask;
    }

    /// <summary>
    /// Reads the corpus and expands its placeholders: <c>{t:S}</c> = ISO time S seconds after <paramref name="start"/>,
    /// <c>{ms:S}</c> the same in epoch milliseconds, <c>{now:S}</c> = ISO time S seconds from the record's own timestamp,
    /// <c>{pad:N}</c> = N filler characters, <c>{metrics:N}</c> = N numeric fields, <c>{bytes:HH HH}</c> = raw bytes (invalid UTF-8).
    /// </summary>
    private static List<CorpusCase> LoadCorpus(DateTimeOffset start, DateTimeOffset now)
    {
        var path = Path.Combine(TestStack.RepoRoot, "tests", "Streaming.IntegrationTests", "Reliability", "bad-input-corpus.jsonl");
        var cases = new List<CorpusCase>();
        foreach (var line in File.ReadLines(path).Where(l => l.Length > 0))
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            var text = root.GetProperty("record").GetString()!;
            string Iso(DateTimeOffset t) => t.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
            int N(Match m) => int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            text = Placeholder().Replace(text, m => m.Groups[1].Value switch
            {
                "t" => Iso(start.AddSeconds(N(m))),
                "ms" => start.AddSeconds(N(m)).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture),
                "now" => Iso(now.AddSeconds(N(m))),
                "pad" => new string('x', N(m)),
                "metrics" => string.Join(',', Enumerable.Range(0, N(m)).Select(i => $"\"m{i}\":{i}")),
                _ => m.Value,
            });
            var bytes = new List<byte>();
            var last = 0;
            foreach (Match m in RawBytes().Matches(text))
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(text[last..m.Index]));
                bytes.AddRange(m.Groups[1].Value.Split(' ').Select(h => byte.Parse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
                last = m.Index + m.Length;
            }
            bytes.AddRange(Encoding.UTF8.GetBytes(text[last..]));
            cases.Add(new CorpusCase(root.GetProperty("case").GetString()!, root.GetProperty("expect").GetString()!, [.. bytes]));
        }
        return cases;
    }

    [GeneratedRegex(@"\{(t|ms|now|pad|metrics):(-?\d+)\}")]
    private static partial Regex Placeholder();

    [GeneratedRegex(@"\{bytes:([0-9A-Fa-f ]+)\}")]
    private static partial Regex RawBytes();
}
