using System.CommandLine;
using System.Globalization;
using Confluent.Kafka;
using Spectre.Console;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Kafka;

namespace Streaming.Host.Cli;

internal static class ReplayCommand
{
    private const int ErrorsShown = 20;

    public static Command Create()
    {
        var files = new Argument<FileInfo[]>("files") { Description = "Files to replay, in order", Arity = ArgumentArity.OneOrMore };
        var format = new Option<ReplayFormat>("--format") { Description = "auto (by extension and first line), nab, cmapss or jsonlines", DefaultValueFactory = _ => ReplayFormat.Auto };
        var entity = new Option<string?>("--entity") { Description = "NAB: the entity (default: the file name without extension); C-MAPSS: the entity prefix (default engine-)" };
        var metric = new Option<string>("--metric") { Description = "NAB: the metric name of the value column", DefaultValueFactory = _ => "value" };
        var interval = new Option<string>("--cycle-interval") { Description = "C-MAPSS: event time between cycles, e.g. 10s, 1m", DefaultValueFactory = _ => "1m" };
        var start = new Option<DateTimeOffset?>("--start") { Description = "C-MAPSS: event time of cycle 0 (ISO 8601, UTC); default 30 days ago at midnight" };
        var rate = new Option<int>("--rate") { Description = "Records per second, 0 = as fast as the broker takes them", DefaultValueFactory = _ => 0 };
        var topic = new Option<string?>("--topic") { Description = "Target topic (default Topics:Telemetry)" };
        var command = new Command("replay", """
            Publishes recorded telemetry to the telemetry topic, keyed by entity, each record with its event time as its Kafka
            timestamp (so the pipeline's time-range checks accept old data). Formats:
              nab        NAB CSV `timestamp,value` (one series per file)
              cmapss     NASA C-MAPSS text: unit → entity, cycle → event time at --cycle-interval, settings/sensors → metrics
              jsonlines  telemetry JSON (flat or generic), one sample per line; invalid lines are reported and skipped
            Needs a running Kafka (KAFKA_BOOTSTRAP_SERVERS; `streaming dev-kafka` starts one).

              streaming replay data/realKnownCause/machine_temperature_system_failure.csv --entity machine-1 --metric temperature
              streaming replay train_FD001.txt --cycle-interval 10s --start 2026-11-01T00:00:00Z
              streaming replay recorded.jsonl --rate 5000
            """) { files, format, entity, metric, interval, start, rate, topic };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!CliSupport.TryParseDuration(parse.GetValue(interval)!, out var cycleInterval) || cycleInterval <= TimeSpan.Zero)
            {
                Console.Error.WriteLine($"--cycle-interval '{parse.GetValue(interval)}' is not a positive duration; use e.g. 10s or 1m.");
                return 2;
            }
            if (parse.GetValue(rate) < 0)
            {
                Console.Error.WriteLine("--rate must be 0 (unlimited) or a positive number of records per second.");
                return 2;
            }
            var inputs = parse.GetValue(files)!;
            if (inputs.FirstOrDefault(f => !f.Exists) is { } missing)
            {
                Console.Error.WriteLine($"{missing.FullName} does not exist.");
                return 2;
            }
            if (CliSupport.LoadForRunningKafka("to replay into") is not { } settings)
                return 2;
            using var cts = CliSupport.CancelOnStopSignals();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cts.Token, cancellationToken);
            using var kafka = KafkaCluster.Connect(settings.Kafka);
            var target = parse.GetValue(topic) ?? settings.Topics.Telemetry;
            await kafka.EnsureTopicsAsync([target], linked.Token).ConfigureAwait(false);
            var now = DateTimeOffset.UtcNow;
            var options = new ReplayOptions(parse.GetValue(format), parse.GetValue(entity), parse.GetValue(metric)!, cycleInterval,
                parse.GetValue(start) ?? new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero).AddDays(-30), parse.GetValue(rate),
                settings.Ingest.ToLimits(), now);
            return await Task.Run(() => Replay(kafka, target, inputs, options, linked.Token), CancellationToken.None).ConfigureAwait(false);
        });
        return command;
    }

    internal sealed record ReplayOptions(ReplayFormat Format, string? Entity, string Metric, TimeSpan CycleInterval, DateTimeOffset Start, int Rate,
        TelemetryLimits Limits, DateTimeOffset Now);

    private static int Replay(KafkaCluster kafka, string topic, FileInfo[] inputs, ReplayOptions options, CancellationToken cancellationToken)
    {
        using var producer = new ProducerBuilder<string, byte[]>(kafka.ProducerConfig("replay")).Build();
        long produced = 0, failed = 0, invalid = 0;
        string? firstFailure = null;
        var errors = new List<string>();
        var started = TimeProvider.System.GetTimestamp();
        CliSupport.CreateConsole(Console.Out).Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(progress =>
            {
                var sources = inputs.Select(input => new Source(input, progress.AddTask(Markup.Escape(input.Name), maxValue: Math.Max(1, input.Length)), options)).ToList();
                try
                {
                    foreach (var (index, record) in ReplaySources.MergeByEventTime(sources.Select(s => s.Records).ToList()))
                    {
                        if (cancellationToken.IsCancellationRequested)
                            return;
                        sources[index].ReportProgress();
                        if (record.Sample is not { } sample)
                        {
                            invalid++;
                            if (errors.Count < ErrorsShown)
                                errors.Add($"{sources[index].Name}:{record.Line}: {record.Error}");
                            continue;
                        }
                        var message = new Message<string, byte[]>
                        {
                            Key = sample.Entity,
                            Value = TelemetryJson.ToUtf8(sample),
                            Timestamp = new Timestamp(sample.Timestamp),
                        };
                        ProduceWithBackpressure(producer, topic, message, report =>
                        {
                            if (report.Error.IsError)
                            {
                                Interlocked.Increment(ref failed);
                                Interlocked.CompareExchange(ref firstFailure, report.Error.Reason, null);
                            }
                        });
                        produced++;
                        Throttle(options.Rate, produced, started);
                    }
                    foreach (var source in sources)
                        source.Complete();
                }
                finally
                {
                    foreach (var source in sources)
                        source.Dispose();
                }
            });
        var unflushed = producer.Flush(TimeSpan.FromSeconds(60));
        foreach (var error in errors)
            Console.Error.WriteLine(error);
        if (invalid > errors.Count)
            Console.Error.WriteLine($"... and {invalid - errors.Count:N0} more invalid lines");
        var seconds = TimeProvider.System.GetElapsedTime(started).TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Replayed {produced - failed - unflushed:N0} samples to '{topic}' in {seconds:0.0} s ({(produced - failed) / Math.Max(seconds, 0.001):N0}/s); {invalid:N0} invalid lines skipped."));
        if (failed + unflushed > 0)
            Console.Error.WriteLine($"{failed + unflushed:N0} samples were not delivered: {firstFailure ?? "flush timed out"}");
        return cancellationToken.IsCancellationRequested || failed + unflushed + invalid > 0 ? 1 : 0;
    }

    /// <summary>One input file being read, in event-time order, with its progress bar.</summary>
    private sealed class Source : IDisposable
    {
        private readonly FileStream _stream;
        private readonly StreamReader _reader;
        private readonly ProgressTask _progress;

        public Source(FileInfo input, ProgressTask progress, ReplayOptions options)
        {
            Name = input.Name;
            _progress = progress;
            _stream = input.OpenRead();
            _reader = new StreamReader(_stream);
            Records = Read(input, _reader, options).GetEnumerator();
        }

        public string Name { get; }

        public IEnumerator<ReplayRecord> Records { get; }

        public void ReportProgress() => _progress.Value = _stream.Position;

        public void Complete() => _progress.Value = _progress.MaxValue;

        public void Dispose()
        {
            Records.Dispose();
            _reader.Dispose();
        }

        private static IEnumerable<ReplayRecord> Read(FileInfo input, StreamReader reader, ReplayOptions options)
        {
            var format = options.Format;
            if (format == ReplayFormat.Auto)
            {
                string? firstLine;
                using (var peek = new StreamReader(input.FullName))
                    firstLine = peek.ReadLine();
                format = ReplaySources.Detect(input.Name, firstLine);
            }
            return format switch
            {
                ReplayFormat.Nab => ReplaySources.ReadNab(reader, options.Entity ?? Path.GetFileNameWithoutExtension(input.Name), options.Metric),
                ReplayFormat.Cmapss => ReplaySources.InEventTimeOrder(
                    ReplaySources.ReadCmapss(reader, options.Entity ?? "engine-", options.Start, options.CycleInterval)),
                _ => ReplaySources.ReadJsonLines(reader, options.Limits, options.Now),
            };
        }
    }

    private static void ProduceWithBackpressure(IProducer<string, byte[]> producer, string topic, Message<string, byte[]> message,
        Action<DeliveryReport<string, byte[]>> onDelivery)
    {
        while (true)
        {
            try
            {
                producer.Produce(topic, message, onDelivery);
                return;
            }
            catch (ProduceException<string, byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
            {
                producer.Poll(TimeSpan.FromMilliseconds(50));
            }
        }
    }

    private static void Throttle(int rate, long produced, long started)
    {
        if (rate <= 0)
            return;
        var due = TimeSpan.FromSeconds((double)produced / rate) - TimeProvider.System.GetElapsedTime(started);
        if (due > TimeSpan.FromMilliseconds(1))
            Thread.Sleep(due);
    }
}
