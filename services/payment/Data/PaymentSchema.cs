using SagaAspire.Messaging;

namespace SagaAspire.Payment.Data;

/// <summary>The payment service's own tables.</summary>
internal static class PaymentSchema
{
    public static readonly Migration[] Migrations =
    [
        new(1, "payments and refunds", """
            CREATE TABLE payments (
                saga_id     text          PRIMARY KEY,
                order_id    text          NOT NULL,
                customer_id text          NOT NULL,
                amount      numeric(18,2) NOT NULL CHECK (amount > 0),
                currency    text          NOT NULL,
                status      text          NOT NULL CHECK (status IN ('charged', 'declined', 'refunded')),
                reason      text,
                payment_id  text          UNIQUE,
                created_at  timestamptz   NOT NULL DEFAULT now(),
                updated_at  timestamptz   NOT NULL DEFAULT now(),
                CHECK (CASE status WHEN 'declined' THEN payment_id IS NULL AND reason IS NOT NULL ELSE payment_id IS NOT NULL END)
            );
            CREATE INDEX payments_created ON payments (created_at DESC);
            CREATE INDEX payments_status_created ON payments (status, created_at DESC);
            COMMENT ON TABLE payments IS 'The one charge decision per saga: charged (with its payment id), declined (with the reason) or later refunded.';

            CREATE TABLE refunds (
                saga_id     text          PRIMARY KEY,
                amount      numeric(18,2) NOT NULL CHECK (amount >= 0),
                refunded_at timestamptz   NOT NULL DEFAULT now()
            );
            COMMENT ON TABLE refunds IS 'The one refund per saga; amount 0 without a payment is a tombstone that declines a late charge.';
            """),
    ];
}
