using System.Globalization;

namespace Streaming.Evaluation.Msl;

/// <summary>A labelled anomaly: test rows <see cref="Start"/> to <see cref="End"/>, both inclusive.</summary>
internal readonly record struct RowSequence(int Start, int End)
{
    public int Length => End - Start + 1;

    public bool Contains(int row) => row >= Start && row <= End;
}

/// <summary>One row of <c>labeled_anomalies.csv</c>: a channel's labelled sequences (sorted by start) and its test length.</summary>
internal sealed record ChannelLabels(string Channel, string Spacecraft, IReadOnlyList<RowSequence> Sequences, int NumValues);

/// <summary>
/// Reads telemanom's <c>labeled_anomalies.csv</c> (Hundman et al., KDD 2018): header
/// <c>chan_id,spacecraft,anomaly_sequences,class,num_values</c>, where <c>anomaly_sequences</c> is a quoted list of
/// [start, end] inclusive row indices into the channel's test file, e.g. <c>"[[1778, 1898], [1238, 1344]]"</c>.
/// Malformed input is an <see cref="InvalidDataException"/> naming the line.
/// </summary>
internal static class TelemanomLabels
{
    private static readonly string[] Columns = ["chan_id", "spacecraft", "anomaly_sequences", "class", "num_values"];

    public static IReadOnlyList<ChannelLabels> Read(string path) => Parse(File.ReadLines(path), path);

    public static IReadOnlyList<ChannelLabels> Parse(IEnumerable<string> lines, string source)
    {
        var result = new List<ChannelLabels>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int[]? index = null;
        var number = 0;
        foreach (var line in lines)
        {
            number++;
            if (line.Length == 0 || line.Trim().Length == 0)
                continue;
            var fields = SplitCsv(line, source, number);
            if (index is null)
            {
                index = Columns.Select(c => fields.FindIndex(f => string.Equals(f.Trim(), c, StringComparison.Ordinal))).ToArray();
                var missing = Columns.Where((_, i) => index[i] < 0 && Columns[i] != "class").ToArray();
                if (missing.Length > 0)
                    throw new InvalidDataException($"{source}:{number}: the header lacks the column(s) {string.Join(", ", missing)} (expected {string.Join(",", Columns)}).");
                continue;
            }
            string Field(int column)
            {
                var i = index[column];
                if (i >= fields.Count)
                    throw new InvalidDataException($"{source}:{number}: {fields.Count} fields, the column '{Columns[column]}' is missing.");
                return fields[i].Trim();
            }
            var channel = Field(0);
            if (channel.Length == 0)
                throw new InvalidDataException($"{source}:{number}: empty chan_id.");
            if (!seen.Add(channel))
                throw new InvalidDataException($"{source}:{number}: channel '{channel}' is listed twice.");
            if (!int.TryParse(Field(4), NumberStyles.None, CultureInfo.InvariantCulture, out var numValues))
                throw new InvalidDataException($"{source}:{number}: num_values '{Field(4)}' is not a non-negative integer.");
            var sequences = ParseSequences(Field(2), source, number);
            foreach (var s in sequences)
            {
                if (s.End >= numValues)
                    throw new InvalidDataException($"{source}:{number}: sequence [{s.Start}, {s.End}] of '{channel}' ends beyond its {numValues} test rows.");
            }
            result.Add(new ChannelLabels(channel, Field(1), sequences, numValues));
        }
        if (index is null)
            throw new InvalidDataException($"{source}: empty file, expected the header {string.Join(",", Columns)}.");
        return result;
    }

    /// <summary>Parses <c>[[a, b], [c, d]]</c> into sequences sorted by start; a ≤ b, both non-negative.</summary>
    public static IReadOnlyList<RowSequence> ParseSequences(string text, string source, int line)
    {
        InvalidDataException Fail(string why) => new($"{source}:{line}: anomaly_sequences '{text}': {why}.");
        var numbers = new List<int>();
        var depth = 0;
        var inPair = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '[')
            {
                if (++depth > 2)
                    throw Fail("nested deeper than a list of [start, end] pairs");
                if (depth == 2)
                    inPair = 0;
            }
            else if (c == ']')
            {
                if (depth == 2 && inPair != 2)
                    throw Fail("each pair must hold exactly two numbers");
                if (--depth < 0)
                    throw Fail("unbalanced brackets");
            }
            else if (char.IsAsciiDigit(c))
            {
                if (depth != 2)
                    throw Fail("numbers must be inside [start, end] pairs");
                var start = i;
                while (i + 1 < text.Length && char.IsAsciiDigit(text[i + 1]))
                    i++;
                if (!int.TryParse(text.AsSpan(start, i - start + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
                    throw Fail("a row index is out of range");
                numbers.Add(value);
                inPair++;
            }
            else if (c is not (',' or ' ' or '\t'))
            {
                throw Fail($"unexpected character '{c}'");
            }
        }
        if (depth != 0)
            throw Fail("unbalanced brackets");
        var sequences = new List<RowSequence>(numbers.Count / 2);
        for (var i = 0; i < numbers.Count; i += 2)
        {
            if (numbers[i] > numbers[i + 1])
                throw Fail($"[{numbers[i]}, {numbers[i + 1]}] starts after it ends");
            sequences.Add(new RowSequence(numbers[i], numbers[i + 1]));
        }
        sequences.Sort((a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : a.End.CompareTo(b.End));
        return sequences;
    }

    /// <summary>Splits one CSV line (RFC 4180 quoting: "..." with "" for a quote inside).</summary>
    private static List<string> SplitCsv(string line, string source, int number)
    {
        var fields = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    current.Append('"');
                    i++;
                }
                else if (c == '"')
                    quoted = false;
                else
                    current.Append(c);
            }
            else if (c == '"')
                quoted = true;
            else if (c == ',')
            {
                fields.Add(current.ToString());
                current.Clear();
            }
            else
                current.Append(c);
        }
        if (quoted)
            throw new InvalidDataException($"{source}:{number}: a quoted field is not closed.");
        fields.Add(current.ToString().TrimEnd('\r'));
        return fields;
    }
}
