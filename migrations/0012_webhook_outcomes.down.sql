ALTER TABLE webhook_deliveries
    DROP COLUMN IF EXISTS detail,
    DROP COLUMN IF EXISTS outcome;
