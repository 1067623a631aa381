namespace Streaming.Processing.Scoring.Detection;

/// <summary>The streaming tree detector's shape: one forest per entity × metric over shingles of its window means.</summary>
public sealed record ForestOptions
{
    /// <summary>False turns the tree detector off (the other detectors still run).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Consecutive window means in one point (a shingle), so a shape that never happened stands out, not just a level.</summary>
    public int ShingleSize { get; init; } = 8;

    public int Trees { get; init; } = 30;

    /// <summary>Points each tree holds: the forest's memory of recent shingles.</summary>
    public int SampleSize { get; init; } = 256;

    /// <summary>Seed of the random cuts; each entity × metric derives its own from it, so a run is reproducible.</summary>
    public ulong Seed { get; init; } = 42;

    public ForestOptions Validated()
    {
        if (ShingleSize is < 1 or > 64)
            throw new ArgumentException($"Scoring:Detection:Forest:ShingleSize must be in [1, 64], was {ShingleSize}.");
        if (Trees is < 1 or > 500)
            throw new ArgumentException($"Scoring:Detection:Forest:Trees must be in [1, 500], was {Trees}.");
        if (SampleSize is < 16 or > 4096)
            throw new ArgumentException($"Scoring:Detection:Forest:SampleSize must be in [16, 4096], was {SampleSize}.");
        return this;
    }
}

/// <summary>
/// How raw detector scores become one anomaly probability per window: every detector's raw score stream per entity ×
/// metric goes through its own <see cref="AnomalyLikelihood"/>, and the window is anomalous when the probability that it
/// is not ordinary reaches <see cref="Threshold"/> — the same number for every metric and entity.
/// </summary>
public sealed record DetectionOptions
{
    /// <summary>
    /// Anomaly probability at or above which a window is anomalous (the alert threshold). Scores are published as surprise,
    /// −log10(1 − probability), so 0.9999 is the score threshold 4 and a critical alert (twice the threshold) is 0.99999999.
    /// </summary>
    public double Threshold { get; init; } = 0.9999;

    /// <summary>The threshold as surprise: −log10(1 − <see cref="Threshold"/>).</summary>
    public double SurpriseThreshold => -Math.Log10(1 - Threshold);

    public LikelihoodOptions Likelihood { get; init; } = new();

    public ForestOptions Forest { get; init; } = new();

    /// <summary>
    /// A window mean beyond every value the metric has shown, by at least this share of its range, is anomalous at once (at
    /// the threshold, higher the further out); 0 turns the range check off.
    /// </summary>
    public double RangeTolerance { get; init; } = 0.05;

    /// <summary>Whether the robust baseline's z-score feeds the probability (it always supplies the expected values).</summary>
    public bool UseBaseline { get; init; } = true;

    public DetectionOptions Validated()
    {
        if (!(Threshold is > 0.5 and < 1))
            throw new ArgumentException($"Scoring:Detection:Threshold must be an anomaly probability in (0.5, 1), was {Threshold}.");
        if (!(RangeTolerance >= 0))
            throw new ArgumentException($"Scoring:Detection:RangeTolerance must be zero or positive, was {RangeTolerance}.");
        Likelihood.Validated();
        Forest.Validated();
        return this;
    }

    /// <summary>Fixed state per entity × metric with these settings, in bytes.</summary>
    public long BytesPerMetric =>
        (Forest.Enabled ? RandomCutForest.BytesFor(Forest.ShingleSize, Forest.Trees, Forest.SampleSize) + AnomalyLikelihood.BytesFor(Likelihood) + Forest.ShingleSize * sizeof(double) : 0)
        + (UseBaseline ? AnomalyLikelihood.BytesFor(Likelihood) : 0);
}
