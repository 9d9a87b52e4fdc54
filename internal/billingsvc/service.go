package billingsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/stripeapi"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// Stripe is what the service calls on Stripe; *stripeapi.Client implements it.
type Stripe interface {
	CreateCustomer(ctx context.Context, workspaceID, name, email, idempotencyKey string) (string, error)
	CreateCheckout(ctx context.Context, in stripeapi.Checkout, idempotencyKey string) (stripeapi.CheckoutSession, error)
	GetCheckoutSession(ctx context.Context, id string) (stripeapi.CheckoutSession, error)
	CreatePortal(ctx context.Context, customerID, returnURL, flow string) (string, error)
	GetSubscription(ctx context.Context, id string) (stripeapi.Subscription, error)
	GetInvoice(ctx context.Context, id string) (stripeapi.Invoice, error)
	PaymentMethodCustomer(ctx context.Context, id string) (string, error)
}

var _ Stripe = (*stripeapi.Client)(nil)

// Dunning starts and signals the dunning workflow of a failed-payment episode.
type Dunning interface {
	// SignalWithStart signals the episode named by in (workflows.DunningWorkflowID of its
	// subscription and invoice), starting it if it does not run, and returns its id.
	SignalWithStart(ctx context.Context, in workflows.DunningInput, signal string, payload workflows.DunningSignal) (workflowID string, err error)
	// Signal signals a running episode; one that does not exist or has closed is not an
	// error (the signal had nothing left to change).
	Signal(ctx context.Context, workflowID, signal string, payload workflows.DunningSignal) error
}

// DunningWorkflowType is the registered name of the dunning workflow. The service starts
// it by name, so it does not depend on the workflow's code.
const DunningWorkflowType = "Dunning"

// TemporalDunning is Dunning on a Temporal client.
type TemporalDunning struct {
	Client client.Client
}

// SignalWithStart signals the episode, starting it if needed. The conflict policy sends the
// signal to a running episode of the same id (the same failure delivered again); the reuse
// policy lets a new episode of the same subscription and invoice start once the previous
// one has closed (an invoice that failed again after a recovery was reversed).
func (d TemporalDunning) SignalWithStart(ctx context.Context, in workflows.DunningInput, signal string, payload workflows.DunningSignal) (string, error) {
	id := workflows.DunningWorkflowID(in.SubscriptionID, in.InvoiceID)
	run, err := d.Client.SignalWithStartWorkflow(ctx, id, signal, payload, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                workflows.TaskQueueBilling,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.WorkspaceIDKey.ValueSet(in.WorkspaceID),
			workflows.DunningStateKey.ValueSet(string(billing.DunningGrace)),
		),
		StaticSummary: fmt.Sprintf("dunning of subscription %s (invoice %s)", in.SubscriptionID, in.InvoiceID),
	}, DunningWorkflowType, in)
	if err != nil {
		return "", fmt.Errorf("signal-with-start %s (%s): %w", id, signal, err)
	}
	return run.GetID(), nil
}

var _ Dunning = TemporalDunning{}

// Signal signals a running episode; NotFound (no such workflow, or it has completed) is nil.
func (d TemporalDunning) Signal(ctx context.Context, workflowID, signal string, payload workflows.DunningSignal) error {
	err := d.Client.SignalWorkflow(ctx, workflowID, "", signal, payload)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("signal %s to %s: %w", signal, workflowID, err)
	}
	return nil
}

// Service implements checkout, portal, overview and the Stripe webhook (api.Billing).
//
// billing_accounts.plan holds the EFFECTIVE plan: the plan of the subscription's price as
// billing.EffectivePlan grants it in the subscription's status (free when paused, canceled
// or incomplete), computed each time a re-read subscription is applied. Every reader (the
// API's limits, the workflows, GET /v1/billing) reads acc.Plan as is.
type Service struct {
	Store   *store.Store
	Stripe  Stripe
	Dunning Dunning
	// Mailer sends the trial_will_end reminder; nil sends none (logged).
	Mailer notify.Mailer
	// Prices are the Stripe Price ids of the paid plans.
	Prices map[billing.PlanID]string
	// WebhookSecret verifies Stripe-Signature (whsec_...).
	WebhookSecret string
	// AppURL is the web app's base URL, for Checkout's success and cancel URLs, the
	// portal's return URL and links in emails.
	AppURL string
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ErrAlreadySubscribed: the workspace has a live subscription, so a second checkout would
// bill it twice. Plan changes and payment methods go through the billing portal instead.
var ErrAlreadySubscribed = errors.New("the workspace already has a subscription")

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Service) appURL(path string) string {
	return strings.TrimRight(s.AppURL, "/") + path
}

// planOfPrice maps a Stripe Price id to its plan; "" for a price of no plan.
func (s *Service) planOfPrice(priceID string) billing.PlanID {
	if priceID == "" {
		return ""
	}
	for _, p := range billing.Plans() {
		if p.Paid() && s.Prices[p.ID] == priceID {
			return p.ID
		}
	}
	return ""
}

// live reports whether a subscription in Stripe status status grants its plan, so the
// workspace must not buy a second one.
func live(status string) bool {
	switch status {
	case "trialing", "active", "past_due", "unpaid":
		return true
	}
	return false
}

// paidPlanNames lists the plans checkout sells, for messages.
func paidPlanNames() string {
	var names []string
	for _, p := range billing.Plans() {
		if p.Paid() {
			names = append(names, string(p.ID))
		}
	}
	return strings.Join(names, ", ")
}

// Checkout creates a subscription-mode Checkout Session for the workspace.
//
//   - The plan must be a paid plan of the catalog (*ValidationError otherwise).
//   - A workspace with a live subscription (trialing, active, past_due, unpaid) gets
//     ErrAlreadySubscribed: a second Checkout would start a second subscription and bill
//     twice; plan changes happen in the billing portal, which updates the one subscription.
//   - The workspace's Stripe customer is reused; the first checkout creates it (idempotency
//     key customer-<workspace>, so two concurrent first checkouts make one customer) and
//     links it before the session exists, so every event of the customer finds the workspace.
//   - One trial per workspace: once it has had a subscription (whatever became of it) or a
//     trial, checkout charges at once.
//   - The idempotency key is derived from the workspace, the plan's price, the customer,
//     the last subscription and the trial, which are all the parameters of the request: a
//     second click within Stripe's 24 h key window returns the same session, and a new
//     attempt after a subscription has ended gets a new one.
func (s *Service) Checkout(ctx context.Context, in CheckoutRequest) (CheckoutResult, error) {
	plan, err := billing.ParsePlan(string(in.Plan))
	if err != nil || !plan.Paid() {
		msg := fmt.Sprintf("plan %q cannot be bought: choose one of %s", in.Plan, paidPlanNames())
		if err == nil {
			msg = fmt.Sprintf("the free plan needs no checkout: choose one of %s", paidPlanNames())
		}
		return CheckoutResult{}, &ValidationError{Msg: msg}
	}
	price := s.Prices[plan.ID]
	if price == "" {
		return CheckoutResult{}, fmt.Errorf("checkout of plan %s: no Stripe price is configured (STRIPE_PRICE_%s)", plan.ID, strings.ToUpper(string(plan.ID)))
	}
	acc, err := s.Store.GetBillingAccount(ctx, in.WorkspaceID)
	if err != nil {
		return CheckoutResult{}, err
	}
	if acc.StripeSubscriptionID != "" && live(acc.Status) {
		return CheckoutResult{}, fmt.Errorf("%w (plan %s, status %s): change plan or payment method in the billing portal (POST /v1/billing/portal)",
			ErrAlreadySubscribed, acc.Plan, acc.Status)
	}
	customer, err := s.ensureCustomer(ctx, acc, in)
	if err != nil {
		return CheckoutResult{}, err
	}
	trial := 0
	if acc.StripeSubscriptionID == "" && acc.TrialEnd == nil {
		trial = billing.TrialDays
	}
	last := acc.StripeSubscriptionID
	if last == "" {
		last = "none"
	}
	key := fmt.Sprintf("checkout-%s-%s-%s-%s-trial%d", in.WorkspaceID, price, customer, last, trial)
	sess, err := s.Stripe.CreateCheckout(ctx, stripeapi.Checkout{
		CustomerID:  customer,
		WorkspaceID: in.WorkspaceID,
		PriceID:     price,
		TrialDays:   int64(trial),
		SuccessURL:  s.appURL("/billing?checkout=success&session_id={CHECKOUT_SESSION_ID}"),
		CancelURL:   s.appURL("/billing?checkout=canceled"),
	}, key)
	if err != nil {
		return CheckoutResult{}, err
	}
	return CheckoutResult{SessionID: sess.ID, URL: sess.URL, Plan: string(plan.ID), TrialDays: trial}, nil
}

// ensureCustomer returns the workspace's Stripe customer, creating and linking it on the
// first checkout.
func (s *Service) ensureCustomer(ctx context.Context, acc store.BillingAccount, in CheckoutRequest) (string, error) {
	if acc.StripeCustomerID != "" {
		return acc.StripeCustomerID, nil
	}
	name := in.Name
	if name == "" {
		w, err := s.Store.GetWorkspace(ctx, in.WorkspaceID)
		if err != nil {
			return "", err
		}
		name = w.Name
	}
	customer, err := s.Stripe.CreateCustomer(ctx, in.WorkspaceID, name, in.Email, "customer-"+in.WorkspaceID)
	if err != nil {
		return "", err
	}
	err = s.Store.LinkStripeCustomer(ctx, s.Store.Pool, in.WorkspaceID, customer)
	if errors.Is(err, store.ErrConflict) {
		// A concurrent checkout linked a customer first: use the one the workspace has.
		again, gerr := s.Store.GetBillingAccount(ctx, in.WorkspaceID)
		if gerr == nil && again.StripeCustomerID != "" {
			return again.StripeCustomerID, nil
		}
	}
	if err != nil {
		return "", err
	}
	return customer, nil
}

// Portal flows the API accepts.
var portalFlows = []string{stripeapi.PortalFlowNone, stripeapi.PortalFlowPaymentMethodUpdate}

// Portal returns the URL of a Billing Portal session for the workspace's customer, opened
// on the flow ("" for the portal's home, "payment_method_update" for the card form).
func (s *Service) Portal(ctx context.Context, workspaceID, flow string) (string, error) {
	known := false
	for _, f := range portalFlows {
		known = known || f == flow
	}
	if !known {
		return "", &ValidationError{Msg: fmt.Sprintf("flow %q is not one of \"\" (the portal's home) or %q", flow, stripeapi.PortalFlowPaymentMethodUpdate)}
	}
	acc, err := s.Store.GetBillingAccount(ctx, workspaceID)
	if err != nil {
		return "", err
	}
	if acc.StripeCustomerID == "" {
		return "", ErrNoCustomer
	}
	return s.Stripe.CreatePortal(ctx, acc.StripeCustomerID, s.appURL("/billing"), flow)
}

// Overview is the workspace's plan, subscription, dunning standing, limits and usage, and
// the catalog to choose from. An unknown workspace is store.ErrNotFound.
func (s *Service) Overview(ctx context.Context, workspaceID string) (Overview, error) {
	acc, err := s.Store.GetBillingAccount(ctx, workspaceID)
	if err != nil {
		return Overview{}, err
	}
	plan, ok := billing.PlanByID(acc.Plan)
	if !ok {
		plan, _ = billing.PlanByID(billing.Free)
	}
	usage, err := s.Store.GetBillingUsage(ctx, s.Store.Pool, workspaceID)
	if err != nil {
		return Overview{}, err
	}
	state := acc.DunningState
	if state == "" {
		state = billing.DunningNone
	}
	return Overview{
		Plan: plan, Status: acc.Status, TrialEnd: acc.TrialEnd, CurrentPeriodEnd: acc.CurrentPeriodEnd,
		CancelAtPeriodEnd: acc.CancelAtPeriodEnd, HasPaymentMethod: acc.HasPaymentMethod,
		DunningState: state, DunningSince: acc.DunningSince,
		Limits: ViewLimits(plan.Limits), Usage: usage, Plans: PlanViews(),
	}, nil
}

// PlanViews is the catalog as GET /v1/billing shows it.
func PlanViews() []PlanView {
	var out []PlanView
	for _, p := range billing.Plans() {
		v := PlanView{ID: p.ID, Name: p.Name, MonthlyCents: p.MonthlyCents, Limits: ViewLimits(p.Limits)}
		if p.Paid() {
			v.TrialDays = billing.TrialDays
		}
		out = append(out, v)
	}
	return out
}
