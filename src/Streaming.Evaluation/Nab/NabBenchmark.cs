namespace Streaming.Evaluation.Nab;

/// <summary>One file's outcome under one profile, at the corpus-optimised threshold.</summary>
internal sealed record NabFileResult(string File, NabFileScore Score, double? Normalized);

/// <summary>One detector under one profile: NAB's corpus score (the published number) and the per-file detail.</summary>
internal sealed record NabProfileResult(
    string Profile, double Threshold, double Score, double RawScore, double NullScore, double PerfectScore,
    int DetectedWindows, int Windows, int FalsePositiveRows, IReadOnlyList<NabFileResult> Files);

internal sealed record NabDetectorResult(string Detector, IReadOnlyList<NabProfileResult> Profiles, IReadOnlyList<string> ResultFiles, TimeSpan Elapsed);

/// <summary>
/// Runs detectors over a NAB corpus, writes NAB result files, optimises each profile's threshold over the whole corpus and
/// scores it. The reported score is NAB's: 100 (Σraw − Σnull) / (Σperfect − Σnull) over the corpus, where null is the
/// detector that never fires (−A_FN per window) and perfect fires at every window's start (A_TP per window); per-file
/// normalised scores are reported too, for files that have windows.
/// </summary>
internal static class NabBenchmark
{
    public static NabDetectorResult Run(
        INabDetector detector, IReadOnlyList<NabFile> files, IReadOnlyList<NabProfile> profiles, string? outputDirectory,
        IProgress<(int Done, int Total, string File)>? progress = null)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var scores = new double[files.Count][];
        var done = 0;
        Parallel.For(0, files.Count, i =>
        {
            var result = detector.Detect(files[i]);
            Validate(detector.Name, files[i], result);
            scores[i] = result;
            progress?.Report((Interlocked.Increment(ref done), files.Count, files[i].RelativePath));
        });
        var written = new List<string>();
        if (outputDirectory is not null)
        {
            for (var i = 0; i < files.Count; i++)
                written.Add(NabResultWriter.Write(outputDirectory, detector.Name, files[i], scores[i]));
        }
        var results = profiles.Select(p => Score(files, scores, p)).ToArray();
        return new NabDetectorResult(detector.Name, results, written, started.Elapsed);
    }

    /// <summary>Scores anomaly scores (one array per file) under a profile, with the threshold optimised over all files.</summary>
    public static NabProfileResult Score(IReadOnlyList<NabFile> files, IReadOnlyList<double[]> anomalyScores, NabProfile profile)
    {
        var rows = files.Select(f => NabScorer.SweepScores(f.TimestampsMs, f.Windows, profile.Costs)).ToArray();
        var (threshold, _) = NabScorer.OptimizeThreshold(rows.Select((r, i) => (r, anomalyScores[i])).ToArray(), profile.Costs);
        var fileResults = new List<NabFileResult>(files.Count);
        double raw = 0, nullScore = 0, perfect = 0;
        int detected = 0, windows = 0, falsePositives = 0;
        for (var i = 0; i < files.Count; i++)
        {
            var score = NabScorer.ScoreAt(rows[i], anomalyScores[i], files[i].Windows.Count, threshold, profile.Costs);
            fileResults.Add(new NabFileResult(files[i].RelativePath, score, score.Normalized(profile.Costs)));
            raw += score.Raw;
            nullScore += score.Null(profile.Costs);
            perfect += score.Perfect(profile.Costs);
            detected += score.DetectedWindows;
            windows += score.Windows;
            falsePositives += score.FalsePositiveRows;
        }
        if (!(perfect > nullScore))
            throw new InvalidOperationException("The NAB score is undefined for a corpus without labelled windows: add a file that has some.");
        return new NabProfileResult(profile.Name, threshold, NabScorer.Normalize(raw, nullScore, perfect), raw, nullScore, perfect,
            detected, windows, falsePositives, fileResults);
    }

    private static void Validate(string detector, NabFile file, double[] scores)
    {
        if (scores.Length != file.TimestampsMs.Length)
            throw new InvalidOperationException($"{detector} returned {scores.Length} scores for {file.TimestampsMs.Length} rows of {file.RelativePath}.");
        for (var i = 0; i < scores.Length; i++)
        {
            if (!(scores[i] is >= 0 and <= 1))
                throw new InvalidOperationException($"{detector} gave row {i} of {file.RelativePath} the anomaly score {scores[i]}, outside [0, 1].");
        }
    }
}
