-- What became of each webhook delivery in each workspace: applied, or why it was not. A
-- delivery refused for its content (stale, invalid, not the shop's, for a connection that
-- takes no data) is recorded once like an applied one, so Shopify's retries of it are
-- answered from this row and change nothing.
ALTER TABLE webhook_deliveries
    ADD COLUMN outcome text NOT NULL DEFAULT 'applied'
        CHECK (outcome IN ('applied', 'stale', 'invalid', 'not_found', 'skipped', 'unverified')),
    ADD COLUMN detail text NOT NULL DEFAULT '';
