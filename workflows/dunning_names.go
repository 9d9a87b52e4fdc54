package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
)

// TaskQueueBilling runs the dunning workflow and its activities, apart from the sync
// queues so a backlog of syncs never delays restoring a workspace that paid.
const TaskQueueBilling = "billing"

// DunningStateKey is the dunning workflow's current state (grace, restricted, suspended,
// recovered, canceled), so "every suspended workspace" is one Web UI query:
// `WorkflowType="Dunning" AND DunningState="suspended" AND ExecutionStatus="Running"`.
var DunningStateKey = temporal.NewSearchAttributeKeyKeyword("DunningState")

// DunningWorkflowID names the dunning episode of a subscription that began with the
// failure of invoiceID: the same failure delivered again reaches the same workflow.
func DunningWorkflowID(subscriptionID, invoiceID string) string {
	return "dunning-" + subscriptionID + "-" + invoiceID
}

// Signals of the dunning workflow. Each carries a DunningSignal.
const (
	// SignalPaymentFailed: an invoice.payment_failed of the episode's subscription (the
	// first one starts the workflow through SignalWithStart).
	SignalPaymentFailed = "payment_failed"
	// SignalActionRequired: the payment needs the customer (3DS); the hosted invoice link
	// is emailed at once.
	SignalActionRequired = "action_required"
	// SignalInvoicePaid: invoice.paid; the workflow re-reads the invoice and recovers.
	SignalInvoicePaid = "invoice_paid"
	// SignalPaymentMethodUpdated: the customer added a payment method; the workflow retries
	// the open invoice (Stripe no longer does once the subscription is unpaid).
	SignalPaymentMethodUpdated = "payment_method_updated"
	// SignalSubscriptionCanceled: the subscription was canceled outside the workflow; the
	// workspace moves to free and the episode ends.
	SignalSubscriptionCanceled = "subscription_canceled"
)

// DunningStateQuery is answered with a DunningStatus.
const DunningStateQuery = "state"

// Updates of the dunning workflow, for support (`omnitrackiq billing extend-grace|advance`).
const (
	// UpdateExtendGrace takes an ExtendGraceRequest and returns the new DunningStatus.
	UpdateExtendGrace = "extend_grace"
	// UpdateAdvance takes an AdvanceRequest: the workflow moves to its next step now.
	UpdateAdvance = "advance"
)

// MaxGraceExtension bounds all extensions of one episode together.
const MaxGraceExtension = 30 * 24 * time.Hour

// DunningInput starts a dunning episode.
type DunningInput struct {
	WorkspaceID    string
	SubscriptionID string
	// InvoiceID is the invoice whose failure began the episode.
	InvoiceID string
}

// DunningSignal is the payload of every dunning signal.
type DunningSignal struct {
	InvoiceID    string
	AttemptCount int64
	// EventID is the Stripe event that caused the signal, for the workflow's log.
	EventID string
}

// ExtendGraceRequest pushes every later step of the episode back by Days.
type ExtendGraceRequest struct {
	Days   int
	Reason string
	By     string // who asked: a support person's name or email
}

// AdvanceRequest moves the episode to its next step now.
type AdvanceRequest struct {
	Reason string
	By     string
}

// DunningStatus is the answer to DunningStateQuery and to the updates.
type DunningStatus struct {
	WorkspaceID    string    `json:"workspace_id"`
	SubscriptionID string    `json:"subscription_id"`
	InvoiceID      string    `json:"invoice_id"`
	State          string    `json:"state"`
	StartedAt      time.Time `json:"started_at"`
	// NextStep and NextStepAt name the next escalation (restricted, suspended, canceled) or
	// reminder, and when it happens; empty once the episode is over.
	NextStep   string     `json:"next_step,omitempty"`
	NextStepAt *time.Time `json:"next_step_at,omitempty"`
	// Extended is the total grace extension granted by support.
	ExtendedDays int      `json:"extended_days"`
	EmailsSent   []string `json:"emails_sent"`
}

// AllSearchAttributes has every custom search attribute with an empty value, for
// registering them on a dev server (SearchAttributeNames names the same ones).
func AllSearchAttributes() temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		WorkspaceIDKey.ValueSet(""), ConnectionIDKey.ValueSet(""), ChannelKey.ValueSet(""),
		DunningStateKey.ValueSet(""), ReportIDKey.ValueSet(""),
	)
}
