-- The store's own record of each customer (Shopify's customer object, read with the
-- customer's orders), so "new customer" rests on what the store knows of the customer's
-- whole history, not on the orders a sync happens to have read.
CREATE TABLE customers (
    workspace_id   uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connection_id  uuid NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    shop_domain    text NOT NULL,
    customer_id    text NOT NULL,
    -- SHA-256 of the normalized email; joins a guest's email-only orders to the account.
    email_sha256   text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    -- The store's count of the customer's orders when last read; -1 when unknown.
    orders_count   bigint NOT NULL DEFAULT -1,
    synced_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customers_natural_key PRIMARY KEY (workspace_id, shop_domain, customer_id)
);
CREATE INDEX customers_connection_idx ON customers (connection_id);
CREATE INDEX customers_workspace_email_idx ON customers (workspace_id, email_sha256) WHERE email_sha256 <> '';
