package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/stripeapi"
)

// Error types of the billing activities, named in the dunning workflow's retry policies.
const (
	// ErrTypeWorkspaceNotFound: the workspace is gone; nothing can be applied to it.
	ErrTypeWorkspaceNotFound = "WorkspaceNotFound"
	// ErrTypeStripeNotFound: the Stripe object does not exist.
	ErrTypeStripeNotFound = "StripeNotFound"
	// ErrTypeStripeRefused: Stripe refused the request itself (bad key, invalid parameters).
	ErrTypeStripeRefused = "StripeRefused"
	// ErrTypeStripeTransient: network, 5xx or 429; another attempt may succeed.
	ErrTypeStripeTransient = "StripeTransient"
)

// Steps of the dunning emails. Each is sent at most once per dunning workflow.
const (
	DunningEmailPaymentFailed = "payment_failed"
	DunningEmailReminder      = "reminder"
	DunningEmailRestricted    = "restricted"
	DunningEmailSuspended     = "suspended"
	DunningEmailCanceled      = "canceled"
	DunningEmailRecovered     = "recovered"
	// dunningEmailActionRequired prefixes the attempt number: one email per attempt that
	// needs the customer (3DS), since each such attempt needs its own confirmation.
	dunningEmailActionRequired = "action_required-"
)

// DunningEmailActionRequired is the email step of a payment attempt that needs the customer.
func DunningEmailActionRequired(attempt int64) string {
	return fmt.Sprintf("%s%d", dunningEmailActionRequired, attempt)
}

// SchedulesPausedNote is the note of a schedule paused because its workspace was suspended
// for non-payment; only schedules carrying it are resumed when the episode ends.
const SchedulesPausedNote = "paused: workspace suspended for non-payment"

// BillingStripe is the part of the Stripe client the billing activities call
// (*stripeapi.Client implements it).
type BillingStripe interface {
	GetInvoice(ctx context.Context, id string) (stripeapi.Invoice, error)
	PayInvoice(ctx context.Context, id, idempotencyKey string) (stripeapi.Invoice, error)
	CancelSubscription(ctx context.Context, id, idempotencyKey string) error
	CreatePortal(ctx context.Context, customerID, returnURL, flow string) (string, error)
}

var _ BillingStripe = (*stripeapi.Client)(nil)

// WorkspaceSchedules pauses and resumes the sync schedules of a workspace's connections
// (*syncsvc.Service implements it). Both are idempotent; resume touches only the
// schedules that pause paused.
type WorkspaceSchedules interface {
	PauseWorkspaceSchedules(ctx context.Context, workspaceID string) error
	ResumeWorkspaceSchedules(ctx context.Context, workspaceID string) error
}

// Billing is the set of activities of the dunning workflow.
type Billing struct {
	Store     *store.Store
	Stripe    BillingStripe
	Mailer    notify.Mailer
	Schedules WorkspaceSchedules
	// AppURL is the web app; the Billing Portal returns to AppURL + "/billing".
	AppURL string
	Logger *slog.Logger
}

func (b *Billing) logger() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.Default()
}

func (b *Billing) billingURL() string { return strings.TrimRight(b.AppURL, "/") + "/billing" }

func invalidInput(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalidInput, nil)
}

// workspaceErr turns the store's ErrNotFound into a non-retryable WorkspaceNotFound.
func workspaceErr(workspaceID string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError("workspace "+workspaceID+" does not exist", ErrTypeWorkspaceNotFound, nil)
	}
	return err
}

// stripeErr classifies a Stripe error for Temporal: a missing object or a refused request
// cannot be fixed by retrying; anything else can.
func stripeErr(err error) error {
	switch {
	case errors.Is(err, stripeapi.ErrNotFound):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeStripeNotFound, nil)
	case errors.Is(err, stripeapi.ErrPermanent):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeStripeRefused, nil)
	}
	return temporal.NewApplicationError(err.Error(), ErrTypeStripeTransient)
}

// ApplyDunningStateInput moves a workspace to a dunning state.
type ApplyDunningStateInput struct {
	WorkflowID  string
	WorkspaceID string
	State       billing.DunningState
}

// ApplyDunningState records the workspace's dunning state, which the API reads on every
// request, and pauses the workspace's sync schedules when it is suspended or resumes the
// ones billing paused when the episode ends (recovered or canceled). Every step is
// idempotent, so a retried attempt redoes it harmlessly.
func (b *Billing) ApplyDunningState(ctx context.Context, in ApplyDunningStateInput) error {
	switch in.State {
	case billing.DunningGrace, billing.DunningRestricted, billing.DunningSuspended, billing.DunningRecovered, billing.DunningCanceled:
	default:
		return invalidInput("dunning state %q cannot be applied", in.State)
	}
	if in.WorkflowID == "" || in.WorkspaceID == "" {
		return invalidInput("apply dunning state: workflow and workspace ids are required")
	}
	if _, err := b.Store.GetBillingAccount(ctx, in.WorkspaceID); err != nil {
		return workspaceErr(in.WorkspaceID, err)
	}
	if err := b.Store.SetDunning(ctx, in.WorkspaceID, in.State, in.WorkflowID); err != nil {
		return err
	}
	if in.State.Active() && !in.State.SchedulesPaused() {
		b.logger().Info("dunning state applied", "workspace_id", in.WorkspaceID, "state", in.State, "workflow_id", in.WorkflowID)
		return nil
	}
	if b.Schedules == nil {
		return invalidInput("no schedule controller is configured: cannot pause or resume the schedules of workspace %s", in.WorkspaceID)
	}
	if in.State.SchedulesPaused() {
		if err := b.Schedules.PauseWorkspaceSchedules(ctx, in.WorkspaceID); err != nil {
			return fmt.Errorf("pause schedules of workspace %s: %w", in.WorkspaceID, err)
		}
		b.logger().Info("dunning state applied; schedules paused", "workspace_id", in.WorkspaceID, "state", in.State, "workflow_id", in.WorkflowID)
		return nil
	}
	// The episode is over. Another episode of the workspace (a second invoice) may have
	// suspended it meanwhile; its schedules stay paused until that one ends.
	acct, err := b.Store.GetBillingAccount(ctx, in.WorkspaceID)
	if err != nil {
		return workspaceErr(in.WorkspaceID, err)
	}
	if acct.DunningState.SchedulesPaused() {
		b.logger().Info("dunning episode over; schedules stay paused by another episode", "workspace_id", in.WorkspaceID,
			"workflow_id", in.WorkflowID, "other_workflow_id", acct.DunningWorkflowID)
		return nil
	}
	if err := b.Schedules.ResumeWorkspaceSchedules(ctx, in.WorkspaceID); err != nil {
		return fmt.Errorf("resume schedules of workspace %s: %w", in.WorkspaceID, err)
	}
	b.logger().Info("dunning episode over; schedules resumed", "workspace_id", in.WorkspaceID, "state", in.State, "workflow_id", in.WorkflowID)
	return nil
}

// CheckInvoiceInput names the invoice to re-read.
type CheckInvoiceInput struct {
	InvoiceID string
}

// CheckInvoiceResult is the invoice as Stripe has it now.
type CheckInvoiceResult struct {
	// Settled: nothing is owed any more (paid, or voided).
	Settled          bool
	Status           string
	AttemptCount     int64
	HostedInvoiceURL string
}

// CheckInvoice re-reads the invoice from Stripe, which owns the money: every escalation
// and every invoice_paid signal is checked against it.
func (b *Billing) CheckInvoice(ctx context.Context, in CheckInvoiceInput) (CheckInvoiceResult, error) {
	if in.InvoiceID == "" {
		return CheckInvoiceResult{}, invalidInput("check invoice: invoice id is required")
	}
	inv, err := b.Stripe.GetInvoice(ctx, in.InvoiceID)
	if err != nil {
		return CheckInvoiceResult{}, stripeErr(err)
	}
	return CheckInvoiceResult{Settled: inv.Settled(), Status: inv.Status, AttemptCount: inv.AttemptCount, HostedInvoiceURL: inv.HostedInvoiceURL}, nil
}

// PayInvoiceInput asks Stripe to charge the invoice again. IdempotencyKey makes retries of
// one attempt a single charge.
type PayInvoiceInput struct {
	InvoiceID      string
	IdempotencyKey string
}

// PayInvoiceResult is how the attempt went: paid, or declined (with Stripe's reason).
type PayInvoiceResult struct {
	Paid     bool
	Declined bool
	Status   string
	Reason   string
}

// PayInvoice retries the open invoice with the customer's default payment method. A
// decline is a result, not an error: the workflow stays where it is. An invoice that was
// settled meanwhile is reported paid without charging anything.
func (b *Billing) PayInvoice(ctx context.Context, in PayInvoiceInput) (PayInvoiceResult, error) {
	if in.InvoiceID == "" || in.IdempotencyKey == "" {
		return PayInvoiceResult{}, invalidInput("pay invoice: invoice id and idempotency key are required")
	}
	cur, err := b.Stripe.GetInvoice(ctx, in.InvoiceID)
	if err != nil {
		return PayInvoiceResult{}, stripeErr(err)
	}
	if cur.Settled() {
		return PayInvoiceResult{Paid: true, Status: cur.Status}, nil
	}
	inv, err := b.Stripe.PayInvoice(ctx, in.InvoiceID, in.IdempotencyKey)
	if errors.Is(err, stripeapi.ErrDeclined) {
		b.logger().Info("invoice payment declined", "invoice_id", in.InvoiceID, "reason", err.Error())
		return PayInvoiceResult{Declined: true, Status: cur.Status, Reason: err.Error()}, nil
	}
	if err != nil {
		return PayInvoiceResult{}, stripeErr(err)
	}
	b.logger().Info("invoice payment attempted", "invoice_id", in.InvoiceID, "status", inv.Status, "paid", inv.Settled())
	return PayInvoiceResult{Paid: inv.Settled(), Declined: !inv.Settled(), Status: inv.Status}, nil
}

// CancelSubscriptionInput cancels a subscription at the end of an unpaid episode.
type CancelSubscriptionInput struct {
	SubscriptionID string
	IdempotencyKey string
}

// CancelSubscriptionResult says whether the subscription was gone already.
type CancelSubscriptionResult struct {
	AlreadyGone bool
}

// CancelSubscription cancels the subscription on Stripe now, without proration. One that
// no longer exists is what was wanted.
func (b *Billing) CancelSubscription(ctx context.Context, in CancelSubscriptionInput) (CancelSubscriptionResult, error) {
	if in.SubscriptionID == "" || in.IdempotencyKey == "" {
		return CancelSubscriptionResult{}, invalidInput("cancel subscription: subscription id and idempotency key are required")
	}
	err := b.Stripe.CancelSubscription(ctx, in.SubscriptionID, in.IdempotencyKey)
	if errors.Is(err, stripeapi.ErrNotFound) {
		b.logger().Info("subscription already gone", "subscription_id", in.SubscriptionID)
		return CancelSubscriptionResult{AlreadyGone: true}, nil
	}
	if err != nil {
		return CancelSubscriptionResult{}, stripeErr(err)
	}
	b.logger().Info("subscription canceled for non-payment", "subscription_id", in.SubscriptionID)
	return CancelSubscriptionResult{}, nil
}

// DowngradeInput names the workspace to move to the free plan.
type DowngradeInput struct {
	WorkspaceID string
}

// DowngradeToFree moves the workspace to the free plan (subscription status canceled).
// Its data is kept; the free plan's limits apply from now on.
func (b *Billing) DowngradeToFree(ctx context.Context, in DowngradeInput) error {
	if in.WorkspaceID == "" {
		return invalidInput("downgrade: workspace id is required")
	}
	if _, err := b.Store.GetWorkspace(ctx, in.WorkspaceID); err != nil {
		return workspaceErr(in.WorkspaceID, err)
	}
	if err := b.Store.SetPlan(ctx, in.WorkspaceID, billing.Free, "canceled"); err != nil {
		return err
	}
	b.logger().Info("workspace moved to the free plan", "workspace_id", in.WorkspaceID)
	return nil
}

// SendDunningEmailInput is one email of a dunning episode. NextStep and NextStepAt are the
// next escalation (restricted, suspended, canceled) and when it happens, so the email can
// say what happens next; zero once the episode is over.
type SendDunningEmailInput struct {
	WorkflowID  string
	WorkspaceID string
	InvoiceID   string
	Step        string
	NextStep    string
	NextStepAt  time.Time
}

// SendDunningEmailResult says whether this call sent the email, or an earlier one had.
type SendDunningEmailResult struct {
	Sent        bool
	AlreadySent bool
	Recipients  int
}

// SendDunningEmail emails the workspace's owner and admins about a step of the dunning
// episode, at most once per (workflow, step): the step is claimed before sending and the
// claim given back if the send fails, so a retried activity sends a failed email and never
// repeats a sent one.
func (b *Billing) SendDunningEmail(ctx context.Context, in SendDunningEmailInput) (SendDunningEmailResult, error) {
	if in.WorkflowID == "" || in.WorkspaceID == "" || in.InvoiceID == "" {
		return SendDunningEmailResult{}, invalidInput("dunning email: workflow, workspace and invoice ids are required")
	}
	if !knownDunningEmail(in.Step) {
		return SendDunningEmailResult{}, invalidInput("dunning email step %q is not one of payment_failed, reminder, restricted, suspended, canceled, recovered, action_required-<attempt>", in.Step)
	}
	if b.Mailer == nil {
		b.logger().Warn("no mailer configured: dunning email not sent", "workspace_id", in.WorkspaceID, "step", in.Step)
		return SendDunningEmailResult{}, nil
	}
	ws, err := b.Store.GetWorkspace(ctx, in.WorkspaceID)
	if err != nil {
		return SendDunningEmailResult{}, workspaceErr(in.WorkspaceID, err)
	}
	claimed, err := b.Store.ClaimBillingEmail(ctx, in.WorkflowID, in.Step, in.WorkspaceID)
	if err != nil {
		return SendDunningEmailResult{}, err
	}
	if !claimed {
		return SendDunningEmailResult{AlreadySent: true}, nil
	}
	to, err := b.Store.WorkspaceAdminEmails(ctx, in.WorkspaceID)
	if err == nil && len(to) == 0 {
		// A workspace without people (API keys only) has nobody to tell; the claim stays.
		b.logger().Warn("dunning email has no recipient", "workspace_id", in.WorkspaceID, "step", in.Step)
		return SendDunningEmailResult{}, nil
	}
	if err == nil {
		err = b.Mailer.Send(ctx, b.dunningMessage(ctx, ws, in, to))
	}
	if err != nil {
		releaseCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if rerr := b.Store.ReleaseBillingEmail(releaseCtx, in.WorkflowID, in.Step); rerr != nil {
			b.logger().Error("release dunning email claim", "workflow_id", in.WorkflowID, "step", in.Step, "err", rerr)
		}
		return SendDunningEmailResult{}, fmt.Errorf("send dunning email %s of workspace %s: %w", in.Step, in.WorkspaceID, err)
	}
	b.logger().Info("dunning email sent", "workspace_id", in.WorkspaceID, "step", in.Step, "recipients", len(to))
	return SendDunningEmailResult{Sent: true, Recipients: len(to)}, nil
}

func knownDunningEmail(step string) bool {
	switch step {
	case DunningEmailPaymentFailed, DunningEmailReminder, DunningEmailRestricted, DunningEmailSuspended,
		DunningEmailCanceled, DunningEmailRecovered:
		return true
	}
	n, ok := strings.CutPrefix(step, dunningEmailActionRequired)
	return ok && n != "" && strings.Trim(n, "0123456789") == ""
}

// portalLink is where the customer updates their payment method: a Billing Portal session
// opened on the payment_method_update flow, else the invoice's hosted page, else the app's
// billing page (which opens a fresh portal session). Portal sessions are short-lived, so
// every email also names the billing page.
func (b *Billing) portalLink(ctx context.Context, in SendDunningEmailInput) string {
	acct, err := b.Store.GetBillingAccount(ctx, in.WorkspaceID)
	if err == nil && acct.StripeCustomerID != "" && b.Stripe != nil {
		link, perr := b.Stripe.CreatePortal(ctx, acct.StripeCustomerID, b.billingURL(), stripeapi.PortalFlowPaymentMethodUpdate)
		if perr == nil && link != "" {
			return link
		}
		err = perr
	}
	if err != nil {
		b.logger().Warn("no billing portal link for dunning email", "workspace_id", in.WorkspaceID, "err", err)
	}
	if link := b.hostedInvoiceLink(ctx, in.InvoiceID); link != "" {
		return link
	}
	return b.billingURL()
}

// hostedInvoiceLink is the invoice's Stripe-hosted page ("" when unknown), where a payment
// that needs the customer (3DS) is confirmed.
func (b *Billing) hostedInvoiceLink(ctx context.Context, invoiceID string) string {
	if b.Stripe == nil {
		return ""
	}
	inv, err := b.Stripe.GetInvoice(ctx, invoiceID)
	if err != nil {
		b.logger().Warn("no hosted invoice link for dunning email", "invoice_id", invoiceID, "err", err)
		return ""
	}
	return inv.HostedInvoiceURL
}

func emailDate(t time.Time) string { return t.UTC().Format("Monday 2 January 2006, 15:04 UTC") }

// whatNext says in words what the next escalation does and when.
func whatNext(step string, at time.Time) string {
	if at.IsZero() {
		return ""
	}
	switch step {
	case DunningEmailRestricted:
		return fmt.Sprintf("If the payment is still missing on %s, the workspace becomes read-only: dashboards stay "+
			"visible and syncs go on, but no new connections, reports or exports can be added.", emailDate(at))
	case DunningEmailSuspended:
		return fmt.Sprintf("If the payment is still missing on %s, the workspace is suspended: scheduled syncs pause "+
			"and only billing and the export of your data stay available.", emailDate(at))
	case DunningEmailCanceled:
		return fmt.Sprintf("If the payment is still missing on %s, the subscription is canceled and the workspace "+
			"moves to the free plan. Your data is kept.", emailDate(at))
	}
	return ""
}

func (b *Billing) dunningMessage(ctx context.Context, ws store.Workspace, in SendDunningEmailInput, to []string) notify.Message {
	name := ws.Name
	next := whatNext(in.NextStep, in.NextStepAt)
	billingPage := b.billingURL()
	var subject string
	var body []string
	switch in.Step {
	case DunningEmailPaymentFailed:
		subject = fmt.Sprintf("Payment failed for your OmniTrackIQ workspace %q", name)
		body = []string{
			fmt.Sprintf("We could not charge the payment method on file for the workspace %q (invoice %s). "+
				"Stripe will try again over the next days, and the workspace keeps full access for now.", name, in.InvoiceID),
			next,
			"Update your payment method here:\n" + b.portalLink(ctx, in),
		}
	case DunningEmailReminder:
		subject = fmt.Sprintf("Reminder: the payment for %q is still missing", name)
		body = []string{
			fmt.Sprintf("The payment for the workspace %q (invoice %s) is still missing. The workspace keeps full access for now.", name, in.InvoiceID),
			next,
			"Update your payment method here:\n" + b.portalLink(ctx, in),
		}
	case DunningEmailRestricted:
		subject = fmt.Sprintf("Your workspace %q is now read-only: payment missing", name)
		body = []string{
			fmt.Sprintf("The payment for the workspace %q (invoice %s) is still missing, so the workspace is now read-only: "+
				"dashboards stay visible and syncs go on, but no new connections, reports or exports can be added.", name, in.InvoiceID),
			next,
			"Full access returns as soon as the invoice is paid. Update your payment method here:\n" + b.portalLink(ctx, in),
		}
	case DunningEmailSuspended:
		subject = fmt.Sprintf("Your workspace %q is suspended: payment missing", name)
		body = []string{
			fmt.Sprintf("The payment for the workspace %q (invoice %s) is still missing, so the workspace is suspended: "+
				"scheduled syncs are paused and only billing and the export of your data are available.", name, in.InvoiceID),
			next,
			"Everything resumes as soon as the invoice is paid; adding a new payment method retries it right away:\n" + b.portalLink(ctx, in),
		}
	case DunningEmailCanceled:
		subject = fmt.Sprintf("Your workspace %q moved to the free plan", name)
		body = []string{
			fmt.Sprintf("The invoice %s of the workspace %q was not paid, so its subscription is canceled and the workspace "+
				"is on the free plan now. Your data is kept, and syncs resume within the free plan's limits.", in.InvoiceID, name),
			"You can subscribe again at any time:\n" + billingPage,
		}
	case DunningEmailRecovered:
		subject = fmt.Sprintf("Thank you: payment received for %q", name)
		body = []string{
			fmt.Sprintf("Thank you: the invoice %s of the workspace %q is settled. Full access is restored, "+
				"and paused syncs resume on their schedules.", in.InvoiceID, name),
			"Your billing details:\n" + billingPage,
		}
	default: // action_required-<attempt>
		link := b.hostedInvoiceLink(ctx, in.InvoiceID)
		if link == "" {
			link = b.portalLink(ctx, in)
		}
		subject = fmt.Sprintf("Action required: confirm the payment for %q", name)
		body = []string{
			fmt.Sprintf("Your bank asks you to confirm the payment for the workspace %q (invoice %s). "+
				"Stripe cannot complete it without you, so please confirm it here:\n%s", name, in.InvoiceID, link),
			next,
		}
	}
	if in.Step != DunningEmailCanceled && in.Step != DunningEmailRecovered {
		body = append(body, "You can also manage billing from the workspace's billing page:\n"+billingPage)
	}
	var text strings.Builder
	for _, p := range body {
		if p != "" {
			text.WriteString(p)
			text.WriteString("\n\n")
		}
	}
	return notify.Message{To: to, Subject: subject, Text: strings.TrimRight(text.String(), "\n") + "\n"}
}
