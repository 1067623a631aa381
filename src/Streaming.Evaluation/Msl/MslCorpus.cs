namespace Streaming.Evaluation.Msl;

/// <summary>One telemanom channel: its training and test matrices (column 0 the value, 1.. the commands) and its labels.</summary>
internal sealed record MslChannel(string Name, string Spacecraft, NpyMatrix Train, NpyMatrix Test, IReadOnlyList<RowSequence> Sequences)
{
    /// <summary>Per test row: 1 inside a labelled sequence, else 0.</summary>
    public bool[] RowLabels()
    {
        var labels = new bool[Test.Rows];
        foreach (var s in Sequences)
            labels.AsSpan(s.Start, s.Length).Fill(true);
        return labels;
    }
}

/// <summary>Which channels of a telemanom layout a run uses, and where its files are.</summary>
internal sealed record MslLayout(string DataDirectory, string LabelsFile, IReadOnlyList<string> Channels, int LabelRowsWithoutTestFile);

/// <summary>
/// The telemanom data layout shared by MSL and SMAP: <c>DIR/train/&lt;chan&gt;.npy</c>, <c>DIR/test/&lt;chan&gt;.npy</c>
/// and <c>labeled_anomalies.csv</c> inside DIR or one level up. Without a spacecraft filter every channel with a test file
/// is used (each must have a label row and a train file); with one, every label row of that spacecraft (each must have
/// both files). Errors are <see cref="InvalidDataException"/> or <see cref="IOException"/> with the path.
/// </summary>
internal static class MslCorpus
{
    public const string LabelsFileName = "labeled_anomalies.csv";

    /// <summary>The labels file: <paramref name="labels"/> when given, else the first of DIR/labeled_anomalies.csv and DIR/../labeled_anomalies.csv.</summary>
    public static string LocateLabels(string dataDirectory, string? labels)
    {
        if (labels is not null)
            return File.Exists(labels) ? Path.GetFullPath(labels) : throw new FileNotFoundException($"The labels file {labels} does not exist.", labels);
        var full = Path.GetFullPath(dataDirectory);
        string[] candidates = [Path.Combine(full, LabelsFileName), Path.Combine(Path.GetDirectoryName(full) ?? full, LabelsFileName)];
        return candidates.FirstOrDefault(File.Exists)
               ?? throw new FileNotFoundException($"No {LabelsFileName} in {candidates[0]} or {candidates[1]}: pass --labels FILE.");
    }

    /// <summary>The full path of <paramref name="dataDirectory"/>, after checking it holds train/ and test/.</summary>
    public static string CheckDirectories(string dataDirectory)
    {
        var full = Path.GetFullPath(dataDirectory);
        foreach (var directory in new[] { Path.Combine(full, "train"), Path.Combine(full, "test") })
        {
            if (!Directory.Exists(directory))
                throw new DirectoryNotFoundException($"{directory} does not exist: --data must be the directory holding train/ and test/ (telemanom layout).");
        }
        return full;
    }

    public static MslLayout Plan(string dataDirectory, string? labelsFile, string? spacecraft, IReadOnlyList<ChannelLabels> labels)
    {
        var full = CheckDirectories(dataDirectory);
        var testDirectory = Path.Combine(full, "test");
        var trainDirectory = Path.Combine(full, "train");
        var byChannel = labels.ToDictionary(l => l.Channel, StringComparer.Ordinal);
        var testChannels = Directory.EnumerateFiles(testDirectory, "*.npy").Select(Path.GetFileNameWithoutExtension).OfType<string>()
            .ToHashSet(StringComparer.Ordinal);
        string[] channels;
        if (spacecraft is null)
        {
            channels = [.. testChannels.Order(StringComparer.Ordinal)];
            var unlabelled = channels.Where(c => !byChannel.ContainsKey(c)).ToArray();
            if (unlabelled.Length > 0)
                throw new InvalidDataException($"{labelsFile}: no label row for the test file(s) {string.Join(", ", unlabelled)}.");
        }
        else
        {
            channels = [.. labels.Where(l => string.Equals(l.Spacecraft, spacecraft, StringComparison.OrdinalIgnoreCase)).Select(l => l.Channel).Order(StringComparer.Ordinal)];
            var missing = channels.Where(c => !testChannels.Contains(c)).ToArray();
            if (missing.Length > 0)
                throw new FileNotFoundException($"{testDirectory} lacks the test file(s) of {spacecraft} channel(s) {string.Join(", ", missing)}.");
        }
        if (channels.Length == 0)
            throw new InvalidDataException(spacecraft is null
                ? $"{testDirectory} holds no .npy test files."
                : $"{labelsFile} lists no channel of spacecraft '{spacecraft}' (it has {string.Join(", ", labels.Select(l => l.Spacecraft).Distinct(StringComparer.Ordinal))}).");
        var noTrain = channels.Where(c => !File.Exists(Path.Combine(trainDirectory, c + ".npy"))).ToArray();
        if (noTrain.Length > 0)
            throw new FileNotFoundException($"{trainDirectory} lacks the train file(s) of {string.Join(", ", noTrain)}.");
        var selected = channels.ToHashSet(StringComparer.Ordinal);
        return new MslLayout(full, labelsFile ?? "", channels, labels.Count(l => !selected.Contains(l.Channel)));
    }

    /// <summary>Loads one channel and checks its files agree with its label row.</summary>
    public static MslChannel Load(MslLayout layout, ChannelLabels labels)
    {
        var train = NpyReader.Read(Path.Combine(layout.DataDirectory, "train", labels.Channel + ".npy"));
        var testPath = Path.Combine(layout.DataDirectory, "test", labels.Channel + ".npy");
        var test = NpyReader.Read(testPath);
        if (test.Rows != labels.NumValues)
            throw new InvalidDataException($"{testPath} has {test.Rows} rows but {layout.LabelsFile} says num_values {labels.NumValues}.");
        if (train.Columns != test.Columns)
            throw new InvalidDataException($"{labels.Channel}: train has {train.Columns} columns, test {test.Columns}.");
        if (test.Columns < 1)
            throw new InvalidDataException($"{testPath} has no columns: column 0 must be the telemetry value.");
        foreach (var (matrix, kind) in new[] { (train, "train"), (test, "test") })
        {
            var bad = Array.FindIndex(matrix.Data, v => !double.IsFinite(v));
            if (bad >= 0)
                throw new InvalidDataException($"{labels.Channel} {kind}: row {bad / matrix.Columns}, column {bad % matrix.Columns} is {matrix.Data[bad]}, not a finite number.");
        }
        return new MslChannel(labels.Channel, labels.Spacecraft, train, test, labels.Sequences);
    }
}
