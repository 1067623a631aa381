using Streaming.Evaluation.Msl;

namespace Streaming.UnitTests;

public sealed class TelemanomLabelsTests
{
    private const string Header = "chan_id,spacecraft,anomaly_sequences,class,num_values";

    private static IReadOnlyList<ChannelLabels> Parse(params string[] lines) => TelemanomLabels.Parse(lines, "labels.csv");

    private static string Error(params string[] lines) => Assert.Throws<InvalidDataException>(() => Parse(lines))!.Message;

    [Test]
    public void Quoted_sequence_lists_parse_into_inclusive_row_ranges_sorted_by_start()
    {
        var labels = Parse(Header,
            "P-11,MSL,\"[[1778, 1898], [1238, 1344]]\",\"[point, point]\",3535",
            "S-2,MSL,\"[[900, 910]]\",[point],1827",
            "A-1,SMAP,\"[[0,0]]\",[point],10");

        Assert.That(labels.Select(l => l.Channel), Is.EqualTo(new[] { "P-11", "S-2", "A-1" }));
        Assert.That(labels[0].Sequences, Is.EqualTo(new[] { new RowSequence(1238, 1344), new RowSequence(1778, 1898) }));
        Assert.That(labels[0].NumValues, Is.EqualTo(3535));
        Assert.That(labels[1].Sequences.Single().Length, Is.EqualTo(11), "both ends are inclusive");
        Assert.That(labels[2].Spacecraft, Is.EqualTo("SMAP"));
        Assert.That(labels[2].Sequences.Single(), Is.EqualTo(new RowSequence(0, 0)));
    }

    [Test]
    public void Columns_are_found_by_name_and_a_trailing_carriage_return_is_ignored()
    {
        var labels = Parse("num_values,chan_id,anomaly_sequences,spacecraft\r", "100,T-9,\"[[1, 2]]\",MSL\r");

        Assert.That(labels.Single(), Is.EqualTo(labels.Single() with { Channel = "T-9", Spacecraft = "MSL", NumValues = 100 }));
        Assert.That(labels.Single().Sequences.Single(), Is.EqualTo(new RowSequence(1, 2)));
    }

    [Test]
    public void A_sequence_that_starts_after_it_ends_is_rejected_with_its_line()
    {
        Assert.That(Error(Header, "T-9,MSL,\"[[20, 10]]\",[point],100"), Does.Contain("labels.csv:2").And.Contain("[20, 10] starts after it ends"));
    }

    [Test]
    public void A_sequence_beyond_the_test_rows_is_rejected()
    {
        Assert.That(Error(Header, "T-9,MSL,\"[[90, 100]]\",[point],100"), Does.Contain("ends beyond its 100 test rows"));
    }

    [TestCase("\"[[1, 2, 3]]\"", "exactly two numbers")]
    [TestCase("\"[[1, 2]\"", "unbalanced")]
    [TestCase("\"[1, 2]\"", "inside [start, end] pairs")]
    [TestCase("\"[[-1, 2]]\"", "unexpected character '-'")]
    [TestCase("\"[[[1, 2]]]\"", "nested deeper")]
    public void A_malformed_sequence_list_is_rejected_saying_why(string field, string why)
    {
        Assert.That(Error(Header, $"T-9,MSL,{field},[point],100"), Does.Contain(why));
    }

    [Test]
    public void A_channel_listed_twice_a_missing_column_or_an_unclosed_quote_is_rejected()
    {
        Assert.That(Error(Header, "T-9,MSL,\"[[1, 2]]\",[point],100", "T-9,MSL,\"[[1, 2]]\",[point],100"), Does.Contain("listed twice"));
        Assert.That(Error("chan_id,spacecraft,class,num_values", "T-9,MSL,[point],100"), Does.Contain("anomaly_sequences"));
        Assert.That(Error(Header, "T-9,MSL,\"[[1, 2]],[point],100"), Does.Contain("not closed"));
        Assert.That(Error(Header, "T-9,MSL,\"[[1, 2]]\",[point],many"), Does.Contain("num_values 'many'"));
        Assert.That(Error(), Does.Contain("empty file"));
    }

    [Test]
    public void The_real_MSL_labels_list_27_channels_and_36_sequences_that_fit_their_test_files()
    {
        var labels = TelemanomLabels.Read(Path.Combine(Datasets.Msl, "labeled_anomalies.csv"));

        Assert.That(labels, Has.Count.EqualTo(27));
        Assert.That(labels.Select(l => l.Spacecraft).Distinct(), Is.EqualTo(new[] { "MSL" }));
        Assert.That(labels.Sum(l => l.Sequences.Count), Is.EqualTo(36));
        Assert.That(labels.Single(l => l.Channel == "F-7").Sequences, Is.EqualTo(new[] { new RowSequence(1250, 1450), new RowSequence(2670, 2790), new RowSequence(3325, 3425) }));
        foreach (var l in labels)
            Assert.That(NpyReader.Read(Path.Combine(Datasets.Msl, "test", l.Channel + ".npy")).Rows, Is.EqualTo(l.NumValues), l.Channel);
    }
}
