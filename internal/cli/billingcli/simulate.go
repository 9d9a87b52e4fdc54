package billingcli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/stripemock"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// The events simulate posts, and the Stripe event type each becomes.
var simulatedEvents = map[string]string{
	"checkout_completed": "checkout.session.completed",
	// subscription_updated: a trial converted to active, or (with --plan) a plan change.
	"subscription_updated": "customer.subscription.updated",
	"trial_will_end":       "customer.subscription.trial_will_end",
	// trial_ended: the trial ended without a payment method, so Stripe paused the
	// subscription (trial_settings.end_behavior.missing_payment_method = pause).
	"trial_ended":     "customer.subscription.updated",
	"payment_failed":  "invoice.payment_failed",
	"action_required": "invoice.payment_action_required",
	"paid":            "invoice.paid",
	// payment_method_updated: the customer set a card in the Billing Portal, which makes it
	// the default of the customer and of the subscription.
	"payment_method_updated": "customer.subscription.updated",
	"subscription_canceled":  "customer.subscription.deleted",
}

func eventNames() string {
	names := make([]string, 0, len(simulatedEvents))
	for n := range simulatedEvents {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// sim is one simulated event: the workspace's ids, the state given to Stripe's side, and
// the event built from it.
type sim struct {
	o       Options
	ws      string
	acct    store.BillingAccount
	now     time.Time
	admin   *stripemock.Admin // nil when STRIPE_API_BASE is not an overlay
	hexID   string            // the workspace id without dashes, naming simulated objects
	cus     string
	sub     string
	changes []string // what was set in the overlay, for the report
}

func simulate(ctx context.Context, o Options, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("billing simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	workspace := fs.String("workspace", "", "the workspace id (required)")
	event := fs.String("event", "", "the event to simulate (required): "+eventNames())
	planName := fs.String("plan", "", "the plan checked out (checkout_completed) or changed to (subscription_updated)")
	api := fs.String("api", "", "the API's base URL (default PUBLIC_URL)")
	eventID := fs.String("event-id", "", "the Stripe event id (default a new evt_sim_...); repeat one to deliver it again")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, "unexpected arguments: "+strings.Join(fs.Args(), " "))
	}
	if *workspace == "" {
		problems = append(problems, "--workspace is required")
	}
	typ, known := simulatedEvents[*event]
	if !known {
		problems = append(problems, "--event must be one of "+eventNames())
	}
	var plan billing.Plan
	switch {
	case *planName != "":
		p, err := billing.ParsePlan(*planName)
		switch {
		case err != nil:
			problems = append(problems, "--plan: "+err.Error())
		case !p.Paid():
			problems = append(problems, "--plan must be a paid plan: starter, pro or agency")
		case *event != "checkout_completed" && *event != "subscription_updated":
			problems = append(problems, "--plan goes with checkout_completed or subscription_updated only")
		}
		plan = p
	case *event == "checkout_completed":
		problems = append(problems, "checkout_completed needs --plan starter|pro|agency")
	}
	if *eventID != "" && !strings.HasPrefix(*eventID, "evt_") {
		problems = append(problems, "--event-id must start with evt_")
	}
	if len(problems) > 0 {
		return usageError(stderr, problems...)
	}
	secret, err := webhookSecret(o)
	if err != nil {
		return fail(stderr, "simulate", err)
	}
	if plan.ID != "" && o.Config.StripePrices[string(plan.ID)] == "" {
		return fail(stderr, "simulate", fmt.Errorf("no Stripe price configured for plan %s (STRIPE_PRICE_%s)", plan.ID, strings.ToUpper(string(plan.ID))))
	}
	hc := o.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}

	st, acct, err := loadAccount(ctx, o.Config, *workspace)
	if err != nil {
		return fail(stderr, "simulate", err)
	}
	defer st.Close()
	s := &sim{o: o, ws: acct.WorkspaceID, acct: acct, now: time.Now().UTC().Truncate(time.Second),
		hexID: strings.ReplaceAll(acct.WorkspaceID, "-", "")}

	base := stripeBase(o)
	admin := &stripemock.Admin{BaseURL: base, HTTP: hc}
	if err := admin.Ping(ctx); err != nil {
		admin = nil
		fmt.Fprintf(stdout, "Stripe at %s is not a stripe-mock overlay (%v):\n  the event is posted as is; the webhook's re-read gets whatever that Stripe answers.\n", base, err)
	}
	s.admin = admin

	s.cus = acct.StripeCustomerID
	if s.cus == "" {
		s.cus = "cus_sim_" + s.hexID
	}
	s.sub = acct.StripeSubscriptionID
	if *event == "checkout_completed" {
		if s.sub == "" || acct.Status == "canceled" || acct.Status == "incomplete_expired" {
			s.sub = nextID("sub_sim_"+s.hexID+"_", s.sub)
		}
	} else if acct.StripeSubscriptionID == "" {
		return fail(stderr, "simulate", fmt.Errorf("workspace %s has no Stripe subscription yet: simulate checkout_completed --plan starter first", s.ws))
	}

	object, previous, err := s.build(ctx, *event, plan)
	if err != nil {
		return fail(stderr, "simulate", err)
	}
	id := *eventID
	if id == "" {
		id = "evt_sim_" + randomHex(12)
	}
	payload := stripemock.NewEventWithPrevious(id, typ, s.now, object, previous)

	if admin != nil {
		fmt.Fprintf(stdout, "Stripe state set in the overlay at %s:\n", base)
		for _, c := range s.changes {
			fmt.Fprintf(stdout, "  %s\n", c)
		}
	}
	target := strings.TrimRight(*api, "/")
	if target == "" {
		target = o.Config.PublicURL
	}
	target += "/webhooks/stripe"
	fmt.Fprintf(stdout, "posting %s %s (%s %s) to %s\n", typ, id, object["object"], object["id"], target)
	status, body, err := post(ctx, hc, target, payload, stripemock.Sign(payload, secret, time.Now()))
	if err != nil {
		return fail(stderr, "simulate", err)
	}
	fmt.Fprintf(stdout, "webhook answered %s\n", status)
	if len(body) > 0 {
		fmt.Fprintf(stdout, "%s\n", bytes.TrimSpace(body))
	}
	if !strings.HasPrefix(status, "2") {
		return ExitFailure
	}
	return ExitOK
}

// post delivers the event as Stripe does: the raw JSON, signed in Stripe-Signature.
func post(ctx context.Context, hc *http.Client, url string, payload []byte, signature string) (string, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return "", nil, fmt.Errorf("post the event to %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Stripe-Signature", signature)
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks); omnitrackiq billing simulate")
	resp, err := hc.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("post the event to %s (is the API running?): %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.Status, body, nil
}

// build sets Stripe's state for the event (through the overlay, when there is one) and
// returns the event's data.object and, for updates, its previous_attributes.
func (s *sim) build(ctx context.Context, event string, plan billing.Plan) (map[string]any, map[string]any, error) {
	sub, err := s.subscription(ctx)
	if err != nil {
		return nil, nil, err
	}
	prevStatus := sub["status"]
	switch event {
	case "checkout_completed":
		trialEnd := s.now.AddDate(0, 0, billing.TrialDays)
		sub = stripemock.SubscriptionObject(s.sub, s.cus, "trialing", s.o.Config.StripePrices[string(plan.ID)], trialEnd, trialEnd, s.ws)
		sub["created"], sub["trial_start"] = s.now.Unix(), s.now.Unix()
		if err := s.set(ctx, "/v1/customers/"+s.cus, stripemock.CustomerObject(s.cus, "", s.ws, ""), "customer %s", s.cus); err != nil {
			return nil, nil, err
		}
		if err := s.set(ctx, "/v1/subscriptions/"+s.sub, sub, "subscription %s trialing on %s until %s", s.sub, plan.ID, trialEnd.Format(time.DateOnly)); err != nil {
			return nil, nil, err
		}
		cs := "cs_" + strings.TrimPrefix(s.sub, "sub_")
		session := stripemock.CheckoutSessionObject(cs, s.cus, s.sub, s.ws)
		session["created"] = s.now.Unix()
		if err := s.set(ctx, "/v1/checkout/sessions/"+cs, session, "checkout session %s complete", cs); err != nil {
			return nil, nil, err
		}
		return session, nil, nil

	case "subscription_updated":
		previous := map[string]any{}
		if plan.ID != "" {
			previous["items"] = sub["items"]
			sub["items"] = stripemock.SubscriptionObject(s.sub, s.cus, "", s.o.Config.StripePrices[string(plan.ID)], time.Time{}, time.Time{}, s.ws)["items"]
		}
		if prevStatus == "trialing" || prevStatus == nil {
			previous["status"] = prevStatus
			sub["status"], sub["trial_end"] = "active", s.now.Unix()
			sub["current_period_start"], sub["current_period_end"] = s.now.Unix(), s.now.AddDate(0, 1, 0).Unix()
		}
		return sub, previous, s.set(ctx, "/v1/subscriptions/"+s.sub, sub, "subscription %s %v%s", s.sub, sub["status"], planText(plan))

	case "trial_will_end":
		trialEnd := s.now.AddDate(0, 0, 3)
		sub["status"], sub["trial_end"], sub["current_period_end"] = "trialing", trialEnd.Unix(), trialEnd.Unix()
		return sub, nil, s.set(ctx, "/v1/subscriptions/"+s.sub, sub, "subscription %s trialing until %s", s.sub, trialEnd.Format(time.DateOnly))

	case "trial_ended":
		sub["status"], sub["trial_end"], sub["current_period_end"] = "paused", s.now.Unix(), s.now.Unix()
		sub["default_payment_method"] = nil
		if err := s.set(ctx, "/v1/customers/"+s.cus, map[string]any{"invoice_settings": stripemock.CustomerObject(s.cus, "", s.ws, "")["invoice_settings"]},
			"customer %s without a payment method", s.cus); err != nil {
			return nil, nil, err
		}
		return sub, map[string]any{"status": prevStatus}, s.set(ctx, "/v1/subscriptions/"+s.sub, sub, "subscription %s paused: trial ended without a payment method", s.sub)

	case "payment_failed", "action_required":
		inv, attempt, err := s.invoiceForFailure(ctx)
		if err != nil {
			return nil, nil, err
		}
		if event == "payment_failed" {
			attempt++
		}
		attempt = max(attempt, 1)
		obj := s.invoice(ctx, inv, "open", false, attempt)
		obj["next_payment_attempt"] = s.now.AddDate(0, 0, 3).Unix()
		if err := s.set(ctx, "/v1/invoices/"+inv, obj, "invoice %s open, attempt %d", inv, attempt); err != nil {
			return nil, nil, err
		}
		sub["status"], sub["latest_invoice"] = "past_due", inv
		if err := s.set(ctx, "/v1/subscriptions/"+s.sub, sub, "subscription %s past_due", s.sub); err != nil {
			return nil, nil, err
		}
		// Until a payment method is updated, retrying the invoice declines.
		if err := s.payOutcome(ctx, inv, false); err != nil {
			return nil, nil, err
		}
		return obj, nil, nil

	case "paid":
		inv, attempt, err := s.invoiceForFailure(ctx)
		if err != nil {
			return nil, nil, err
		}
		obj := s.invoice(ctx, inv, "paid", true, max(attempt, 1))
		if err := s.set(ctx, "/v1/invoices/"+inv, obj, "invoice %s paid", inv); err != nil {
			return nil, nil, err
		}
		sub["status"], sub["latest_invoice"] = "active", inv
		if end := unixField(sub, "current_period_end"); end <= s.now.Unix() {
			sub["current_period_start"], sub["current_period_end"] = s.now.Unix(), s.now.AddDate(0, 1, 0).Unix()
		}
		return obj, nil, s.set(ctx, "/v1/subscriptions/"+s.sub, sub, "subscription %s active", s.sub)

	case "payment_method_updated":
		pm := "pm_sim_" + s.hexID
		if err := s.set(ctx, "/v1/payment_methods/"+pm, stripemock.PaymentMethodObject(pm, s.cus), "payment method %s (Visa 4242)", pm); err != nil {
			return nil, nil, err
		}
		if err := s.set(ctx, "/v1/customers/"+s.cus, map[string]any{"invoice_settings": stripemock.CustomerObject(s.cus, "", s.ws, pm)["invoice_settings"]},
			"customer %s default payment method %s", s.cus, pm); err != nil {
			return nil, nil, err
		}
		previous := map[string]any{"default_payment_method": sub["default_payment_method"]}
		sub["default_payment_method"] = pm
		if err := s.set(ctx, "/v1/subscriptions/"+s.sub, sub, "subscription %s default payment method %s", s.sub, pm); err != nil {
			return nil, nil, err
		}
		// The open invoice of the episode, if any, now pays when retried.
		if inv, open, err := s.openInvoice(ctx); err != nil {
			return nil, nil, err
		} else if open {
			if err := s.payOutcome(ctx, inv, true); err != nil {
				return nil, nil, err
			}
		}
		return sub, previous, nil

	case "subscription_canceled":
		sub["status"], sub["canceled_at"], sub["ended_at"] = "canceled", s.now.Unix(), s.now.Unix()
		return sub, nil, s.set(ctx, "/v1/subscriptions/"+s.sub, sub, "subscription %s canceled", s.sub)
	}
	return nil, nil, fmt.Errorf("unknown event %q", event)
}

// subscription is the workspace's subscription as Stripe would return it: built from the
// billing account, with whatever the overlay holds for it on top.
func (s *sim) subscription(ctx context.Context) (map[string]any, error) {
	price := s.o.Config.StripePrices[string(s.acct.Plan)]
	if price == "" {
		// A workspace on free still has its subscription's price in the overlay; without
		// one, any paid price makes a well-formed object.
		price = s.o.Config.StripePrices[string(billing.Starter)]
	}
	status := s.acct.Status
	if status == "" {
		status = "active"
	}
	var trialEnd, periodEnd time.Time
	if s.acct.TrialEnd != nil {
		trialEnd = *s.acct.TrialEnd
	}
	if s.acct.CurrentPeriodEnd != nil {
		periodEnd = *s.acct.CurrentPeriodEnd
	}
	sub := stripemock.SubscriptionObject(s.sub, s.cus, status, price, trialEnd, periodEnd, s.ws)
	if s.acct.HasPaymentMethod {
		sub["default_payment_method"] = "pm_sim_" + s.hexID
	}
	if s.admin == nil {
		return sub, nil
	}
	stored, ok, err := s.admin.Get(ctx, "/v1/subscriptions/"+s.sub)
	if err != nil {
		return nil, err
	}
	if ok {
		for k, v := range stored {
			sub[k] = v
		}
	}
	return sub, nil
}

// currentInvoice is the invoice of the running episode: the one named by the workflow id
// on the billing account, else the subscription's latest invoice in the overlay.
func (s *sim) currentInvoice(ctx context.Context) (string, map[string]any, error) {
	id := ""
	if rest, ok := strings.CutPrefix(s.acct.DunningWorkflowID, workflows.DunningWorkflowID(s.sub, "")); ok && rest != "" {
		id = rest
	}
	if s.admin == nil {
		return id, nil, nil
	}
	if id == "" {
		sub, ok, err := s.admin.Get(ctx, "/v1/subscriptions/"+s.sub)
		if err != nil {
			return "", nil, err
		}
		if latest, _ := sub["latest_invoice"].(string); ok && latest != "" {
			id = latest
		}
	}
	if id == "" {
		return "", nil, nil
	}
	inv, _, err := s.admin.Get(ctx, "/v1/invoices/"+id)
	return id, inv, err
}

// openInvoice is the current invoice if it is still owed.
func (s *sim) openInvoice(ctx context.Context) (string, bool, error) {
	id, inv, err := s.currentInvoice(ctx)
	if err != nil || id == "" {
		return "", false, err
	}
	if inv == nil {
		// No overlay state: owed if a dunning episode is running for it.
		return id, s.acct.DunningWorkflowID != "", nil
	}
	status, _ := inv["status"].(string)
	return id, status == "open" || status == "draft", nil
}

// invoiceForFailure picks the invoice a failure (or payment) is about: the episode's open
// invoice, else the next simulated one. It returns the attempts made on it so far.
func (s *sim) invoiceForFailure(ctx context.Context) (string, int64, error) {
	id, inv, err := s.currentInvoice(ctx)
	if err != nil {
		return "", 0, err
	}
	if id != "" {
		status, _ := inv["status"].(string)
		episode := s.acct.DunningWorkflowID == workflows.DunningWorkflowID(s.sub, id)
		if episode || status == "open" || status == "draft" {
			return id, unixField(inv, "attempt_count"), nil
		}
	}
	return nextID("in_sim_"+s.hexID+"_", id), 0, nil
}

// invoice builds an invoice of the subscription, keeping the creation time it had.
func (s *sim) invoice(ctx context.Context, id, status string, paid bool, attempt int64) map[string]any {
	obj := stripemock.InvoiceObject(id, s.cus, s.sub, status, paid, attempt)
	obj["created"] = s.now.Unix()
	obj["period_end"] = s.now.Unix()
	if s.admin != nil {
		if cur, ok, err := s.admin.Get(ctx, "/v1/invoices/"+id); err == nil && ok {
			if c := unixField(cur, "created"); c > 0 {
				obj["created"], obj["period_end"] = c, c
			}
		}
	}
	return obj
}

// set gives the object at path its state in the overlay (nothing without one).
func (s *sim) set(ctx context.Context, path string, fields map[string]any, format string, a ...any) error {
	if s.admin == nil {
		return nil
	}
	if err := s.admin.Set(ctx, path, fields); err != nil {
		return fmt.Errorf("set %s in the overlay: %w", path, err)
	}
	s.changes = append(s.changes, fmt.Sprintf(format, a...))
	return nil
}

func (s *sim) payOutcome(ctx context.Context, invoiceID string, succeed bool) error {
	if s.admin == nil {
		return nil
	}
	if err := s.admin.SetPayOutcome(ctx, invoiceID, succeed); err != nil {
		return err
	}
	outcome := "decline"
	if succeed {
		outcome = "succeed"
	}
	s.changes = append(s.changes, fmt.Sprintf("payments of invoice %s %s", invoiceID, outcome))
	return nil
}

// nextID is prefix plus the number after current's (when current has the prefix), else 1.
func nextID(prefix, current string) string {
	if rest, ok := strings.CutPrefix(current, prefix); ok {
		if n, err := strconv.Atoi(rest); err == nil {
			return prefix + strconv.Itoa(n+1)
		}
	}
	return prefix + "1"
}

// unixField reads an integer field of decoded JSON (float64) or of a built object (int64).
func unixField(m map[string]any, key string) int64 {
	switch v := m[key].(type) {
	case float64:
		return int64(v)
	case int64:
		return v
	case int:
		return int64(v)
	}
	return 0
}

func planText(p billing.Plan) string {
	if p.ID == "" {
		return ""
	}
	return " on " + string(p.ID)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	return hex.EncodeToString(b)
}
