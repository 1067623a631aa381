namespace Streaming.Models.Drift;

/// <summary>
/// What a <see cref="DriftReference"/> keeps of its training sample, small enough for the model manifest:
/// PSI bin edges with their expected proportions, and the 0th..100th percentiles for the KS statistic.
/// </summary>
internal sealed record DriftReferenceSnapshot(double[] Edges, double[] Expected, double[] Percentiles);

/// <summary>Drift references for every input feature and for the anomaly score, as stored in the manifest.</summary>
internal sealed record DriftBaseline(IReadOnlyList<DriftReferenceSnapshot> Features, DriftReferenceSnapshot Score);

/// <summary>
/// Reference distribution of one variable (an input feature or the anomaly score) from training data, against which
/// live samples are compared by the population stability index and the Kolmogorov-Smirnov statistic.
/// </summary>
internal sealed class DriftReference
{
    // Empty bins would make PSI infinite; this floor is the customary fix.
    private const double ProportionFloor = 1e-4;

    private readonly double[] edges;
    private readonly double[] expected;
    private readonly double[] percentiles;

    public DriftReference(ReadOnlySpan<double> reference, int bins = 10)
    {
        if (reference.Length < bins)
        {
            throw new ArgumentException($"Need at least {bins} reference values.", nameof(reference));
        }

        var sorted = reference.ToArray();
        Array.Sort(sorted);

        // Interior edges at reference quantiles give (nearly) equally populated bins; duplicates collapse for discrete data.
        edges = [.. Enumerable.Range(1, bins - 1).Select(i => sorted[i * sorted.Length / bins]).Distinct()];
        expected = Proportions(sorted);
        percentiles = [.. Enumerable.Range(0, 101).Select(p => Thresholds.Percentile.OfSorted(sorted, p))];
    }

    public DriftReference(DriftReferenceSnapshot snapshot)
    {
        if (snapshot.Expected.Length != snapshot.Edges.Length + 1 || snapshot.Percentiles.Length != 101)
        {
            throw new ArgumentException("A drift snapshot needs one more expected proportion than edges, and 101 percentiles.", nameof(snapshot));
        }

        edges = snapshot.Edges;
        expected = snapshot.Expected;
        percentiles = snapshot.Percentiles;
    }

    public int Bins => edges.Length + 1;

    public DriftReferenceSnapshot ToSnapshot() => new([.. edges], [.. expected], [.. percentiles]);

    /// <summary>PSI = Σ (a - e)·ln(a / e) over bins; &lt; 0.1 is usually read as stable, &gt; 0.25 as a significant shift.</summary>
    public double PopulationStabilityIndex(ReadOnlySpan<double> actual)
    {
        var observed = Proportions(actual);
        var psi = 0.0;
        for (var b = 0; b < observed.Length; b++)
        {
            psi += (observed[b] - expected[b]) * Math.Log(observed[b] / expected[b]);
        }

        return psi;
    }

    /// <summary>
    /// KS statistic of the sample against the reference CDF, the latter interpolated linearly between the reference's
    /// percentiles (so it is exact to about one percentile step, and needs no stored training sample).
    /// </summary>
    public double KolmogorovSmirnov(ReadOnlySpan<double> actual)
    {
        var sample = actual.ToArray();
        Array.Sort(sample);
        var d = 0.0;
        for (var j = 0; j < sample.Length; j++)
        {
            var f = ReferenceCdf(sample[j]);
            d = Math.Max(d, Math.Max(((j + 1.0) / sample.Length) - f, f - ((double)j / sample.Length)));
        }

        return d;
    }

    private double ReferenceCdf(double x)
    {
        if (x < percentiles[0])
        {
            return 0;
        }

        if (x >= percentiles[100])
        {
            return 1;
        }

        var index = Array.BinarySearch(percentiles, x);
        var i = index >= 0 ? index : ~index - 1;

        // Skip ties so the step lands on the last percentile equal to x.
        while (i < 99 && percentiles[i + 1] <= x)
        {
            i++;
        }

        var width = percentiles[i + 1] - percentiles[i];
        var fraction = width > 0 ? (x - percentiles[i]) / width : 1;
        return (i + fraction) / 100;
    }

    private double[] Proportions(ReadOnlySpan<double> values)
    {
        var counts = new double[edges.Length + 1];
        foreach (var v in values)
        {
            var index = Array.BinarySearch(edges, v);

            // Values equal to an edge go to the bin above it, so bins are [edge_k, edge_k+1).
            var bin = index >= 0 ? index + 1 : ~index;
            counts[bin]++;
        }

        for (var b = 0; b < counts.Length; b++)
        {
            counts[b] = Math.Max(counts[b] / values.Length, ProportionFloor);
        }

        return counts;
    }
}

/// <summary>Drift of every input feature and of the score distribution against the training reference.</summary>
internal sealed class DriftMonitor
{
    private readonly DriftReference[] features;
    private readonly DriftReference score;

    /// <param name="referenceFeatures">Training features, [N, F] row-major.</param>
    /// <param name="featureCount">F.</param>
    /// <param name="referenceScores">Anomaly scores on the validation split.</param>
    /// <param name="bins">PSI bins per variable.</param>
    public DriftMonitor(ReadOnlySpan<float> referenceFeatures, int featureCount, ReadOnlySpan<double> referenceScores, int bins = 10)
    {
        features = new DriftReference[featureCount];
        for (var f = 0; f < featureCount; f++)
        {
            features[f] = new DriftReference(Column(referenceFeatures, featureCount, f), bins);
        }

        score = new DriftReference(referenceScores, bins);
    }

    public DriftMonitor(DriftBaseline baseline)
    {
        features = [.. baseline.Features.Select(s => new DriftReference(s))];
        score = new DriftReference(baseline.Score);
    }

    public DriftBaseline ToBaseline() => new([.. features.Select(f => f.ToSnapshot())], score.ToSnapshot());

    public DriftReport Evaluate(ReadOnlySpan<float> liveFeatures, ReadOnlySpan<double> liveScores)
    {
        var psi = new double[features.Length];
        var ks = new double[features.Length];
        for (var f = 0; f < features.Length; f++)
        {
            var column = Column(liveFeatures, features.Length, f);
            psi[f] = features[f].PopulationStabilityIndex(column);
            ks[f] = features[f].KolmogorovSmirnov(column);
        }

        return new DriftReport(psi, ks, score.PopulationStabilityIndex(liveScores), score.KolmogorovSmirnov(liveScores));
    }

    private static double[] Column(ReadOnlySpan<float> matrix, int columns, int column)
    {
        var values = new double[matrix.Length / columns];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = matrix[(i * columns) + column];
        }

        return values;
    }
}

internal sealed record DriftReport(double[] FeaturePsi, double[] FeatureKs, double ScorePsi, double ScoreKs);
