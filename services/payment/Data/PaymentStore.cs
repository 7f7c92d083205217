using Npgsql;
using NpgsqlTypes;
using SagaAspire.Contracts;
using SagaAspire.Messaging;
using SagaAspire.Payment.Apis;

namespace SagaAspire.Payment.Data;

/// <summary>The stored statuses of a payment.</summary>
internal static class PaymentStatus
{
    public const string Charged = "charged";
    public const string Declined = "declined";
    public const string Refunded = "refunded";

    public static readonly string[] All = [Charged, Declined, Refunded];
}

/// <summary>A saga's payment as stored.</summary>
internal sealed record StoredPayment(string Status, decimal Amount, string? Reason, string? PaymentId);

/// <summary>Payments and refunds in the payment database.</summary>
internal sealed class PaymentStore(NpgsqlDataSource dataSource)
{
    private const string Columns = """
        p.saga_id, p.order_id, p.customer_id, p.amount, p.currency, p.status, p.reason, p.payment_id,
        r.amount, r.refunded_at, p.created_at, p.updated_at
        """;

    public async Task<IReadOnlyList<PaymentView>> ListAsync(string? status, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM payments p LEFT JOIN refunds r USING (saga_id)
            WHERE ($1::text IS NULL OR p.status = $1) ORDER BY p.created_at DESC, p.saga_id LIMIT $2
            """);
        command.Parameters.Add(new() { Value = (object?)status ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var payments = new List<PaymentView>();
        while (await reader.ReadAsync(cancellationToken)) payments.Add(Read(reader));
        return payments;
    }

    public async Task<PaymentView?> GetAsync(string sagaId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM payments p LEFT JOIN refunds r USING (saga_id) WHERE p.saga_id = $1");
        command.Parameters.Add(new() { Value = sagaId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    private static PaymentView Read(NpgsqlDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetDecimal(3), reader.GetString(4), reader.GetString(5),
        reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7),
        reader.IsDBNull(8) ? null : reader.GetDecimal(8), reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9),
        reader.GetFieldValue<DateTimeOffset>(10), reader.GetFieldValue<DateTimeOffset>(11));

    // What follows runs inside the transaction of the command being handled.

    /// <summary>
    /// The saga's payment, if any, and whether a refund is recorded for it (a refund that
    /// overtook its charge leaves one): the handler's first read, in the round trip in which the
    /// inbox holds the saga and records the command.
    /// </summary>
    public static Task<(StoredPayment? Payment, bool Refunded)> FindAsync(MessageContext context, CancellationToken cancellationToken) =>
        context.ReadAsync([new NpgsqlBatchCommand("""
            SELECT p.status, p.amount, p.reason, p.payment_id, EXISTS (SELECT 1 FROM refunds WHERE saga_id = $1)
            FROM (VALUES (1)) AS one LEFT JOIN payments AS p ON p.saga_id = $1
            """) { Parameters = { new() { Value = context.Envelope.SagaId } } }],
            async (reader, ct) =>
            {
                await reader.ReadAsync(ct);
                var payment = reader.IsDBNull(0) ? null
                    : new StoredPayment(reader.GetString(0), reader.GetDecimal(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3));
                return (payment, reader.GetBoolean(4));
            }, cancellationToken);

    // The writes below end a handler: they go with its reply, in one round trip (MessageContext.Write).

    /// <summary>Records the decision on the charge: a payment id when charged, a reason when declined.</summary>
    public static void Record(MessageContext context, ChargePayment charge, string status, string? paymentId, string? reason) =>
        context.Write(new NpgsqlBatchCommand("""
            INSERT INTO payments (saga_id, order_id, customer_id, amount, currency, status, payment_id, reason)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """)
        {
            Parameters =
            {
                new() { Value = context.Envelope.SagaId },
                new() { Value = charge.OrderId },
                new() { Value = charge.CustomerId },
                new() { Value = charge.Amount },
                new() { Value = charge.Currency },
                new() { Value = status },
                new() { Value = (object?)paymentId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text },
                new() { Value = (object?)reason ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text },
            },
        });

    /// <summary>Marks the charge refunded and records the refund, in one statement.</summary>
    public static void Refund(MessageContext context, decimal amount) =>
        context.Write(new NpgsqlBatchCommand("""
            WITH refunded AS (UPDATE payments SET status = 'refunded', updated_at = now() WHERE saga_id = $1)
            INSERT INTO refunds (saga_id, amount) VALUES ($1, $2)
            """)
        {
            Parameters = { new() { Value = context.Envelope.SagaId }, new() { Value = amount } },
        });

    /// <summary>A refund of nothing, kept so that a charge arriving after it is declined.</summary>
    public static void RecordTombstone(MessageContext context) =>
        context.Write(new NpgsqlBatchCommand("INSERT INTO refunds (saga_id, amount) VALUES ($1, 0) ON CONFLICT (saga_id) DO NOTHING")
        {
            Parameters = { new() { Value = context.Envelope.SagaId } },
        });
}
