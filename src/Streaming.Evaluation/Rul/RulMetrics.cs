namespace Streaming.Evaluation.Rul;

/// <summary>Remaining-useful-life errors: RMSE, MAE and NASA's asymmetric PHM08 score (late predictions cost more).</summary>
internal sealed record RulMetrics(double Rmse, double Mae, double NasaScore, int Engines)
{
    public static RulMetrics Of(IReadOnlyList<double> predicted, IReadOnlyList<double> actual)
    {
        if (predicted.Count != actual.Count || predicted.Count == 0)
            throw new ArgumentException($"Need equally many (and some) predictions and true RULs; got {predicted.Count} and {actual.Count}.");
        double squared = 0, absolute = 0, score = 0;
        for (var i = 0; i < predicted.Count; i++)
        {
            var d = predicted[i] - actual[i];
            squared += d * d;
            absolute += Math.Abs(d);
            score += NasaTerm(d);
        }
        return new RulMetrics(Math.Sqrt(squared / predicted.Count), absolute / predicted.Count, score, predicted.Count);
    }

    /// <summary>exp(−d/13) − 1 for early predictions (d &lt; 0), exp(d/10) − 1 for late ones, d = predicted − true RUL.</summary>
    public static double NasaTerm(double d) => d < 0 ? Math.Exp(-d / 13) - 1 : Math.Exp(d / 10) - 1;
}
