using Microsoft.AspNetCore.Http.HttpResults;
using SagaAspire.Inventory.Data;

namespace SagaAspire.Inventory.Apis;

/// <summary><c>GET /inventory</c>, <c>GET /inventory/{sku}</c>.</summary>
public static class InventoryApi
{
    public static RouteGroupBuilder MapInventoryApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/inventory").WithTags("Inventory");
        group.MapGet("/", ListProductsAsync);
        group.MapGet("/{sku}", GetProductAsync);
        return group;
    }

    internal static async Task<Ok<IReadOnlyList<ProductView>>> ListProductsAsync(InventoryStore inventory, CancellationToken cancellationToken) =>
        TypedResults.Ok(await inventory.ListAsync(cancellationToken));

    internal static async Task<Results<Ok<ProductView>, ProblemHttpResult>> GetProductAsync(string sku, InventoryStore inventory, CancellationToken cancellationToken) =>
        await inventory.GetAsync(sku, cancellationToken) is { } product
            ? TypedResults.Ok(product)
            : TypedResults.Problem(title: "Product not found", detail: $"There is no product with SKU '{sku}'.", statusCode: StatusCodes.Status404NotFound);
}
