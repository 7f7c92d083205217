using SagaAspire.Messaging;

namespace SagaAspire.Orchestrator.Data;

/// <summary>The orchestrator's own tables.</summary>
internal static class OrchestratorSchema
{
    public static readonly Migration[] Migrations =
    [
        new(1, "sagas and their timeline", """
            CREATE TABLE sagas (
                saga_id        text        PRIMARY KEY,
                order_id       text        NOT NULL,
                status         text        NOT NULL,
                current_step   text        NOT NULL,
                failure_reason text,
                state          jsonb       NOT NULL,
                data           jsonb       NOT NULL,
                version        integer     NOT NULL,
                deadline_at    timestamptz,
                traceparent    text,
                tracestate     text,
                started_at     timestamptz NOT NULL,
                updated_at     timestamptz NOT NULL
            );
            CREATE INDEX sagas_status_updated ON sagas (status, updated_at DESC);
            CREATE INDEX sagas_order_id ON sagas (order_id);
            CREATE INDEX sagas_deadline ON sagas (deadline_at) WHERE deadline_at IS NOT NULL;
            COMMENT ON TABLE sagas IS 'One order saga each: its persisted state (optimistic concurrency on version) and the trace context it continues.';

            CREATE TABLE saga_timeline (
                id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                saga_id  text        NOT NULL REFERENCES sagas (saga_id),
                step     text        NOT NULL,
                outcome  text        NOT NULL,
                reason   text,
                at       timestamptz NOT NULL,
                trace_id text
            );
            CREATE INDEX saga_timeline_saga ON saga_timeline (saga_id, id);
            COMMENT ON TABLE saga_timeline IS 'Every transition of every saga: step, outcome, reason, time and trace id.';
            """),
        new(2, "announce saga changes", """
            CREATE FUNCTION announce_saga_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('saga_changes', NEW.saga_id || ' ' || NEW.status);
                RETURN NULL;
            END $$;
            CREATE TRIGGER sagas_announce_change AFTER INSERT OR UPDATE ON sagas
                FOR EACH ROW EXECUTE FUNCTION announce_saga_change();
            COMMENT ON FUNCTION announce_saga_change() IS 'Tells listeners (the Saga Explorer''s live updates) which saga changed, when its transaction commits.';
            """),
        // A NOTIFY in a transaction serializes its commit with every other notifying commit in
        // the server, on every saga transition; the Explorer now reads changes itself, and only
        // while a page is open.
        new(3, "saga changes read by the Explorer, not announced", """
            DROP TRIGGER sagas_announce_change ON sagas;
            DROP FUNCTION announce_saga_change();
            """),
    ];
}
