namespace SagaAspire.Inventory.Data;

/// <summary>Settings of the inventory service, from the <c>Inventory</c> section.</summary>
public sealed class InventoryOptions
{
    public const string Section = "Inventory";

    /// <summary>
    /// Products created at start-up when missing. Existing products keep their stock, so a restart
    /// (or a changed number here) never undoes what sagas reserved and sold.
    /// </summary>
    public List<CatalogItem> Catalog { get; set; } = [];

    internal bool IsValid() =>
        Catalog.All(p => !string.IsNullOrWhiteSpace(p.Sku) && p.Stock >= 0)
        && Catalog.Select(p => p.Sku).Distinct(StringComparer.Ordinal).Count() == Catalog.Count;
}

/// <summary>A product of the seeded catalog and its initial stock.</summary>
public sealed class CatalogItem
{
    public string Sku { get; set; } = "";
    public string? Name { get; set; }
    public int Stock { get; set; }
}
