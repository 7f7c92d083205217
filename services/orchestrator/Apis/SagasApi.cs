using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using SagaAspire.Messaging;
using SagaAspire.Orchestrator.Data;
using SagaAspire.Orchestrator.Explorer;
using SagaAspire.Orchestrator.Sagas;
using SagaAspire.Sagas;

namespace SagaAspire.Orchestrator.Apis;

/// <summary>
/// See and operate sagas: <c>GET /sagas</c>, <c>GET /sagas/{id}</c>, and the operator actions
/// <c>POST /sagas/{id}/retry</c> and <c>POST /sagas/{id}/cancel</c> (API key from
/// <c>Operations:ApiKey</c>, when one is configured); <c>GET /sagas/counts</c> counts them by
/// status, and <c>GET /sagas/changes</c> streams changes as server-sent events.
/// </summary>
public static class SagasApi
{
    private static readonly string[] Statuses = Enum.GetNames<SagaStatus>();

    public static RouteGroupBuilder MapSagasApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/sagas").WithTags("Sagas");
        group.MapGet("/", ListSagasAsync);
        group.MapGet("/changes", StreamChanges);
        group.MapGet("/counts", async (SagaQueries queries, CancellationToken cancellationToken) => TypedResults.Ok(await queries.CountByStatusAsync(cancellationToken)));
        group.MapGet("/{sagaId}", GetSagaAsync);
        group.MapPost("/{sagaId}/retry", RetrySagaAsync).AddEndpointFilter(DeadLetterApi.RequireApiKey);
        group.MapPost("/{sagaId}/cancel", CancelSagaAsync).AddEndpointFilter(DeadLetterApi.RequireApiKey);
        return group;
    }

    internal static async Task<Results<Ok<SagaPage>, ValidationProblem>> ListSagasAsync(SagaQueries queries, CancellationToken cancellationToken,
        string? status = null, string? orderId = null, int page = 1, int pageSize = 50)
    {
        var errors = new Dictionary<string, string[]>();
        var matched = status is null ? null : Statuses.FirstOrDefault(s => s.Equals(status, StringComparison.OrdinalIgnoreCase));
        if (status is not null && matched is null) errors["status"] = [$"'{status}' is not a saga status; use one of {string.Join(", ", Statuses)}."];
        if (page < 1) errors["page"] = ["page starts at 1."];
        if (pageSize is < 1 or > 500) errors["pageSize"] = ["pageSize must be between 1 and 500."];
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        return TypedResults.Ok(await queries.ListAsync(matched, orderId, page, pageSize, cancellationToken));
    }

    /// <summary>Live changes for an open Explorer page; a stream that lasts as long as the page, so it is not traced.</summary>
    internal static ServerSentEventsResult<IReadOnlyList<SagaChange>> StreamChanges(SagaChangeFeed changes, HttpContext context)
    {
        context.SkipTracing();
        return TypedResults.ServerSentEvents(changes.StreamAsync(context.RequestAborted));
    }

    internal static async Task<Results<Ok<SagaDetails>, ProblemHttpResult>> GetSagaAsync(string sagaId, SagaQueries queries, CancellationToken cancellationToken) =>
        await queries.GetAsync(sagaId, cancellationToken) is { } saga
            ? TypedResults.Ok(saga)
            : NotFound(sagaId);

    internal static Task<Results<Accepted<SagaDetails>, ProblemHttpResult>> RetrySagaAsync(string sagaId, NpgsqlDataSource dataSource,
        SagaCoordinator sagas, SagaQueries queries, ILogger<SagaCoordinator> logger, CancellationToken cancellationToken) =>
        OperateAsync("retry", sagaId, dataSource, sagas, queries, logger,
            (state, data, now) => sagas.Definition.Retry(state, data, now, Guid.CreateVersion7), cancellationToken);

    internal static Task<Results<Accepted<SagaDetails>, ProblemHttpResult>> CancelSagaAsync(string sagaId, NpgsqlDataSource dataSource,
        SagaCoordinator sagas, SagaQueries queries, ILogger<SagaCoordinator> logger, CancellationToken cancellationToken) =>
        OperateAsync("cancel", sagaId, dataSource, sagas, queries, logger,
            (state, data, now) => sagas.Definition.Cancel(state, data, "cancelled by an operator", now, Guid.CreateVersion7), cancellationToken);

    private static async Task<Results<Accepted<SagaDetails>, ProblemHttpResult>> OperateAsync(string action, string sagaId,
        NpgsqlDataSource dataSource, SagaCoordinator sagas, SagaQueries queries, ILogger logger,
        Func<SagaState, Contracts.OrderPlaced, DateTimeOffset, SagaDecision> decide, CancellationToken cancellationToken)
    {
        SagaDecision? decision;
        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            decision = await sagas.ApplyAsync(transaction, sagaId, decide, causationId: null, spanInSagaTrace: $"saga {action} by operator", cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        if (decision is null) return NotFound(sagaId);
        OrchestratorLog.OperatorAction(logger, action, sagaId, decision.Ignored ? "refused" : "accepted");
        if (decision.Ignored)
            return TypedResults.Problem(title: $"The saga cannot be {(action == "retry" ? "retried" : "cancelled")} now",
                detail: decision.Timeline.FirstOrDefault()?.Reason, statusCode: StatusCodes.Status409Conflict);
        return TypedResults.Accepted($"/sagas/{sagaId}", (await queries.GetAsync(sagaId, cancellationToken))!);
    }

    private static ProblemHttpResult NotFound(string sagaId) =>
        TypedResults.Problem(title: "Saga not found", detail: $"There is no saga '{sagaId}'.", statusCode: StatusCodes.Status404NotFound);
}
