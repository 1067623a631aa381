using Streaming.Contracts.Avro;

namespace Streaming.UnitTests;

public sealed class AvroSchemaParserTests
{
    private static readonly string SchemaDirectory = Path.Combine(AppContext.BaseDirectory, "schemas");

    private static string ParseError(string json)
    {
        Assert.That(AvroSchemaParser.TryParse(json, out _, out var error), Is.False);
        return error!;
    }

    [Test]
    public void Every_committed_avsc_parses_to_a_record_in_the_streaming_v1_namespace()
    {
        var files = Directory.GetFiles(SchemaDirectory, "*.avsc");
        Assert.That(files, Is.Not.Empty);
        foreach (var file in files)
        {
            Assert.That(AvroSchemaParser.TryParse(File.ReadAllText(file), out var schema, out var error), Is.True, $"{file}: {error}");
            Assert.That(schema, Is.TypeOf<RecordSchema>());
            Assert.That(((RecordSchema)schema!).FullName, Does.StartWith("streaming.v1."));
        }
    }

    [Test]
    public void Nested_named_types_inherit_the_namespace_and_logical_types_are_kept()
    {
        var anomaly = (RecordSchema)AvroSchemaParser.Parse(File.ReadAllText(Path.Combine(SchemaDirectory, "anomaly-event.avsc")));
        var status = (EnumSchema)anomaly.Fields.Single(f => f.Name == "status").Schema;
        var contributors = (ArraySchema)anomaly.Fields.Single(f => f.Name == "contributors").Schema;
        var windowStart = (PrimitiveSchema)anomaly.Fields.Single(f => f.Name == "window_start").Schema;

        Assert.That(status.FullName, Is.EqualTo("streaming.v1.AlertStatus"));
        Assert.That(status.Symbols, Is.EqualTo(new[] { "open", "update", "resolved" }));
        Assert.That(((RecordSchema)contributors.Items).FullName, Is.EqualTo("streaming.v1.Contributor"));
        Assert.That(windowStart.IsTimestampMillis, Is.True);
        Assert.That(((PrimitiveSchema)anomaly.Fields[0].Schema).IsUuid, Is.True);
    }

    [Test]
    public void A_named_type_can_be_referenced_later_by_short_or_full_name_and_a_record_can_refer_to_itself()
    {
        var schema = (RecordSchema)AvroSchemaParser.Parse("""
            {"type":"record","name":"Node","namespace":"a.b","fields":[
              {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["X","Y"]}},
              {"name":"again","type":"Kind"},
              {"name":"full","type":"a.b.Kind"},
              {"name":"next","type":["null","Node"]}
            ]}
            """);

        Assert.That(schema.Fields[1].Schema, Is.SameAs(schema.Fields[0].Schema));
        Assert.That(schema.Fields[2].Schema, Is.SameAs(schema.Fields[0].Schema));
        Assert.That(((UnionSchema)schema.Fields[3].Schema).Branches[1], Is.SameAs(schema));
    }

    [Test]
    public void Unknown_references_duplicate_names_and_malformed_schemas_are_rejected_with_the_place()
    {
        Assert.That(ParseError("""{"type":"record","name":"R","fields":[{"name":"x","type":"Missing"}]}"""),
            Does.Contain("R.x").And.Contain("unknown type 'Missing'"));
        Assert.That(ParseError("""{"type":"record","name":"R","fields":[{"name":"x","type":{"type":"enum","name":"R","symbols":["A"]}}]}"""),
            Does.Contain("type 'R' is defined twice"));
        Assert.That(ParseError("""["null","null"]"""), Does.Contain("two branches"));
        Assert.That(ParseError("""{"type":"array"}"""), Does.Contain("needs \"items\""));
        Assert.That(ParseError("""{"type":"enum","name":"E","symbols":[]}"""), Does.Contain("at least one symbol"));
        Assert.That(ParseError("{not json"), Does.Contain("not valid JSON"));
    }
}
