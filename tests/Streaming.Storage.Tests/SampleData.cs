using System.Globalization;
using Streaming.Storage;

namespace Streaming.Storage.Tests;

/// <summary>A representative hour of telemetry for three presses, ending at <c>end</c>.</summary>
internal static class SampleData
{
    public static readonly string[] Entities = ["press-01", "press-02", "press-03"];
    public static readonly string[] Metrics = ["temperature", "vibration", "pressure"];
    public const string Model = "isolation-forest";
    public const string ModelVersion = "1.2.0";

    /// <param name="samplesPerMetric">Samples per entity and metric, 10 s apart.</param>
    public static SinkBatch Build(DateTimeOffset end, int samplesPerMetric = 360)
    {
        var batch = new SinkBatch();
        var start = end.AddSeconds(-10 * samplesPerMetric);
        for (var e = 0; e < Entities.Length; e++)
        {
            var entity = Entities[e];
            for (var m = 0; m < Metrics.Length; m++)
            {
                for (var i = 0; i < samplesPerMetric; i++)
                {
                    var value = (50 * (m + 1)) + (10 * Math.Sin(i / 20.0)) + e;
                    batch.Metrics.Add(new MetricRow(start.AddSeconds(10 * i), entity, Metrics[m], value));
                }

                for (var w = 0; w < samplesPerMetric / 6; w++)
                {
                    var windowStart = start.AddMinutes(w);
                    var mean = (50 * (m + 1)) + e;
                    batch.Features.Add(new FeatureRow(
                        windowStart, windowStart.AddMinutes(1), entity, Metrics[m], 6, mean, 3.5, mean - 6, mean + 6, mean - 1, mean + 1,
                        0.01, mean, mean, mean + 5, w % 2 == 0 ? 0.02 : null, 0));
                }
            }

            for (var i = 0; i < samplesPerMetric; i += 6)
            {
                var score = (0.2 + (0.1 * e)) + (i > samplesPerMetric - 30 && e == 2 ? 0.6 : 0);
                batch.Scores.Add(new ScoreRow(start.AddSeconds(10 * i), entity, Model, ModelVersion, score, 0.7, score > 0.7));
                batch.Predictions.Add(new PredictionRow(
                    start.AddSeconds(10 * i), entity, Model, ModelVersion, e == 2 ? 900 - i : null, 0.05 * e, 0.1 * e, 0.2 * e,
                    e == 2 ? "vibration" : null, "{\"entity\":\"" + entity + "\"}"));
            }
        }

        var alertId = Guid.Parse("8a6f1f8e-7d0c-4f4e-9a51-2f3b9d1c0a01");
        var resolvedId = Guid.Parse("8a6f1f8e-7d0c-4f4e-9a51-2f3b9d1c0a02");
        batch.Alerts.Add(Alert(resolvedId, end.AddMinutes(-50), "press-01", "open", "vibration"));
        batch.Alerts.Add(Alert(resolvedId, end.AddMinutes(-40), "press-01", "resolved", "vibration"));
        batch.Alerts.Add(Alert(alertId, end.AddMinutes(-4), "press-03", "open", "vibration"));
        batch.Alerts.Add(Alert(alertId, end.AddMinutes(-2), "press-03", "update", "temperature"));

        for (var i = 0; i < 12; i++)
        {
            batch.DeadLetters.Add(new DeadLetterRow(
                end.AddMinutes(-5 * i), "telemetry.raw", i % 3, 1000 + i, i % 4 == 0 ? "schema" : "deserialization",
                "bad field at " + i.ToString(CultureInfo.InvariantCulture), [1, 2, 3, (byte)i]));
        }

        return batch;
    }

    private static AlertRow Alert(Guid id, DateTimeOffset time, string entity, string status, string topMetric) =>
        new(id, time, entity, "anomaly", status, "high", 0.92, 0.7, Model, ModelVersion, topMetric,
            $$$"""{"alertId":"{{{id}}}","entity":"{{{entity}}}","status":"{{{status}}}","contributions":{"{{{topMetric}}}":0.61,"pressure":0.22}}""");
}
