using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using SagaAspire.Delivery.Data;

namespace SagaAspire.Delivery.Apis;

/// <summary><c>GET /deliveries</c>, <c>GET /deliveries/{sagaId}</c>, <c>GET /deliveries/areas</c>.</summary>
public static class DeliveriesApi
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;

    public static RouteGroupBuilder MapDeliveriesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/deliveries").WithTags("Deliveries");
        group.MapGet("/", ListDeliveriesAsync);
        group.MapGet("/areas", ListAreasAsync);
        group.MapGet("/{sagaId}", GetDeliveryAsync);
        return group;
    }

    // Both parameters arrive as text: a limit that is not a number gets the same named problem as one out of range.
    internal static async Task<Results<Ok<IReadOnlyList<DeliveryView>>, ValidationProblem>> ListDeliveriesAsync(DeliveryStore deliveries,
        CancellationToken cancellationToken, string? status = null, string? limit = null)
    {
        var errors = new Dictionary<string, string[]>();
        var matched = string.IsNullOrEmpty(status) ? null : DeliveryStatus.All.FirstOrDefault(s => s.Equals(status, StringComparison.OrdinalIgnoreCase));
        if (!string.IsNullOrEmpty(status) && matched is null)
            errors["status"] = [$"'{status}' is not a delivery status; use one of {string.Join(", ", DeliveryStatus.All)}."];
        var count = DefaultLimit;
        if (!string.IsNullOrEmpty(limit) && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count is < 1 or > MaxLimit))
            errors["limit"] = [$"limit must be a whole number from 1 to {MaxLimit}, not '{limit}'."];
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors, title: "Invalid query");
        return TypedResults.Ok(await deliveries.ListAsync(matched, count, cancellationToken));
    }

    /// <summary>The areas served with their days from today on: capacity and bookings, for one country or all.</summary>
    internal static async Task<Results<Ok<IReadOnlyList<AreaView>>, ValidationProblem>> ListAreasAsync(DeliveryStore deliveries, TimeProvider time,
        CancellationToken cancellationToken, string? country = null)
    {
        var code = string.IsNullOrEmpty(country) ? null : country.ToUpperInvariant();
        if (code is not null && !Domain.DeliveryArea.IsCountryCode(code))
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["country"] = [$"'{country}' is not a 2-letter ISO 3166 country code."] }, title: "Invalid query");
        return TypedResults.Ok(await deliveries.ListAreasAsync(code, DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime), cancellationToken));
    }

    internal static async Task<Results<Ok<DeliveryView>, ProblemHttpResult>> GetDeliveryAsync(string sagaId, DeliveryStore deliveries, CancellationToken cancellationToken) =>
        await deliveries.GetAsync(sagaId, cancellationToken) is { } delivery
            ? TypedResults.Ok(delivery)
            : TypedResults.Problem(title: "Delivery not found", detail: $"Saga '{sagaId}' has no delivery.", statusCode: StatusCodes.Status404NotFound);
}
