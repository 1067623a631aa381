using Streaming.Models.Training;

namespace Streaming.Evaluation.Nab;

/// <summary>
/// The models layer's LSTM forecaster as a NAB detector, trained per file on the probationary period only (the rows NAB
/// does not score), then run causally: row i is judged by forecasting it from the <see cref="Context"/> rows before it.
/// The forecaster's score s is the squared forecast error over the residual variance it had on its validation rows (≈ 1
/// when typical); anomaly_score = s / (s + 1), monotone, so NAB's threshold sweep ranks rows exactly as s does. The first
/// <see cref="Context"/> rows, which have no full context, score 0.
/// </summary>
internal sealed class LstmNabDetector(int seed) : INabDetector
{
    public const int Context = 12;
    public const int HiddenSize = 8;

    public string Name => "streaming_lstm";

    public double[] Detect(NabFile file)
    {
        var rows = file.Values.Length;
        var scores = new double[rows];
        var probation = NabScorer.ProbationaryLength(rows);
        if (probation < 4 * Context)
            throw new InvalidDataException($"{file.RelativePath}: {probation} probationary rows are too few to train a forecaster with {Context} rows of context.");
        var values = file.Values.Select(v => (float)v).ToArray();
        var options = new TrainingOptions { Epochs = 10, BatchSize = 32, LearningRate = 1e-2, Patience = 3, Seed = seed };
        var trained = ModelTraining.TrainForecaster(values[..probation], [PipelineNabDetector.MetricName], HiddenSize, 1, Context, options);
        var normalized = new float[rows];
        trained.Artifact.Manifest.Normalize(values, normalized);
        var contribution = new float[1];
        for (var i = Context; i < rows; i++)
        {
            var s = trained.Model.Score(normalized.AsSpan(i - Context, Context + 1), contribution);
            if (!float.IsFinite(s))
                throw new InvalidOperationException($"{file.RelativePath}: the forecaster scored row {i} as {s}.");
            scores[i] = s / (s + 1.0);
        }
        return scores;
    }
}
