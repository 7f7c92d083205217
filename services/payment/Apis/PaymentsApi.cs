using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using SagaAspire.Payment.Data;

namespace SagaAspire.Payment.Apis;

/// <summary><c>GET /payments</c>, <c>GET /payments/{sagaId}</c>.</summary>
public static class PaymentsApi
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;

    public static RouteGroupBuilder MapPaymentsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/payments").WithTags("Payments");
        group.MapGet("/", ListPaymentsAsync);
        group.MapGet("/{sagaId}", GetPaymentAsync);
        return group;
    }

    // Both parameters arrive as text: a limit that is not a number gets the same named problem as one out of range.
    internal static async Task<Results<Ok<IReadOnlyList<PaymentView>>, ValidationProblem>> ListPaymentsAsync(PaymentStore payments,
        CancellationToken cancellationToken, string? status = null, string? limit = null)
    {
        var errors = new Dictionary<string, string[]>();
        var matched = string.IsNullOrEmpty(status) ? null : PaymentStatus.All.FirstOrDefault(s => s.Equals(status, StringComparison.OrdinalIgnoreCase));
        if (!string.IsNullOrEmpty(status) && matched is null)
            errors["status"] = [$"'{status}' is not a payment status; use one of {string.Join(", ", PaymentStatus.All)}."];
        var count = DefaultLimit;
        if (!string.IsNullOrEmpty(limit) && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count is < 1 or > MaxLimit))
            errors["limit"] = [$"limit must be a whole number from 1 to {MaxLimit}, not '{limit}'."];
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors, title: "Invalid query");
        return TypedResults.Ok(await payments.ListAsync(matched, count, cancellationToken));
    }

    internal static async Task<Results<Ok<PaymentView>, ProblemHttpResult>> GetPaymentAsync(string sagaId, PaymentStore payments, CancellationToken cancellationToken) =>
        await payments.GetAsync(sagaId, cancellationToken) is { } payment
            ? TypedResults.Ok(payment)
            : TypedResults.Problem(title: "Payment not found", detail: $"Saga '{sagaId}' has no payment.", statusCode: StatusCodes.Status404NotFound);
}
