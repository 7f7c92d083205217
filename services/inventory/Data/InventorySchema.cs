using SagaAspire.Messaging;

namespace SagaAspire.Inventory.Data;

/// <summary>The inventory service's own tables.</summary>
internal static class InventorySchema
{
    public static readonly Migration[] Migrations =
    [
        new(1, "products and reservations", """
            CREATE TABLE products (
                sku       text    PRIMARY KEY,
                name      text    NOT NULL,
                available integer NOT NULL CHECK (available >= 0),
                reserved  integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
                sold      integer NOT NULL DEFAULT 0 CHECK (sold >= 0)
            );
            COMMENT ON TABLE products IS 'Stock per product: free to reserve (available), held by running sagas (reserved), and sold.';

            CREATE TABLE reservations (
                saga_id    text        PRIMARY KEY,
                order_id   text        NOT NULL,
                status     text        NOT NULL CHECK (status IN ('reserved', 'released', 'committed', 'rejected')),
                lines      jsonb       NOT NULL,
                reason     text,
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            COMMENT ON TABLE reservations IS 'What each saga reserved and what became of it; a released row without lines is a tombstone that refuses a late reserve.';
            """),
    ];
}
