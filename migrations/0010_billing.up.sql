-- Subscriptions on Stripe and dunning (README "Billing").
--
-- One billing account per workspace. A workspace without a row is on the free plan with
-- no Stripe customer: rows are created on first checkout, so existing workspaces need none.
CREATE TABLE billing_accounts (
    workspace_id            uuid PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    plan                    text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'starter', 'pro', 'agency')),
    -- Stripe's subscription status as last read from Stripe ('' = no subscription).
    status                  text NOT NULL DEFAULT '',
    stripe_customer_id      text UNIQUE,
    stripe_subscription_id  text UNIQUE,
    trial_end               timestamptz,
    current_period_end      timestamptz,
    cancel_at_period_end    boolean NOT NULL DEFAULT false,
    has_payment_method      boolean NOT NULL DEFAULT false,
    -- The dunning episode in force, written by the dunning workflow's activities.
    dunning_state           text NOT NULL DEFAULT 'none'
        CHECK (dunning_state IN ('none', 'grace', 'restricted', 'suspended')),
    dunning_workflow_id     text,
    dunning_since           timestamptz,
    -- created of the newest Stripe object state applied; an older re-read never overwrites it.
    stripe_synced_at        timestamptz,
    updated_at              timestamptz NOT NULL DEFAULT now()
);

-- Every Stripe event received, by id: the de-duplication record, written in the same
-- transaction as the event's effect. Events of an unknown customer are recorded too.
CREATE TABLE stripe_events (
    id            text PRIMARY KEY,
    type          text NOT NULL,
    created       timestamptz NOT NULL,
    object_id     text NOT NULL DEFAULT '',
    workspace_id  uuid REFERENCES workspaces(id) ON DELETE SET NULL,
    outcome       text NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_events_workspace_idx ON stripe_events (workspace_id);

-- Billing emails claimed per (key, step) before sending, so an activity retried after a
-- send never sends the same step twice.
CREATE TABLE billing_emails (
    key           text NOT NULL,
    step          text NOT NULL,
    workspace_id  uuid REFERENCES workspaces(id) ON DELETE CASCADE,
    recipients    integer NOT NULL DEFAULT 0,
    sent_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key, step)
);
CREATE INDEX billing_emails_workspace_idx ON billing_emails (workspace_id);
