using System.Globalization;
using System.Text;

namespace Streaming.Evaluation.Msl;

/// <summary>Writes each channel's per-row results as <c>&lt;out&gt;/&lt;channel&gt;.csv</c>: row,label,scored,score,is_anomaly.</summary>
internal static class MslResultWriter
{
    public const string Header = "row,label,scored,score,is_anomaly";

    public static IReadOnlyList<string> Write(string directory, MslEvaluationResult result)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>(result.Channels.Count);
        foreach (var channel in result.Channels)
        {
            var labels = new bool[channel.TestRows];
            foreach (var s in channel.Sequences)
                labels.AsSpan(s.Start, s.Length).Fill(true);
            var text = new StringBuilder(Header.Length + 1 + channel.TestRows * 24);
            text.Append(Header).Append('\n');
            var rows = channel.Rows;
            for (var i = 0; i < channel.TestRows; i++)
            {
                text.Append(i.ToString(CultureInfo.InvariantCulture)).Append(',')
                    .Append(labels[i] ? '1' : '0').Append(',')
                    .Append(rows.Scored[i] ? '1' : '0').Append(',')
                    .Append(rows.Scores[i].ToString("R", CultureInfo.InvariantCulture)).Append(',')
                    .Append(rows.Online[i] ? '1' : '0').Append('\n');
            }
            var path = Path.Combine(directory, channel.Channel + ".csv");
            File.WriteAllText(path, text.ToString());
            written.Add(path);
        }
        return written;
    }
}
