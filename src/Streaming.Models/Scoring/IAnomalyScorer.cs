namespace Streaming.Models.Scoring;

/// <summary>Scores one entity's recent window of feature vectors. Instances hold scratch: one per thread.</summary>
internal interface IAnomalyScorer
{
    /// <summary>F, the number of features per time step.</summary>
    int InputSize { get; }

    /// <summary>T, the number of feature vectors in a scored window.</summary>
    int SequenceLength { get; }

    /// <summary>
    /// Scores <paramref name="sequence"/> (T·F values, row-major, oldest first, already normalised with the manifest's
    /// statistics) and writes each feature's share of the score (summing to 1) into <paramref name="perFeatureContribution"/>.
    /// </summary>
    float Score(ReadOnlySpan<float> sequence, Span<float> perFeatureContribution);
}

/// <summary>Predicts remaining time to downtime and the probability of downtime within each manifest horizon.</summary>
internal interface IDowntimePredictor
{
    int InputSize { get; }

    int SequenceLength { get; }

    /// <summary>The horizons of <see cref="Predict"/>'s probabilities, in the manifest's time unit.</summary>
    IReadOnlyList<double> Horizons { get; }

    /// <summary>Returns the estimated time to downtime; writes P(downtime within horizon k) into <paramref name="probabilityPerHorizon"/>.</summary>
    float Predict(ReadOnlySpan<float> sequence, Span<float> probabilityPerHorizon);
}
