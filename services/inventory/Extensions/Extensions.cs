using SagaAspire.Contracts;
using SagaAspire.Inventory.Data;
using SagaAspire.Inventory.Handlers;

namespace SagaAspire.Inventory.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<InventoryOptions>()
            .Bind(builder.Configuration.GetSection(InventoryOptions.Section))
            .Validate(o => o.IsValid(), "Inventory:Catalog entries need a non-empty, unique sku and a stock of at least 0")
            .ValidateOnStart();
        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton<InventoryStore>();

        builder.AddMessaging("inventory", "inventory")
            .AddContracts(ContractsJson.Default)
            .Handle<ReserveInventory, ReserveInventoryHandler>(Topics.InventoryCommands)
            .Handle<ReleaseInventory, ReleaseInventoryHandler>(Topics.InventoryCommands)
            .Handle<CommitInventory, CommitInventoryHandler>(Topics.InventoryCommands)
            .Validate<ReserveInventory>(ReserveRules)
            .Validate<ReleaseInventory>(m => OrderIdRules(m.OrderId))
            .Validate<CommitInventory>(m => OrderIdRules(m.OrderId))
            .Publishes(Topics.InventoryEvents)
            .AddMigrations("inventory", InventorySchema.Migrations);

        // Registered after AddMessaging because hosted services start in order: the schema first.
        builder.Services.AddSingleton<CatalogSeeder>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<CatalogSeeder>());
    }

    private static IEnumerable<string> ReserveRules(ReserveInventory reserve)
    {
        foreach (var problem in OrderIdRules(reserve.OrderId)) yield return problem;
        if (reserve.Lines.Count == 0) yield return "a reservation needs at least one line";
        for (var i = 0; i < reserve.Lines.Count; i++)
        {
            // The JSON contract enforces the fields of a line, not that a list element is present.
            if (reserve.Lines[i] is not { } line) yield return $"lines[{i}] is null";
            else if (string.IsNullOrWhiteSpace(line.Sku)) yield return $"lines[{i}].sku is empty";
            else if (line.Quantity <= 0) yield return $"lines[{i}].quantity must be positive, not {line.Quantity}";
        }
    }

    private static IEnumerable<string> OrderIdRules(string orderId)
    {
        if (string.IsNullOrWhiteSpace(orderId)) yield return "orderId is empty";
    }
}
