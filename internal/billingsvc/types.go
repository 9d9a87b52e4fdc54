// Package billingsvc is the API's side of billing: checkout and portal sessions on
// Stripe, the billing overview, and the Stripe webhook's processing (verify, de-duplicate,
// re-read from Stripe, apply, and start or signal the dunning workflow).
package billingsvc

import (
	"errors"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// CheckoutRequest asks for a Checkout Session moving the workspace to a paid plan.
type CheckoutRequest struct {
	WorkspaceID string
	Plan        billing.PlanID
	// Email and Name prefill the Stripe customer created on the first checkout.
	Email string
	Name  string
}

// CheckoutResult is the session to send the browser to.
type CheckoutResult struct {
	SessionID string `json:"session_id"`
	URL       string `json:"url"`
	Plan      string `json:"plan"`
	TrialDays int    `json:"trial_days"`
}

// Overview is GET /v1/billing.
type Overview struct {
	Plan              billing.Plan         `json:"plan"`
	Status            string               `json:"status"`
	TrialEnd          *time.Time           `json:"trial_end"`
	CurrentPeriodEnd  *time.Time           `json:"current_period_end"`
	CancelAtPeriodEnd bool                 `json:"cancel_at_period_end"`
	HasPaymentMethod  bool                 `json:"has_payment_method"`
	DunningState      billing.DunningState `json:"dunning_state"`
	DunningSince      *time.Time           `json:"dunning_since"`
	Limits            LimitsView           `json:"limits"`
	Usage             store.BillingUsage   `json:"usage"`
	Plans             []PlanView           `json:"plans"`
}

// LimitsView is a plan's limits as JSON (the interval in seconds and words).
type LimitsView struct {
	Connections            int    `json:"connections"`
	Members                int    `json:"members"`
	HistoryDays            int    `json:"history_days"`
	ScheduledReports       int    `json:"scheduled_reports"`
	MinSyncIntervalSeconds int64  `json:"min_sync_interval_seconds"`
	MinSyncInterval        string `json:"min_sync_interval"`
}

// PlanView is one plan of the catalog, for choosing.
type PlanView struct {
	ID           billing.PlanID `json:"id"`
	Name         string         `json:"name"`
	MonthlyCents int64          `json:"monthly_cents"`
	TrialDays    int            `json:"trial_days"`
	Limits       LimitsView     `json:"limits"`
}

// ViewLimits renders limits as JSON.
func ViewLimits(l billing.Limits) LimitsView {
	return LimitsView{
		Connections: l.Connections, Members: l.Members, HistoryDays: l.HistoryDays, ScheduledReports: l.ScheduledReports,
		MinSyncIntervalSeconds: int64(l.MinSyncInterval.Seconds()), MinSyncInterval: l.MinSyncInterval.String(),
	}
}

// Event is a verified Stripe event: only what routing needs. The object itself is always
// re-read from Stripe before anything is applied.
type Event struct {
	ID       string
	Type     string
	Created  time.Time
	ObjectID string
	// Object kind of data.object ("invoice", "subscription", "checkout.session", ...).
	Object string
}

// BadEventError is a webhook delivery that is not a valid signed event: 400, nothing stored.
type BadEventError struct{ Msg string }

func (e *BadEventError) Error() string { return e.Msg }

// ValidationError is a request the caller can fix (unknown plan, free plan checkout).
type ValidationError struct{ Msg string }

func (e *ValidationError) Error() string { return e.Msg }

// ErrNoCustomer: the workspace has no Stripe customer yet, so there is no portal to open.
var ErrNoCustomer = errors.New("the workspace has no Stripe customer yet: check out a plan first")
