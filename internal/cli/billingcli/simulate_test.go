package billingcli_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/cli/billingcli"
	"github.com/omnitrackiq/omnitrackiq/internal/config"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/stripeapi"
	"github.com/omnitrackiq/omnitrackiq/internal/stripemock"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

const (
	testSecret = "whsec_billingcli_test"
	testWS     = "5e0c7a1b-2d3f-4a5b-8c6d-7e8f9a0b1c2d"
	wsHex      = "5e0c7a1b2d3f4a5b8c6d7e8f9a0b1c2d"
)

var testPrices = map[string]string{
	"starter": "price_test_starter", "pro": "price_test_pro", "agency": "price_test_agency",
}

func startStripe(t *testing.T) (mockURL string, overlay *stripemock.Overlay, overlayURL string) {
	t.Helper()
	bin, err := stripemock.Bin()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := stripemock.Start(ctx, bin, "127.0.0.1:0", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	o, err := stripemock.NewOverlay(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	return p.URL, o, srv.URL
}

// delivery is one event the webhook received, with the objects as the webhook re-read
// them from Stripe afterwards.
type delivery struct {
	Event   stripe.Event
	Sub     stripeapi.Subscription
	Invoice stripeapi.Invoice
	Session stripeapi.CheckoutSession
}

// webhookServer stands for POST /webhooks/stripe: it verifies the signature as the real
// one must (400 otherwise), re-reads the object from Stripe, and records the subscription
// on the billing account as the real one does, so the next simulate sees the ids.
type webhookServer struct {
	t      *testing.T
	st     *store.Store
	stripe *stripeapi.Client
	mu     sync.Mutex
	got    []delivery
}

func (h *webhookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, _ := io.ReadAll(r.Body)
	if r.URL.Path != "/webhooks/stripe" {
		http.NotFound(w, r)
		return
	}
	ev, err := webhook.ConstructEventWithOptions(body, r.Header.Get("Stripe-Signature"), testSecret,
		webhook.ConstructEventOptions{Tolerance: 300 * time.Second})
	if err != nil {
		http.Error(w, `{"title":"bad signature"}`, http.StatusBadRequest)
		return
	}
	d := delivery{Event: ev}
	id, _ := ev.Data.Object["id"].(string)
	subID := ""
	switch ev.Data.Object["object"] {
	case "checkout.session":
		if d.Session, err = h.stripe.GetCheckoutSession(ctx, id); err == nil {
			subID = d.Session.SubscriptionID
			err = h.st.LinkStripeCustomer(ctx, h.st.Pool, d.Session.ClientReferenceID, d.Session.CustomerID)
		}
	case "invoice":
		if d.Invoice, err = h.stripe.GetInvoice(ctx, id); err == nil {
			subID = d.Invoice.SubscriptionID
		}
	case "subscription":
		subID = id
	}
	if err == nil && subID != "" {
		if d.Sub, err = h.stripe.GetSubscription(ctx, subID); err == nil {
			plan := billing.Free
			for p, price := range testPrices {
				if price == d.Sub.PriceID {
					plan = billing.PlanID(p)
				}
			}
			_, err = h.st.ApplySubscription(ctx, h.st.Pool, d.Sub.WorkspaceID, store.SubscriptionState{
				SubscriptionID: d.Sub.ID, Status: d.Sub.Status, Plan: plan, TrialEnd: d.Sub.TrialEnd,
				CurrentPeriodEnd: d.Sub.CurrentPeriodEnd, HasPaymentMethod: d.Sub.HasPaymentMethod, ReadAt: time.Now(),
			})
		}
	}
	if err != nil {
		h.t.Errorf("webhook %s: %v", ev.Type, err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h.mu.Lock()
	h.got = append(h.got, d)
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"received":true}`))
}

func (h *webhookServer) last() delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.got) == 0 {
		h.t.Fatal("no event delivered")
	}
	return h.got[len(h.got)-1]
}

func (h *webhookServer) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.got)
}

func TestSimulate(t *testing.T) {
	ctx := context.Background()
	st, dbURL := testdb.New(t)
	if err := st.EnsureWorkspace(ctx, testWS, "Acme", "USD", "UTC"); err != nil {
		t.Fatal(err)
	}
	mockURL, overlay, overlayURL := startStripe(t)
	sc, err := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_billingcli", BaseURL: overlayURL})
	if err != nil {
		t.Fatal(err)
	}
	hook := &webhookServer{t: t, st: st, stripe: sc}
	api := httptest.NewServer(hook)
	defer api.Close()

	cfg := config.Config{DatabaseURL: dbURL}
	cfg.PublicURL = api.URL
	cfg.Billing = config.Billing{StripeSecretKey: "sk_test_billingcli", StripeWebhookSecret: testSecret,
		StripeAPIBase: overlayURL, StripePrices: testPrices}
	devDir := t.TempDir()
	run := func(cfg config.Config, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := billingcli.Run(ctx, billingcli.Options{Config: cfg, DevDir: devDir}, args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	simulate := func(event string, extra ...string) delivery {
		t.Helper()
		n := hook.count()
		code, out, errOut := run(cfg, append([]string{"simulate", "--workspace", testWS, "--event", event}, extra...)...)
		if code != billingcli.ExitOK {
			t.Fatalf("simulate %s: exit %d\n%s%s", event, code, out, errOut)
		}
		if !strings.Contains(out, "webhook answered 200 OK") || !strings.Contains(out, `{"received":true}`) {
			t.Fatalf("simulate %s printed:\n%s", event, out)
		}
		if strings.Contains(out+errOut, testSecret) {
			t.Fatal("the webhook secret was printed")
		}
		if hook.count() != n+1 {
			t.Fatalf("simulate %s delivered %d events", event, hook.count()-n)
		}
		return hook.last()
	}
	account := func() store.BillingAccount {
		a, err := st.GetBillingAccount(ctx, testWS)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	sub1 := "sub_sim_" + wsHex + "_1"
	cus := "cus_sim_" + wsHex
	in1, in2 := "in_sim_"+wsHex+"_1", "in_sim_"+wsHex+"_2"

	// Checkout: the ids are made up, and Stripe's side agrees with the event.
	d := simulate("checkout_completed", "--plan", "pro")
	if d.Event.Type != "checkout.session.completed" || d.Session.CustomerID != cus || d.Session.SubscriptionID != sub1 ||
		d.Session.ClientReferenceID != testWS || d.Session.Status != "complete" {
		t.Fatalf("checkout: %+v", d.Session)
	}
	if d.Sub.Status != "trialing" || d.Sub.PriceID != "price_test_pro" || d.Sub.WorkspaceID != testWS || d.Sub.CustomerID != cus ||
		d.Sub.TrialEnd == nil || d.Sub.TrialEnd.Sub(time.Now()) < 13*24*time.Hour {
		t.Fatalf("subscription after checkout: %+v", d.Sub)
	}
	if a := account(); a.Plan != billing.Pro || a.StripeCustomerID != cus || a.StripeSubscriptionID != sub1 || a.Status != "trialing" {
		t.Fatalf("account after checkout: %+v", a)
	}

	d = simulate("trial_will_end")
	if d.Event.Type != "customer.subscription.trial_will_end" || d.Sub.Status != "trialing" ||
		d.Sub.TrialEnd.Sub(time.Now()) > 3*24*time.Hour+time.Minute {
		t.Fatalf("trial_will_end: %+v", d.Sub)
	}
	d = simulate("subscription_updated")
	if d.Event.Type != "customer.subscription.updated" || d.Sub.Status != "active" || d.Event.GetPreviousValue("status") != "trialing" {
		t.Fatalf("subscription_updated: %+v %v", d.Sub, d.Event.Data.PreviousAttributes)
	}

	// A failed payment opens an invoice, and payments of it decline.
	d = simulate("payment_failed")
	if d.Event.Type != "invoice.payment_failed" || d.Invoice.ID != in1 || d.Invoice.Status != "open" || d.Invoice.AttemptCount != 1 ||
		d.Invoice.SubscriptionID != sub1 || d.Sub.Status != "past_due" || d.Sub.LatestInvoiceID != in1 {
		t.Fatalf("payment_failed: %+v %+v", d.Invoice, d.Sub)
	}
	if obj := d.Event.Data.Object; obj["status"] != "open" || obj["attempt_count"] != float64(1) || obj["subscription"] != sub1 {
		t.Fatalf("event object %v", obj)
	}
	if _, err := sc.PayInvoice(ctx, in1, "test:pay:1"); !errors.Is(err, stripeapi.ErrDeclined) {
		t.Fatalf("retry before a new payment method: %v", err)
	}
	// The dunning workflow records its episode; the next failure is of the same invoice.
	wfID := workflows.DunningWorkflowID(sub1, in1)
	if err := st.SetDunning(ctx, testWS, billing.DunningGrace, wfID); err != nil {
		t.Fatal(err)
	}
	d = simulate("payment_failed")
	if d.Invoice.ID != in1 || d.Invoice.AttemptCount != 2 {
		t.Fatalf("second failure: %+v", d.Invoice)
	}
	d = simulate("action_required")
	if d.Event.Type != "invoice.payment_action_required" || d.Invoice.ID != in1 || d.Invoice.AttemptCount != 2 || d.Invoice.Status != "open" {
		t.Fatalf("action_required: %+v", d.Invoice)
	}

	// A new payment method: the subscription has one, and retrying the invoice now pays.
	d = simulate("payment_method_updated")
	if d.Event.Type != "customer.subscription.updated" || !d.Sub.HasPaymentMethod || d.Event.Data.PreviousAttributes == nil {
		t.Fatalf("payment_method_updated: %+v", d.Sub)
	}
	if inv, err := sc.PayInvoice(ctx, in1, "test:pay:2"); err != nil || !inv.Paid {
		t.Fatalf("retry after a new payment method: %+v %v", inv, err)
	}
	d = simulate("paid")
	if d.Event.Type != "invoice.paid" || d.Invoice.ID != in1 || !d.Invoice.Paid || d.Invoice.Status != "paid" || d.Sub.Status != "active" {
		t.Fatalf("paid: %+v %+v", d.Invoice, d.Sub)
	}
	if err := st.SetDunning(ctx, testWS, billing.DunningRecovered, wfID); err != nil {
		t.Fatal(err)
	}

	// The next failure is a new episode with a new invoice.
	d = simulate("payment_failed")
	if d.Invoice.ID != in2 || d.Invoice.AttemptCount != 1 || d.Sub.LatestInvoiceID != in2 {
		t.Fatalf("new episode: %+v", d.Invoice)
	}
	if inv, _ := sc.GetInvoice(ctx, in1); !inv.Paid {
		t.Fatalf("the first invoice changed: %+v", inv)
	}

	// A plan change, a trial ending without a card, a cancellation.
	d = simulate("subscription_updated", "--plan", "agency")
	if d.Sub.PriceID != "price_test_agency" || d.Sub.Status != "past_due" {
		t.Fatalf("plan change: %+v", d.Sub)
	}
	if a := account(); a.Plan != billing.Agency {
		t.Fatalf("account after plan change: %+v", a)
	}
	d = simulate("trial_ended")
	if d.Sub.Status != "paused" || d.Sub.HasPaymentMethod {
		t.Fatalf("trial_ended: %+v", d.Sub)
	}
	d = simulate("subscription_canceled")
	if d.Event.Type != "customer.subscription.deleted" || d.Sub.Status != "canceled" {
		t.Fatalf("subscription_canceled: %+v", d.Sub)
	}
	// Checking out again after a cancellation makes a new subscription for the same customer.
	d = simulate("checkout_completed", "--plan", "starter")
	if d.Sub.ID != "sub_sim_"+wsHex+"_2" || d.Sub.CustomerID != cus || d.Sub.Status != "trialing" {
		t.Fatalf("second checkout: %+v", d.Sub)
	}

	// The same event id delivered again, as Stripe redelivers.
	d1 := simulate("paid", "--event-id", "evt_sim_again")
	d2 := simulate("paid", "--event-id", "evt_sim_again")
	if d1.Event.ID != "evt_sim_again" || d2.Event.ID != d1.Event.ID {
		t.Fatalf("redelivery ids %s %s", d1.Event.ID, d2.Event.ID)
	}

	// Every call reached Stripe's side through stripe-mock's validation and was accepted.
	for _, r := range overlay.Requests() {
		if r.Status != http.StatusOK && r.Status != http.StatusPaymentRequired {
			t.Fatalf("stripe-mock refused %s %s: %d", r.Method, r.Path, r.Status)
		}
	}

	// Without the overlay the event is still posted, with a word about the re-read.
	plain := cfg
	plain.StripeAPIBase = mockURL
	n := hook.count()
	code, out, errOut := run(plain, "simulate", "--workspace", testWS, "--event", "paid")
	if code != billingcli.ExitOK || !strings.Contains(out, "is not a stripe-mock overlay") || hook.count() != n+1 {
		t.Fatalf("against bare stripe-mock: exit %d\n%s%s", code, out, errOut)
	}

	// `make dev`'s files stand in for STRIPE_WEBHOOK_SECRET and STRIPE_API_BASE.
	if err := os.WriteFile(filepath.Join(devDir, stripemock.DevWebhookSecretFile), []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(devDir, stripemock.DevAPIBaseFile), []byte(overlayURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dev := cfg
	dev.StripeWebhookSecret, dev.StripeAPIBase = "", "https://api.stripe.com"
	code, out, errOut = run(dev, "simulate", "--workspace", testWS, "--event", "payment_failed")
	if code != billingcli.ExitOK || !strings.Contains(out, "Stripe state set in the overlay at "+overlayURL) {
		t.Fatalf("with .dev files: exit %d\n%s%s", code, out, errOut)
	}

	// Failures and bad input.
	wrong := cfg
	wrong.StripeWebhookSecret = "whsec_wrong"
	for _, c := range []struct {
		name string
		cfg  config.Config
		args []string
		code int
		says string
	}{
		{"bad signature", wrong, []string{"--workspace", testWS, "--event", "paid"}, billingcli.ExitFailure, "400 Bad Request"},
		{"no such workspace", cfg, []string{"--workspace", "5e0c7a1b-0000-4000-8000-000000000000", "--event", "paid"}, billingcli.ExitFailure, "no workspace"},
		{"unknown event", cfg, []string{"--workspace", testWS, "--event", "refund"}, billingcli.ExitUsage, "--event must be one of"},
		{"checkout without plan", cfg, []string{"--workspace", testWS, "--event", "checkout_completed"}, billingcli.ExitUsage, "needs --plan"},
		{"free plan", cfg, []string{"--workspace", testWS, "--event", "checkout_completed", "--plan", "free"}, billingcli.ExitUsage, "paid plan"},
		{"plan on another event", cfg, []string{"--workspace", testWS, "--event", "paid", "--plan", "pro"}, billingcli.ExitUsage, "--plan goes with"},
		{"no secret", func() config.Config { c := cfg; c.StripeWebhookSecret = ""; return c }(),
			[]string{"--workspace", testWS, "--event", "paid"}, billingcli.ExitFailure, ""},
	} {
		if c.name == "no secret" {
			os.Remove(filepath.Join(devDir, stripemock.DevWebhookSecretFile))
			c.says = "STRIPE_WEBHOOK_SECRET is not set"
		}
		n := hook.count()
		code, out, errOut := run(c.cfg, append([]string{"simulate"}, c.args...)...)
		if code != c.code || !strings.Contains(out+errOut, c.says) {
			t.Fatalf("%s: exit %d, want %d saying %q\n%s%s", c.name, code, c.code, c.says, out, errOut)
		}
		if hook.count() != n {
			t.Fatalf("%s: an event was applied", c.name)
		}
	}

	// A workspace that never checked out has nothing to fail.
	other := "6e0c7a1b-2d3f-4a5b-8c6d-7e8f9a0b1c2d"
	if err := st.EnsureWorkspace(ctx, other, "Other", "USD", "UTC"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(cfg, "simulate", "--workspace", other, "--event", "payment_failed")
	if code != billingcli.ExitFailure || !strings.Contains(errOut, "checkout_completed") {
		t.Fatalf("no subscription: exit %d\n%s%s", code, out, errOut)
	}
}
