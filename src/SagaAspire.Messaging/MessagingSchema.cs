namespace SagaAspire.Messaging;

/// <summary>The tables of the messaging building block, in every service's database.</summary>
internal static class MessagingSchema
{
    public const string Component = "messaging";

    public static readonly Migration[] Migrations =
    [
        new(1, "outbox, inbox and dead letters", """
            CREATE TABLE messaging.outbox (
                id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                message_id   uuid        NOT NULL,
                topic        text        NOT NULL,
                message_key  text        NOT NULL,
                message_type text,
                saga_id      text,
                causation_id uuid,
                traceparent  text,
                tracestate   text,
                headers      jsonb,
                payload      bytea       NOT NULL,
                created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
            );
            COMMENT ON TABLE messaging.outbox IS 'Messages written in the same transaction as the state change that caused them, waiting for the relay to publish them to Kafka.';

            CREATE TABLE messaging.inbox (
                consumer     text        NOT NULL,
                message_id   uuid        NOT NULL,
                message_type text        NOT NULL,
                processed_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (consumer, message_id)
            );
            CREATE INDEX inbox_processed_at ON messaging.inbox (processed_at);
            COMMENT ON TABLE messaging.inbox IS 'Messages a consumer has processed, recorded in the handler''s transaction so a redelivery has no second effect.';

            CREATE TABLE messaging.dead_letters (
                id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                consumer       text        NOT NULL,
                topic          text        NOT NULL,
                partition      integer     NOT NULL,
                "offset"       bigint      NOT NULL,
                message_id     text,
                message_type   text,
                message_key    text,
                headers        jsonb       NOT NULL,
                payload        bytea,
                reason         text        NOT NULL,
                error          text        NOT NULL,
                exception_type text,
                failed_at      timestamptz NOT NULL DEFAULT now(),
                replayed_at    timestamptz,
                UNIQUE (consumer, topic, partition, "offset")
            );
            COMMENT ON TABLE messaging.dead_letters IS 'Messages a consumer could not process, as they arrived, with the reason; listed and replayed by operators.';
            """),
        new(2, "parked outbox rows", """
            CREATE TABLE messaging.outbox_parked (LIKE messaging.outbox);
            ALTER TABLE messaging.outbox_parked ADD COLUMN error text NOT NULL, ADD COLUMN parked_at timestamptz NOT NULL;
            COMMENT ON TABLE messaging.outbox_parked IS 'Outbox rows the broker refused for good (too large, forbidden topic), kept for an operator instead of blocking the outbox.';
            """),
        // A nullable column without a default changes only the catalogue (no rewrite, its lock is
        // brief), and replicas still running the previous version go on inserting rows without it.
        new(3, "replies recorded with the inbox", """
            ALTER TABLE messaging.inbox ADD COLUMN replies jsonb;
            COMMENT ON COLUMN messaging.inbox.replies IS 'The messages the handler sent, in wire form (payload in base64), put into the outbox again when the message is redelivered; null when it sent none.';
            """),
        // The relay deletes a second's published rows at once, which can leave the table's last
        // pages empty; a vacuum would then take the table's strongest lock to cut them off and
        // hold up every writer's insert meanwhile (tens of milliseconds, docs/messaging.md). A
        // queue table fills those pages again a moment later, so vacuums leave them.
        new(4, "the outbox keeps its empty pages", """
            ALTER TABLE messaging.outbox SET (vacuum_truncate = false);
            """),
    ];
}
