using System.Globalization;
using System.Text;

namespace Streaming.Evaluation.Nab;

/// <summary>Writes NAB result files: &lt;out&gt;/&lt;detector&gt;/&lt;category&gt;/&lt;detector&gt;_&lt;file&gt;.csv with timestamp,value,anomaly_score,label.</summary>
internal static class NabResultWriter
{
    public const string Header = "timestamp,value,anomaly_score,label";

    public static string PathFor(string outputDirectory, string detector, NabFile file) =>
        Path.Combine(outputDirectory, detector, file.Category, $"{detector}_{file.Name}.csv");

    public static string Write(string outputDirectory, string detector, NabFile file, ReadOnlySpan<double> anomalyScores)
    {
        if (anomalyScores.Length != file.TimestampsMs.Length)
            throw new ArgumentException($"{file.RelativePath}: {anomalyScores.Length} anomaly scores for {file.TimestampsMs.Length} rows.");
        var path = PathFor(outputDirectory, detector, file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var labels = file.RowLabels();
        var text = new StringBuilder(file.TimestampsMs.Length * 48);
        text.Append(Header).Append('\n');
        for (var i = 0; i < anomalyScores.Length; i++)
        {
            text.Append(NabCorpus.FormatTimestamp(file.TimestampsMs[i])).Append(',')
                .Append(file.Values[i].ToString("R", CultureInfo.InvariantCulture)).Append(',')
                .Append(anomalyScores[i].ToString("R", CultureInfo.InvariantCulture)).Append(',')
                .Append(labels[i].ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
        File.WriteAllText(path, text.ToString());
        return path;
    }
}
