package billingsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/stripeapi"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// WebhookTolerance is how old a Stripe-Signature timestamp may be: Stripe's default,
// which bounds how long a captured delivery can be replayed.
const WebhookTolerance = 300 * time.Second

// Outcomes of ApplyEvent, as recorded on the event and answered to Stripe.
const (
	// OutcomeApplied: the event's effect is committed with it.
	OutcomeApplied = store.StripeEventApplied
	// OutcomeUnknownCustomer: no workspace has the event's customer; recorded, nothing done.
	OutcomeUnknownCustomer = store.StripeEventUnknownCustomer
	// OutcomeIgnored: a type billing does not act on, or an object outside subscriptions.
	OutcomeIgnored = store.StripeEventIgnored
	// OutcomeDuplicate: the event id was recorded before; nothing done, nothing recorded.
	OutcomeDuplicate = "duplicate"
	// OutcomeUnknownWorkspace: a checkout session whose client_reference_id names no workspace.
	OutcomeUnknownWorkspace = "unknown_workspace"
	// OutcomeObjectNotFound: Stripe says the event's object does not exist (any more).
	OutcomeObjectNotFound = "object_not_found"
	// OutcomeConflict: the object belongs to another workspace than the one it would be
	// applied to (a customer or subscription already linked elsewhere). Retrying cannot
	// help, so it is recorded and logged for a person to look at.
	OutcomeConflict = "conflict"
)

// VerifyEvent checks the Stripe-Signature of the raw body (HMAC with the signing secret,
// timestamp within WebhookTolerance) and returns what routing needs. Anything wrong is a
// *BadEventError. The API version of the payload is not checked
// (IgnoreAPIVersionMismatch): only the event's id, type, created and object id are read
// from it, and the object itself is always re-read from Stripe through the client pinned
// to stripe-go's version, so a payload rendered in another version changes nothing.
func (s *Service) VerifyEvent(payload []byte, signature string) (Event, error) {
	if s.WebhookSecret == "" {
		// An empty secret would verify an HMAC anyone can compute.
		return Event{}, &BadEventError{Msg: "the server has no Stripe webhook signing secret (STRIPE_WEBHOOK_SECRET), so no delivery can be verified"}
	}
	ev, err := webhook.ConstructEventWithOptions(payload, signature, s.WebhookSecret, webhook.ConstructEventOptions{
		Tolerance: WebhookTolerance, IgnoreAPIVersionMismatch: true,
	})
	switch {
	case errors.Is(err, webhook.ErrNotSigned):
		return Event{}, &BadEventError{Msg: "the Stripe-Signature header is missing"}
	case errors.Is(err, webhook.ErrInvalidHeader):
		return Event{}, &BadEventError{Msg: "the Stripe-Signature header is malformed"}
	case errors.Is(err, webhook.ErrNoValidSignature):
		return Event{}, &BadEventError{Msg: "no Stripe-Signature matches the body and the signing secret"}
	case errors.Is(err, webhook.ErrTooOld):
		return Event{}, &BadEventError{Msg: fmt.Sprintf("the Stripe-Signature timestamp is more than %d s old", int(WebhookTolerance.Seconds()))}
	case err != nil:
		// The signature matched, so this is Stripe's (or the secret holder's) body, but not
		// an event.
		return Event{}, &BadEventError{Msg: "the body is not a JSON Stripe event"}
	}
	out := Event{ID: ev.ID, Type: string(ev.Type)}
	if ev.Data != nil {
		out.ObjectID, _ = ev.Data.Object["id"].(string)
		out.Object, _ = ev.Data.Object["object"].(string)
	}
	var missing []string
	if out.ID == "" {
		missing = append(missing, "id")
	}
	if out.Type == "" {
		missing = append(missing, "type")
	}
	if out.ObjectID == "" {
		missing = append(missing, "data.object.id")
	}
	if len(missing) > 0 {
		return Event{}, &BadEventError{Msg: "the event has no " + strings.Join(missing, ", ")}
	}
	if len(out.ID) > 255 || len(out.ObjectID) > 255 || len(out.Type) > 255 {
		return Event{}, &BadEventError{Msg: "the event's id, type or object id is longer than 255 characters"}
	}
	out.Created = time.Unix(ev.Created, 0).UTC()
	if ev.Created <= 0 {
		out.Created = s.now().UTC()
	}
	return out, nil
}

// errDuplicate rolls back the transaction of an event recorded before.
var errDuplicate = errors.New("stripe event recorded before")

// recordFunc records the event in the transaction with its workspace and outcome, and
// returns the outcome; errDuplicate if it was recorded before.
type recordFunc func(workspaceID, outcome string) (string, error)

// ApplyEvent records and applies a verified event; an error means Stripe should redeliver
// it.
//
// The object is re-read from Stripe before the transaction opens, so what is applied is
// Stripe's current state whatever order events arrive in: a late old event applies the
// current object, which is correct. The event is recorded in the same transaction as its
// database effect, so a failure anywhere rolls both back and the redelivery applies it.
// Temporal signals and the trial email happen inside that transaction, before the commit:
// if the commit then fails, the redelivery signals again, so signals are at least once
// (the dunning workflow treats a repeated signal as a no-op) and the email is claimed per
// (subscription, trial end) so it is sent once.
func (s *Service) ApplyEvent(ctx context.Context, ev Event) (string, error) {
	// A cheap check first, so a redelivered event costs no Stripe call. The insert in the
	// transaction is what actually de-duplicates (two concurrent deliveries pass here).
	if _, err := s.Store.GetStripeEvent(ctx, ev.ID); err == nil {
		return OutcomeDuplicate, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	switch ev.Type {
	case "checkout.session.completed":
		return s.applyCheckout(ctx, ev)
	case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
		"customer.subscription.paused", "customer.subscription.resumed", "customer.subscription.trial_will_end":
		return s.applySubscriptionEvent(ctx, ev)
	case "invoice.payment_failed", "invoice.payment_action_required", "invoice.paid":
		return s.applyInvoice(ctx, ev)
	case "payment_method.attached", "customer.updated":
		return s.applyPaymentMethod(ctx, ev)
	}
	return s.recordOnly(ctx, ev, "", OutcomeIgnored)
}

// transact runs fn in a transaction. fn looks up what it needs, calls record exactly once
// before any effect, then applies the effect.
func (s *Service) transact(ctx context.Context, ev Event, fn func(tx pgx.Tx, record recordFunc) (string, error)) (string, error) {
	var outcome string
	err := s.Store.InTx(ctx, func(tx pgx.Tx) error {
		recorded := false
		record := func(workspaceID, outcome string) (string, error) {
			fresh, err := s.Store.RecordStripeEvent(ctx, tx, store.StripeEvent{
				ID: ev.ID, Type: ev.Type, Created: ev.Created, ObjectID: ev.ObjectID, WorkspaceID: workspaceID, Outcome: outcome,
			})
			if err != nil {
				return "", err
			}
			if !fresh {
				return "", errDuplicate
			}
			recorded = true
			return outcome, nil
		}
		var err error
		outcome, err = fn(tx, record)
		if err == nil && !recorded {
			return fmt.Errorf("bug: event %s applied without being recorded", ev.ID)
		}
		return err
	})
	switch {
	case errors.Is(err, errDuplicate):
		return OutcomeDuplicate, nil
	case errors.Is(err, store.ErrConflict):
		s.log().ErrorContext(ctx, "stripe event conflicts with a linked workspace; recorded, not applied",
			"event", ev.ID, "type", ev.Type, "object", ev.ObjectID, "err", err)
		return s.recordOnly(ctx, ev, "", OutcomeConflict)
	case err != nil:
		return "", fmt.Errorf("apply stripe event %s (%s): %w", ev.ID, ev.Type, err)
	}
	return outcome, nil
}

// recordOnly records an event that changes nothing.
func (s *Service) recordOnly(ctx context.Context, ev Event, workspaceID, outcome string) (string, error) {
	return s.transact(ctx, ev, func(_ pgx.Tx, record recordFunc) (string, error) {
		return record(workspaceID, outcome)
	})
}

// readSubscription re-reads a subscription and returns the time the read was sent, which
// orders applied states: store.ApplySubscription ignores a state read before the stored
// one. The read's send time is used, not the event's created: a late old event re-reads
// the current object and must be able to apply it, and of two concurrent re-reads the one
// sent later sees the newer (or the same) state. found is false when Stripe has no such
// subscription.
func (s *Service) readSubscription(ctx context.Context, id string) (sub stripeapi.Subscription, readAt time.Time, found bool, err error) {
	readAt = s.now().UTC()
	sub, err = s.Stripe.GetSubscription(ctx, id)
	if errors.Is(err, stripeapi.ErrNotFound) {
		return stripeapi.Subscription{}, readAt, false, nil
	}
	if err != nil {
		return stripeapi.Subscription{}, readAt, false, err
	}
	return sub, readAt, true, nil
}

// applySub applies a re-read subscription to the workspace's account. A subscription other
// than the account's is not applied when it grants nothing while the account's grants a
// plan: it is an older subscription of the same customer (paused, then replaced by a new
// checkout) whose late event must not take the workspace's plan away.
func (s *Service) applySub(ctx context.Context, tx pgx.Tx, acc store.BillingAccount, sub stripeapi.Subscription, readAt time.Time) error {
	plan := s.planOfPrice(sub.PriceID)
	if plan == "" && sub.PriceID != "" {
		s.log().WarnContext(ctx, "stripe subscription has a price of no plan; it grants free",
			"subscription", sub.ID, "price", sub.PriceID, "workspace", acc.WorkspaceID)
	}
	effective := billing.EffectivePlan(plan, sub.Status)
	if acc.StripeSubscriptionID != "" && acc.StripeSubscriptionID != sub.ID && effective == billing.Free && live(acc.Status) {
		s.log().InfoContext(ctx, "stripe subscription not applied: the workspace has another live subscription",
			"subscription", sub.ID, "status", sub.Status, "current", acc.StripeSubscriptionID, "workspace", acc.WorkspaceID)
		return nil
	}
	_, err := s.Store.ApplySubscription(ctx, tx, acc.WorkspaceID, store.SubscriptionState{
		SubscriptionID: sub.ID, Status: sub.Status, Plan: effective, TrialEnd: sub.TrialEnd,
		CurrentPeriodEnd: sub.CurrentPeriodEnd, CancelAtPeriodEnd: sub.CancelAtPeriodEnd,
		HasPaymentMethod: sub.HasPaymentMethod, ReadAt: readAt,
	})
	return err
}

// episodeOf returns the account's running dunning episode if it is one of subscriptionID,
// and the invoice it began with.
func episodeOf(acc store.BillingAccount, subscriptionID string) (workflowID, invoiceID string, ok bool) {
	prefix := workflows.DunningWorkflowID(subscriptionID, "")
	if !acc.DunningState.Active() || !strings.HasPrefix(acc.DunningWorkflowID, prefix) {
		return "", "", false
	}
	return acc.DunningWorkflowID, strings.TrimPrefix(acc.DunningWorkflowID, prefix), true
}

// applyCheckout applies checkout.session.completed: the session names the workspace
// (client_reference_id), its customer is linked, and its subscription applied.
func (s *Service) applyCheckout(ctx context.Context, ev Event) (string, error) {
	sess, err := s.Stripe.GetCheckoutSession(ctx, ev.ObjectID)
	if errors.Is(err, stripeapi.ErrNotFound) {
		return s.recordOnly(ctx, ev, "", OutcomeObjectNotFound)
	}
	if err != nil {
		return "", err
	}
	if sess.Mode != "subscription" {
		return s.recordOnly(ctx, ev, "", OutcomeIgnored)
	}
	workspaceID := sess.ClientReferenceID
	if _, err := s.Store.GetWorkspace(ctx, workspaceID); errors.Is(err, store.ErrNotFound) {
		return s.recordOnly(ctx, ev, "", OutcomeUnknownWorkspace)
	} else if err != nil {
		return "", err
	}
	var sub stripeapi.Subscription
	var readAt time.Time
	found := false
	if sess.SubscriptionID != "" {
		if sub, readAt, found, err = s.readSubscription(ctx, sess.SubscriptionID); err != nil {
			return "", err
		}
	}
	return s.transact(ctx, ev, func(tx pgx.Tx, record recordFunc) (string, error) {
		outcome, err := record(workspaceID, OutcomeApplied)
		if err != nil {
			return "", err
		}
		acc := store.BillingAccount{WorkspaceID: workspaceID}
		if sess.CustomerID != "" {
			if err := s.Store.LinkStripeCustomer(ctx, tx, workspaceID, sess.CustomerID); err != nil {
				return "", err
			}
			if acc, err = s.Store.BillingAccountByCustomer(ctx, tx, sess.CustomerID); err != nil {
				return "", err
			}
		}
		if found {
			if err := s.applySub(ctx, tx, acc, sub, readAt); err != nil {
				return "", err
			}
		}
		return outcome, nil
	})
}

// applySubscriptionEvent applies customer.subscription.*: the re-read subscription's state;
// a canceled one ends a running episode of it; trial_will_end reminds the owner.
func (s *Service) applySubscriptionEvent(ctx context.Context, ev Event) (string, error) {
	sub, readAt, found, err := s.readSubscription(ctx, ev.ObjectID)
	if err != nil {
		return "", err
	}
	if !found {
		return s.recordOnly(ctx, ev, "", OutcomeObjectNotFound)
	}
	return s.transact(ctx, ev, func(tx pgx.Tx, record recordFunc) (string, error) {
		acc, err := s.Store.BillingAccountByCustomer(ctx, tx, sub.CustomerID)
		if errors.Is(err, store.ErrNotFound) {
			return record("", OutcomeUnknownCustomer)
		}
		if err != nil {
			return "", err
		}
		outcome, err := record(acc.WorkspaceID, OutcomeApplied)
		if err != nil {
			return "", err
		}
		if err := s.applySub(ctx, tx, acc, sub, readAt); err != nil {
			return "", err
		}
		ended := sub.Status == "canceled" || sub.Status == "incomplete_expired"
		if id, _, ok := episodeOf(acc, sub.ID); ok && (ended || ev.Type == "customer.subscription.deleted") {
			if err := s.Dunning.Signal(ctx, id, workflows.SignalSubscriptionCanceled, workflows.DunningSignal{EventID: ev.ID}); err != nil {
				return "", err
			}
		}
		if ev.Type == "customer.subscription.trial_will_end" {
			if err := s.remindTrialEnd(ctx, acc.WorkspaceID, sub); err != nil {
				return "", err
			}
		}
		return outcome, nil
	})
}

// dunnable reports whether a failed payment of a subscription in status starts dunning:
// only a subscription that grants its plan on payment terms. An incomplete one (its first
// payment failed) never granted anything; a canceled one has nothing left to recover.
func dunnable(status string) bool {
	return status == "active" || status == "past_due" || status == "unpaid"
}

// applyInvoice applies invoice.payment_failed, invoice.payment_action_required and
// invoice.paid. The invoice and its subscription are re-read; the subscription's state is
// applied; then a settled invoice signals invoice_paid to a running episode of the
// subscription, and an unsettled failure signals (or starts) the subscription's episode.
func (s *Service) applyInvoice(ctx context.Context, ev Event) (string, error) {
	inv, err := s.Stripe.GetInvoice(ctx, ev.ObjectID)
	if errors.Is(err, stripeapi.ErrNotFound) {
		return s.recordOnly(ctx, ev, "", OutcomeObjectNotFound)
	}
	if err != nil {
		return "", err
	}
	if inv.SubscriptionID == "" {
		return s.recordOnly(ctx, ev, "", OutcomeIgnored)
	}
	sub, readAt, found, err := s.readSubscription(ctx, inv.SubscriptionID)
	if err != nil {
		return "", err
	}
	if !found {
		return s.recordOnly(ctx, ev, "", OutcomeObjectNotFound)
	}
	return s.transact(ctx, ev, func(tx pgx.Tx, record recordFunc) (string, error) {
		acc, err := s.Store.BillingAccountByCustomer(ctx, tx, inv.CustomerID)
		if errors.Is(err, store.ErrNotFound) {
			return record("", OutcomeUnknownCustomer)
		}
		if err != nil {
			return "", err
		}
		outcome, err := record(acc.WorkspaceID, OutcomeApplied)
		if err != nil {
			return "", err
		}
		if err := s.applySub(ctx, tx, acc, sub, readAt); err != nil {
			return "", err
		}
		payload := workflows.DunningSignal{InvoiceID: inv.ID, AttemptCount: inv.AttemptCount, EventID: ev.ID}
		episode, episodeInvoice, running := episodeOf(acc, sub.ID)
		switch {
		case inv.Settled():
			if running {
				if err := s.Dunning.Signal(ctx, episode, workflows.SignalInvoicePaid, payload); err != nil {
					return "", err
				}
			}
		case ev.Type == "invoice.paid":
			// Stripe said paid, the re-read says otherwise (a payment reversed since): the
			// re-read wins, and a later failure event starts dunning.
			s.log().WarnContext(ctx, "invoice.paid for an invoice Stripe now reports unpaid",
				"event", ev.ID, "invoice", inv.ID, "status", inv.Status)
		case !dunnable(sub.Status):
			s.log().InfoContext(ctx, "failed payment of a subscription that does not start dunning",
				"event", ev.ID, "invoice", inv.ID, "subscription", sub.ID, "status", sub.Status)
		default:
			signal := workflows.SignalPaymentFailed
			if ev.Type == "invoice.payment_action_required" {
				signal = workflows.SignalActionRequired
			}
			// One episode per subscription: a failure of another invoice while an episode
			// runs goes to that episode.
			in := workflows.DunningInput{WorkspaceID: acc.WorkspaceID, SubscriptionID: sub.ID, InvoiceID: inv.ID}
			if running {
				in.InvoiceID = episodeInvoice
			}
			id := workflows.DunningWorkflowID(in.SubscriptionID, in.InvoiceID)
			if err := s.Store.BeginDunning(ctx, tx, acc.WorkspaceID, id); err != nil {
				return "", err
			}
			if _, err := s.Dunning.SignalWithStart(ctx, in, signal, payload); err != nil {
				return "", err
			}
		}
		return outcome, nil
	})
}

// applyPaymentMethod applies payment_method.attached and customer.updated: a running
// episode is told a payment method may have been added, so it retries the open invoice
// (Stripe stops retrying once a subscription is unpaid). The workflow decides whether a
// retry is due; without an episode nothing is done.
func (s *Service) applyPaymentMethod(ctx context.Context, ev Event) (string, error) {
	customer := ev.ObjectID
	if ev.Type == "payment_method.attached" {
		var err error
		customer, err = s.Stripe.PaymentMethodCustomer(ctx, ev.ObjectID)
		if errors.Is(err, stripeapi.ErrNotFound) {
			return s.recordOnly(ctx, ev, "", OutcomeObjectNotFound)
		}
		if err != nil {
			return "", err
		}
		if customer == "" {
			// Detached again since: nothing to retry with.
			return s.recordOnly(ctx, ev, "", OutcomeIgnored)
		}
	}
	return s.transact(ctx, ev, func(tx pgx.Tx, record recordFunc) (string, error) {
		acc, err := s.Store.BillingAccountByCustomer(ctx, tx, customer)
		if errors.Is(err, store.ErrNotFound) {
			return record("", OutcomeUnknownCustomer)
		}
		if err != nil {
			return "", err
		}
		outcome, err := record(acc.WorkspaceID, OutcomeApplied)
		if err != nil {
			return "", err
		}
		if acc.DunningState.Active() && acc.DunningWorkflowID != "" {
			if err := s.Dunning.Signal(ctx, acc.DunningWorkflowID, workflows.SignalPaymentMethodUpdated,
				workflows.DunningSignal{EventID: ev.ID}); err != nil {
				return "", err
			}
		}
		return outcome, nil
	})
}

// TrialEmailStep names the trial reminder of a trial end in billing_emails (key
// "trial-<subscription>"), so the owner gets one reminder per trial end however often
// Stripe sends trial_will_end.
func TrialEmailStep(trialEnd time.Time) string {
	return "trial_will_end-" + trialEnd.UTC().Format(time.RFC3339)
}

// remindTrialEnd emails the owner that the trial ends soon, if the re-read subscription is
// still trialing without a payment method.
func (s *Service) remindTrialEnd(ctx context.Context, workspaceID string, sub stripeapi.Subscription) error {
	if sub.Status != "trialing" || sub.HasPaymentMethod || sub.TrialEnd == nil {
		return nil
	}
	if s.Mailer == nil {
		s.log().WarnContext(ctx, "no mailer: trial reminder not sent", "workspace", workspaceID, "subscription", sub.ID)
		return nil
	}
	members, err := s.Store.ListMembers(ctx, workspaceID)
	if err != nil {
		return err
	}
	owner := ""
	for _, m := range members {
		if m.Role == "owner" {
			owner = m.Email
		}
	}
	if owner == "" {
		s.log().WarnContext(ctx, "workspace has no owner: trial reminder not sent", "workspace", workspaceID)
		return nil
	}
	w, err := s.Store.GetWorkspace(ctx, workspaceID)
	if err != nil {
		return err
	}
	key, step := "trial-"+sub.ID, TrialEmailStep(*sub.TrialEnd)
	claimed, err := s.Store.ClaimBillingEmail(ctx, key, step, workspaceID)
	if err != nil || !claimed {
		return err
	}
	if err := s.Mailer.Send(ctx, s.trialMessage(owner, w.Name, sub)); err != nil {
		if rerr := s.Store.ReleaseBillingEmail(ctx, key, step); rerr != nil {
			s.log().ErrorContext(ctx, "release of an unsent trial reminder failed", "key", key, "err", rerr)
		}
		return fmt.Errorf("send trial reminder of %s: %w", workspaceID, err)
	}
	return nil
}

func (s *Service) trialMessage(to, workspace string, sub stripeapi.Subscription) notify.Message {
	planName := "paid"
	if p, ok := billing.PlanByID(s.planOfPrice(sub.PriceID)); ok {
		planName = p.Name
	}
	free, _ := billing.PlanByID(billing.Free)
	day := sub.TrialEnd.UTC().Format("Monday, 2 January 2006")
	var b strings.Builder
	fmt.Fprintf(&b, "Hello,\n\nThe %s trial of your OmniTrackIQ workspace %q ends on %s (UTC).\n\n", planName, workspace, day)
	fmt.Fprintf(&b, "No payment method is on file yet. To keep the %s plan, add one before then on the billing page:\n\n    %s\n\n",
		planName, s.appURL("/billing"))
	fmt.Fprintf(&b, "Without a payment method the workspace moves to the Free plan when the trial ends: "+
		"%d connections, %d members, %d days of history, %d scheduled report, syncs at most every %s. "+
		"Your data is kept.\n", free.Limits.Connections, free.Limits.Members, free.Limits.HistoryDays,
		free.Limits.ScheduledReports, free.Limits.MinSyncInterval)
	return notify.Message{
		To:      []string{to},
		Subject: fmt.Sprintf("Your OmniTrackIQ %s trial ends on %s", planName, sub.TrialEnd.UTC().Format("2 January 2006")),
		Text:    b.String(),
	}
}

// eventJSON is the minimum of a Stripe event, for building test and simulated deliveries.
type eventJSON struct {
	ID         string `json:"id"`
	Object     string `json:"object"`
	APIVersion string `json:"api_version"`
	Created    int64  `json:"created"`
	Type       string `json:"type"`
	Data       struct {
		Object map[string]any `json:"object"`
	} `json:"data"`
}

// EventPayload renders a minimal Stripe event of type typ about the object (kind and id),
// as Stripe would deliver it; only the fields VerifyEvent reads matter, because the object
// is always re-read. The CLI's `billing simulate` and the tests sign it with
// webhook.GenerateTestSignedPayload.
func EventPayload(id, typ, objectKind, objectID string, created time.Time) ([]byte, error) {
	e := eventJSON{ID: id, Object: "event", APIVersion: "2023-10-16", Created: created.Unix(), Type: typ}
	e.Data.Object = map[string]any{"id": objectID, "object": objectKind}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("render stripe event %s: %w", id, err)
	}
	return b, nil
}
