using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.Options;
using SagaAspire.Contracts;
using SagaAspire.Messaging;
using SagaAspire.Sagas;

namespace SagaAspire.Orchestrator.Explorer;

/// <summary>The Explorer's settings as its page sees them.</summary>
public sealed record ExplorerConfig(bool Traces, string? DashboardUrl, bool ApiKeyRequired, IReadOnlyList<string> Steps, IReadOnlyList<string> Statuses);

/// <summary>
/// The Saga Explorer: a page at <c>/explorer/</c> (files built into the assembly, so every host
/// and container image serves the same page), its settings, and each saga's trace, read from the
/// Aspire dashboard's telemetry API.
/// </summary>
internal static partial class ExplorerEndpoints
{
    public const string Path = "/explorer/";
    public const string TraceClient = "traces";
    private static readonly FrozenDictionary<string, Asset> Assets = LoadAssets();

    public static void MapSagaExplorer(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => TypedResults.Redirect(Path)).ExcludeFromDescription();
        var explorer = app.MapGroup("/explorer").WithTags("Saga Explorer");
        explorer.MapGet("/api/config", GetConfig);
        explorer.MapGet("/api/traces/{traceId}", GetTraceAsync);
        // Routing ignores a trailing slash, but the page's relative links need it.
        explorer.MapGet("/", (HttpContext context) => context.Request.Path.Value!.EndsWith('/')
            ? ServeAsset("index.html", context)
            : TypedResults.Redirect(Path));
        explorer.MapGet("/{file}", ServeAsset);
    }

    internal static ExplorerConfig GetConfig(IOptions<ExplorerOptions> options, IConfiguration configuration, SagaDefinition<OrderPlaced> saga) => new(
        options.Value.TelemetryApi is not null,
        options.Value.DashboardUrl?.ToString().TrimEnd('/'),
        !string.IsNullOrEmpty(configuration[DeadLetterApi.ApiKeySetting]),
        [.. saga.Steps.Select(s => s.Name)],
        Enum.GetNames<SagaStatus>());

    /// <summary>
    /// A saga's trace as a waterfall, from the Aspire dashboard's telemetry API. The page asks
    /// again while spans are still arriving.
    /// </summary>
    internal static async Task<Results<Ok<List<WaterfallSpan>>, ProblemHttpResult>> GetTraceAsync(string traceId,
        IOptions<ExplorerOptions> options, IHttpClientFactory clients, CancellationToken cancellationToken)
    {
        if (!TraceId().IsMatch(traceId))
            return TypedResults.Problem(title: "Invalid trace id", detail: "A trace id is 32 lowercase hexadecimal digits.", statusCode: StatusCodes.Status400BadRequest);
        var settings = options.Value;
        if (settings.TelemetryApi is not { } dashboard)
            return TypedResults.Problem(title: "No trace source", statusCode: StatusCodes.Status404NotFound,
                detail: "The orchestrator knows no Aspire dashboard (Explorer:DashboardUrl), so it has no trace to draw. The AppHost sets it; elsewhere, point it at the dashboard that receives the services' telemetry.");

        var address = DashboardTraces.TraceAddress(dashboard, traceId);
        using var request = new HttpRequestMessage(HttpMethod.Get, address);
        if (!string.IsNullOrEmpty(settings.DashboardApiKey)) request.Headers.Add("x-api-key", settings.DashboardApiKey);
        try
        {
            using var response = await clients.CreateClient(TraceClient).SendAsync(request, cancellationToken);
            switch (response.StatusCode)
            {
                case System.Net.HttpStatusCode.NotFound:
                    return TraceNotFound(traceId);
                case System.Net.HttpStatusCode.Unauthorized or System.Net.HttpStatusCode.Forbidden:
                    return TypedResults.Problem(title: "Trace refused", statusCode: StatusCodes.Status502BadGateway,
                        detail: $"The Aspire dashboard at {address.GetLeftPart(UriPartial.Authority)} refused the orchestrator's key (Explorer:DashboardApiKey).");
            }
            response.EnsureSuccessStatusCode();
            using var answer = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
            return DashboardTraces.Waterfall(answer.RootElement) is { Count: > 0 } spans ? TypedResults.Ok(spans) : TraceNotFound(traceId);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return TypedResults.Problem(title: "Trace source unavailable", statusCode: StatusCodes.Status502BadGateway,
                detail: $"The Aspire dashboard at {address.GetLeftPart(UriPartial.Authority)} did not answer with a trace: {ex.Message}");
        }
    }

    private static ProblemHttpResult TraceNotFound(string traceId) =>
        TypedResults.Problem(title: "Trace not found", detail: $"No span of trace {traceId} has reached the Aspire dashboard (yet).", statusCode: StatusCodes.Status404NotFound);

    private static IResult ServeAsset(string file, HttpContext context)
    {
        if (!Assets.TryGetValue(file, out var asset))
            return TypedResults.Problem(title: "Not found", detail: $"The Saga Explorer has no file '{file}'.", statusCode: StatusCodes.Status404NotFound);
        context.Response.Headers.CacheControl = "no-cache"; // revalidated each time, so a new build shows at once
        context.Response.Headers.ETag = asset.ETag;
        context.Response.Headers.XContentTypeOptions = "nosniff";
        if (context.Request.Headers.IfNoneMatch == asset.ETag) return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        return TypedResults.Bytes(asset.Content, asset.ContentType);
    }

    private static FrozenDictionary<string, Asset> LoadAssets()
    {
        const string Prefix = "explorer/";
        var assembly = typeof(ExplorerEndpoints).Assembly;
        var types = new FileExtensionContentTypeProvider();
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var content = buffer.ToArray();
            var file = name[Prefix.Length..];
            var contentType = types.TryGetContentType(file, out var type) ? type : "application/octet-stream";
            if (contentType.StartsWith("text/", StringComparison.Ordinal) || contentType.EndsWith("javascript", StringComparison.Ordinal))
                contentType += "; charset=utf-8";
            assets[file] = new Asset(content, contentType, $"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..16]}\"");
        }
        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex TraceId();

    private sealed record Asset(byte[] Content, string ContentType, string ETag);
}
