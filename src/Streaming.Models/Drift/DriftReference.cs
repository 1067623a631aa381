namespace Streaming.Models.Drift;

/// <summary>
/// Reference distribution of one variable (an input feature or the anomaly score) from training data, against which
/// live samples are compared by the population stability index and the two-sample Kolmogorov-Smirnov statistic.
/// </summary>
internal sealed class DriftReference
{
    // Empty bins would make PSI infinite; this floor is the customary fix.
    private const double ProportionFloor = 1e-4;

    private readonly double[] sorted;
    private readonly double[] edges;
    private readonly double[] expected;

    public DriftReference(ReadOnlySpan<double> reference, int bins = 10)
    {
        if (reference.Length < bins)
        {
            throw new ArgumentException($"Need at least {bins} reference values.", nameof(reference));
        }

        sorted = reference.ToArray();
        Array.Sort(sorted);

        // Interior edges at reference quantiles give (nearly) equally populated bins; duplicates collapse for discrete data.
        edges = [.. Enumerable.Range(1, bins - 1).Select(i => sorted[i * sorted.Length / bins]).Distinct()];
        expected = Proportions(sorted);
    }

    public int Bins => edges.Length + 1;

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

    /// <summary>Two-sample KS statistic: the largest gap between the reference and the sample's empirical CDFs.</summary>
    public double KolmogorovSmirnov(ReadOnlySpan<double> actual)
    {
        var sample = actual.ToArray();
        Array.Sort(sample);
        int i = 0, j = 0;
        var d = 0.0;
        while (i < sorted.Length && j < sample.Length)
        {
            var x = Math.Min(sorted[i], sample[j]);
            while (i < sorted.Length && sorted[i] <= x)
            {
                i++;
            }

            while (j < sample.Length && sample[j] <= x)
            {
                j++;
            }

            d = Math.Max(d, Math.Abs(((double)i / sorted.Length) - ((double)j / sample.Length)));
        }

        return d;
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
    /// <param name="referenceScores">Anomaly scores on the validation split.</param>
    public DriftMonitor(ReadOnlySpan<float> referenceFeatures, int featureCount, ReadOnlySpan<double> referenceScores, int bins = 10)
    {
        features = new DriftReference[featureCount];
        for (var f = 0; f < featureCount; f++)
        {
            features[f] = new DriftReference(Column(referenceFeatures, featureCount, f), bins);
        }

        score = new DriftReference(referenceScores, bins);
    }

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
