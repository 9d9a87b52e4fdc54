-- Reports (README "Reports"): a validated definition, its runs, their artifacts and one
-- delivery record per (run, recipient).

CREATE TABLE reports (
    id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id               uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name                       text NOT NULL CHECK (name <> ''),
    -- The validated report.Definition as the API accepted it (no secrets in it).
    definition                 jsonb NOT NULL,
    -- IANA zone the relative range and the schedule are read in.
    timezone                   text NOT NULL,
    -- Whether a Temporal Schedule runs it (the schedule itself is in definition); counted
    -- against the plan's scheduled_reports.
    scheduled                  boolean NOT NULL DEFAULT false,
    -- Paused by a person or by repeated delivery failures (paused_reason says which).
    paused                     boolean NOT NULL DEFAULT false,
    paused_reason              text NOT NULL DEFAULT '',
    -- secretbox-sealed HMAC key that signs webhook deliveries.
    webhook_secret_ciphertext  bytea,
    created_by                 uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name)
);
CREATE INDEX reports_created_by_idx ON reports (created_by);

-- One row per ReportRun workflow execution: the workflow id is its natural key, so a
-- retried activity finds the run it already created.
CREATE TABLE report_runs (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id  uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    report_id     uuid NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    workflow_id   text NOT NULL UNIQUE,
    trigger       text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    range_from    date NOT NULL,
    range_to      date NOT NULL CHECK (range_to >= range_from),
    status        text NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'rendered', 'delivered', 'partially_delivered', 'failed', 'skipped')),
    row_count     integer NOT NULL DEFAULT 0,
    -- Per channel: the day its data reaches and whether its last sync failed or is running.
    freshness     jsonb NOT NULL DEFAULT '[]',
    -- The rendered report.Document without its rows (title, columns, totals, notes): what
    -- the delivery email is composed from, so rows never have to be read again.
    document      jsonb NOT NULL DEFAULT '{}',
    error         text NOT NULL DEFAULT '',
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX report_runs_report_idx ON report_runs (report_id, started_at DESC);
CREATE INDEX report_runs_workspace_idx ON report_runs (workspace_id);

-- The rendered files of a run, served by the download endpoint and attached to mail.
CREATE TABLE report_artifacts (
    run_id        uuid NOT NULL REFERENCES report_runs(id) ON DELETE CASCADE,
    format        text NOT NULL CHECK (format IN ('csv', 'html', 'pdf')),
    content_type  text NOT NULL,
    filename      text NOT NULL,
    content       bytea NOT NULL,
    sha256        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, format)
);

-- One delivery per (run, recipient): a retried delivery activity reads it and never sends
-- what is already sent.
CREATE TABLE report_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id           uuid NOT NULL REFERENCES report_runs(id) ON DELETE CASCADE,
    workspace_id     uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('email', 'webhook')),
    target           text NOT NULL CHECK (target <> ''),
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text NOT NULL DEFAULT '',
    response_status  integer,
    sent_at          timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, kind, target)
);
CREATE INDEX report_deliveries_workspace_idx ON report_deliveries (workspace_id);

-- Consecutive failed runs per (report, recipient): the admins are told once when a target
-- reaches the limit, and the report's schedule is paused.
CREATE TABLE report_target_failures (
    report_id             uuid NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    kind                  text NOT NULL CHECK (kind IN ('email', 'webhook')),
    target                text NOT NULL,
    consecutive_failures  integer NOT NULL DEFAULT 0,
    last_error            text NOT NULL DEFAULT '',
    notified_at           timestamptz,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (report_id, kind, target)
);
