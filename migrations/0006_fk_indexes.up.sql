-- Indexes for the foreign keys that had none whose leading columns are the key: deleting a
-- connection (or a workspace) cascades to these tables, and without an index each delete
-- scans the whole table. The other referencing tables are covered by their primary keys
-- (workspace_id first; order_line_items and order_refunds by the order's key) or by
-- existing indexes (ad_metrics_daily, sync_runs, customers, api_keys, connections).
CREATE INDEX IF NOT EXISTS orders_connection_idx ON orders (connection_id);
CREATE INDEX IF NOT EXISTS sessions_daily_connection_idx ON sessions_daily (connection_id);
CREATE INDEX IF NOT EXISTS webhook_deliveries_workspace_idx ON webhook_deliveries (workspace_id);
