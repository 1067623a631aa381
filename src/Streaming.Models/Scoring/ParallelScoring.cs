namespace Streaming.Models.Scoring;

/// <summary>
/// Optional parallelism across entities: contiguous chunks of windows go to one scorer instance each (scorers hold
/// scratch and are not thread-safe). Each window's result depends only on its own data, so output is identical to
/// sequential scoring whatever the degree of parallelism.
/// </summary>
internal sealed class ParallelScoring
{
    private readonly IAnomalyScorer[] scorers;

    /// <param name="scorers">One independent scorer per worker, all for the same model.</param>
    public ParallelScoring(IReadOnlyList<IAnomalyScorer> scorers)
    {
        if (scorers.Count == 0)
        {
            throw new ArgumentException("At least one scorer is required.", nameof(scorers));
        }

        if (scorers.Any(s => s.InputSize != scorers[0].InputSize || s.SequenceLength != scorers[0].SequenceLength))
        {
            throw new ArgumentException("All scorers must share the input size and sequence length.", nameof(scorers));
        }

        this.scorers = [.. scorers];
    }

    public int DegreeOfParallelism => scorers.Length;

    /// <summary>Scores windows [count, T, F] into scores [count] and contributions [count, F].</summary>
    public void Score(float[] windows, float[] scores, float[] contributions)
    {
        var f = scorers[0].InputSize;
        var window = scorers[0].SequenceLength * f;
        var count = scores.Length;
        if (windows.Length != count * window || contributions.Length != count * f)
        {
            throw new ArgumentException($"Expected {count} windows of {window} values and {count}x{f} contribution slots.");
        }

        var chunk = (count + scorers.Length - 1) / scorers.Length;
        Parallel.For(0, scorers.Length, new ParallelOptions { MaxDegreeOfParallelism = scorers.Length }, worker =>
        {
            var scorer = scorers[worker];
            var end = Math.Min(count, (worker + 1) * chunk);
            for (var i = worker * chunk; i < end; i++)
            {
                scores[i] = scorer.Score(windows.AsSpan(i * window, window), contributions.AsSpan(i * f, f));
            }
        });
    }
}
