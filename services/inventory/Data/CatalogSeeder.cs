using Microsoft.Extensions.Options;
using Npgsql;

namespace SagaAspire.Inventory.Data;

/// <summary>Creates the configured products that do not exist yet, once the schema is in place.</summary>
internal sealed class CatalogSeeder(NpgsqlDataSource dataSource, IOptions<InventoryOptions> options, ILogger<CatalogSeeder> logger) : IHostedService
{
    private readonly TaskCompletionSource _seeded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Completes once the catalog is seeded. The consumer starts before this service does, and on a
    /// first start a waiting reservation must not find the catalog empty and reject the order.
    /// </summary>
    public Task Seeded => _seeded.Task;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var catalog = options.Value.Catalog;
        // Usually the service was started outside its folder, so appsettings.json was not found.
        if (catalog.Count == 0) InventoryLog.EmptyCatalog(logger);
        await using var insert = dataSource.CreateCommand("""
            INSERT INTO products (sku, name, available)
            SELECT * FROM unnest($1::text[], $2::text[], $3::integer[])
            ON CONFLICT (sku) DO NOTHING
            """);
        insert.Parameters.Add(new() { Value = catalog.Select(p => p.Sku).ToArray() });
        insert.Parameters.Add(new() { Value = catalog.Select(p => string.IsNullOrWhiteSpace(p.Name) ? p.Sku : p.Name).ToArray() });
        insert.Parameters.Add(new() { Value = catalog.Select(p => p.Stock).ToArray() });
        var added = await insert.ExecuteNonQueryAsync(cancellationToken);
        InventoryLog.CatalogSeeded(logger, added, catalog.Count);
        _seeded.TrySetResult();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
