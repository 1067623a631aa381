using System.Text.Json;
using System.Text.Json.Serialization;

namespace Streaming.Simulation;

/// <summary>
/// The simulator's labels as JSON lines, one incident per line, written next to the data it labels:
/// {"entity":"host-001","kind":"memory_leak","metric":"memory_usage","start":"…","end":"…","downtime_start":"…"|null,"downtime_end":"…"|null}.
/// </summary>
public static class FailureLabelFile
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static void Write(TextWriter writer, IEnumerable<FailureLabel> labels)
    {
        foreach (var label in labels)
            writer.Write(JsonSerializer.Serialize(label, Json) + "\n");
    }

    public static void Write(string path, IEnumerable<FailureLabel> labels)
    {
        using var writer = new StreamWriter(path);
        Write(writer, labels);
    }

    public static List<FailureLabel> Read(TextReader reader)
    {
        var labels = new List<FailureLabel>();
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0)
                continue;
            labels.Add(JsonSerializer.Deserialize<FailureLabel>(line, Json)
                ?? throw new InvalidDataException($"Label line {lineNumber} is null."));
        }
        return labels;
    }

    public static List<FailureLabel> Read(string path)
    {
        using var reader = new StreamReader(path);
        return Read(reader);
    }
}
