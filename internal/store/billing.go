package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
)

// BillingAccount is a workspace's subscription as last read from Stripe, and its dunning
// standing. A workspace that never checked out has the zero account on the free plan.
type BillingAccount struct {
	WorkspaceID          string
	Plan                 billing.PlanID
	Status               string // Stripe subscription status; "" without a subscription
	StripeCustomerID     string
	StripeSubscriptionID string
	TrialEnd             *time.Time
	CurrentPeriodEnd     *time.Time
	CancelAtPeriodEnd    bool
	HasPaymentMethod     bool
	DunningState         billing.DunningState
	DunningWorkflowID    string
	DunningSince         *time.Time
	StripeSyncedAt       *time.Time
	UpdatedAt            time.Time
}

const billingColumns = `workspace_id::text, plan, status, coalesce(stripe_customer_id, ''),
	coalesce(stripe_subscription_id, ''), trial_end, current_period_end, cancel_at_period_end,
	has_payment_method, dunning_state, coalesce(dunning_workflow_id, ''), dunning_since,
	stripe_synced_at, updated_at`

func scanBilling(row pgx.Row) (BillingAccount, error) {
	var a BillingAccount
	var plan, state string
	err := row.Scan(&a.WorkspaceID, &plan, &a.Status, &a.StripeCustomerID, &a.StripeSubscriptionID,
		&a.TrialEnd, &a.CurrentPeriodEnd, &a.CancelAtPeriodEnd, &a.HasPaymentMethod, &state,
		&a.DunningWorkflowID, &a.DunningSince, &a.StripeSyncedAt, &a.UpdatedAt)
	a.Plan, a.DunningState = billing.PlanID(plan), billing.DunningState(state)
	return a, err
}

// GetBillingAccount returns the workspace's billing account; a workspace without one gets
// the free plan with no dunning. An unknown workspace is ErrNotFound.
func (s *Store) GetBillingAccount(ctx context.Context, workspaceID string) (BillingAccount, error) {
	if !isUUID(workspaceID) {
		return BillingAccount{}, ErrNotFound
	}
	a, err := scanBilling(s.Pool.QueryRow(ctx, `SELECT `+billingColumns+` FROM billing_accounts WHERE workspace_id = $1`, workspaceID))
	if errors.Is(err, pgx.ErrNoRows) {
		var exists bool
		if err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM workspaces WHERE id = $1)`, workspaceID).Scan(&exists); err != nil {
			return BillingAccount{}, fmt.Errorf("look up workspace %s: %w", workspaceID, err)
		}
		if !exists {
			return BillingAccount{}, ErrNotFound
		}
		return BillingAccount{WorkspaceID: workspaceID, Plan: billing.Free, DunningState: billing.DunningNone}, nil
	}
	if err != nil {
		return BillingAccount{}, fmt.Errorf("load billing account of %s: %w", workspaceID, err)
	}
	return a, nil
}

// BillingAccountByCustomer finds the account of a Stripe customer; ErrNotFound if none.
func (s *Store) BillingAccountByCustomer(ctx context.Context, q Querier, customerID string) (BillingAccount, error) {
	a, err := scanBilling(q.QueryRow(ctx, `SELECT `+billingColumns+` FROM billing_accounts WHERE stripe_customer_id = $1`, customerID))
	if errors.Is(err, pgx.ErrNoRows) {
		return BillingAccount{}, ErrNotFound
	}
	if err != nil {
		return BillingAccount{}, fmt.Errorf("load billing account of customer %s: %w", customerID, err)
	}
	return a, nil
}

// LinkStripeCustomer records the workspace's Stripe customer, creating the account. A
// workspace keeps its first customer: a second link of another customer is refused, so a
// forged or misrouted event cannot move a workspace to someone else's customer.
func (s *Store) LinkStripeCustomer(ctx context.Context, q Querier, workspaceID, customerID string) error {
	tag, err := q.Exec(ctx, `
		INSERT INTO billing_accounts (workspace_id, stripe_customer_id) VALUES ($1, $2)
		ON CONFLICT (workspace_id) DO UPDATE SET stripe_customer_id = EXCLUDED.stripe_customer_id, updated_at = now()
		WHERE billing_accounts.stripe_customer_id IS NULL OR billing_accounts.stripe_customer_id = EXCLUDED.stripe_customer_id`,
		workspaceID, customerID)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("stripe customer %s already belongs to another workspace: %w", customerID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("link stripe customer of %s: %w", workspaceID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("workspace %s already has another stripe customer: %w", workspaceID, ErrConflict)
	}
	return nil
}

// SubscriptionState is a subscription as re-read from Stripe, mapped to a plan.
type SubscriptionState struct {
	SubscriptionID    string
	Status            string
	Plan              billing.PlanID
	TrialEnd          *time.Time
	CurrentPeriodEnd  *time.Time
	CancelAtPeriodEnd bool
	HasPaymentMethod  bool
	// ReadAt orders states: an apply with an older ReadAt than the stored one is ignored.
	ReadAt time.Time
}

// ApplySubscription records the subscription state on the workspace's account (created if
// missing). It returns false when a newer state was applied already.
func (s *Store) ApplySubscription(ctx context.Context, q Querier, workspaceID string, st SubscriptionState) (bool, error) {
	tag, err := q.Exec(ctx, `
		INSERT INTO billing_accounts (workspace_id, plan, status, stripe_subscription_id, trial_end, current_period_end,
			cancel_at_period_end, has_payment_method, stripe_synced_at)
		VALUES ($1, $2, $3, nullif($4, ''), $5, $6, $7, $8, $9)
		ON CONFLICT (workspace_id) DO UPDATE SET
			plan = EXCLUDED.plan, status = EXCLUDED.status,
			stripe_subscription_id = EXCLUDED.stripe_subscription_id,
			trial_end = EXCLUDED.trial_end, current_period_end = EXCLUDED.current_period_end,
			cancel_at_period_end = EXCLUDED.cancel_at_period_end, has_payment_method = EXCLUDED.has_payment_method,
			stripe_synced_at = EXCLUDED.stripe_synced_at, updated_at = now()
		WHERE billing_accounts.stripe_synced_at IS NULL OR billing_accounts.stripe_synced_at <= EXCLUDED.stripe_synced_at`,
		workspaceID, string(st.Plan), st.Status, st.SubscriptionID, st.TrialEnd, st.CurrentPeriodEnd,
		st.CancelAtPeriodEnd, st.HasPaymentMethod, st.ReadAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return false, fmt.Errorf("subscription %s already belongs to another workspace: %w", st.SubscriptionID, ErrConflict)
	}
	if err != nil {
		return false, fmt.Errorf("apply subscription %s to %s: %w", st.SubscriptionID, workspaceID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// SetPlan moves the workspace to a plan without touching Stripe fields (the dunning
// workflow's downgrade to free).
func (s *Store) SetPlan(ctx context.Context, workspaceID string, plan billing.PlanID, status string) error {
	_, err := s.Pool.Exec(ctx, `
		INSERT INTO billing_accounts (workspace_id, plan, status) VALUES ($1, $2, $3)
		ON CONFLICT (workspace_id) DO UPDATE SET plan = EXCLUDED.plan, status = EXCLUDED.status, updated_at = now()`,
		workspaceID, string(plan), status)
	if err != nil {
		return fmt.Errorf("set plan of %s: %w", workspaceID, err)
	}
	return nil
}

// SetDunning records the dunning standing of the workspace. A terminal state (recovered,
// canceled) is stored as none, and clears the workflow id only if it is still workflowID's
// episode, so a late activity of an old episode cannot end a newer one.
func (s *Store) SetDunning(ctx context.Context, workspaceID string, state billing.DunningState, workflowID string) error {
	var err error
	if state.Active() {
		_, err = s.Pool.Exec(ctx, `
			INSERT INTO billing_accounts (workspace_id, dunning_state, dunning_workflow_id, dunning_since)
			VALUES ($1, $2, $3, now())
			ON CONFLICT (workspace_id) DO UPDATE SET
				dunning_state = EXCLUDED.dunning_state, dunning_workflow_id = EXCLUDED.dunning_workflow_id,
				dunning_since = CASE WHEN billing_accounts.dunning_workflow_id IS DISTINCT FROM EXCLUDED.dunning_workflow_id
					THEN now() ELSE coalesce(billing_accounts.dunning_since, now()) END,
				updated_at = now()`, workspaceID, string(state), workflowID)
	} else {
		_, err = s.Pool.Exec(ctx, `
			UPDATE billing_accounts SET dunning_state = 'none', dunning_workflow_id = NULL, dunning_since = NULL, updated_at = now()
			WHERE workspace_id = $1 AND (dunning_workflow_id IS NULL OR dunning_workflow_id = $2)`, workspaceID, workflowID)
	}
	if err != nil {
		return fmt.Errorf("set dunning state of %s to %s: %w", workspaceID, state, err)
	}
	return nil
}

// StripeEvent is a received Stripe event, as recorded for de-duplication.
type StripeEvent struct {
	ID          string
	Type        string
	Created     time.Time
	ObjectID    string
	WorkspaceID string // "" for an unknown customer
	Outcome     string
}

// Outcomes of a Stripe event.
const (
	StripeEventApplied         = "applied"
	StripeEventUnknownCustomer = "unknown_customer"
	StripeEventIgnored         = "ignored"
)

// RecordStripeEvent inserts the event in q's transaction; false means it was recorded
// before (a duplicate delivery) and nothing should be applied.
func (s *Store) RecordStripeEvent(ctx context.Context, q Querier, e StripeEvent) (bool, error) {
	tag, err := q.Exec(ctx, `
		INSERT INTO stripe_events (id, type, created, object_id, workspace_id, outcome)
		VALUES ($1, $2, $3, $4, nullif($5, '')::uuid, $6) ON CONFLICT (id) DO NOTHING`,
		e.ID, e.Type, e.Created, e.ObjectID, e.WorkspaceID, e.Outcome)
	if err != nil {
		return false, fmt.Errorf("record stripe event %s: %w", e.ID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// GetStripeEvent returns a recorded event; ErrNotFound if it was never recorded.
func (s *Store) GetStripeEvent(ctx context.Context, id string) (StripeEvent, error) {
	var e StripeEvent
	err := s.Pool.QueryRow(ctx, `
		SELECT id, type, created, object_id, coalesce(workspace_id::text, ''), outcome FROM stripe_events WHERE id = $1`, id).
		Scan(&e.ID, &e.Type, &e.Created, &e.ObjectID, &e.WorkspaceID, &e.Outcome)
	if errors.Is(err, pgx.ErrNoRows) {
		return StripeEvent{}, ErrNotFound
	}
	if err != nil {
		return StripeEvent{}, fmt.Errorf("load stripe event %s: %w", id, err)
	}
	return e, nil
}

// ClaimBillingEmail claims the (key, step) email before it is sent; false means it was
// claimed (and sent) before. A send that fails calls ReleaseBillingEmail so a retry can
// claim it again.
func (s *Store) ClaimBillingEmail(ctx context.Context, key, step, workspaceID string) (bool, error) {
	tag, err := s.Pool.Exec(ctx, `
		INSERT INTO billing_emails (key, step, workspace_id) VALUES ($1, $2, nullif($3, '')::uuid)
		ON CONFLICT (key, step) DO NOTHING`, key, step, workspaceID)
	if err != nil {
		return false, fmt.Errorf("claim billing email %s/%s: %w", key, step, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseBillingEmail undoes a claim whose send failed.
func (s *Store) ReleaseBillingEmail(ctx context.Context, key, step string) error {
	if _, err := s.Pool.Exec(ctx, `DELETE FROM billing_emails WHERE key = $1 AND step = $2`, key, step); err != nil {
		return fmt.Errorf("release billing email %s/%s: %w", key, step, err)
	}
	return nil
}

// BillingEmailSteps lists the steps sent under key, oldest first (tests, support).
func (s *Store) BillingEmailSteps(ctx context.Context, key string) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT step FROM billing_emails WHERE key = $1 ORDER BY sent_at, step`, key)
	if err != nil {
		return nil, fmt.Errorf("list billing emails of %s: %w", key, err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// BillingUsage is what a workspace uses of its plan's counted limits.
type BillingUsage struct {
	Connections      int `json:"connections"`
	Members          int `json:"members"`
	PendingInvites   int `json:"pending_invites"`
	ScheduledReports int `json:"scheduled_reports"`
}

// GetBillingUsage counts the workspace's connections (not disconnected), members, pending
// invites and scheduled reports (paused ones included: they keep their slot).
func (s *Store) GetBillingUsage(ctx context.Context, q Querier, workspaceID string) (BillingUsage, error) {
	var u BillingUsage
	err := q.QueryRow(ctx, `
		SELECT
			(SELECT count(*) FROM connections WHERE workspace_id = $1 AND status <> 'disconnected'),
			(SELECT count(*) FROM memberships WHERE workspace_id = $1),
			(SELECT count(*) FROM invites WHERE workspace_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()),
			(SELECT count(*) FROM reports WHERE workspace_id = $1 AND scheduled)`,
		workspaceID).Scan(&u.Connections, &u.Members, &u.PendingInvites, &u.ScheduledReports)
	if err != nil {
		return BillingUsage{}, fmt.Errorf("count billing usage of %s: %w", workspaceID, err)
	}
	return u, nil
}
