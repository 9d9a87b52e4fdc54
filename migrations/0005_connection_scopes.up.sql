-- The scopes granted to a connection's token, as last read from the provider (Shopify's
-- access_scopes.json); null when never read. Shopify serves only the last 60 days of orders
-- to a token without read_all_orders, silently, so the scopes say how far back the
-- connection's history reaches.
ALTER TABLE connections ADD COLUMN access_scopes text[];
