-- Core schema for workspaces, API keys, connections, ad-level daily metrics and sync runs.

CREATE TABLE workspaces (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (name <> ''),
    currency    char(3) NOT NULL DEFAULT 'USD',
    timezone    text NOT NULL DEFAULT 'UTC',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- API keys are random 32-byte secrets; only their SHA-256 is stored.
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          text NOT NULL DEFAULT '',
    prefix        text NOT NULL,
    key_hash      bytea NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id);

CREATE TABLE connections (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id            uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    channel                 text NOT NULL CHECK (channel IN ('meta', 'google_ads', 'tiktok', 'shopify', 'ga4')),
    external_account_id     text NOT NULL CHECK (external_account_id <> ''),
    display_name            text NOT NULL DEFAULT '',
    status                  text NOT NULL DEFAULT 'active'
                            CHECK (status IN ('active', 'needs_reauth', 'error', 'disabled')),
    status_reason           text NOT NULL DEFAULT '',
    -- AES-256-GCM(nonce || ciphertext) of the provider access token, key from ENCRYPTION_KEY.
    token_ciphertext        bytea NOT NULL,
    timezone                text NOT NULL DEFAULT 'UTC',
    currency                char(3) NOT NULL DEFAULT 'USD',
    -- Last day fully read by an incremental sync; the next one starts at cursor_date - lookback.
    cursor_date             date,
    -- The incremental sync that holds this connection's one-sync-at-a-time lock.
    active_sync_workflow_id text,
    last_synced_at          timestamptz,
    -- The Temporal Schedule keeps only a compiled calendar, so the cron text as the user
    -- wrote it is kept here; the schedule itself stays the source of truth for paused/next runs.
    schedule_cron           text NOT NULL DEFAULT '17 */6 * * *',
    schedule_timezone       text NOT NULL DEFAULT '',
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, channel, external_account_id)
);
CREATE INDEX connections_workspace_idx ON connections (workspace_id);

-- One row per (ad, day). The primary key is the natural key, so re-reading any window
-- upserts the same rows. Money is integer micros of the row's ISO currency.
CREATE TABLE ad_metrics_daily (
    workspace_id             uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connection_id            uuid NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    channel                  text NOT NULL,
    account_id               text NOT NULL,
    campaign_id              text NOT NULL,
    campaign_name            text NOT NULL DEFAULT '',
    adset_id                 text NOT NULL DEFAULT '',
    adset_name               text NOT NULL DEFAULT '',
    ad_id                    text NOT NULL DEFAULT '',
    ad_name                  text NOT NULL DEFAULT '',
    date                     date NOT NULL,
    currency                 char(3) NOT NULL,
    spend_micros             bigint NOT NULL CHECK (spend_micros >= 0),
    impressions              bigint NOT NULL CHECK (impressions >= 0),
    clicks                   bigint NOT NULL CHECK (clicks >= 0),
    conversions              numeric(20, 6) NOT NULL DEFAULT 0,
    conversion_value_micros  bigint NOT NULL DEFAULT 0,
    synced_at                timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ad_metrics_daily_natural_key
        PRIMARY KEY (workspace_id, channel, account_id, campaign_id, adset_id, ad_id, date)
);
CREATE INDEX ad_metrics_daily_workspace_date_idx ON ad_metrics_daily (workspace_id, date);
CREATE INDEX ad_metrics_daily_connection_idx ON ad_metrics_daily (connection_id, date);

-- One row per ChannelSync run (an incremental sync or one backfill window).
CREATE TABLE sync_runs (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id   uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connection_id  uuid NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    channel        text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('incremental', 'backfill')),
    workflow_id    text NOT NULL,
    run_id         text NOT NULL,
    window_from    date NOT NULL,
    window_to      date NOT NULL CHECK (window_to >= window_from),
    status         text NOT NULL DEFAULT 'running'
                   CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    pages          integer NOT NULL DEFAULT 0,
    rows_written   bigint NOT NULL DEFAULT 0,
    -- Provider read position, written in the same transaction as each page's rows.
    page_cursor    text NOT NULL DEFAULT '',
    error          text NOT NULL DEFAULT '',
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    UNIQUE (workflow_id, run_id)
);
CREATE INDEX sync_runs_connection_idx ON sync_runs (connection_id, started_at DESC);
CREATE INDEX sync_runs_workspace_idx ON sync_runs (workspace_id, started_at DESC);
