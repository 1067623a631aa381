using Microsoft.Extensions.Configuration;
using Streaming.Contracts;
using Streaming.Kafka;
using Streaming.Models.Pipeline;
using Streaming.Processing.Alerts;
using Streaming.Processing.Pipeline;
using Streaming.Processing.Scoring;
using Streaming.Processing.Scoring.Detection;
using Streaming.Processing.Windows;
using Streaming.Simulation;

namespace Streaming.Host.Configuration;

public sealed class TopicSettings
{
    public string Telemetry { get; set; } = TopicNames.Telemetry;
    public string Features { get; set; } = TopicNames.Features;
    public string Scores { get; set; } = TopicNames.Scores;
    public string Alerts { get; set; } = TopicNames.Alerts;
    public string DeadLetter { get; set; } = TopicNames.DeadLetter;

    /// <summary>Early (provisional) window results, when <c>Windows:EarlyResults</c> is set; same schema as features.</summary>
    public string FeatureUpdates { get; set; } = "feature-updates";

    /// <summary>
    /// The processor's position per telemetry partition, written inside each output transaction so that position and
    /// outputs commit atomically (compacted; partition p holds telemetry partition p's position).
    /// </summary>
    public string ProcessorOffsets { get; set; } = "processor-offsets";

    /// <summary>
    /// Snapshots of each input partition's processing state (processor and scorer), written inside the output transaction
    /// every <c>Processor:Snapshots:Interval</c>, so a restore replays only the records after the newest one (compacted;
    /// partition p holds input partition p's snapshots).
    /// </summary>
    public string ProcessorState { get; set; } = "processor-state";

    /// <summary>The topics the sink stores.</summary>
    public IEnumerable<string> Data => [Telemetry, Features, Scores, Alerts, DeadLetter];

    public IEnumerable<string> All => [.. Data, FeatureUpdates, ProcessorOffsets, ProcessorState];

    /// <summary>Every topic, and the positions and snapshot topics that the processor (telemetry) and the scorer (features) share.</summary>
    public TopicLayout Layout => new([.. All], ProcessorOffsets, [Telemetry, Features], ProcessorState);
}

public sealed class WindowSettings
{
    public TimeSpan Size { get; set; } = TimeSpan.FromMinutes(1);
    public TimeSpan? Advance { get; set; }
    public TimeSpan Grace { get; set; } = TimeSpan.FromSeconds(30);
    public double EwmaAlpha { get; set; } = 0.3;
    public TimeSpan? ExpectedSampleInterval { get; set; }

    /// <summary>Publish provisional results of open windows this often (stream time) to Topics:FeatureUpdates; unset = final only.</summary>
    public TimeSpan? EarlyResults { get; set; }

    public WindowOptions ToOptions() => new()
    {
        Size = Size,
        Advance = Advance,
        Grace = Grace,
        EwmaAlpha = EwmaAlpha,
        ExpectedSampleInterval = ExpectedSampleInterval,
        EarlyResults = EarlyResults,
    };
}

public sealed class IngestSettings
{
    public int MaxBytes { get; set; } = 64 * 1024;
    public int MaxMetrics { get; set; } = 256;
    public TimeSpan? MaxAge { get; set; } = TimeSpan.FromDays(7);
    public TimeSpan MaxFutureSkew { get; set; } = TimeSpan.FromMinutes(5);

    public TelemetryLimits ToLimits() => new() { MaxBytes = MaxBytes, MaxMetrics = MaxMetrics, MaxAge = MaxAge, MaxFutureSkew = MaxFutureSkew };
}

public enum DeliveryGuarantee
{
    ExactlyOnce,
    AtLeastOnce,
}

public enum IdleMode
{
    /// <summary>An idle partition's stream time advances at wall-clock rate from its last record.</summary>
    WallClock,
    /// <summary>An idle partition closes every open window (end of a finite input, tests).</summary>
    CloseAll,
}

public sealed class ProcessorSettingsSection
{
    public string GroupId { get; set; } = "streaming-processor";
    public DeliveryGuarantee Delivery { get; set; } = DeliveryGuarantee.ExactlyOnce;
    public int MaxBatch { get; set; } = 2000;
    public TimeSpan BatchLinger { get; set; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(30);
    public IdleMode IdleMode { get; set; } = IdleMode.WallClock;

    /// <summary>
    /// Processed batches that may wait for (or be in) their publish transaction at once. When that many are in flight the
    /// consumer pauses its partitions (it keeps polling, so the group sees it alive) and resumes them once the publisher
    /// is down to half; records held in memory stay below MaxInFlightBatches × MaxBatch.
    /// </summary>
    public int MaxInFlightBatches { get; set; } = 4;

    /// <summary>Inline: processors score windows themselves. Separate: processors publish features only; the scorer role scores.</summary>
    public ScoringMode Scoring { get; set; } = ScoringMode.Inline;

    /// <summary>The scorer role's consumer group on the features topic (used with <c>Scoring=Separate</c>).</summary>
    public string ScorerGroupId { get; set; } = "streaming-scorer";

    /// <summary>When each partition's state is snapshotted to <c>Topics:ProcessorState</c>, bounding what a restore replays.</summary>
    public SnapshotSettings Snapshots { get; set; } = new();
}

/// <summary>
/// State snapshots (<c>Processor:Snapshots</c>): each owned partition's complete processing state, written to
/// <c>Topics:ProcessorState</c> inside the same transaction as the outputs and the position it corresponds to. A restore
/// loads the newest snapshot at or before the committed position and replays only the records after it; without a usable
/// snapshot it replays the partition from the beginning, as before.
/// </summary>
public sealed class SnapshotSettings
{
    /// <summary>Write snapshots and restore from them (true by default).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Wall time between a partition's snapshots (1 minute by default): a restore replays at most about this much input
    /// (at 2,000 samples/s, ~120,000 records, a few seconds), plus the input of one batch.
    /// </summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Also snapshot after this many committed batches since a partition's last snapshot; unset: by time alone.</summary>
    public int? EveryBatches { get; set; }

    /// <summary>Largest snapshot record; a larger state is split into chunks of this size (below the broker's 1 MB message.max.bytes by default).</summary>
    public int ChunkBytes { get; set; } = 512 * 1024;

    internal void Validate()
    {
        if (Interval < TimeSpan.FromSeconds(1) || Interval > TimeSpan.FromDays(1))
            throw new OptionsException("Processor:Snapshots:Interval", $"must be between 00:00:01 and 1.00:00:00 (a restore replays up to this much input), was {Interval}");
        if (EveryBatches is < 1 or > 1_000_000)
            throw new OptionsException("Processor:Snapshots:EveryBatches", $"must be 1-1000000 when set (or unset to snapshot by time alone), was {EveryBatches}");
        if (ChunkBytes is < 16 * 1024 or > 8 * 1024 * 1024)
            throw new OptionsException("Processor:Snapshots:ChunkBytes", $"must be 16384-8388608 and below the broker's message.max.bytes, was {ChunkBytes}");
    }
}

/// <summary>Where closed windows are scored.</summary>
public enum ScoringMode
{
    /// <summary>In the processor, right after the window closes (one role does everything).</summary>
    Inline,
    /// <summary>In the scorer role, from the features topic, so scoring scales on its own.</summary>
    Separate,
}

public sealed class SinkSettings
{
    public string GroupId { get; set; } = "streaming-sink";
    public int MaxBatch { get; set; } = 5000;
    public TimeSpan BatchLinger { get; set; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(10);
}

public sealed class StorageSettings
{
    /// <summary>An existing PostgreSQL/TimescaleDB; empty means "start the private local cluster".</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Where the private cluster lives; relative paths are under the repository root.</summary>
    public string StateDirectory { get; set; } = ".local/pg";

    public int Port { get; set; }

    public string Database { get; set; } = "streaming";
}

public sealed class ModelSettings
{
    /// <summary>Where model bundles are saved; relative paths are under the repository root.</summary>
    public string Directory { get; set; } = ".local/models";

    /// <summary>Score with the newest candidate next to the active version and record both.</summary>
    public bool Shadow { get; set; }

    public TimeSpan ReloadInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Fleet: every entity scores with the active fleet version; PerEntity: an entity with its own active version (`train --entity`) uses it.</summary>
    public Modeling.ModelScope Scope { get; set; } = Modeling.ModelScope.Fleet;

    /// <summary>
    /// How bundles score: Ensemble (the online detectors and the bundle's neural members by their anomaly likelihoods) or
    /// Telemanom (the bundle's LSTM forecaster under telemanom's dynamic error threshold, settings in <c>Telemanom</c>).
    /// Either way an entity no bundle covers is scored by the online detectors.
    /// </summary>
    public BundleScorer Scorer { get; set; } = BundleScorer.Ensemble;

    /// <summary>Optional policy: retrain from the database's history when the drift monitor opens a drift (Models:Retrain:OnDrift).</summary>
    public Modeling.RetrainSettings Retrain { get; set; } = new();
}

public sealed class DemoSettings
{
    public TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Samples per second the simulator publishes (wall clock); simulated time runs as fast as this allows.</summary>
    public int Rate { get; set; } = 2000;

    /// <summary>Share of published records deliberately broken to show the dead-letter path.</summary>
    public double BadRecordRate { get; set; } = 0.001;
}

/// <summary>The HTTP server: /metrics, /health/* and the /api/v1 endpoints.</summary>
public sealed class HttpSettings
{
    /// <summary>Address to bind; loopback unless <see cref="Expose"/> is set.</summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (tests).</summary>
    public int Port { get; set; } = 8080;

    /// <summary>Serve on a non-loopback address; then the API requires one of <see cref="ApiKeys"/>.</summary>
    public bool Expose { get; set; }

    /// <summary>Accepted as <c>Authorization: Bearer KEY</c> or <c>X-Api-Key: KEY</c> on /api/v1; never logged.</summary>
    public List<string> ApiKeys { get; set; } = [];

    /// <summary>Largest request body accepted; larger requests get 413.</summary>
    public int MaxRequestBytes { get; set; } = 1024 * 1024;

    /// <summary>Most samples one POST /api/v1/metrics may carry.</summary>
    public int MaxBatchSamples { get; set; } = 10_000;

    /// <summary>
    /// An exposed API needs a key; checked where the API is served, so exposed processor and sink processes (metrics and
    /// health only) need none.
    /// </summary>
    internal void ValidateForApi()
    {
        if (Expose && ApiKeys.Count(k => !string.IsNullOrWhiteSpace(k)) == 0)
            throw new OptionsException("Http:ApiKeys", "must hold at least one key when Http:Expose is true and the api role runs (env Http__ApiKeys__0=...); the API is never served unauthenticated beyond loopback");
    }

    internal void Validate()
    {
        if (Port is < 0 or > 65535)
            throw new OptionsException("Http:Port", $"must be 0-65535, was {Port}");
        if (!System.Net.IPAddress.TryParse(Address, out var address))
            throw new OptionsException("Http:Address", $"must be an IP address such as 127.0.0.1 or 0.0.0.0, was '{Address}'");
        if (!System.Net.IPAddress.IsLoopback(address) && !Expose)
            throw new OptionsException("Http:Address", $"is {Address}, which is not loopback; set Http:Expose=true (and Http:ApiKeys) to serve beyond this machine, or use 127.0.0.1");
        if (ApiKeys.Any(k => !string.IsNullOrWhiteSpace(k) && k.Trim().Length < 16))
            throw new OptionsException("Http:ApiKeys", "holds a key shorter than 16 characters; use a long random key, e.g. `openssl rand -hex 32`");
        if (MaxRequestBytes is < 1024 or > 256 * 1024 * 1024)
            throw new OptionsException("Http:MaxRequestBytes", $"must be 1024-268435456, was {MaxRequestBytes}");
        if (MaxBatchSamples is < 1 or > 1_000_000)
            throw new OptionsException("Http:MaxBatchSamples", $"must be 1-1000000, was {MaxBatchSamples}");
    }
}

/// <summary>All settings, bound from appsettings.json and environment variables and validated once.</summary>
public sealed class StreamingSettings
{
    /// <summary>
    /// Gives every topic and consumer group a name of its own, prefixed with <paramref name="prefix"/>: a load run or a
    /// test then shares nothing with another run or with a production pipeline on the same cluster.
    /// </summary>
    public StreamingSettings IsolatedAs(string prefix)
    {
        Topics.Telemetry = $"{prefix}-telemetry";
        Topics.Features = $"{prefix}-features";
        Topics.Scores = $"{prefix}-scores";
        Topics.Alerts = $"{prefix}-alerts";
        Topics.DeadLetter = $"{prefix}-dead-letter";
        Topics.FeatureUpdates = $"{prefix}-feature-updates";
        Topics.ProcessorOffsets = $"{prefix}-processor-offsets";
        Topics.ProcessorState = $"{prefix}-processor-state";
        Processor.GroupId = $"{prefix}-processor";
        Processor.ScorerGroupId = $"{prefix}-scorer";
        Sink.GroupId = $"{prefix}-sink";
        Drift.GroupId = $"{prefix}-drift";
        return this;
    }

    public KafkaOptions Kafka { get; set; } = new();
    public TopicSettings Topics { get; set; } = new();
    public WindowSettings Windows { get; set; } = new();
    public BaselineOptions Baseline { get; set; } = new();
    public DetectionOptions Detection { get; set; } = new();
    public AlertOptions Alerts { get; set; } = new();
    public IngestSettings Ingest { get; set; } = new();
    public ProcessorSettingsSection Processor { get; set; } = new();
    public SinkSettings Sink { get; set; } = new();
    public StorageSettings Storage { get; set; } = new();
    public SimulatorOptions Simulator { get; set; } = new();
    public DemoSettings Demo { get; set; } = new();
    public PredictionOptions Predictions { get; set; } = new();
    public EnsembleOptions Ensemble { get; set; } = new();

    /// <summary>Telemanom's error thresholding, used with <c>Models:Scorer=Telemanom</c> (Hundman et al.'s defaults).</summary>
    public Streaming.Models.Thresholds.TelemanomOptions Telemanom { get; set; } = new();
    public ModelSettings Models { get; set; } = new();
    public Modeling.TrainingSettings Training { get; set; } = new();
    public Modeling.DriftSettings Drift { get; set; } = new();
    public HttpSettings Http { get; set; } = new();

    /// <summary>The value format the processor writes (<c>Json</c> or <c>Avro</c>); readers accept both.</summary>
    public Streaming.Contracts.Avro.SerializationOptions Serialization { get; set; } = new();

    /// <summary>Where Avro schema ids come from: a Confluent-compatible Schema Registry when its Url is set, the fixed ids otherwise.</summary>
    public Streaming.Contracts.Avro.SchemaRegistryOptions SchemaRegistry { get; set; } = new();

    public ProcessorSettings ToProcessorSettings() => new()
    {
        Windows = Windows.ToOptions(),
        Baseline = Baseline,
        Detection = Detection,
        Alerts = Alerts,
        Predictions = Predictions,
        Limits = Ingest.ToLimits(),
        ScoreInline = Processor.Scoring == ScoringMode.Inline,
    };

    /// <summary>Processor settings whose partitions score with <c>Models:Scorer</c> over <paramref name="models"/>.</summary>
    internal ProcessorSettings ToProcessorSettings(ModelSetProvider models) => ToProcessorSettings() with
    {
        ScorerFactory = ScorerSelection.Factory(models, ToScorerSettings()),
    };

    internal ScorerSettings ToScorerSettings() => new(Models.Scorer, Baseline, Detection, Ensemble, Telemanom, Alerts.TopContributors);

    /// <summary>Fails at start-up with the setting's name and the fix, never mid-stream.</summary>
    public StreamingSettings Validated()
    {
        Kafka.Validate();
        try
        {
            ToProcessorSettings().Validated();
            Simulator.Validated();
            Ensemble.Validated();
            Telemanom.Validated();
        }
        catch (ArgumentException ex)
        {
            throw new OptionsException("", ex.Message.TrimEnd('.'));
        }
        try
        {
            // Their messages start with the setting's name (Serialization:Format, SchemaRegistry:Url, ...).
            Serialization.Validated();
            SchemaRegistry.Validated();
        }
        catch (ArgumentException ex)
        {
            throw new OptionsException("", ex.Message.TrimEnd('.'));
        }
        if (Processor.MaxBatch is < 1 or > 100_000)
            throw new OptionsException("Processor:MaxBatch", $"must be 1-100000, was {Processor.MaxBatch}");
        if (Processor.MaxInFlightBatches is < 1 or > 1000)
            throw new OptionsException("Processor:MaxInFlightBatches", $"must be 1-1000 (batches held between processing and publishing; 4 is a good start), was {Processor.MaxInFlightBatches}");
        if (!Enum.IsDefined(Processor.Scoring))
            throw new OptionsException("Processor:Scoring", $"must be Inline or Separate, was {Processor.Scoring}");
        if (string.IsNullOrWhiteSpace(Processor.ScorerGroupId) || Processor.ScorerGroupId == Processor.GroupId)
            throw new OptionsException("Processor:ScorerGroupId", "must be a non-empty consumer group distinct from Processor:GroupId");
        if (!Enum.IsDefined(Models.Scorer))
            throw new OptionsException("Models:Scorer", $"must be Ensemble or Telemanom, was {Models.Scorer}");
        if (Sink.MaxBatch is < 1 or > 1_000_000)
            throw new OptionsException("Sink:MaxBatch", $"must be 1-1000000, was {Sink.MaxBatch}");
        Http.Validate();
        Training.Validate();
        Drift.Validate();
        Models.Retrain.Validate();
        if (Demo.Rate < 1)
            throw new OptionsException("Demo:Rate", $"must be at least 1 sample/s, was {Demo.Rate}");
        if (Topics.All.Any(string.IsNullOrWhiteSpace) || Topics.All.Distinct().Count() != 8)
            throw new OptionsException("Topics", "must name eight distinct, non-empty topics (Telemetry, Features, Scores, Alerts, DeadLetter, FeatureUpdates, ProcessorOffsets, ProcessorState)");
        Processor.Snapshots.Validate();
        return this;
    }

    /// <summary>
    /// appsettings.json, then environment variables (<c>Kafka__BootstrapServers</c> style), then the two short forms the
    /// tests and operators use: <c>KAFKA_BOOTSTRAP_SERVERS</c> and <c>STREAMING_PG</c>.
    /// </summary>
    public static StreamingSettings Load(IEnumerable<KeyValuePair<string, string?>>? overrides = null)
    {
        var builder = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddEnvironmentVariables();
        var shortForms = new Dictionary<string, string?>();
        if (Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS") is { Length: > 0 } kafka)
            shortForms["Kafka:BootstrapServers"] = kafka;
        if (Environment.GetEnvironmentVariable("STREAMING_PG") is { Length: > 0 } pg)
            shortForms["Storage:ConnectionString"] = pg;
        builder.AddInMemoryCollection(shortForms);
        if (overrides is not null)
            builder.AddInMemoryCollection(overrides);
        var settings = new StreamingSettings();
        try
        {
            builder.Build().Bind(settings);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message names the setting and the value ("... 'Protobuf' at 'Serialization:Format' to type ...").
            throw new OptionsException("", ex.Message.TrimEnd('.'));
        }
        return settings.Validated();
    }
}
