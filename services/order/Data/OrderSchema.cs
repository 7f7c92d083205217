using SagaAspire.Messaging;

namespace SagaAspire.Order.Data;

/// <summary>The order service's own tables.</summary>
internal static class OrderSchema
{
    public static readonly Migration[] Migrations =
    [
        new(1, "orders and idempotency keys", """
            CREATE TABLE orders (
                order_id    text          PRIMARY KEY,
                saga_id     text          NOT NULL UNIQUE,
                customer_id text          NOT NULL,
                currency    text          NOT NULL,
                lines       jsonb         NOT NULL,
                total       numeric(18,2) NOT NULL,
                status      text          NOT NULL,
                reason      text,
                trace_id    text,
                created_at  timestamptz   NOT NULL DEFAULT now(),
                updated_at  timestamptz   NOT NULL DEFAULT now()
            );
            CREATE INDEX orders_status_created ON orders (status, created_at DESC);
            COMMENT ON TABLE orders IS 'Orders as customers placed them, Pending until their saga approves or rejects them.';

            CREATE TABLE idempotency_keys (
                key          text        PRIMARY KEY,
                request_hash text        NOT NULL,
                status_code  integer     NOT NULL,
                location     text,
                response     text        NOT NULL,
                created_at   timestamptz NOT NULL DEFAULT now()
            );
            COMMENT ON TABLE idempotency_keys IS 'The first response to each Idempotency-Key, replayed for a retry with the same body.';
            """),
    ];
}
