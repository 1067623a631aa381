using System.Text.Json;
using Streaming.Contracts;
using Streaming.Contracts.Avro;
using Streaming.Processing.Windows;

namespace Streaming.UnitTests;

/// <summary>The features topic's hand-written JSON encoder against the serializer it replaces, byte for byte.</summary>
public sealed class FeatureVectorJsonTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    private static byte[] Reference(FeatureVectorEvent e) => JsonSerializer.SerializeToUtf8Bytes(e, ContractsJsonContext.Default.FeatureVectorEvent);

    private static IEnumerable<TestCaseData> Vectors()
    {
        yield return new TestCaseData(AvroEventCodecTests.SampleFeatures(withNulls: false)).SetName("A vector without nulls encodes as the serializer does");
        yield return new TestCaseData(AvroEventCodecTests.SampleFeatures(withNulls: true)).SetName("A vector with null percentiles, rate and missing ratio encodes as the serializer does");
        yield return new TestCaseData(new FeatureVectorEvent("host-7", Start, Start.AddMinutes(1), 0, []))
            .SetName("A vector without metrics encodes as the serializer does");
        yield return new TestCaseData(new FeatureVectorEvent("h\u00f6st \"quoted\" <tag> & \u2603", Start.ToOffset(TimeSpan.FromHours(5.5)).AddTicks(1234567),
                Start.AddMinutes(1).AddMilliseconds(1), int.MaxValue,
                [
                    new MetricFeatures("temp\u00b0c", -1, -0.0, 0, -1e15, 1e15, double.Epsilon, -double.Epsilon, -123.456e-300, 0.1 + 0.2,
                        double.MaxValue, double.MinValue, -1.0 / 3, 1e-7),
                    new MetricFeatures("big", int.MaxValue, 1.7976931348623157e308, 4.9e-324, -5e-324, 123456789012345678, 1e21, 1e-6, 0.000001234, 12345.678901234567,
                        null, 1, null, 0.5),
                ]))
            .SetName("A vector with negatives, extremes, escaped text and an offset time encodes as the serializer does");
    }

    [TestCaseSource(nameof(Vectors))]
    public void Encodes_byte_for_byte(FeatureVectorEvent e) =>
        Assert.That(FeatureVectorJson.ToUtf8(e), Is.EqualTo(Reference(e)));

    [Test]
    public void Closed_windows_of_simulated_telemetry_encode_as_the_serializer_does()
    {
        var windows = new WindowAggregator(new WindowOptions { Size = TimeSpan.FromMinutes(1), Grace = TimeSpan.Zero, ExpectedSampleInterval = TimeSpan.FromSeconds(7) });
        var random = new Random(12);
        for (var i = 0; i < 600; i++)
        {
            var ts = Start.AddSeconds(10 * i + random.Next(10)).ToUnixTimeMilliseconds();
            windows.Add($"host-{i % 3}", ts,
            [
                new MetricValue("cpu_usage", 50 + 30 * random.NextDouble()),
                new MetricValue("error_rate", random.Next(3) == 0 ? 0 : -random.NextDouble() * 1e-3),
                new MetricValue("bytes", random.NextInt64(1L << 50)),
                new MetricValue("temperature", Math.Round(20 + 5 * random.NextDouble(), random.Next(5))),
            ]);
        }
        windows.AdvanceStreamTime(long.MaxValue);
        var closed = new List<ClosedWindow>();
        windows.CollectClosed(closed);

        Assert.That(closed, Has.Count.GreaterThan(100));
        foreach (var window in closed)
            Assert.That(FeatureVectorJson.ToUtf8(window.ToEvent()), Is.EqualTo(Reference(window.ToEvent())));
    }

    [TestCase(double.NaN)]
    [TestCase(double.PositiveInfinity)]
    [TestCase(double.NegativeInfinity)]
    public void A_non_finite_number_is_refused_as_the_serializer_refuses_it_and_the_next_event_is_whole(double value)
    {
        var bad = new FeatureVectorEvent("web-1", Start, Start.AddMinutes(1), 1,
            [new MetricFeatures("cpu_usage", 1, 1, 0, 1, 1, 1, 1, 0, 1, value, 1, null, null)]);

        Assert.That(() => Reference(bad), Throws.ArgumentException);
        Assert.That(() => FeatureVectorJson.ToUtf8(bad), Throws.ArgumentException);
        var good = AvroEventCodecTests.SampleFeatures(withNulls: false);
        Assert.That(FeatureVectorJson.ToUtf8(good), Is.EqualTo(Reference(good)));
    }

    [Test]
    public void A_vector_larger_than_the_kept_buffer_encodes_whole_and_later_ones_still_do()
    {
        var metrics = Enumerable.Range(0, 400).Select(i => new MetricFeatures($"metric_{i:D3}", i, i * 1.5, 0.25, -i, i, 0, i, 0.01 * i, i / 7.0, i, i, null, 0)).ToArray();
        var large = new FeatureVectorEvent("web-1", Start, Start.AddMinutes(1), 6, metrics);
        var small = AvroEventCodecTests.SampleFeatures(withNulls: true);

        Assert.That(FeatureVectorJson.ToUtf8(large), Is.EqualTo(Reference(large)));
        Assert.That(FeatureVectorJson.ToUtf8(small), Is.EqualTo(Reference(small)));
    }

    [Test]
    public void The_json_features_serializer_is_the_encoder()
    {
        var serializer = EventSerializers.CreateAsync(new SerializationOptions { Format = SerializationFormat.Json }, AvroContracts.FeatureVector,
            "features", FixedIdSchemaRegistry.Instance, CancellationToken.None).GetAwaiter().GetResult();
        var e = AvroEventCodecTests.SampleFeatures(withNulls: false);

        Assert.That(serializer, Is.SameAs(FeatureVectorJsonSerializer.Instance));
        Assert.That(serializer.Serialize(e), Is.EqualTo(Reference(e)));
    }
}

/// <summary>The short-decimal formatter against .NET's own shortest round-trip formatting, on the numbers it takes and the ones it leaves.</summary>
public sealed class ShortDecimalTests
{
    private static string? Formatted(double value)
    {
        Span<byte> buffer = stackalloc byte[ShortDecimal.MaxLength];
        return ShortDecimal.TryFormat(value, buffer, out var written) ? System.Text.Encoding.ASCII.GetString(buffer[..written]) : null;
    }

    private static string Reference(double value)
    {
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new System.Text.Json.Utf8JsonWriter(output))
            writer.WriteNumberValue(value);
        return System.Text.Encoding.ASCII.GetString(output.WrittenSpan);
    }

    [TestCase(0.0, "0")]
    [TestCase(1.0, "1")]
    [TestCase(-7.0, "-7")]
    [TestCase(0.0001, "0.0001")]
    [TestCase(-0.0005, "-0.0005")]
    [TestCase(47.1234, "47.1234")]
    [TestCase(0.1, "0.1")]
    [TestCase(0.3, "0.3")]
    [TestCase(999999999.9999, "999999999.9999")]
    [TestCase(123456789012345.0, "123456789012345")]
    [TestCase(999999999999999.0, "999999999999999")]
    public void Short_decimals_are_written_as_dotnet_writes_them(double value, string expected)
    {
        Assert.That(Reference(value), Is.EqualTo(expected));
        Assert.That(Formatted(value), Is.EqualTo(expected));
    }

    [TestCase(-0.0)]
    [TestCase(1e15)]
    [TestCase(-1e15)]
    [TestCase(0.00001)]
    [TestCase(0.00012)]
    [TestCase(0.1 + 0.2)]
    [TestCase(1e9 + 0.5)]
    [TestCase(double.NaN)]
    [TestCase(double.PositiveInfinity)]
    [TestCase(double.NegativeInfinity)]
    [TestCase(double.Epsilon)]
    [TestCase(1.0 / 3)]
    public void Other_numbers_are_left_to_the_writer(double value) => Assert.That(Formatted(value), Is.Null);

    [Test]
    public void Random_numbers_of_every_shape_are_written_as_dotnet_writes_them_or_left_to_it()
    {
        var random = new Random(20261203);
        var taken = 0;
        for (var i = 0; i < 300_000; i++)
        {
            var scale = Math.Pow(10, random.Next(-6, 16));
            var value = (random.Next(2) == 0 ? -1 : 1) * random.NextDouble() * scale;
            value = random.Next(3) switch { 0 => Math.Round(value, random.Next(0, 6)), 1 => Math.Round(value), _ => value };
            if (Formatted(value) is not { } text)
                continue;
            taken++;
            Assert.That(text, Is.EqualTo(Reference(value)), $"value {value:R}");
        }
        Assert.That(taken, Is.GreaterThan(100_000));
    }
}
