using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;
using SagaAspire.Contracts;
using SagaAspire.Order.Data;

namespace SagaAspire.Order.Apis;

/// <summary>Settings of the order API, from the <c>Orders</c> section.</summary>
public sealed class OrdersOptions
{
    public const string Section = "Orders";
    public int MaxLines { get; set; } = 50;
    public int MaxBodyBytes { get; set; } = 64 * 1024;

    /// <summary>Where an order without a <c>deliveryAddress</c> goes.</summary>
    public AddressRequest DefaultDeliveryAddress { get; set; } = new() { Street = "1 Harbour Street", City = "Springfield", PostalCode = "12345", Country = "US" };

    private DeliveryAddress? _defaultAddress;

    /// <summary>The default address, checked (start-up has refused a wrong one).</summary>
    internal DeliveryAddress DefaultAddress => _defaultAddress ??= CheckDefaultAddress().Address
        ?? throw new InvalidOperationException($"{Section}:{nameof(DefaultDeliveryAddress)} is not a valid address.");

    /// <summary>The default address as checked, or the problems with it, each naming its setting.</summary>
    internal (DeliveryAddress? Address, List<string> Problems) CheckDefaultAddress()
    {
        var problems = new List<string>();
        var address = OrderValidation.CheckAddress(DefaultDeliveryAddress, $"{Section}:{nameof(DefaultDeliveryAddress)}",
            (field, problem) => problems.Add($"{field.Replace('.', ':')}: {problem}"));
        return (address, problems);
    }
}

/// <summary><c>POST /orders</c>, <c>GET /orders/{id}</c>, <c>GET /orders</c>.</summary>
public static class OrdersApi
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";
    private static readonly string[] Statuses = ["Pending", "Approved", "Rejected"];

    public static RouteGroupBuilder MapOrdersApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/orders").WithTags("Orders");
        group.MapPost("/", PlaceOrderAsync);
        group.MapGet("/{orderId}", GetOrderAsync);
        group.MapGet("/", ListOrdersAsync);
        return group;
    }

    internal static async Task<IResult> PlaceOrderAsync(HttpRequest request, OrderStore orders, IOptions<OrdersOptions> options, CancellationToken cancellationToken)
    {
        if (!IsJson(request.ContentType))
            return BadRequest("Unsupported content type", "Send the order as application/json.", "Content-Type", $"'{request.ContentType}' is not application/json.");

        var body = await ReadBodyAsync(request, options.Value.MaxBodyBytes, cancellationToken);
        if (body is null)
            return BadRequest("Request body too large", $"An order is at most {options.Value.MaxBodyBytes} bytes.", "body", "The body is too large.");

        PlaceOrderRequest? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize(body, OrderJson.Default.PlaceOrderRequest);
        }
        catch (JsonException ex)
        {
            var field = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "body" : ex.Path.TrimStart('$', '.');
            return BadRequest("Malformed JSON", "The body is not a valid order.", field,
                ex.Path is null or "$" ? "The body is not well-formed JSON." : $"The value at {ex.Path} has the wrong type or format.");
        }
        if (parsed is null) return BadRequest("Malformed JSON", "The body is JSON null.", "body", "An order object is required.");

        var (order, errors) = OrderValidation.Validate(parsed, options.Value.MaxLines, options.Value.DefaultAddress);
        if (order is null) return TypedResults.ValidationProblem(errors, title: "The order is not valid");

        var key = request.Headers[IdempotencyKeyHeader].ToString() is { Length: > 0 } given ? given : null;
        if (key is not null && (key.Length > 255 || key.Any(char.IsControl)))
            return BadRequest("Invalid Idempotency-Key", "The key must be 1 to 255 printable characters.", IdempotencyKeyHeader, "The key is not valid.");

        try
        {
            var result = await orders.PlaceAsync(order, key, Hash(order), cancellationToken);
            return result switch
            {
                PlaceResult.Accepted accepted => TypedResults.Accepted($"/orders/{accepted.Body.OrderId}", accepted.Body),
                PlaceResult.Replayed replayed => new ReplayedResult(replayed),
                PlaceResult.KeyReusedWithOtherBody => TypedResults.Problem(title: "Idempotency-Key reused",
                    detail: "This Idempotency-Key was used for a different order; use a new key for a new order.", statusCode: StatusCodes.Status422UnprocessableEntity),
                PlaceResult.KeyInProgress => TypedResults.Problem(title: "Request in progress",
                    detail: "A request with this Idempotency-Key is being processed; retry once it has finished.", statusCode: StatusCodes.Status409Conflict),
                PlaceResult.OrderIdTaken taken => TypedResults.Problem(title: "Order exists",
                    detail: $"An order '{taken.OrderId}' exists already.", statusCode: StatusCodes.Status409Conflict),
                _ => throw new InvalidOperationException("unreachable"),
            };
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            request.HttpContext.Response.Headers.RetryAfter = "5";
            return TypedResults.Problem(title: "Orders are unavailable",
                detail: "The order database cannot be reached; nothing was stored. Retry in a few seconds.", statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    internal static async Task<Results<Ok<OrderView>, ProblemHttpResult>> GetOrderAsync(string orderId, OrderStore orders, CancellationToken cancellationToken) =>
        await orders.GetAsync(orderId, cancellationToken) is { } order
            ? TypedResults.Ok(order)
            : TypedResults.Problem(title: "Order not found", detail: $"There is no order '{orderId}'.", statusCode: StatusCodes.Status404NotFound);

    internal static async Task<Results<Ok<OrderPage>, ValidationProblem>> ListOrdersAsync(OrderStore orders, CancellationToken cancellationToken,
        string? status = null, int page = 1, int pageSize = 50)
    {
        var errors = new Dictionary<string, string[]>();
        var matched = status is null ? null : Statuses.FirstOrDefault(s => s.Equals(status, StringComparison.OrdinalIgnoreCase));
        if (status is not null && matched is null) errors["status"] = [$"'{status}' is not an order status; use one of {string.Join(", ", Statuses)}."];
        if (page < 1) errors["page"] = ["page starts at 1."];
        if (pageSize is < 1 or > 500) errors["pageSize"] = ["pageSize must be between 1 and 500."];
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        return TypedResults.Ok(await orders.ListAsync(matched, page, pageSize, cancellationToken));
    }

    private static ValidationProblem BadRequest(string title, string detail, string field, string problem) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [problem] }, detail: detail, title: title);

    private static bool IsJson(string? contentType) =>
        contentType is not null
        && Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media)
        && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || media.MediaType.Value?.EndsWith("+json", StringComparison.OrdinalIgnoreCase) == true);

    /// <summary>The body, or null when it is longer than <paramref name="limit"/>.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit) return null;
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>The order as validated, hashed: the same order in other whitespace or key order is the same request.</summary>
    private static string Hash(ValidOrder order) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(order, OrderJson.Default.ValidOrder))));

    /// <summary>The first response to an idempotency key, exactly as it was.</summary>
    private sealed class ReplayedResult(PlaceResult.Replayed replayed) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = replayed.StatusCode;
            if (replayed.Location is not null) httpContext.Response.Headers.Location = replayed.Location;
            httpContext.Response.ContentType = "application/json; charset=utf-8";
            return httpContext.Response.WriteAsync(replayed.Body);
        }
    }
}
