using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Streaming.Contracts;

namespace Streaming.UnitTests;

public sealed class SchemaConformanceTests
{
    private const string Generic = "telemetry-sample.schema.json";
    private const string Flat = "telemetry-sample-flat.schema.json";
    private const string Features = "feature-vector.schema.json";
    private const string Anomaly = "anomaly-event.schema.json";
    private const string Score = "score-event.schema.json";
    private const string Downtime = "downtime-prediction.schema.json";

    private static readonly string SchemaDirectory = Path.Combine(AppContext.BaseDirectory, "schemas");
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    private JsonSchemaChecker _checker = null!;

    [SetUp]
    public void SetUp() => _checker = new JsonSchemaChecker(SchemaDirectory);

    private static FeatureVectorEvent SampleFeatures(bool withNulls) => new(
        "web-1", Now, Now.AddMinutes(1), 6,
        [
            new MetricFeatures("cpu_usage", 6, 50.5, 2.1, 47, 54, 48, 53, 0.05, 51.2,
                withNulls ? null : 50, withNulls ? null : 53.75, withNulls ? null : 0.1, withNulls ? null : 0),
            new MetricFeatures("memory_usage", 6, 40, 0, 40, 40, 40, 40, 0, 40, 40, 40, 0, 0.5),
        ]);

    private static AnomalyEvent SampleAnomaly() => new(
        Guid.Parse("3f2504e0-4f89-41d3-9a0c-0305e82c3301"), Guid.Parse("7c9e6679-7425-40de-944b-e07fc1f90ae7"),
        AnomalyEvent.KindName, AlertStatus.Open, "web-1", Now, Now.AddMinutes(1), Now.AddMinutes(1).AddSeconds(2),
        9.5, 6, Severity.Critical, "robust-baseline", "1",
        [new Contributor("cpu_usage", 0.8, 40, 95), new Contributor("network_latency", 0.2, 60, 80)]);

    private static JsonNode? Serialize<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info) =>
        JsonNode.Parse(JsonSerializer.Serialize(value, info));

    private static string Errors(List<string> errors) => string.Join(Environment.NewLine, errors);

    [Test]
    public void Feature_vector_written_by_the_contracts_context_conforms_to_its_schema()
    {
        foreach (var withNulls in new[] { false, true })
        {
            var errors = _checker.Validate(Features, Serialize(SampleFeatures(withNulls), ContractsJsonContext.Default.FeatureVectorEvent));
            Assert.That(errors, Is.Empty, Errors(errors));
        }
    }

    [Test]
    public void Feature_vector_from_a_real_window_conforms_to_its_schema()
    {
        var aggregator = new Processing.Windows.WindowAggregator(new Processing.Windows.WindowOptions
        {
            Size = TimeSpan.FromMinutes(1), Grace = TimeSpan.Zero, ExpectedSampleInterval = TimeSpan.FromSeconds(10),
        });
        var start = Now.ToUnixTimeMilliseconds();
        for (var i = 0; i < 3; i++)
            aggregator.Add(new TelemetrySample("web-1", start + i * 10_000, [new MetricValue("cpu_usage", 10 + i), new MetricValue("memory_usage", 5)]));
        aggregator.AdvanceStreamTime(start + 60_000);
        var closed = new List<Processing.Windows.ClosedWindow>();
        aggregator.CollectClosed(closed);
        Assert.That(closed, Has.Count.EqualTo(1));

        var errors = _checker.Validate(Features, Serialize(closed[0].ToEvent(), ContractsJsonContext.Default.FeatureVectorEvent));

        Assert.That(errors, Is.Empty, Errors(errors));
    }

    [Test]
    public void Score_event_written_by_the_contracts_context_conforms_to_its_schema()
    {
        var score = new ScoreEvent("web-1", Now, Now.AddMinutes(1), "robust-baseline", "1", 2.5, 6, false,
            [new Contributor("cpu_usage", 1, 40, 45)]);
        var errors = _checker.Validate(Score, Serialize(score, ContractsJsonContext.Default.ScoreEvent));
        Assert.That(errors, Is.Empty, Errors(errors));
    }

    [Test]
    public void Downtime_prediction_written_by_the_contracts_context_conforms_to_its_schema()
    {
        foreach (var eta in new double?[] { 1200, null })
        {
            var prediction = new DowntimePredictionEvent(Guid.NewGuid(), Guid.NewGuid(), DowntimePredictionEvent.KindName, AlertStatus.Open, "web-1",
                Now, Now.AddMinutes(1), Now.AddMinutes(1), eta, eta is { } s ? Now.AddMinutes(1).AddSeconds(s) : null, 0.7, 30, 0.5,
                Severity.Warning, "downtime-predictor", "1.0.0", [new HorizonProbability(5, 0.1), new HorizonProbability(30, 0.7)],
                [new Contributor("memory_usage", 0.9, 60, 95)]);
            var errors = _checker.Validate(Downtime, Serialize(prediction, ContractsJsonContext.Default.DowntimePredictionEvent));
            Assert.That(errors, Is.Empty, Errors(errors));
        }
    }

    [Test]
    public void Anomaly_event_written_by_the_contracts_context_conforms_to_its_schema()
    {
        var errors = _checker.Validate(Anomaly, Serialize(SampleAnomaly(), ContractsJsonContext.Default.AnomalyEvent));
        Assert.That(errors, Is.Empty, Errors(errors));
    }

    [Test]
    public void Times_are_written_as_iso_8601_strings_and_names_as_snake_case()
    {
        var json = Serialize(SampleAnomaly(), ContractsJsonContext.Default.AnomalyEvent)!.AsObject();

        Assert.That(json["window_start"]!.GetValue<string>(), Is.EqualTo("2026-11-22T10:00:00+00:00"));
        Assert.That(json.ContainsKey("model_version") && json.ContainsKey("detected_at") && json.ContainsKey("event_id"), Is.True, json.ToJsonString());
    }

    [Test]
    public void Telemetry_written_by_TelemetryJson_conforms_to_the_generic_schema_and_parses_back()
    {
        var tagged = new TelemetrySample("web-1", Now.ToUnixTimeMilliseconds(), [new MetricValue("cpu_usage", 75.5), new MetricValue("mem.used:bytes", 1e9)],
            new Dictionary<string, string> { ["region"] = "eu" });
        var untagged = new TelemetrySample("web-2", Now.ToUnixTimeMilliseconds(), [new MetricValue("cpu_usage", -1.25)]);

        foreach (var sample in new[] { tagged, untagged })
        {
            var bytes = TelemetryJson.ToUtf8(sample);
            var errors = _checker.Validate(Generic, JsonNode.Parse(bytes));
            Assert.That(errors, Is.Empty, Errors(errors));
            Assert.That(TelemetryParser.TryParse(bytes, TelemetryLimits.Default, Now, out var parsed, out var rejection), Is.True, rejection.ToString());
            Assert.That(parsed!.Entity, Is.EqualTo(sample.Entity));
            Assert.That(parsed.Metrics, Is.EqualTo(sample.Metrics));
            Assert.That(parsed.Tags, Is.EquivalentTo(sample.Tags));
        }
    }

    [TestCase("""{"host":"web-1","timestamp":"2026-11-22T10:00:00Z","cpu_usage":75.5,"region":"eu"}""")]
    [TestCase("""{"device":"pump-7","ts":1795341600000,"pressure":3.2,"running":true}""")]
    [TestCase("""{"entity_id":"m-1","time":"2026-11-22T09:59:00+01:00","rpm":1200}""")]
    public void Flat_samples_the_parser_accepts_conform_to_the_flat_schema(string json)
    {
        Assert.That(TelemetryParser.TryParse(System.Text.Encoding.UTF8.GetBytes(json), TelemetryLimits.Default, Now, out _, out var rejection), Is.True, rejection.ToString());
        var errors = _checker.Validate(Flat, json);
        Assert.That(errors, Is.Empty, Errors(errors));
    }

    [TestCase("""{"timestamp":"2026-11-22T10:00:00Z","cpu_usage":75.5}""", "matches 0 of oneOf")]
    [TestCase("""{"host":"web-1","cpu_usage":75.5}""", "matches 0 of oneOf")]
    [TestCase("""{"host":"web-1","timestamp":"2026-11-22T10:00:00Z","cpu_usage":{"avg":1}}""", "expected number or string or boolean")]
    [TestCase("""{"host":"web-1","timestamp":"2026-11-22T10:00:00Z","cpu_usage":"NaN"}""", "'not' schema")]
    [TestCase("""{"host":"web 1","timestamp":"2026-11-22T10:00:00Z","cpu_usage":1}""", "does not match")]
    [TestCase("""{"host":"web-1","timestamp":"22/11/2026","cpu_usage":1}""", "is not a valid date-time")]
    public void Flat_schema_rejects_what_the_parser_rejects(string json, string expectedError)
    {
        Assert.That(TelemetryParser.TryParse(System.Text.Encoding.UTF8.GetBytes(json), TelemetryLimits.Default, Now, out _, out _), Is.False);
        Assert.That(Errors(_checker.Validate(Flat, json)), Does.Contain(expectedError));
    }

    [Test]
    public void Checker_rejects_a_document_missing_a_required_field()
    {
        var json = Serialize(SampleAnomaly(), ContractsJsonContext.Default.AnomalyEvent)!.AsObject();
        json.Remove("severity");

        Assert.That(_checker.Validate(Anomaly, json), Is.EqualTo(new[] { "$: missing required property 'severity'" }));
    }

    [Test]
    public void Checker_rejects_an_unknown_field_a_wrong_type_a_null_and_a_bad_enum()
    {
        var json = Serialize(SampleFeatures(withNulls: false), ContractsJsonContext.Default.FeatureVectorEvent)!.AsObject();
        json["extra"] = 1;
        json["sample_count"] = "6";
        json["features"]![0]!["mean"] = null;
        json["features"]![1]!["std"] = -1;
        json["window_end"] = "2026-11-22 10:01";

        var errors = _checker.Validate(Features, json);

        Assert.That(errors, Is.EquivalentTo(new[]
        {
            "$: unexpected property 'extra'",
            "$.sample_count: expected integer, found string",
            "$.features[0].mean: expected number, found null",
            "$.features[1].std: -1 is below the minimum 0",
            "$.window_end: '2026-11-22 10:01' is not a valid date-time",
        }));
        var anomaly = Serialize(SampleAnomaly() with { Status = "closed" }, ContractsJsonContext.Default.AnomalyEvent);
        Assert.That(Errors(_checker.Validate(Anomaly, anomaly)), Does.Contain("$.status: \"closed\" is not one of"));
    }

    [Test]
    public void Removing_a_property_from_a_schema_makes_real_events_fail_validation()
    {
        var schema = _checker.Load(Features).DeepClone();
        schema["$defs"]!["metric_features"]!["properties"]!.AsObject().Remove("ewma");
        _checker.Override(Features, schema);

        var errors = _checker.Validate(Features, Serialize(SampleFeatures(false), ContractsJsonContext.Default.FeatureVectorEvent));

        Assert.That(errors, Does.Contain("$.features[0]: unexpected property 'ewma'"));
    }

    [Test]
    public void Checker_refuses_keywords_it_does_not_implement()
    {
        _checker.Override("x.json", JsonNode.Parse("""{"type":"object","dependentRequired":{"a":["b"]}}""")!);
        Assert.Throws<NotSupportedException>(() => _checker.Validate("x.json", "{}"));
    }

    [TestCase("telemetry-sample.avsc", Generic)]
    [TestCase("feature-vector.avsc", Features)]
    [TestCase("anomaly-event.avsc", Anomaly)]
    [TestCase("score-event.avsc", Score)]
    [TestCase("downtime-prediction.avsc", Downtime)]
    [TestCase("drift-event.avsc", "drift-event.schema.json")]
    public void Avro_schema_has_exactly_the_json_schema_fields(string avsc, string jsonSchema)
    {
        var avro = JsonNode.Parse(File.ReadAllText(Path.Combine(SchemaDirectory, avsc)))!;
        Assert.That(avro["namespace"]!.GetValue<string>(), Is.EqualTo("streaming.v1"));
        var schema = _checker.Load(jsonSchema);

        var mismatches = AvroMismatches(avro, schema, schema, avsc);

        Assert.That(mismatches, Is.Empty, string.Join(Environment.NewLine, mismatches));
    }

    [Test]
    public void Avro_parity_check_reports_a_renamed_field_and_a_lost_null()
    {
        var avro = JsonNode.Parse(File.ReadAllText(Path.Combine(SchemaDirectory, "feature-vector.avsc")))!;
        var metricFields = avro["fields"]![4]!["type"]!["items"]!["fields"]!.AsArray();
        metricFields[9]!["name"] = "ewma_value";
        metricFields[10]!["type"] = "double";
        var schema = _checker.Load(Features);

        var mismatches = AvroMismatches(avro, schema, schema, "feature-vector.avsc");

        Assert.That(mismatches, Has.Some.Contains("features[]: field names").And.Some.Contains("ewma_value"));
        Assert.That(mismatches, Has.Some.EqualTo("feature-vector.avsc.features[].p50: Avro nullable False, JSON nullable True"));
    }

    private static List<string> AvroMismatches(JsonNode avroRecord, JsonNode jsonObject, JsonNode root, string where)
    {
        var mismatches = new List<string>();
        if (avroRecord["type"]?.GetValue<string>() != "record")
            return [$"{where}: not an Avro record"];
        var fields = avroRecord["fields"]!.AsArray();
        var properties = jsonObject["properties"]!.AsObject();
        var avroNames = fields.Select(f => f!["name"]!.GetValue<string>()).ToArray();
        var jsonNames = properties.Select(p => p.Key).ToArray();
        if (!avroNames.SequenceEqual(jsonNames))
            mismatches.Add($"{where}: field names [{string.Join(", ", avroNames)}] differ from JSON properties [{string.Join(", ", jsonNames)}]");
        foreach (var field in fields)
        {
            var name = field!["name"]!.GetValue<string>();
            if (!properties.TryGetPropertyValue(name, out var propertyNode))
                continue;
            var property = Deref(propertyNode!, root);
            var avroType = field["type"]!;
            // For a nullable union, the non-null branch carries the type (e.g. ["null", {"type":"long","logicalType":...}]).
            var avroObject = avroType as JsonObject ?? (avroType as JsonArray)?.OfType<JsonObject>().FirstOrDefault();
            var jsonTypes = property["type"] is JsonArray a ? a.Select(t => t!.GetValue<string>()).ToArray() : [property["type"]!.GetValue<string>()];
            var avroNullable = avroType is JsonArray union && union.Any(t => t!.GetValueKind() == JsonValueKind.String && t.GetValue<string>() == "null");
            var jsonNullable = jsonTypes.Contains("null");
            if (avroNullable != jsonNullable)
                mismatches.Add($"{where}.{name}: Avro nullable {avroNullable}, JSON nullable {jsonNullable}");
            if (avroNullable && !(field.AsObject().TryGetPropertyValue("default", out var defaultValue) && defaultValue is null))
                mismatches.Add($"{where}.{name}: a nullable Avro field must default to null");
            var avroTimestamp = avroObject?["logicalType"]?.GetValue<string>() == "timestamp-millis";
            var jsonTimestamp = property["format"]?.GetValue<string>() == "date-time";
            if (avroTimestamp != jsonTimestamp)
                mismatches.Add($"{where}.{name}: Avro timestamp-millis {avroTimestamp}, JSON date-time {jsonTimestamp}");
            var avroKind = avroObject?["type"]?.GetValue<string>();
            if (avroKind == "array")
                mismatches.AddRange(AvroMismatches(avroObject!["items"]!, Deref(property["items"]!, root), root, $"{where}.{name}[]"));
            if (avroKind == "enum")
            {
                var symbols = avroObject!["symbols"]!.AsArray().Select(x => x!.GetValue<string>());
                var values = property["enum"]?.AsArray().Select(x => x!.GetValue<string>()) ?? [];
                if (!symbols.SequenceEqual(values))
                    mismatches.Add($"{where}.{name}: Avro enum symbols differ from the JSON enum");
            }
        }
        return mismatches;
    }

    private static JsonNode Deref(JsonNode schema, JsonNode root)
    {
        if (schema["$ref"] is not { } reference)
            return schema;
        var node = root;
        foreach (var segment in reference.GetValue<string>().TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries))
            node = node[segment]!;
        return node;
    }

    [Test]
    public void Readme_lists_exactly_the_rejection_codes_of_the_enum()
    {
        var readme = File.ReadAllText(Path.Combine(SchemaDirectory, "README.md"));
        var section = Regex.Match(readme, "<!-- reason-codes:start -->(.*?)<!-- reason-codes:end -->", RegexOptions.Singleline).Groups[1].Value;
        var listed = Regex.Matches(section, @"^- `([a-z_]+)`", RegexOptions.Multiline).Select(m => m.Groups[1].Value);

        Assert.That(listed, Is.EqualTo(RejectionReasonExtensions.All.Select(r => r.ToCode())));
    }

    [Test]
    public void Readme_names_every_topic_and_dead_letter_header()
    {
        var readme = File.ReadAllText(Path.Combine(SchemaDirectory, "README.md"));
        string[] names =
        [
            TopicNames.Telemetry, TopicNames.Features, TopicNames.Alerts, TopicNames.DeadLetter,
            DeadLetterHeaders.Reason, DeadLetterHeaders.Detail, DeadLetterHeaders.SourceTopic,
            DeadLetterHeaders.SourcePartition, DeadLetterHeaders.SourceOffset, DeadLetterHeaders.Stage,
        ];
        Assert.That(names.Where(n => !readme.Contains($"`{n}`", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public void Rejection_codes_are_snake_case()
    {
        Assert.That(RejectionReason.TimestampOutOfRange.ToCode(), Is.EqualTo("timestamp_out_of_range"));
        Assert.That(RejectionReason.MalformedJson.ToCode(), Is.EqualTo("malformed_json"));
        Assert.That(RejectionReason.Late.ToCode(), Is.EqualTo("late"));
    }
}
