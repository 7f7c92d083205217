using SagaAspire.Contracts;

namespace SagaAspire.Inventory.Domain;

/// <summary>What to reserve for an order: every line (merged per SKU), or nothing and why.</summary>
internal sealed record StockVerdict(IReadOnlyList<StockLine> Reserve, string? Refusal)
{
    public bool IsReserved => Refusal is null;
}

/// <summary>Decides a reservation from the requested lines and the stock available, without I/O.</summary>
internal static class StockDecision
{
    public static StockVerdict Decide(IReadOnlyList<StockLine> requested, IReadOnlyDictionary<string, int> available)
    {
        // Summed as long: lines of one SKU may add up to more than an int holds, which is simply not in stock.
        var wanted = requested
            .GroupBy(l => l.Sku, StringComparer.Ordinal)
            .Select(g => (Sku: g.Key, Quantity: g.Sum(l => (long)l.Quantity)))
            .OrderBy(l => l.Sku, StringComparer.Ordinal)
            .ToList();

        var unknown = wanted.Where(l => !available.ContainsKey(l.Sku)).Select(l => l.Sku).ToList();
        var insufficient = wanted.Where(l => available.TryGetValue(l.Sku, out var free) && free < l.Quantity)
            .Select(l => $"insufficient stock for {l.Sku}: requested {l.Quantity}, available {available[l.Sku]}")
            .ToList();

        var problems = new List<string>();
        if (unknown.Count > 0) problems.Add($"unknown SKU{(unknown.Count > 1 ? "s" : "")}: {string.Join(", ", unknown)}");
        problems.AddRange(insufficient);
        return problems.Count > 0
            ? new StockVerdict([], string.Join("; ", problems))
            : new StockVerdict([.. wanted.Select(l => new StockLine(l.Sku, (int)l.Quantity))], null);
    }
}
