DROP INDEX IF EXISTS webhook_deliveries_workspace_idx;
DROP INDEX IF EXISTS sessions_daily_connection_idx;
DROP INDEX IF EXISTS orders_connection_idx;
