namespace Streaming.Processing.Scoring.Detection;

/// <summary>The streaming tree detector's shape: one forest per entity × metric over shingles of its window means.</summary>
public sealed record ForestOptions
{
    /// <summary>
    /// Off by default: with these settings a forest holds up to ~3.8 MB per entity × metric and costs ~35× the CPU of the
    /// other detectors, and since its score was calibrated (version 4) it adds nothing measurable on the simulated fleet
    /// or on NAB (docs/accuracy.md).
    /// </summary>
    public bool Enabled { get; init; }

    /// <summary>Consecutive window means in one point (a shingle), so a shape that never happened stands out, not just a level.</summary>
    public int ShingleSize { get; init; } = 4;

    public int Trees { get; init; } = 30;

    /// <summary>Points each tree holds: the last this many shingles. A cycle longer than this looks new at every turn.</summary>
    public int SampleSize { get; init; } = 1024;

    /// <summary>Seed of the random cuts; each entity × metric derives its own from it, so a run is reproducible.</summary>
    public ulong Seed { get; init; } = 42;

    public ForestOptions Validated()
    {
        if (ShingleSize is < 1 or > 64)
            throw new ArgumentException($"Detection:Forest:ShingleSize must be in [1, 64], was {ShingleSize}.");
        if (Trees is < 1 or > 500)
            throw new ArgumentException($"Detection:Forest:Trees must be in [1, 500], was {Trees}.");
        if (SampleSize is < 16 or > 4096)
            throw new ArgumentException($"Detection:Forest:SampleSize must be in [16, 4096], was {SampleSize}.");
        return this;
    }
}

/// <summary>How the robust baseline's z-score becomes a tail probability.</summary>
public enum BaselineCalibration
{
    /// <summary>Against the baseline's fixed threshold: z at the threshold is the alert tail (telemetry windows that average several samples).</summary>
    Fixed,

    /// <summary>Fixed, and once learned also against the stream's own z distribution (raw series with cycles, where large z is routine).</summary>
    Likelihood,
}

/// <summary>How an entity's metric tails become the window's.</summary>
public enum MetricCombination
{
    /// <summary>The most unusual metric's tail: as sensitive as one metric alone.</summary>
    Strongest,

    /// <summary>Šidák: the chance that any of the k metrics looks this unusual, so more metrics do not mean more alarms.</summary>
    Sidak,
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
    /// −log10(1 − probability), so 0.99999 is the score threshold 5 and a critical alert (twice the threshold) is 1 − 1e−10.
    /// </summary>
    public double Threshold { get; init; } = 0.99999;

    /// <summary>The threshold as surprise: −log10(1 − <see cref="Threshold"/>).</summary>
    public double SurpriseThreshold => -Math.Log10(1 - Threshold);

    public LikelihoodOptions Likelihood { get; init; } = new();

    public ForestOptions Forest { get; init; } = new();

    public SeasonalOptions Seasonal { get; init; } = new();

    /// <summary>
    /// A window mean beyond every value the metric has shown, by at least this share of its range, is anomalous at once (at
    /// the threshold, higher the further out); 0 turns the range check off.
    /// </summary>
    public double RangeTolerance { get; init; } = 0.05;

    /// <summary>
    /// Windows the range must hold (no new extreme by <see cref="RangeTolerance"/> or more) before the range check speaks:
    /// telemetry with a daily cycle keeps setting new extremes in its first day (on the simulator, without this wait, the
    /// range check multiplied false alarms by 27). 1,440 is a day of one-minute windows.
    /// </summary>
    public int RangeSettledWindows { get; init; } = 1440;

    /// <summary>
    /// Consecutive windows whose z (signed by the side of the expectation) are also judged together, Stouffer's sum / √k:
    /// a slide or a dip that keeps every window just under the threshold is then found. 1 judges each window alone.
    /// </summary>
    public int SustainedWindows { get; init; } = 2;

    /// <summary>Whether the robust baseline's z-score feeds the probability (it always supplies the expected values).</summary>
    public bool UseBaseline { get; init; } = true;

    public BaselineCalibration Baseline { get; init; } = BaselineCalibration.Fixed;

    public MetricCombination Metrics { get; init; } = MetricCombination.Strongest;

    public DetectionOptions Validated()
    {
        if (!(Threshold is > 0.5 and < 1))
            throw new ArgumentException($"Detection:Threshold must be an anomaly probability in (0.5, 1), was {Threshold}.");
        if (!(RangeTolerance >= 0))
            throw new ArgumentException($"Detection:RangeTolerance must be zero or positive, was {RangeTolerance}.");
        if (SustainedWindows is < 1 or > 1000)
            throw new ArgumentException($"Detection:SustainedWindows must be in [1, 1000], was {SustainedWindows}.");
        if (RangeSettledWindows is < 0 or > 1_000_000)
            throw new ArgumentException($"Detection:RangeSettledWindows must be in [0, 1000000], was {RangeSettledWindows}.");
        Likelihood.Validated();
        Forest.Validated();
        Seasonal.Validated();
        return this;
    }

    /// <summary>Fixed state per entity × metric with these settings and the level baseline's history length, in bytes.</summary>
    public long BytesPerMetric(int baselineWindows) =>
        (baselineWindows + SustainedWindows) * sizeof(double)
        + (Forest.Enabled ? RandomCutForest.BytesFor(Forest.ShingleSize, Forest.Trees, Forest.SampleSize) + AnomalyLikelihood.BytesFor(Likelihood) + Forest.ShingleSize * sizeof(double) : 0)
        + (UseBaseline ? AnomalyLikelihood.BytesFor(Likelihood) : 0)
        + (Seasonal.Enabled ? SeasonalModel.BytesFor(Seasonal) + (UseBaseline ? AnomalyLikelihood.BytesFor(Likelihood) : 0) : 0);
}
