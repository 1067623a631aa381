namespace Streaming.Evaluation.Rul;

/// <summary>One bin of a reliability table: predictions with probability in [Low, High), their mean and the observed rate.</summary>
internal sealed record ReliabilityBin(double Low, double High, int Count, double MeanPredicted, double ObservedRate);

/// <summary>
/// How well one horizon's probabilities are calibrated: the Brier score (mean squared error of the probability against
/// the 0/1 outcome), the same for a predictor that always says the training base rate, and a reliability table.
/// </summary>
internal sealed record HorizonCalibration(double Horizon, int Predictions, double Brier, double BaseRate, double BaseRateBrier, IReadOnlyList<ReliabilityBin> Reliability)
{
    /// <summary>1 − Brier / base-rate Brier: above 0 is better than predicting the base rate.</summary>
    public double BrierSkill => BaseRateBrier == 0 ? 0 : 1 - (Brier / BaseRateBrier);

    public static HorizonCalibration Of(double horizon, IReadOnlyList<double> probabilities, IReadOnlyList<bool> outcomes, double baseRate, int bins = 10)
    {
        if (probabilities.Count != outcomes.Count || probabilities.Count == 0)
            throw new ArgumentException($"Need equally many (and some) probabilities and outcomes; got {probabilities.Count} and {outcomes.Count}.");
        double brier = 0, baseBrier = 0;
        var count = new int[bins];
        var predicted = new double[bins];
        var observed = new double[bins];
        for (var i = 0; i < probabilities.Count; i++)
        {
            var p = probabilities[i];
            var y = outcomes[i] ? 1.0 : 0.0;
            brier += (p - y) * (p - y);
            baseBrier += (baseRate - y) * (baseRate - y);
            var bin = Math.Clamp((int)(p * bins), 0, bins - 1);
            count[bin]++;
            predicted[bin] += p;
            observed[bin] += y;
        }

        var table = Enumerable.Range(0, bins).Where(b => count[b] > 0)
            .Select(b => new ReliabilityBin((double)b / bins, (double)(b + 1) / bins, count[b], predicted[b] / count[b], observed[b] / count[b]))
            .ToArray();
        return new HorizonCalibration(horizon, probabilities.Count, brier / probabilities.Count, baseRate, baseBrier / probabilities.Count, table);
    }
}
