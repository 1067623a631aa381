using System.Text.Json;
using Avro.Generic;
using BenchmarkDotNet.Attributes;
using Streaming.Contracts;
using Streaming.Contracts.Avro;

namespace Streaming.Benchmarks.Contracts;

/// <summary>
/// The processor's per-event output cost in each <c>Serialization:Format</c>: one features record (6 metrics) and one
/// score, serialized as the processor does it (the serializer created once, the schema id resolved up front), and the
/// sink's read back; <c>Features_json*</c> is <see cref="FeatureVectorJson"/> (the JSON features serializer), the
/// <c>*_serializer*</c> ones the source-generated serializer it replaced, on the round sample vector and on simulator-like
/// values (<c>*_simulated</c>). The two <c>*_mapping</c> benchmarks are our part of an Avro write and read (event to
/// <see cref="GenericRecord"/> and back); the rest of <c>Features_avro</c> / <c>Read_features_avro</c> is Confluent's serdes. Run: dotnet run -c Release --project benchmarks/Streaming.Benchmarks -- --filter '*EventSerializationBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class EventSerializationBenchmarks
{
    private static readonly SerializationOptions Avro = new() { Format = SerializationFormat.Avro };
    private static readonly SerializationOptions Json = new() { Format = SerializationFormat.Json };

    private FeatureVectorEvent _features = null!;
    private ScoreEvent _score = null!;
    private IEventSerializer<FeatureVectorEvent> _avroFeatures = null!;
    private IEventSerializer<FeatureVectorEvent> _jsonFeatures = null!;
    private IEventSerializer<ScoreEvent> _avroScores = null!;
    private IEventSerializer<ScoreEvent> _jsonScores = null!;
    private EventDeserializer<FeatureVectorEvent> _reader = null!;
    private byte[] _avroFeatureBytes = [];
    private GenericRecord _featureRecord = null!;
    private byte[] _jsonFeatureBytes = [];
    private FeatureVectorEvent _simulated = null!;

    [GlobalSetup]
    public void Setup()
    {
        var start = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
        string[] metrics = ["cpu_usage", "memory_usage", "disk_usage", "network_in", "network_latency", "error_rate"];
        _features = new FeatureVectorEvent("host-001", start, start.AddMinutes(1), 6,
            metrics.Select((m, i) => new MetricFeatures(m, 6, 40 + i, 1.5, 38 + i, 43 + i, 39 + i, 42 + i, 0.05, 41 + i, 40 + i, 42.5 + i, 0.01, null)).ToArray());
        _score = new ScoreEvent("host-001", start, start.AddMinutes(1), "ensemble", "20261122-054512", 0.73, 1, false,
            [new Contributor("cpu_usage", 0.6, 40, 43), new Contributor("network_latency", 0.3, 70, 72)]);
        _avroFeatures = EventSerializers.CreateAsync(Avro, AvroContracts.FeatureVector, "features", FixedIdSchemaRegistry.Instance, CancellationToken.None).GetAwaiter().GetResult();
        _jsonFeatures = EventSerializers.CreateAsync(Json, AvroContracts.FeatureVector, "features", FixedIdSchemaRegistry.Instance, CancellationToken.None).GetAwaiter().GetResult();
        _avroScores = EventSerializers.CreateAsync(Avro, AvroContracts.Score, "scores", FixedIdSchemaRegistry.Instance, CancellationToken.None).GetAwaiter().GetResult();
        _jsonScores = EventSerializers.CreateAsync(Json, AvroContracts.Score, "scores", FixedIdSchemaRegistry.Instance, CancellationToken.None).GetAwaiter().GetResult();
        _reader = new EventDeserializer<FeatureVectorEvent>(AvroContracts.FeatureVector, FixedIdSchemaRegistry.Instance);
        _avroFeatureBytes = _avroFeatures.Serialize(_features);
        _jsonFeatureBytes = JsonSerializer.SerializeToUtf8Bytes(_features, ContractsJsonContext.Default.FeatureVectorEvent);
        _featureRecord = AvroJsonMapping.ToRecord(_features, AvroContracts.FeatureVector.TypeInfo, AvroContracts.FeatureVector.Schema);
        // What the simulator's windows hold: readings of four decimals (min, max, first, last, mostly p50) beside statistics
        // at full precision (mean, std, slope, ewma, p95, rate of change).
        var random = new Random(5);
        double Reading() => Math.Round(40 + 20 * random.NextDouble(), 4);
        double Statistic() => 40 + 20 * random.NextDouble();
        _simulated = new FeatureVectorEvent("machine-042", start, start.AddMinutes(1), 6,
            metrics.Select(m => new MetricFeatures(m, 6, Statistic(), Statistic() / 20, Reading(), Reading(), Reading(), Reading(),
                Statistic() / 1000, Statistic(), (Reading() + Reading()) / 2, Statistic(), Statistic() / 1000, null)).ToArray());
    }

    /// <summary>The features JSON as the worker wrote it before <see cref="FeatureVectorJson"/>: the source-generated serializer.</summary>
    [Benchmark]
    public int Features_json_serializer() => JsonSerializer.SerializeToUtf8Bytes(_features, ContractsJsonContext.Default.FeatureVectorEvent).Length;

    [Benchmark]
    public int Features_json_simulated() => _jsonFeatures.Serialize(_simulated).Length;

    [Benchmark]
    public int Features_json_serializer_simulated() => JsonSerializer.SerializeToUtf8Bytes(_simulated, ContractsJsonContext.Default.FeatureVectorEvent).Length;

    [Benchmark(Baseline = true)]
    public int Features_json() => _jsonFeatures.Serialize(_features).Length;

    [Benchmark]
    public int Features_avro() => _avroFeatures.Serialize(_features).Length;

    [Benchmark]
    public int Score_json() => _jsonScores.Serialize(_score).Length;

    [Benchmark]
    public int Score_avro() => _avroScores.Serialize(_score).Length;

    [Benchmark]
    public int Read_features_json() => _reader.Read(_jsonFeatureBytes).Value!.Features.Count;

    [Benchmark]
    public int Read_features_avro() => _reader.Read(_avroFeatureBytes).Value!.Features.Count;

    [Benchmark]
    public int Features_to_record_mapping() =>
        AvroJsonMapping.ToRecord(_features, AvroContracts.FeatureVector.TypeInfo, AvroContracts.FeatureVector.Schema).Schema.Count;

    [Benchmark]
    public int Read_features_from_record_mapping() =>
        AvroRecordReader.TryMap(_featureRecord, AvroContracts.FeatureVector.TypeInfo, out var value, out _) ? value.Features.Count : -1;
}
