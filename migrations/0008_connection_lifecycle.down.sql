DROP TRIGGER IF EXISTS connections_end_reauth_episode ON connections;
DROP FUNCTION IF EXISTS connections_end_reauth_episode();
DROP INDEX IF EXISTS connections_token_expires_idx;
-- A disconnected connection has no token; 'disabled' is the nearest earlier status.
UPDATE connections SET status = 'disabled' WHERE status = 'disconnected';
ALTER TABLE connections
    DROP CONSTRAINT connections_status_check,
    ADD CONSTRAINT connections_status_check
        CHECK (status IN ('active', 'needs_reauth', 'error', 'disabled')),
    DROP COLUMN IF EXISTS disconnected_at;
