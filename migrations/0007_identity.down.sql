DROP TABLE IF EXISTS audit_log;
ALTER TABLE connections
    DROP COLUMN IF EXISTS provider_webhook_ids,
    DROP COLUMN IF EXISTS connected_by,
    DROP COLUMN IF EXISTS reauth_notified_at,
    DROP COLUMN IF EXISTS token_key_id,
    DROP COLUMN IF EXISTS token_expires_at;
DROP TABLE IF EXISTS oauth_states;
ALTER TABLE api_keys DROP COLUMN IF EXISTS created_by, DROP COLUMN IF EXISTS scope;
DROP TABLE IF EXISTS rate_limits;
DROP TABLE IF EXISTS invites;
DROP TABLE IF EXISTS password_resets;
DROP TABLE IF EXISTS refresh_families;
DROP TABLE IF EXISTS refresh_tokens;
DROP TABLE IF EXISTS memberships;
DROP TABLE IF EXISTS users;
