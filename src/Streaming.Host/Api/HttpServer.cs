using System.Buffers;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Host.Configuration;
using Streaming.Host.Operations;
using Streaming.Host.Pipeline;
using Streaming.Kafka;

namespace Streaming.Host.Api;

/// <summary>What the HTTP server serves; the API parts are null in processes without the api role.</summary>
internal sealed record HttpServices(Readiness Readiness, PipelineCounters Counters, KafkaCluster? Kafka, IWindowScorer? Scorer);

/// <summary>
/// Kestrel serving <c>/metrics</c>, <c>/health/live</c>, <c>/health/ready</c> and, with the api role,
/// <c>POST /api/v1/metrics</c> and <c>POST /api/v1/score</c>. Binds to loopback unless <c>Http:Expose</c> is set; the API
/// requires a configured key whenever keys exist (always when exposed); metrics and health stay open for scrapers and probes.
/// </summary>
internal sealed partial class HttpServer : IAsyncDisposable
{
    internal const string PrometheusTextContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly WebApplication _app;
    private readonly IProducer<string, byte[]>? _producer;

    private HttpServer(WebApplication app, IProducer<string, byte[]>? producer, Uri address)
    {
        _app = app;
        _producer = producer;
        Address = address;
    }

    /// <summary>The bound address, with the real port when <c>Http:Port</c> is 0.</summary>
    public Uri Address { get; }

    public static async Task<HttpServer> StartAsync(StreamingSettings settings, HttpServices services, TimeProvider clock, ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        var http = settings.Http;
        if (services.Kafka is not null || services.Scorer is not null)
            http.ValidateForApi();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggers);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = http.MaxRequestBytes;
            kestrel.Listen(IPAddress.Parse(http.Address), http.Port);
        });
        var app = builder.Build();
        var logger = loggers.CreateLogger<HttpServer>();
        var keys = new ApiKeySet(http.ApiKeys);

        app.Use(async (context, next) =>
        {
            var path = context.Request.Path;
            if (path.StartsWithSegments("/api", StringComparison.Ordinal) && keys.Required && !keys.Accepts(context.Request))
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await WriteErrorAsync(context, "missing or unknown API key: send 'Authorization: Bearer KEY' or 'X-Api-Key: KEY' with a key from Http:ApiKeys").ConfigureAwait(false);
            }
            else
            {
                await next(context).ConfigureAwait(false);
            }
            services.Counters.AddHttpRequest(RouteLabel(path), context.Response.StatusCode);
        });

        // prometheus-net renders the pipeline's own registry in the text format Prometheus scrapes (version 0.0.4).
        app.MapGet("/metrics", async context =>
        {
            context.Response.ContentType = PrometheusTextContentType;
            await services.Counters.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        });
        app.MapGet("/health/live", context => WriteJsonAsync(context, 200, w => w.WriteString("status", "live")));
        app.MapGet("/health/ready", async context =>
        {
            // Degraded (a storage policy job failing) is still ready: 200, with the reasons listed.
            var report = await services.Readiness.ReportAsync(context.RequestAborted).ConfigureAwait(false);
            await WriteJsonAsync(context, report.Problems.Count == 0 ? 200 : 503, w =>
            {
                w.WriteString("status", report.Status);
                w.WriteStartArray("reasons");
                foreach (var problem in report.Problems.Concat(report.Degraded))
                    w.WriteStringValue(problem);
                w.WriteEndArray();
            }).ConfigureAwait(false);
        });

        IProducer<string, byte[]>? producer = null;
        if (services.Kafka is { } kafka)
        {
            producer = new ProducerBuilder<string, byte[]>(kafka.ProducerConfig($"api-{Environment.ProcessId}"))
                .SetErrorHandler((_, e) => LogKafkaError(logger, e.Code.ToString(), e.Reason))
                .Build();
            var ingest = new IngestHandler(producer, settings.Topics.Telemetry, settings.Ingest.ToLimits(), http, services.Counters, clock);
            app.MapPost("/api/v1/metrics", ingest.HandleAsync);
        }
        if (services.Scorer is { } scorer)
            app.MapPost("/api/v1/score", new ScoreHandler(scorer, http.MaxRequestBytes).HandleAsync);

        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var address = new Uri(bound.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        LogListening(logger, address.ToString(), http.Expose, keys.Required);
        return new HttpServer(app, producer, address);
    }

    private static string RouteLabel(PathString path) => path.Value switch
    {
        "/metrics" or "/health/live" or "/health/ready" or "/api/v1/metrics" or "/api/v1/score" => path.Value,
        _ => "other", // unknown paths would otherwise make one series per probe a scanner sends
    };

    internal static Task WriteErrorAsync(HttpContext context, string message) =>
        WriteJsonAsync(context, context.Response.StatusCode, w => w.WriteString("error", message));

    internal static async Task WriteJsonAsync(HttpContext context, int status, Action<Utf8JsonWriter> body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }

    // A rejected body is read and dropped up to this much beyond the limit, so the client, still sending, receives the 413
    // instead of a reset connection; anything larger is cut off.
    private const int DrainAllowance = 1024 * 1024;

    /// <summary>Reads the body up to <paramref name="limit"/> bytes; null when it is larger (the caller answers 413).</summary>
    internal static async Task<byte[]?> ReadBodyAsync(HttpContext context, int limit)
    {
        var declared = context.Request.ContentLength;
        if (declared > (long)limit + DrainAllowance)
        {
            context.Response.Headers.Connection = "close";
            return null;
        }
        // This method enforces the limit itself so that it can drain; Kestrel's limit (the same) stays for other routes.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
            sizeFeature.MaxRequestBodySize = (long)limit + DrainAllowance;
        using var buffer = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            long total = 0;
            while (true)
            {
                int read;
                try
                {
                    read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false);
                }
                catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
                {
                    context.Response.Headers.Connection = "close";
                    return null;
                }
                if (read == 0)
                    return total > limit ? null : buffer.ToArray();
                total += read;
                if (total <= limit)
                    buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        if (_producer is not null)
        {
            _producer.Flush(TimeSpan.FromSeconds(10));
            _producer.Dispose();
        }
    }

    /// <summary>Configured keys as SHA-256 digests: comparing digests in constant time leaks neither content nor length.</summary>
    private sealed class ApiKeySet(IEnumerable<string> keys)
    {
        private readonly byte[][] _digests = keys.Where(k => !string.IsNullOrWhiteSpace(k))
            .Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k.Trim()))).ToArray();

        public bool Required => _digests.Length > 0;

        public bool Accepts(HttpRequest request)
        {
            string? presented = null;
            var authorization = request.Headers.Authorization.ToString();
            if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                presented = authorization["Bearer ".Length..].Trim();
            else if (request.Headers.TryGetValue("X-Api-Key", out var apiKey))
                presented = apiKey.ToString().Trim();
            if (string.IsNullOrEmpty(presented))
                return false;
            Span<byte> digest = stackalloc byte[32];
            SHA256.HashData(Encoding.UTF8.GetBytes(presented), digest);
            var match = false;
            foreach (var known in _digests)
                match |= CryptographicOperations.FixedTimeEquals(digest, known); // no early exit: every key is compared
            return match;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka producer error {Code}: {Reason}")]
    private static partial void LogKafkaError(ILogger logger, string code, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "HTTP server listening on {Address} (exposed: {Exposed}, API key required: {KeyRequired})")]
    private static partial void LogListening(ILogger logger, string address, bool exposed, bool keyRequired);
}

/// <summary><c>POST /api/v1/metrics</c>: validate all, then publish all to the telemetry topic keyed by entity.</summary>
internal sealed class IngestHandler(IProducer<string, byte[]> producer, string topic, TelemetryLimits limits, HttpSettings http,
    PipelineCounters counters, TimeProvider clock)
{
    public async Task HandleAsync(HttpContext context)
    {
        if (context.Request.ContentType is { } type && !type.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            context.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            await HttpServer.WriteErrorAsync(context, $"Content-Type is '{type}'; send application/json").ConfigureAwait(false);
            return;
        }
        var body = await HttpServer.ReadBodyAsync(context, http.MaxRequestBytes).ConfigureAwait(false);
        if (body is null)
        {
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            await HttpServer.WriteErrorAsync(context, $"the request body exceeds {http.MaxRequestBytes} bytes (Http:MaxRequestBytes); split the batch").ConfigureAwait(false);
            return;
        }
        // The request time is the reference for the time-range checks, and becomes the record's Kafka timestamp, so the
        // processor's verdict (made against that timestamp) is the one given here.
        var now = clock.GetUtcNow();
        var outcome = IngestValidation.Validate(body, limits, now, http.MaxBatchSamples);
        if (outcome.RequestError is { } requestError)
        {
            context.Response.StatusCode = outcome.TooManySamples ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest;
            await HttpServer.WriteErrorAsync(context, requestError).ConfigureAwait(false);
            return;
        }
        if (outcome.Errors.Count > 0)
        {
            await HttpServer.WriteJsonAsync(context, StatusCodes.Status400BadRequest, w =>
            {
                w.WriteString("error", $"{outcome.Errors.Count} sample(s) invalid; none were accepted");
                w.WriteStartArray("rejected");
                foreach (var e in outcome.Errors)
                {
                    w.WriteStartObject();
                    w.WriteNumber("index", e.Index);
                    w.WriteString("reason", e.Reason);
                    if (e.Field is null)
                        w.WriteNull("field");
                    else
                        w.WriteString("field", e.Field);
                    w.WriteString("detail", e.Detail);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }).ConfigureAwait(false);
            return;
        }

        var timestamp = new Timestamp(now);
        var deliveries = new Task<DeliveryResult<string, byte[]>>[outcome.Samples.Count];
        for (var i = 0; i < deliveries.Length; i++)
        {
            var sample = outcome.Samples[i];
            deliveries[i] = producer.ProduceAsync(topic,
                new Message<string, byte[]> { Key = sample.Entity, Value = TelemetryJson.ToUtf8(sample), Timestamp = timestamp }, context.RequestAborted);
        }
        try
        {
            await Task.WhenAll(deliveries).ConfigureAwait(false);
        }
        catch (ProduceException<string, byte[]> ex)
        {
            var delivered = deliveries.Count(d => d.IsCompletedSuccessfully);
            counters.AddStageRecords("ingest", delivered);
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            await HttpServer.WriteErrorAsync(context, $"Kafka did not accept the samples ({ex.Error.Reason}); {delivered} of {deliveries.Length} were written before the failure, retry later").ConfigureAwait(false);
            return;
        }
        counters.AddStageRecords("ingest", deliveries.Length);
        counters.AddProduced(deliveries.Length);
        await HttpServer.WriteJsonAsync(context, StatusCodes.Status202Accepted, w => w.WriteNumber("accepted", deliveries.Length)).ConfigureAwait(false);
    }
}
