using System.Text.Json;
using Npgsql;
using SagaAspire.Contracts;
using SagaAspire.Inventory.Apis;
using SagaAspire.Messaging;

namespace SagaAspire.Inventory.Data;

/// <summary>The stored statuses of a reservation.</summary>
internal static class ReservationStatus
{
    public const string Reserved = "reserved";
    public const string Released = "released";
    public const string Committed = "committed";
    public const string Rejected = "rejected";
}

/// <summary>A saga's reservation as stored.</summary>
internal sealed record Reservation(string Status, IReadOnlyList<StockLine> Lines, string? Reason);

/// <summary>Which way a stock movement shifts units between available, reserved and sold.</summary>
internal enum StockMove
{
    Reserve,
    Release,
    Commit,
}

/// <summary>Products and reservations in the inventory database.</summary>
internal sealed class InventoryStore(NpgsqlDataSource dataSource)
{
    private const string Columns = "sku, name, available, reserved, sold";

    public async Task<IReadOnlyList<ProductView>> ListAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM products ORDER BY sku");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var products = new List<ProductView>();
        while (await reader.ReadAsync(cancellationToken)) products.Add(Read(reader));
        return products;
    }

    public async Task<ProductView?> GetAsync(string sku, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM products WHERE sku = $1");
        command.Parameters.Add(new() { Value = sku });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    private static ProductView Read(NpgsqlDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4));

    // What follows runs inside the transaction of the command being handled. Each handler's
    // first read goes in the round trip in which the inbox holds the saga and records the command
    // (MessageContext.ReadAsync); its writes go with its reply, in one round trip at its end
    // (MessageContext.Write): two round trips per command.

    /// <summary>The saga's reservation, if any.</summary>
    public static Task<Reservation?> FindReservationAsync(MessageContext context, CancellationToken cancellationToken) =>
        context.ReadAsync([FindReservation(context)], ReadReservationAsync, cancellationToken);

    /// <summary>
    /// The saga's reservation, if any, and its products locked (see <see cref="LockProducts"/>),
    /// in one round trip: what a reserve needs before it decides. A repeated reserve, which finds
    /// its reservation, holds the product locks for nothing, but such repeats are rare.
    /// </summary>
    public static Task<(Reservation? Existing, Dictionary<string, int> Available)> FindReservationLockingProductsAsync(MessageContext context,
        IEnumerable<string> skus, CancellationToken cancellationToken) =>
        context.ReadAsync([FindReservation(context), LockProducts(skus)], async (reader, ct) =>
        {
            var existing = await ReadReservationAsync(reader, ct);
            await reader.NextResultAsync(ct);
            return (existing, await ReadAvailableAsync(reader, ct));
        }, cancellationToken);

    private static NpgsqlBatchCommand FindReservation(MessageContext context) =>
        new("SELECT status, lines::text, reason FROM reservations WHERE saga_id = $1") { Parameters = { new() { Value = context.Envelope.SagaId } } };

    private static async Task<Reservation?> ReadReservationAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        if (!await reader.ReadAsync(cancellationToken)) return null;
        return new Reservation(reader.GetString(0), JsonSerializer.Deserialize(reader.GetString(1), InventoryJson.Default.IReadOnlyListStockLine)!,
            reader.IsDBNull(2) ? null : reader.GetString(2));
    }

    /// <summary>
    /// Locks the products in SKU order, so reservations of overlapping products queue up instead of
    /// deadlocking, and answers how many units of each are available. Unknown SKUs are absent.
    /// </summary>
    private static NpgsqlBatchCommand LockProducts(IEnumerable<string> skus) =>
        new("SELECT sku, available FROM products WHERE sku = ANY($1) ORDER BY sku FOR UPDATE") { Parameters = { new() { Value = skus.Distinct(StringComparer.Ordinal).ToArray() } } };

    private static async Task<Dictionary<string, int>> ReadAvailableAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var available = new Dictionary<string, int>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken)) available[reader.GetString(0)] = reader.GetInt32(1);
        return available;
    }

    /// <summary>
    /// Moves the lines' units in the round trip that ends the handler (MessageContext.Write),
    /// locking their products in SKU order first, unless the handler's first read locked them
    /// (<paramref name="lockedAlready"/>). The table's checks refuse anything that would go below
    /// zero, and a product missing (removed while stock was held) rolls the transaction back.
    /// </summary>
    public static void MoveStock(MessageContext context, IReadOnlyList<StockLine> lines, StockMove move, bool lockedAlready = false)
    {
        if (lines.Count == 0) return;
        if (!lockedAlready) context.Write(LockProducts(lines.Select(l => l.Sku)));
        var update = new NpgsqlBatchCommand(MoveSql(move))
        {
            Parameters = { new() { Value = lines.Select(l => l.Sku).ToArray() }, new() { Value = lines.Select(l => l.Quantity).ToArray() } },
        };
        context.Write(update, lines.Count, moved =>
            $"{move} of saga {context.Envelope.SagaId} found {moved} of its {lines.Count} products; a product was removed while stock was held.");
    }

    private static string MoveSql(StockMove move) => move switch
    {
        StockMove.Reserve => """
            UPDATE products AS p SET available = p.available - l.quantity, reserved = p.reserved + l.quantity
            FROM unnest($1::text[], $2::integer[]) AS l(sku, quantity) WHERE p.sku = l.sku
            """,
        StockMove.Release => """
            UPDATE products AS p SET reserved = p.reserved - l.quantity, available = p.available + l.quantity
            FROM unnest($1::text[], $2::integer[]) AS l(sku, quantity) WHERE p.sku = l.sku
            """,
        StockMove.Commit => """
            UPDATE products AS p SET reserved = p.reserved - l.quantity, sold = p.sold + l.quantity
            FROM unnest($1::text[], $2::integer[]) AS l(sku, quantity) WHERE p.sku = l.sku
            """,
        _ => throw new ArgumentOutOfRangeException(nameof(move), move, null),
    };

    /// <summary>Records the saga's reservation. The saga lock makes this the only one for the saga.</summary>
    public static void RecordReservation(MessageContext context, string orderId, string status, IReadOnlyList<StockLine> lines, string? reason) =>
        context.Write(new NpgsqlBatchCommand("INSERT INTO reservations (saga_id, order_id, status, lines, reason) VALUES ($1, $2, $3, $4::jsonb, $5)")
        {
            Parameters =
            {
                new() { Value = context.Envelope.SagaId },
                new() { Value = orderId },
                new() { Value = status },
                new() { Value = JsonSerializer.Serialize(lines, InventoryJson.Default.IReadOnlyListStockLine) },
                new() { Value = (object?)reason ?? DBNull.Value },
            },
        });

    public static void SetStatus(MessageContext context, string status) =>
        context.Write(new NpgsqlBatchCommand("UPDATE reservations SET status = $2, updated_at = now() WHERE saga_id = $1")
        {
            Parameters = { new() { Value = context.Envelope.SagaId }, new() { Value = status } },
        });
}
