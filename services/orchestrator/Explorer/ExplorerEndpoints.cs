using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.Options;
using SagaAspire.Contracts;
using SagaAspire.Messaging;
using SagaAspire.Sagas;

namespace SagaAspire.Orchestrator.Explorer;

/// <summary>The Explorer's settings as its page sees them.</summary>
public sealed record ExplorerConfig(bool TraceStore, string? DashboardUrl, bool ApiKeyRequired, IReadOnlyList<string> Steps, IReadOnlyList<string> Statuses);

/// <summary>
/// The Saga Explorer: a page at <c>/explorer/</c> (files built into the assembly, so every host
/// and container image serves the same page), its settings, and each saga's trace, fetched from
/// the configured trace store.
/// </summary>
internal static partial class ExplorerEndpoints
{
    public const string Path = "/explorer/";
    public const string TraceStoreClient = "trace-store";
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
        options.Value.TraceStore is not null,
        options.Value.DashboardUrl?.ToString().TrimEnd('/'),
        !string.IsNullOrEmpty(configuration[DeadLetterApi.ApiKeySetting]),
        [.. saga.Steps.Select(s => s.Name)],
        Enum.GetNames<SagaStatus>());

    internal static async Task<Results<ContentHttpResult, ProblemHttpResult>> GetTraceAsync(string traceId, IOptions<ExplorerOptions> options,
        IHttpClientFactory clients, CancellationToken cancellationToken)
    {
        if (!TraceId().IsMatch(traceId))
            return TypedResults.Problem(title: "Invalid trace id", detail: "A trace id is 32 lowercase hexadecimal digits.", statusCode: StatusCodes.Status400BadRequest);
        if (options.Value.TraceStore is not { } store)
            return TypedResults.Problem(title: "No trace store",
                detail: "The orchestrator has no Explorer:TraceStore setting, so it cannot draw traces; under Aspire, open the trace in the dashboard.",
                statusCode: StatusCodes.Status404NotFound);

        var address = new Uri(store, $"traces/{traceId}");
        try
        {
            using var response = await clients.CreateClient(TraceStoreClient).GetAsync(address, cancellationToken);
            if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
                return TypedResults.Problem(title: "Trace not found", detail: $"No span of trace {traceId} has reached the trace store (yet).", statusCode: StatusCodes.Status404NotFound);
            response.EnsureSuccessStatusCode();
            return TypedResults.Content(await response.Content.ReadAsStringAsync(cancellationToken), "application/json");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return TypedResults.Problem(title: "Trace store unavailable", detail: $"The trace store at {store} did not answer: {ex.Message}",
                statusCode: StatusCodes.Status502BadGateway);
        }
    }

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
