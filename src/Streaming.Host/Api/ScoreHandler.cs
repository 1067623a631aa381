using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Streaming.Host.Api;

/// <summary>
/// <c>POST /api/v1/score</c>: <c>{"entity":"web-1","history":[{"cpu_usage":41.2,...},...],"window":{"cpu_usage":97.5,...}}</c>,
/// each object a window's metrics, history oldest first; a metric is its mean, or an object of window statistics
/// (<c>{"mean":97.5,"std":3.1,"slope":0.02}</c>; mean required). Answers the active model's name and version, score,
/// threshold, verdict, top contributors and the members that scored.
/// </summary>
internal sealed class ScoreHandler(IWindowScorer scorer, int maxBytes)
{
    public async Task HandleAsync(HttpContext context)
    {
        var body = await HttpServer.ReadBodyAsync(context, maxBytes).ConfigureAwait(false);
        if (body is null)
        {
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            await HttpServer.WriteErrorAsync(context, $"the request body exceeds {maxBytes} bytes (Http:MaxRequestBytes)").ConfigureAwait(false);
            return;
        }
        if (!TryRead(body, out var request, out var error))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await HttpServer.WriteErrorAsync(context, error).ConfigureAwait(false);
            return;
        }
        if (!scorer.IsLoaded)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            await HttpServer.WriteErrorAsync(context, $"model {scorer.Model} {scorer.Version} is not loaded yet; retry when /health/ready is 200").ConfigureAwait(false);
            return;
        }
        if (request!.History.Count < scorer.MinHistory)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await HttpServer.WriteErrorAsync(context, $"'history' holds {request.History.Count} windows; {scorer.Model} needs at least {scorer.MinHistory} (Baseline:MinHistory)").ConfigureAwait(false);
            return;
        }
        var result = scorer.Score(request);
        await HttpServer.WriteJsonAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteString("entity", request.Entity);
            w.WriteString("model", result.Model);
            w.WriteString("model_version", result.ModelVersion);
            w.WriteNumber("score", result.Score);
            w.WriteNumber("threshold", result.Threshold);
            w.WriteBoolean("is_anomaly", result.IsAnomaly);
            w.WriteStartArray("contributors");
            foreach (var c in result.Contributors)
            {
                w.WriteStartObject();
                w.WriteString("metric", c.Metric);
                w.WriteNumber("share", c.Share);
                w.WriteNumber("expected", c.Expected);
                w.WriteNumber("actual", c.Actual);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("members");
            foreach (var m in result.Members)
            {
                w.WriteStartObject();
                w.WriteString("model", m.Model);
                w.WriteString("version", m.Version);
                w.WriteNumber("score", m.Score);
                w.WriteNumber("threshold", m.Threshold);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }).ConfigureAwait(false);
    }

    internal static bool TryRead(byte[] body, out WindowScoreRequest? request, out string error)
    {
        request = null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException ex)
        {
            error = $"the body is not valid JSON at byte {ex.BytePositionInLine}: {ex.Message.Split(". ")[0]}";
            return false;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return Fail(out error, $"expected a JSON object, found {root.ValueKind}");
            if (!root.TryGetProperty("entity", out var entity) || entity.ValueKind != JsonValueKind.String || entity.GetString()!.Length == 0)
                return Fail(out error, "'entity' must be a non-empty string");
            if (!root.TryGetProperty("window", out var window))
                return Fail(out error, "'window' is missing: send the window's metric means, e.g. {\"cpu_usage\":97.5}");
            if (!TryReadMeans(window, "window", out var windowMeans, out error))
                return false;
            if (!root.TryGetProperty("history", out var history) || history.ValueKind != JsonValueKind.Array)
                return Fail(out error, "'history' must be an array of past windows' metric means, oldest first");
            var past = new List<IReadOnlyDictionary<string, WindowStatistics>>(history.GetArrayLength());
            var i = 0;
            foreach (var element in history.EnumerateArray())
            {
                if (!TryReadMeans(element, $"history[{i++}]", out var means, out error))
                    return false;
                past.Add(means!);
            }
            request = new WindowScoreRequest(entity.GetString()!, past, windowMeans!);
            error = "";
            return true;
        }
    }

    private static bool TryReadMeans(JsonElement element, string path, out Dictionary<string, WindowStatistics>? means, out string error)
    {
        means = null;
        if (element.ValueKind != JsonValueKind.Object)
            return Fail(out error, $"'{path}' must be an object of metric means, found {element.ValueKind}");
        var result = new Dictionary<string, WindowStatistics>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
        {
            WindowStatistics statistics;
            if (property.Value.ValueKind == JsonValueKind.Object)
            {
                var values = new Dictionary<string, double>(StringComparer.Ordinal);
                foreach (var statistic in property.Value.EnumerateObject())
                {
                    if (!WindowStatistics.Names.Contains(statistic.Name, StringComparer.Ordinal))
                        return Fail(out error, $"'{path}.{property.Name}.{statistic.Name}' is not a window statistic; use {string.Join(", ", WindowStatistics.Names)}");
                    if (statistic.Value.ValueKind != JsonValueKind.Number || !statistic.Value.TryGetDouble(out var v) || !double.IsFinite(v))
                        return Fail(out error, $"'{path}.{property.Name}.{statistic.Name}' must be a finite number, found {statistic.Value.ValueKind}");
                    values[statistic.Name] = v;
                }
                if (!values.TryGetValue("mean", out var mean))
                    return Fail(out error, $"'{path}.{property.Name}' needs a 'mean'");
                statistics = new WindowStatistics(mean, values.GetValueOrDefault("std", double.NaN), values.GetValueOrDefault("slope", double.NaN),
                    values.GetValueOrDefault("min", double.NaN), values.GetValueOrDefault("max", double.NaN));
            }
            else if (property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetDouble(out var value) && double.IsFinite(value))
                statistics = new WindowStatistics(value);
            else
                return Fail(out error, $"'{path}.{property.Name}' must be a finite number, found {property.Value.ValueKind}");
            if (!result.TryAdd(property.Name, statistics))
                return Fail(out error, $"'{path}.{property.Name}' appears twice");
        }
        if (result.Count == 0)
            return Fail(out error, $"'{path}' holds no metrics");
        means = result;
        error = "";
        return true;
    }

    private static bool Fail(out string error, string message)
    {
        error = message;
        return false;
    }
}
