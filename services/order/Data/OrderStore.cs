using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using SagaAspire.Contracts;
using SagaAspire.Messaging;
using SagaAspire.Order.Apis;

namespace SagaAspire.Order.Data;

/// <summary>What became of a place-order request.</summary>
internal abstract record PlaceResult
{
    public sealed record Accepted(OrderAccepted Body) : PlaceResult;
    public sealed record Replayed(int StatusCode, string? Location, string Body) : PlaceResult;
    public sealed record KeyReusedWithOtherBody : PlaceResult;
    public sealed record KeyInProgress : PlaceResult;
    public sealed record OrderIdTaken(string OrderId) : PlaceResult;
}

/// <summary>An order still Pending, as its OrderPlaced was first sent, with the trace of the request that placed it.</summary>
internal sealed record PendingOrder(string SagaId, OrderPlaced Placed, int ResendCount, string? TraceParent, string? TraceState);

/// <summary>Orders in the order service's database.</summary>
internal sealed class OrderStore(NpgsqlDataSource dataSource, Outbox outbox)
{
    /// <summary>
    /// Stores the order as Pending and its OrderPlaced message in one transaction (and, with an
    /// idempotency key, the response to replay), so an order exists exactly when its saga will start.
    /// </summary>
    public async Task<PlaceResult> PlaceAsync(ValidOrder order, string? idempotencyKey, string requestHash, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        if (idempotencyKey is not null)
        {
            await using (var claim = new NpgsqlCommand("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 7))", connection, transaction)
                         { Parameters = { new() { Value = idempotencyKey } } })
            {
                if (await claim.ExecuteScalarAsync(cancellationToken) is not true) return new PlaceResult.KeyInProgress();
            }
            await using var previous = new NpgsqlCommand(
                "SELECT request_hash, status_code, location, response FROM idempotency_keys WHERE key = $1", connection, transaction)
            { Parameters = { new() { Value = idempotencyKey } } };
            await using var reader = await previous.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                return reader.GetString(0) == requestHash
                    ? new PlaceResult.Replayed(reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3))
                    : new PlaceResult.KeyReusedWithOtherBody();
            }
        }

        var orderId = order.OrderId ?? $"ord-{Guid.CreateVersion7():N}";
        var sagaId = Guid.CreateVersion7().ToString();
        var activity = Activity.Current;
        var traceId = activity?.TraceId.ToHexString();
        var (traceParent, traceState) = activity is { IdFormat: ActivityIdFormat.W3C } ? (activity.Id, activity.TraceStateString) : (null, null);
        var insert = new NpgsqlBatchCommand("""
            INSERT INTO orders (order_id, saga_id, customer_id, currency, lines, total, status, trace_id, traceparent, tracestate, delivery_address)
            VALUES ($1, $2, $3, $4, $5::jsonb, $6, 'Pending', $7, $8, $9, $10::jsonb) ON CONFLICT (order_id) DO NOTHING
            """)
        {
            Parameters =
            {
                new() { Value = orderId },
                new() { Value = sagaId },
                new() { Value = order.CustomerId },
                new() { Value = order.Currency },
                new() { Value = JsonSerializer.Serialize(order.Lines.ToList(), OrderJson.Default.ListOrderLine) },
                new() { Value = order.Total },
                new() { Value = (object?)traceId ?? DBNull.Value },
                new() { Value = (object?)traceParent ?? DBNull.Value },
                new() { Value = (object?)traceState ?? DBNull.Value },
                new() { Value = JsonSerializer.Serialize(order.DeliveryAddress, OrderJson.Default.DeliveryAddress) },
            },
        };
        var accepted = new OrderAccepted(orderId, sagaId, "Pending", traceId);
        List<NpgsqlBatchCommand> writes = [insert];
        if (idempotencyKey is not null)
        {
            writes.Add(new NpgsqlBatchCommand("INSERT INTO idempotency_keys (key, request_hash, status_code, location, response) VALUES ($1, $2, 202, $3, $4)")
            {
                Parameters =
                {
                    new() { Value = idempotencyKey },
                    new() { Value = requestHash },
                    new() { Value = $"/orders/{orderId}" },
                    new() { Value = JsonSerializer.Serialize(accepted, OrderJson.Default.OrderAccepted) },
                },
            });
        }

        // The order, its OrderPlaced and the response to replay, in one round trip; should the
        // order id be taken, the transaction rolls back (it is disposed uncommitted) and nothing
        // of it stays. OrderPlaced wakes the relay after the commit, not from inside it (see Outbox).
        using var wakeUp = outbox.WakeUpAfterCommit(transaction);
        await outbox.EnqueueAsync(transaction,
            [new OutgoingMessage(Topics.Orders, sagaId, new OrderPlaced(orderId, order.CustomerId, order.Currency, order.Lines, order.Total, order.DeliveryAddress))],
            writes, cancellationToken);
        if (insert.RecordsAffected == 0) return new PlaceResult.OrderIdTaken(orderId);
        await transaction.CommitAsync(cancellationToken);
        wakeUp.Committed();
        return new PlaceResult.Accepted(accepted);
    }

    public async Task<OrderView?> GetAsync(string orderId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM orders WHERE order_id = $1");
        command.Parameters.Add(new() { Value = orderId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    public async Task<OrderPage> ListAsync(string? status, int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        var list = new NpgsqlBatchCommand($"SELECT {Columns} FROM orders WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at DESC, order_id LIMIT $2 OFFSET $3");
        list.Parameters.Add(new() { Value = (object?)status ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        list.Parameters.Add(new() { Value = pageSize });
        list.Parameters.Add(new() { Value = (page - 1) * pageSize });
        var count = new NpgsqlBatchCommand("SELECT count(*) FROM orders WHERE ($1::text IS NULL OR status = $1)");
        count.Parameters.Add(new() { Value = (object?)status ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        batch.BatchCommands.Add(list);
        batch.BatchCommands.Add(count);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var items = new List<OrderView>();
        while (await reader.ReadAsync(cancellationToken)) items.Add(Read(reader));
        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new OrderPage(items, page, pageSize, reader.GetInt64(0));
    }

    /// <summary>
    /// Moves a Pending order to its final status (an approved one with its delivery); false when it
    /// was final already. The outcome's handler does nothing else, so this goes in the round trip
    /// in which the inbox records the outcome: one round trip in all.
    /// </summary>
    public static Task<bool> ConcludeAsync(MessageContext context, string orderId, string status, string? reason, DeliveryBooking? delivery,
        CancellationToken cancellationToken)
    {
        var update = new NpgsqlBatchCommand(
            "UPDATE orders SET status = $2, reason = $3, delivery = $4::jsonb, updated_at = now() WHERE order_id = $1 AND status = 'Pending' RETURNING true");
        update.Parameters.Add(new() { Value = orderId });
        update.Parameters.Add(new() { Value = status });
        update.Parameters.Add(new() { Value = (object?)reason ?? DBNull.Value });
        update.Parameters.Add(new()
        {
            Value = delivery is null ? DBNull.Value : JsonSerializer.Serialize(delivery, OrderJson.Default.DeliveryBooking),
            NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text,
        });
        return context.ReadAsync([update], (reader, ct) => reader.ReadAsync(ct), cancellationToken);
    }

    /// <summary>
    /// Locks up to <paramref name="limit"/> orders that have been Pending for at least
    /// <paramref name="after"/> and whose next re-send is due, skipping those another replica holds.
    /// </summary>
    public static async Task<List<PendingOrder>> ClaimDueForResendAsync(NpgsqlTransaction transaction, TimeSpan after, int limit, CancellationToken cancellationToken)
    {
        await using var select = new NpgsqlCommand("""
            SELECT order_id, saga_id, customer_id, currency, lines::text, resend_count, traceparent, tracestate, delivery_address::text
            FROM orders
            WHERE status = 'Pending' AND created_at <= now() - $1 AND (next_resend_at IS NULL OR next_resend_at <= now())
            ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED
            """, transaction.Connection, transaction);
        select.Parameters.Add(new() { Value = after });
        select.Parameters.Add(new() { Value = limit });
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        var due = new List<PendingOrder>();
        while (await reader.ReadAsync(cancellationToken))
        {
            // The total as first sent is the lines' sum (ValidOrder.Total); the column holds it rounded to cents.
            var lines = JsonSerializer.Deserialize(reader.GetString(4), OrderJson.Default.ListOrderLine)!;
            var placed = new OrderPlaced(reader.GetString(0), reader.GetString(2), reader.GetString(3), lines, lines.Sum(l => l.UnitPrice * l.Quantity),
                reader.IsDBNull(8) ? null : JsonSerializer.Deserialize(reader.GetString(8), OrderJson.Default.DeliveryAddress));
            due.Add(new PendingOrder(reader.GetString(1), placed, reader.GetInt32(5),
                reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7)));
        }
        return due;
    }

    /// <summary>
    /// Counts a re-send and sets when the next one is due. Only the re-send columns change: status
    /// and updated_at say what the saga decided and when, and nothing else may move them.
    /// </summary>
    public static async Task ScheduleNextResendAsync(NpgsqlTransaction transaction, IReadOnlyList<(string OrderId, TimeSpan Wait)> orders, CancellationToken cancellationToken)
    {
        if (orders.Count == 0) return;
        await using var update = new NpgsqlCommand("""
            UPDATE orders o SET resend_count = o.resend_count + 1, next_resend_at = now() + d.wait
            FROM unnest($1::text[], $2::interval[]) AS d(order_id, wait)
            WHERE o.order_id = d.order_id
            """, transaction.Connection, transaction);
        update.Parameters.Add(new() { Value = orders.Select(o => o.OrderId).ToArray() });
        update.Parameters.Add(new() { Value = orders.Select(o => o.Wait).ToArray() });
        await update.ExecuteNonQueryAsync(cancellationToken);
    }

    private const string Columns =
        "order_id, saga_id, customer_id, currency, lines::text, total, status, reason, created_at, updated_at, trace_id, delivery_address::text, delivery::text";

    private static OrderView Read(NpgsqlDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
        JsonSerializer.Deserialize(reader.GetString(4), OrderJson.Default.ListOrderLine)!,
        reader.GetDecimal(5), reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7),
        reader.GetFieldValue<DateTimeOffset>(8), reader.GetFieldValue<DateTimeOffset>(9), reader.IsDBNull(10) ? null : reader.GetString(10),
        reader.IsDBNull(11) ? null : JsonSerializer.Deserialize(reader.GetString(11), OrderJson.Default.DeliveryAddress),
        reader.IsDBNull(12) ? null : JsonSerializer.Deserialize(reader.GetString(12), OrderJson.Default.DeliveryBooking));
}
