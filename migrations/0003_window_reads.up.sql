-- What the sync engine needs to make a window read exact and safe to retry:
--  * the keys each run has read, so a completed read removes the rows the provider no
--    longer returns for the window (and nothing else);
--  * a writer fence, so two attempts of one window never write at the same time;
--  * progress accounting, so only attempts in a row that moved nothing count toward giving up;
--  * cancelled runs, and the last failure shown on the connection until a run succeeds.

ALTER TABLE sync_runs
    DROP CONSTRAINT sync_runs_status_check,
    ADD CONSTRAINT sync_runs_status_check
        CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'cancelled')),
    -- Bumped by every attempt that takes over the run; page commits carry the value they
    -- took and are refused once a newer attempt has taken over.
    ADD COLUMN writer_seq bigint NOT NULL DEFAULT 0,
    -- Bumped by every commit that moves the read (rows or a provider cursor).
    ADD COLUMN progress bigint NOT NULL DEFAULT 0,
    -- progress when the current attempt took over; NULL once an attempt ended cleanly.
    ADD COLUMN claim_progress bigint,
    -- Attempts in a row that ended (failed or died) without moving the read.
    ADD COLUMN stalled_attempts integer NOT NULL DEFAULT 0,
    -- The last failed attempt's error, for the message when the window gives up.
    ADD COLUMN last_attempt_error text NOT NULL DEFAULT '',
    -- Set in the transaction of the window's last page: the read is complete and the
    -- window's rows are exactly what the provider returned.
    ADD COLUMN read_completed_at timestamptz,
    -- Rows of the window the completed read removed because the provider no longer returns them.
    ADD COLUMN rows_removed bigint NOT NULL DEFAULT 0;

-- Keys read so far by a running window read; emptied when the read completes or the run closes.
CREATE TABLE sync_run_ad_keys (
    sync_run_id  uuid NOT NULL REFERENCES sync_runs(id) ON DELETE CASCADE,
    channel      text NOT NULL,
    account_id   text NOT NULL,
    campaign_id  text NOT NULL,
    adset_id     text NOT NULL,
    ad_id        text NOT NULL,
    date         date NOT NULL,
    PRIMARY KEY (sync_run_id, channel, account_id, campaign_id, adset_id, ad_id, date)
);

CREATE TABLE sync_run_session_keys (
    sync_run_id  uuid NOT NULL REFERENCES sync_runs(id) ON DELETE CASCADE,
    property_id  text NOT NULL,
    date         date NOT NULL,
    source       text NOT NULL,
    medium       text NOT NULL,
    campaign     text NOT NULL,
    PRIMARY KEY (sync_run_id, property_id, date, source, medium, campaign)
);

-- The connection shows its last failed sync or backfill until a later run succeeds.
ALTER TABLE connections
    ADD COLUMN last_error_at timestamptz,
    ADD COLUMN last_error_workflow_id text NOT NULL DEFAULT '',
    ADD COLUMN last_error text NOT NULL DEFAULT '';


-- Running backfills, so an overlapping one is refused (or the same one returned) before
-- it starts instead of failing half-way on a window another backfill already runs.
CREATE TABLE backfills (
    workflow_id    text PRIMARY KEY,
    workspace_id   uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    connection_id  uuid NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    day_from       date NOT NULL,
    day_to         date NOT NULL CHECK (day_to >= day_from),
    status         text NOT NULL DEFAULT 'running'
                   CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
    error          text NOT NULL DEFAULT '',
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz
);
CREATE INDEX backfills_connection_idx ON backfills (connection_id, status);
CREATE INDEX backfills_workspace_idx ON backfills (workspace_id);
