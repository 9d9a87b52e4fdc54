DROP TABLE IF EXISTS webhook_deliveries;
DROP TABLE IF EXISTS sessions_daily;
DROP TABLE IF EXISTS order_refunds;
DROP TABLE IF EXISTS order_line_items;
DROP TABLE IF EXISTS orders;
ALTER TABLE sync_runs DROP COLUMN IF EXISTS updated_min;
ALTER TABLE connections
    DROP COLUMN IF EXISTS cursor_updated_at,
    DROP COLUMN IF EXISTS login_customer_id,
    DROP COLUMN IF EXISTS refresh_token_ciphertext;
