using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace SagaAspire.Messaging;

/// <summary>
/// <c>GET /dead-letters</c> and <c>POST /dead-letters/{id}/replay</c>. When <c>Operations:ApiKey</c>
/// is configured, replay requires it in the <c>X-Api-Key</c> header.
/// </summary>
public static class DeadLetterApi
{
    public const string ApiKeySetting = "Operations:ApiKey";
    public const string ApiKeyHeader = "X-Api-Key";

    public static RouteGroupBuilder MapDeadLetterApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/dead-letters").WithTags("Dead letters");
        group.MapGet("/", ListAsync);
        group.MapPost("/{id:long}/replay", ReplayAsync).AddEndpointFilter(RequireApiKey);
        return group;
    }

    private static async Task<Results<Ok<IReadOnlyList<DeadLetter>>, ProblemHttpResult>> ListAsync(
        DeadLetters deadLetters, CancellationToken cancellationToken, int limit = 50, bool includeReplayed = false)
    {
        if (limit is < 1 or > 500)
            return TypedResults.Problem(title: "Invalid limit", detail: "limit must be between 1 and 500.", statusCode: StatusCodes.Status400BadRequest);
        return TypedResults.Ok(await deadLetters.ListAsync(limit, includeReplayed, cancellationToken).ConfigureAwait(false));
    }

    private static async Task<Results<Accepted, ProblemHttpResult>> ReplayAsync(long id, DeadLetters deadLetters, CancellationToken cancellationToken) =>
        await deadLetters.ReplayAsync(id, cancellationToken).ConfigureAwait(false) switch
        {
            ReplayOutcome.Replayed => TypedResults.Accepted((string?)null),
            ReplayOutcome.AlreadyReplayed => TypedResults.Problem(title: "Already replayed",
                detail: $"Dead letter {id} was replayed before; a message that fails again becomes a new dead letter.", statusCode: StatusCodes.Status409Conflict),
            _ => TypedResults.Problem(title: "Dead letter not found", detail: $"There is no dead letter {id}.", statusCode: StatusCodes.Status404NotFound),
        };

    /// <summary>Operator actions need the configured API key; none configured means they are open.</summary>
    public static async ValueTask<object?> RequireApiKey(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var expected = http.RequestServices.GetService(typeof(IConfiguration)) is IConfiguration configuration ? configuration[ApiKeySetting] : null;
        if (!string.IsNullOrEmpty(expected) && !FixedTimeEquals(http.Request.Headers[ApiKeyHeader].ToString(), expected))
            return TypedResults.Problem(title: "API key required",
                detail: $"This operator action needs the {ApiKeyHeader} header with the configured key.", statusCode: StatusCodes.Status401Unauthorized);
        return await next(context).ConfigureAwait(false);
    }

    private static bool FixedTimeEquals(string given, string expected) =>
        System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(given), System.Text.Encoding.UTF8.GetBytes(expected));
}
