-- Store orders (Shopify), web sessions (GA4), webhook de-duplication, and the connection
-- fields OAuth channels and incremental-by-update-time channels need.

ALTER TABLE connections
    -- AES-256-GCM sealed OAuth refresh token (Google Ads, GA4), additional data as the token.
    ADD COLUMN refresh_token_ciphertext bytea,
    -- Google Ads manager account acting for the customer ('' = none).
    ADD COLUMN login_customer_id text NOT NULL DEFAULT '',
    -- Highest updated_at read by an incremental orders sync (Shopify reads by update time).
    ADD COLUMN cursor_updated_at timestamptz;

-- Where an orders read starts (updated_at_min); null for date-windowed reads.
ALTER TABLE sync_runs ADD COLUMN updated_min timestamptz;

CREATE TABLE orders (
    workspace_id      uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connection_id     uuid NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    shop_domain       text NOT NULL,
    order_id          text NOT NULL,
    name              text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    processed_at      timestamptz,
    cancelled_at      timestamptz,
    currency          char(3) NOT NULL,
    total_micros      bigint NOT NULL,
    subtotal_micros   bigint NOT NULL DEFAULT 0,
    tax_micros        bigint NOT NULL DEFAULT 0,
    discounts_micros  bigint NOT NULL DEFAULT 0,
    refunded_micros   bigint NOT NULL DEFAULT 0,
    financial_status  text NOT NULL DEFAULT '',
    test              boolean NOT NULL DEFAULT false,
    customer_id       text NOT NULL DEFAULT '',
    -- SHA-256 of the normalized email; the email itself is never stored.
    email_sha256      text NOT NULL DEFAULT '',
    utm_source        text NOT NULL DEFAULT '',
    utm_medium        text NOT NULL DEFAULT '',
    utm_campaign      text NOT NULL DEFAULT '',
    landing_site      text NOT NULL DEFAULT '',
    referring_site    text NOT NULL DEFAULT '',
    synced_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_natural_key PRIMARY KEY (workspace_id, shop_domain, order_id)
);
CREATE INDEX orders_workspace_created_idx ON orders (workspace_id, created_at);
CREATE INDEX orders_workspace_customer_idx ON orders (workspace_id, customer_id, created_at);

CREATE TABLE order_line_items (
    workspace_id   uuid NOT NULL,
    shop_domain    text NOT NULL,
    order_id       text NOT NULL,
    line_item_id   text NOT NULL,
    product_id     text NOT NULL DEFAULT '',
    variant_id     text NOT NULL DEFAULT '',
    sku            text NOT NULL DEFAULT '',
    title          text NOT NULL DEFAULT '',
    quantity       bigint NOT NULL,
    price_micros   bigint NOT NULL,
    PRIMARY KEY (workspace_id, shop_domain, order_id, line_item_id),
    FOREIGN KEY (workspace_id, shop_domain, order_id) REFERENCES orders ON DELETE CASCADE
);

CREATE TABLE order_refunds (
    workspace_id   uuid NOT NULL,
    shop_domain    text NOT NULL,
    order_id       text NOT NULL,
    refund_id      text NOT NULL,
    created_at     timestamptz NOT NULL,
    amount_micros  bigint NOT NULL,
    PRIMARY KEY (workspace_id, shop_domain, order_id, refund_id),
    FOREIGN KEY (workspace_id, shop_domain, order_id) REFERENCES orders ON DELETE CASCADE
);

-- One row per (property, day, source, medium, campaign).
CREATE TABLE sessions_daily (
    workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connection_id   uuid NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    property_id     text NOT NULL,
    date            date NOT NULL,
    source          text NOT NULL,
    medium          text NOT NULL,
    campaign        text NOT NULL,
    sessions        bigint NOT NULL,
    conversions     numeric(20, 6) NOT NULL DEFAULT 0,
    revenue_micros  bigint NOT NULL DEFAULT 0,
    currency        char(3) NOT NULL,
    synced_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sessions_daily_natural_key PRIMARY KEY (workspace_id, property_id, date, source, medium, campaign)
);
CREATE INDEX sessions_daily_workspace_date_idx ON sessions_daily (workspace_id, date);

-- Webhook deliveries already applied, so a redelivery changes nothing.
CREATE TABLE webhook_deliveries (
    provider      text NOT NULL,
    webhook_id    text NOT NULL,
    workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    topic         text NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, webhook_id, workspace_id)
);
