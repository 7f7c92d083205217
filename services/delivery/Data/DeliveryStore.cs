using Npgsql;
using NpgsqlTypes;
using SagaAspire.Contracts;
using SagaAspire.Delivery.Apis;
using SagaAspire.Messaging;

namespace SagaAspire.Delivery.Data;

/// <summary>The stored statuses of a delivery.</summary>
internal static class DeliveryStatus
{
    public const string Scheduled = "scheduled";
    public const string Refused = "refused";
    public const string Cancelled = "cancelled";

    public static readonly string[] All = [Scheduled, Refused, Cancelled];
}

/// <summary>A saga's delivery as stored.</summary>
internal sealed record StoredDelivery(string Status, string? DeliveryId, string? Country, DateOnly? Day, string? Reason);

/// <summary>Areas, slots and deliveries in the delivery database.</summary>
internal sealed class DeliveryStore(NpgsqlDataSource dataSource)
{
    private const string Columns = """
        saga_id, order_id, status, delivery_id, street, city, postal_code, country, day, reason, created_at, updated_at
        """;

    public async Task<IReadOnlyList<DeliveryView>> ListAsync(string? status, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM deliveries
            WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at DESC, saga_id LIMIT $2
            """);
        command.Parameters.Add(new() { Value = (object?)status ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var deliveries = new List<DeliveryView>();
        while (await reader.ReadAsync(cancellationToken)) deliveries.Add(Read(reader));
        return deliveries;
    }

    public async Task<DeliveryView?> GetAsync(string sagaId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM deliveries WHERE saga_id = $1");
        command.Parameters.Add(new() { Value = sagaId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>Every area with its slots from <paramref name="from"/> on, for one country or all.</summary>
    public async Task<IReadOnlyList<AreaView>> ListAreasAsync(string? country, DateOnly from, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT a.country, a.name, a.slots_per_day, s.day, s.capacity, s.booked
            FROM delivery_areas a LEFT JOIN delivery_slots s ON s.country = a.country AND s.day >= $2
            WHERE ($1::text IS NULL OR a.country = $1) ORDER BY a.country, s.day
            """);
        command.Parameters.Add(new() { Value = (object?)country ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = from });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var areas = new List<AreaView>();
        var slots = new List<SlotView>();
        while (await reader.ReadAsync(cancellationToken))
        {
            if (areas.Count == 0 || areas[^1].Country != reader.GetString(0))
                areas.Add(new AreaView(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), slots = []));
            if (!reader.IsDBNull(3)) slots.Add(new SlotView(reader.GetFieldValue<DateOnly>(3), reader.GetInt32(4), reader.GetInt32(5)));
        }
        return areas;
    }

    private static DeliveryView Read(NpgsqlDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
        reader.IsDBNull(7) ? null : new DeliveryAddress(reader.GetString(4), reader.GetString(5), reader.GetString(6), reader.GetString(7)),
        reader.IsDBNull(8) ? null : reader.GetFieldValue<DateOnly>(8), reader.IsDBNull(9) ? null : reader.GetString(9),
        reader.GetFieldValue<DateTimeOffset>(10), reader.GetFieldValue<DateTimeOffset>(11));

    // What follows runs inside the transaction of the command being handled.

    /// <summary>The saga's delivery, if any: the handler's first read, in the round trip in which the inbox holds the saga and records the command.</summary>
    public static Task<StoredDelivery?> FindAsync(MessageContext context, CancellationToken cancellationToken) =>
        context.ReadAsync([FindDelivery(context)], ReadDeliveryAsync, cancellationToken);

    /// <summary>
    /// The saga's delivery, if any, and whether we deliver to <paramref name="country"/> at all
    /// (false when none is given), in the same first round trip: what a schedule needs before it
    /// books.
    /// </summary>
    public static Task<(StoredDelivery? Existing, bool Serves)> FindServingAsync(MessageContext context, string? country, CancellationToken cancellationToken) =>
        context.ReadAsync(
            [
                FindDelivery(context),
                new("SELECT EXISTS (SELECT 1 FROM delivery_areas WHERE country = $1)") { Parameters = { Text(country) } },
            ],
            async (reader, ct) =>
            {
                var existing = await ReadDeliveryAsync(reader, ct);
                await reader.NextResultAsync(ct);
                return (existing, await reader.ReadAsync(ct) && reader.GetBoolean(0));
            },
            cancellationToken);

    private static NpgsqlBatchCommand FindDelivery(MessageContext context) =>
        new("SELECT status, delivery_id, country, day, reason FROM deliveries WHERE saga_id = $1") { Parameters = { new() { Value = context.Envelope.SagaId } } };

    private static async Task<StoredDelivery?> ReadDeliveryAsync(NpgsqlDataReader reader, CancellationToken cancellationToken) =>
        await reader.ReadAsync(cancellationToken)
            ? new StoredDelivery(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetFieldValue<DateOnly>(3), reader.IsDBNull(4) ? null : reader.GetString(4))
            : null;

    /// <summary>
    /// Takes one place on the earliest day from <paramref name="first"/> to <paramref name="last"/>
    /// with room in the country; null when every day is full. The CHECK on booked makes overbooking
    /// impossible, and the row lock makes two bookings of the last place on a day wait for each other.
    /// </summary>
    public static async Task<DateOnly?> BookSlotAsync(MessageContext context, string country, DateOnly first, DateOnly last, CancellationToken cancellationToken)
    {
        // FOR UPDATE with LIMIT may come back empty when the day it locked filled up meanwhile
        // (PostgreSQL re-checks the locked row, and does not look further): then look again.
        await using var book = Command(context, """
            WITH day AS (
                SELECT day FROM delivery_slots WHERE country = $1 AND day BETWEEN $2 AND $3 AND booked < capacity
                ORDER BY day LIMIT 1 FOR UPDATE
            )
            UPDATE delivery_slots s SET booked = s.booked + 1 FROM day
            WHERE s.country = $1 AND s.day = day.day AND s.booked < s.capacity
            RETURNING s.day
            """, country, first, last);
        // A day's row is made (with the area's capacity) by the first booking whose days reach it.
        // Every booking makes all of its days, so a day not made yet is later than every day that
        // is: the earliest day with room is found among the rows, and the rows are made only when
        // none has room, not on every booking.
        await using var make = Command(context, """
            INSERT INTO delivery_slots (country, day, capacity)
            SELECT a.country, d::date, a.slots_per_day FROM delivery_areas a, generate_series($2::date, $3::date, interval '1 day') AS d
            WHERE a.country = $1
            ON CONFLICT (country, day) DO NOTHING
            """, country, first, last);
        await using var anyFree = Command(context,
            "SELECT EXISTS (SELECT 1 FROM delivery_slots WHERE country = $1 AND day BETWEEN $2 AND $3 AND booked < capacity)", country, first, last);
        var made = false;
        while (true)
        {
            await using (var reader = await book.ExecuteReaderAsync(cancellationToken))
            {
                if (await reader.ReadAsync(cancellationToken)) return reader.GetFieldValue<DateOnly>(0);
            }
            if (!made)
            {
                await make.ExecuteNonQueryAsync(cancellationToken);
                made = true;
            }
            else if (await anyFree.ExecuteScalarAsync(cancellationToken) is not true) return null;
        }
    }

    private static NpgsqlCommand Command(MessageContext context, string sql, string country, DateOnly first, DateOnly last) =>
        new(sql, context.Connection, context.Transaction) { Parameters = { new() { Value = country }, new() { Value = first }, new() { Value = last } } };

    // The writes below end a handler: they go with its reply, in one round trip (MessageContext.Write).

    /// <summary>Records the decision: a scheduled delivery with its id and day, or a refusal with the reason.</summary>
    public static void Record(MessageContext context, ScheduleDelivery schedule, string status, string? deliveryId, DateOnly? day, string? reason) =>
        context.Write(new NpgsqlBatchCommand("""
            INSERT INTO deliveries (saga_id, order_id, status, delivery_id, street, city, postal_code, country, day, reason)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            """)
        {
            Parameters =
            {
                new() { Value = context.Envelope.SagaId },
                new() { Value = schedule.OrderId },
                new() { Value = status },
                Text(deliveryId),
                Text(schedule.Address?.Street),
                Text(schedule.Address?.City),
                Text(schedule.Address?.PostalCode),
                Text(schedule.Address?.Country),
                new() { Value = (object?)day ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Date },
                Text(reason),
            },
        });

    /// <summary>Marks the delivery cancelled and gives its place back to the day, in one statement.</summary>
    public static void Cancel(MessageContext context, string country, DateOnly day) =>
        context.Write(new NpgsqlBatchCommand("""
            WITH cancelled AS (UPDATE deliveries SET status = 'cancelled', updated_at = now() WHERE saga_id = $1)
            UPDATE delivery_slots SET booked = booked - 1 WHERE country = $2 AND day = $3
            """)
        {
            Parameters = { new() { Value = context.Envelope.SagaId }, new() { Value = country }, new() { Value = day } },
        });

    /// <summary>A cancellation of nothing, kept so that a schedule arriving after it is refused.</summary>
    public static void RecordTombstone(MessageContext context, string orderId) =>
        context.Write(new NpgsqlBatchCommand("""
            INSERT INTO deliveries (saga_id, order_id, status, reason) VALUES ($1, $2, 'cancelled', 'cancelled before it was scheduled')
            ON CONFLICT (saga_id) DO NOTHING
            """)
        {
            Parameters = { new() { Value = context.Envelope.SagaId }, new() { Value = orderId } },
        });

    private static NpgsqlParameter Text(string? value) => new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text };
}
