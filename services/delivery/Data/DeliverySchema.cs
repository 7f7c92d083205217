using SagaAspire.Messaging;

namespace SagaAspire.Delivery.Data;

/// <summary>The delivery service's own tables.</summary>
internal static class DeliverySchema
{
    public static readonly Migration[] Migrations =
    [
        new(1, "areas, slots and deliveries", """
            CREATE TABLE delivery_areas (
                country       text    PRIMARY KEY CHECK (country ~ '^[A-Z]{2}$'),
                name          text    NOT NULL,
                slots_per_day integer NOT NULL CHECK (slots_per_day >= 0)
            );
            COMMENT ON TABLE delivery_areas IS 'The countries served and how many deliveries each takes per day (from the Delivery:Areas setting).';

            CREATE TABLE delivery_slots (
                country  text    NOT NULL REFERENCES delivery_areas (country),
                day      date    NOT NULL,
                capacity integer NOT NULL CHECK (capacity >= 0),
                booked   integer NOT NULL DEFAULT 0 CHECK (booked >= 0),
                PRIMARY KEY (country, day),
                CHECK (booked <= capacity)
            );
            COMMENT ON TABLE delivery_slots IS 'One row per country and day once a delivery was asked for it: its capacity (from the area when the row was made) and how many are booked.';

            CREATE TABLE deliveries (
                saga_id     text        PRIMARY KEY,
                order_id    text        NOT NULL,
                status      text        NOT NULL CHECK (status IN ('scheduled', 'refused', 'cancelled')),
                delivery_id text        UNIQUE,
                street      text,
                city        text,
                postal_code text,
                country     text,
                day         date,
                reason      text,
                created_at  timestamptz NOT NULL DEFAULT now(),
                updated_at  timestamptz NOT NULL DEFAULT now(),
                CHECK (status <> 'scheduled' OR (delivery_id IS NOT NULL AND day IS NOT NULL)),
                CHECK (status <> 'refused' OR (delivery_id IS NULL AND reason IS NOT NULL))
            );
            CREATE INDEX deliveries_created ON deliveries (created_at DESC);
            CREATE INDEX deliveries_status_created ON deliveries (status, created_at DESC);
            COMMENT ON TABLE deliveries IS 'The one delivery decision per saga: scheduled (with its id and day), refused (with the reason) or cancelled; cancelled without a delivery id is a tombstone that refuses a late schedule.';
            """),
    ];
}
