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
        // An order whose OrderPlaced the broker lost would stay Pending for ever; the order
        // service sends it again (PendingOrderResender), in the trace of the request that placed it.
        new(2, "re-sending the OrderPlaced of orders left Pending", """
            ALTER TABLE orders
                ADD COLUMN traceparent    text,
                ADD COLUMN tracestate     text,
                ADD COLUMN resend_count   integer NOT NULL DEFAULT 0,
                ADD COLUMN next_resend_at timestamptz;
            CREATE INDEX orders_pending_created ON orders (created_at) WHERE status = 'Pending';
            COMMENT ON COLUMN orders.traceparent IS 'W3C trace context of the request that placed the order, continued by every re-send.';
            COMMENT ON COLUMN orders.resend_count IS 'How often OrderPlaced was sent again because the order stayed Pending.';
            COMMENT ON COLUMN orders.next_resend_at IS 'When OrderPlaced is next sent again if the order is still Pending (null: ResendPendingAfter after created_at).';
            """),
        // The saga books a delivery: the order says where to, and shows the booking once approved.
        // Orders from before keep no address; their saga's delivery step refuses them.
        new(3, "delivery address and booking", """
            ALTER TABLE orders
                ADD COLUMN delivery_address jsonb,
                ADD COLUMN delivery         jsonb;
            COMMENT ON COLUMN orders.delivery_address IS 'Where the order goes: street, city, postalCode, country (ISO 3166-1 alpha-2).';
            COMMENT ON COLUMN orders.delivery IS 'The booked delivery (deliveryId, date) the saga reported when it approved the order.';
            """),
    ];
}
