-- Connection lifecycle: a disconnected connection keeps its data (unless purged) but has no
-- tokens, no schedule and no syncs; TokenRefresh finds tokens close to expiry by index.

ALTER TABLE connections
    DROP CONSTRAINT connections_status_check,
    ADD CONSTRAINT connections_status_check
        CHECK (status IN ('active', 'needs_reauth', 'error', 'disabled', 'disconnected')),
    -- When the connection was disconnected; NULL while connected (reconnecting clears it).
    ADD COLUMN disconnected_at timestamptz;

CREATE INDEX connections_token_expires_idx ON connections (token_expires_at)
    WHERE token_expires_at IS NOT NULL;

-- reauth_notified_at marks that the admins were told about the current needs_reauth
-- episode. Whatever path makes the connection leave needs_reauth (a reconnect through OAuth,
-- a successful refresh, a disconnect) ends the episode, so the next one is told again; a
-- trigger keeps that true for every writer instead of trusting each UPDATE to remember.
CREATE FUNCTION connections_end_reauth_episode() RETURNS trigger AS $$
BEGIN
    IF NEW.status <> 'needs_reauth' THEN
        NEW.reauth_notified_at := NULL;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER connections_end_reauth_episode
    BEFORE UPDATE OF status ON connections
    FOR EACH ROW
    WHEN (NEW.status IS DISTINCT FROM OLD.status)
    EXECUTE FUNCTION connections_end_reauth_episode();
