-- People, memberships, sessions, invites, rate limits, OAuth connect state, audit log.
-- Every secret a person or a provider hands us is stored hashed (ours) or sealed (theirs).

CREATE TABLE users (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Lower-cased and trimmed by the application; unique as such.
    email                text NOT NULL UNIQUE CHECK (email <> '' AND email = lower(email)),
    name                 text NOT NULL DEFAULT '',
    password_hash        text NOT NULL,
    password_changed_at  timestamptz NOT NULL DEFAULT now(),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role          text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);
-- At most one owner per workspace; transfers swap roles in one transaction.
CREATE UNIQUE INDEX memberships_one_owner ON memberships (workspace_id) WHERE role = 'owner';

-- Opaque refresh tokens, stored as SHA-256. Every rotation adds a token to the same family;
-- presenting a token that was already rotated revokes the whole family.
CREATE TABLE refresh_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    family_id    uuid NOT NULL,
    user_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    rotated_at   timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

-- Access tokens (JWTs) of revoked families are refused until they expire: the JWT carries
-- its family id ("sid"), checked against this table on every request.
CREATE TABLE refresh_families (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX refresh_families_user_idx ON refresh_families (user_id);

CREATE TABLE password_resets (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);

CREATE TABLE invites (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email         text NOT NULL CHECK (email <> '' AND email = lower(email)),
    role          text NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    token_hash    bytea NOT NULL UNIQUE,
    invited_by    uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    accepted_at   timestamptz,
    accepted_by   uuid REFERENCES users(id) ON DELETE SET NULL,
    revoked_at    timestamptz
);
CREATE INDEX invites_workspace_idx ON invites (workspace_id);
CREATE INDEX invites_invited_by_idx ON invites (invited_by);
CREATE INDEX invites_accepted_by_idx ON invites (accepted_by);

-- Fixed-window counters shared by every API replica: bucket is e.g. "login:ip:10.0.0.1".
CREATE TABLE rate_limits (
    bucket        text NOT NULL,
    window_start  timestamptz NOT NULL,
    hits          integer NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, window_start)
);

-- API keys gain a scope and the user who created them.
ALTER TABLE api_keys
    ADD COLUMN scope text NOT NULL DEFAULT 'write' CHECK (scope IN ('read', 'write')),
    ADD COLUMN created_by uuid REFERENCES users(id) ON DELETE SET NULL;
CREATE INDEX api_keys_created_by_idx ON api_keys (created_by);

-- OAuth connect: one row per consent started. The state sent to the provider is signed and
-- names this row; the row makes it single-use and holds the PKCE verifier (sealed).
CREATE TABLE oauth_states (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id          uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id               uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider              text NOT NULL,
    -- Set when the consent reconnects an existing connection.
    connection_id         uuid REFERENCES connections(id) ON DELETE CASCADE,
    shop                  text NOT NULL DEFAULT '',
    account_ids           text[] NOT NULL DEFAULT '{}',
    verifier_ciphertext   bytea,
    created_at            timestamptz NOT NULL DEFAULT now(),
    expires_at            timestamptz NOT NULL,
    used_at               timestamptz
);
CREATE INDEX oauth_states_workspace_idx ON oauth_states (workspace_id);
CREATE INDEX oauth_states_user_idx ON oauth_states (user_id);
CREATE INDEX oauth_states_connection_idx ON oauth_states (connection_id);

-- Connection token care: expiry, the key id the tokens are sealed under, and whether the
-- admins were told about the current needs_reauth episode.
ALTER TABLE connections
    ADD COLUMN token_expires_at timestamptz,
    ADD COLUMN token_key_id text NOT NULL DEFAULT '',
    ADD COLUMN reauth_notified_at timestamptz,
    ADD COLUMN connected_by uuid REFERENCES users(id) ON DELETE SET NULL,
    -- Shopify webhook subscriptions registered on connect, removed on disconnect.
    ADD COLUMN provider_webhook_ids text[] NOT NULL DEFAULT '{}';
CREATE INDEX connections_connected_by_idx ON connections (connected_by);

CREATE TABLE audit_log (
    id             bigserial PRIMARY KEY,
    workspace_id   uuid REFERENCES workspaces(id) ON DELETE CASCADE,
    actor_user_id  uuid REFERENCES users(id) ON DELETE SET NULL,
    actor_api_key_id uuid REFERENCES api_keys(id) ON DELETE SET NULL,
    -- The actor as written at the time (an email or key prefix), kept when the user is deleted.
    actor          text NOT NULL DEFAULT '',
    action         text NOT NULL,
    target_type    text NOT NULL DEFAULT '',
    target_id      text NOT NULL DEFAULT '',
    ip             text NOT NULL DEFAULT '',
    details        jsonb NOT NULL DEFAULT '{}',
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_workspace_idx ON audit_log (workspace_id, at DESC);
CREATE INDEX audit_log_actor_user_idx ON audit_log (actor_user_id);
CREATE INDEX audit_log_actor_api_key_idx ON audit_log (actor_api_key_id);
