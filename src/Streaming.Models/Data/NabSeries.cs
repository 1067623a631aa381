using System.Globalization;

namespace Streaming.Models.Data;

/// <summary>A NAB series (CSV "timestamp,value").</summary>
internal sealed record NabSeries(DateTimeOffset[] Timestamps, float[] Values)
{
    public static NabSeries Read(string path)
    {
        var timestamps = new List<DateTimeOffset>();
        var values = new List<float>();
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var comma = line.IndexOf(',', StringComparison.Ordinal);
            if (comma < 0)
            {
                throw new InvalidDataException($"Malformed NAB line '{line}'.");
            }

            timestamps.Add(DateTimeOffset.Parse(line[..comma], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal));
            values.Add(float.Parse(line[(comma + 1)..], CultureInfo.InvariantCulture));
        }

        return new NabSeries([.. timestamps], [.. values]);
    }
}
