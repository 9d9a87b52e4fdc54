package api_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/billingsvc"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/stripeapi"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

const billingWebhookSecret = "whsec_api_test_secret"

// fakeStripe answers the service's Stripe calls from memory; err fails every call.
type fakeStripe struct {
	mu            sync.Mutex
	subscriptions map[string]stripeapi.Subscription
	checkouts     []stripeapi.Checkout
	err           error
}

func (f *fakeStripe) fail() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (f *fakeStripe) CreateCustomer(_ context.Context, workspaceID, _, _, _ string) (string, error) {
	if err := f.fail(); err != nil {
		return "", err
	}
	return "cus_" + workspaceID[:8], nil
}

func (f *fakeStripe) CreateCheckout(_ context.Context, in stripeapi.Checkout, _ string) (stripeapi.CheckoutSession, error) {
	if err := f.fail(); err != nil {
		return stripeapi.CheckoutSession{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checkouts = append(f.checkouts, in)
	return stripeapi.CheckoutSession{ID: "cs_test_1", URL: "https://checkout.stripe.test/cs_test_1", CustomerID: in.CustomerID}, nil
}

func (f *fakeStripe) GetCheckoutSession(context.Context, string) (stripeapi.CheckoutSession, error) {
	return stripeapi.CheckoutSession{}, stripeapi.ErrNotFound
}

func (f *fakeStripe) CreatePortal(_ context.Context, customerID, _, flow string) (string, error) {
	if err := f.fail(); err != nil {
		return "", err
	}
	return "https://billing.stripe.test/" + customerID + "?flow=" + flow, nil
}

func (f *fakeStripe) GetSubscription(_ context.Context, id string) (stripeapi.Subscription, error) {
	if err := f.fail(); err != nil {
		return stripeapi.Subscription{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.subscriptions[id]
	if !ok {
		return stripeapi.Subscription{}, stripeapi.ErrNotFound
	}
	return s, nil
}

func (f *fakeStripe) GetInvoice(context.Context, string) (stripeapi.Invoice, error) {
	return stripeapi.Invoice{}, stripeapi.ErrNotFound
}

func (f *fakeStripe) PaymentMethodCustomer(context.Context, string) (string, error) {
	return "", stripeapi.ErrNotFound
}

// noDunning fails the test if the API's events reach dunning.
type noDunning struct{ t *testing.T }

func (d noDunning) SignalWithStart(context.Context, workflows.DunningInput, string, workflows.DunningSignal) (string, error) {
	d.t.Error("unexpected SignalWithStart")
	return "", errors.New("unexpected")
}

func (d noDunning) Signal(context.Context, string, string, workflows.DunningSignal) error {
	d.t.Error("unexpected Signal")
	return errors.New("unexpected")
}

// billingEnv is env with signed-in users of every role in workspace one and billing on.
type billingEnv struct {
	*env
	stripe *fakeStripe
	tokens map[auth.Role]string
}

func newBillingEnv(t *testing.T, billingOn bool) *billingEnv {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	toks, err := auth.NewTokens([]byte("billing-test-signing-key-0123456789ab"), nil)
	if err != nil {
		t.Fatal(err)
	}
	be := &billingEnv{env: e, stripe: &fakeStripe{subscriptions: map[string]stripeapi.Subscription{}}, tokens: map[auth.Role]string{}}
	for _, role := range auth.Roles {
		u, err := store.CreateUser(ctx, e.st.Pool, string(role)+"@example.com", string(role), "not-a-real-hash")
		if err != nil {
			t.Fatal(err)
		}
		if err := store.AddMember(ctx, e.st.Pool, e.w1.ID, u.ID, string(role)); err != nil {
			t.Fatal(err)
		}
		var family string
		if err := e.st.Pool.QueryRow(ctx, `INSERT INTO refresh_families (id, user_id) VALUES (gen_random_uuid(), $1) RETURNING id`,
			u.ID).Scan(&family); err != nil {
			t.Fatal(err)
		}
		if be.tokens[role], _, err = toks.Issue(u.ID, family); err != nil {
			t.Fatal(err)
		}
	}
	deps := api.Deps{
		Store: e.st, Syncs: e.syncs, Box: e.box, Tokens: toks,
		Connectors: channels.Registry{Ads: map[channels.Channel]channels.AdReader{channels.Meta: fakeReader{}}},
		Logger:     slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if billingOn {
		deps.Billing = &billingsvc.Service{
			Store: e.st, Stripe: be.stripe, Dunning: noDunning{t},
			Prices:        map[billing.PlanID]string{billing.Starter: "price_s", billing.Pro: "price_p", billing.Agency: "price_a"},
			WebhookSecret: billingWebhookSecret, AppURL: "https://app.example.test",
		}
	}
	e.h = api.NewRouter(deps)
	return be
}

// as sends a request as the user of role in workspace one.
func (e *billingEnv) as(role auth.Role, method, path, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	req.Header.Set(api.WorkspaceHeader, e.w1.ID)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// deliver posts a Stripe webhook body with a signature header.
func (e *billingEnv) deliver(body []byte, signature string) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest("POST", "/webhooks/stripe", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("Stripe-Signature", signature)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func (e *billingEnv) stripeEvents() int {
	e.t.Helper()
	var n int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM stripe_events`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func signStripe(body []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at}).Header
}

func TestBillingOff(t *testing.T) {
	e := newBillingEnv(t, false)
	for _, rec := range []*httptest.ResponseRecorder{
		e.as(auth.Owner, "POST", "/v1/billing/checkout", `{"plan":"pro"}`),
		e.as(auth.Owner, "POST", "/v1/billing/portal", ""),
		e.as(auth.Viewer, "GET", "/v1/billing", ""),
		e.deliver([]byte(`{}`), "t=1,v1=00"),
	} {
		p := problem(t, rec, http.StatusServiceUnavailable)
		if !strings.Contains(p.Detail, "billing is not configured (STRIPE_SECRET_KEY)") {
			t.Errorf("detail %q", p.Detail)
		}
	}
}

func TestBillingRoutesAndRoles(t *testing.T) {
	e := newBillingEnv(t, true)

	// Only the owner changes billing, and only in person.
	for _, role := range []auth.Role{auth.Admin, auth.Member, auth.Viewer} {
		problem(t, e.as(role, "POST", "/v1/billing/checkout", `{"plan":"pro"}`), http.StatusForbidden)
		problem(t, e.as(role, "POST", "/v1/billing/portal", ""), http.StatusForbidden)
	}
	problem(t, e.do("POST", "/v1/billing/checkout", e.key1, `{"plan":"pro"}`), http.StatusForbidden)
	if len(e.stripe.checkouts) != 0 {
		t.Fatalf("refused callers created %d checkouts", len(e.stripe.checkouts))
	}

	// Bad input.
	problem(t, e.as(auth.Owner, "POST", "/v1/billing/checkout", `{"plan":"free"}`), http.StatusUnprocessableEntity)
	problem(t, e.as(auth.Owner, "POST", "/v1/billing/checkout", `{}`), http.StatusUnprocessableEntity)
	problem(t, e.as(auth.Owner, "POST", "/v1/billing/checkout", `{"plan":"pro","extra":1}`), http.StatusBadRequest)
	p := problem(t, e.as(auth.Owner, "POST", "/v1/billing/portal", ""), http.StatusConflict)
	if !strings.Contains(p.Detail, "check out a plan first") {
		t.Errorf("portal without customer: %q", p.Detail)
	}

	// The owner checks out.
	var res billingsvc.CheckoutResult
	decode(t, e.as(auth.Owner, "POST", "/v1/billing/checkout", `{"plan":"pro"}`), http.StatusCreated, &res)
	if res.URL != "https://checkout.stripe.test/cs_test_1" || res.Plan != "pro" || res.TrialDays != 14 || res.SessionID != "cs_test_1" {
		t.Errorf("checkout %+v", res)
	}
	if len(e.stripe.checkouts) != 1 || e.stripe.checkouts[0].WorkspaceID != e.w1.ID || e.stripe.checkouts[0].PriceID != "price_p" {
		t.Errorf("checkouts %+v", e.stripe.checkouts)
	}
	var audited int
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'billing.checkout' AND workspace_id = $1`,
		e.w1.ID).Scan(&audited); err != nil || audited != 1 {
		t.Errorf("billing.checkout audited %d times (%v)", audited, err)
	}

	// The portal, with and without a flow.
	var portal api.PortalResponse
	decode(t, e.as(auth.Owner, "POST", "/v1/billing/portal", ""), http.StatusCreated, &portal)
	if !strings.HasPrefix(portal.URL, "https://billing.stripe.test/cus_") {
		t.Errorf("portal %+v", portal)
	}
	decode(t, e.as(auth.Owner, "POST", "/v1/billing/portal", `{"flow":"payment_method_update"}`), http.StatusCreated, &portal)
	if !strings.HasSuffix(portal.URL, "flow=payment_method_update") {
		t.Errorf("portal with flow %+v", portal)
	}
	problem(t, e.as(auth.Owner, "POST", "/v1/billing/portal", `{"flow":"nope"}`), http.StatusUnprocessableEntity)

	// Everyone who reads the workspace reads its billing, API keys included.
	for _, role := range auth.Roles {
		var ov billingsvc.Overview
		decode(t, e.as(role, "GET", "/v1/billing", ""), http.StatusOK, &ov)
		if ov.Plan.ID != billing.Free || ov.DunningState != billing.DunningNone || len(ov.Plans) != 4 || ov.Usage.Members != 4 {
			t.Errorf("%s overview %+v", role, ov)
		}
	}
	if rec := e.do("GET", "/v1/billing", e.key1, ""); rec.Code != http.StatusOK {
		t.Errorf("API key overview: %d %s", rec.Code, rec.Body)
	}

	// Stripe down: 503, nothing shown of the cause.
	e.stripe.mu.Lock()
	e.stripe.err = errors.New("dial tcp 10.0.0.7:443: connection refused")
	e.stripe.mu.Unlock()
	p = problem(t, e.as(auth.Owner, "POST", "/v1/billing/portal", ""), http.StatusServiceUnavailable)
	if strings.Contains(p.Detail, "10.0.0.7") {
		t.Errorf("detail leaks the cause: %q", p.Detail)
	}
}

func TestBillingCheckoutWhenSubscribed(t *testing.T) {
	e := newBillingEnv(t, true)
	ctx := context.Background()
	if err := e.st.LinkStripeCustomer(ctx, e.st.Pool, e.w1.ID, "cus_live"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.ApplySubscription(ctx, e.st.Pool, e.w1.ID, store.SubscriptionState{
		SubscriptionID: "sub_live", Status: "active", Plan: billing.Pro, ReadAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	p := problem(t, e.as(auth.Owner, "POST", "/v1/billing/checkout", `{"plan":"agency"}`), http.StatusConflict)
	if !strings.Contains(p.Detail, "POST /v1/billing/portal") {
		t.Errorf("detail %q", p.Detail)
	}
}

func TestStripeWebhook(t *testing.T) {
	e := newBillingEnv(t, true)
	ctx := context.Background()
	if err := e.st.LinkStripeCustomer(ctx, e.st.Pool, e.w1.ID, "cus_hook"); err != nil {
		t.Fatal(err)
	}
	e.stripe.subscriptions["sub_hook"] = stripeapi.Subscription{ID: "sub_hook", CustomerID: "cus_hook", Status: "active", PriceID: "price_a"}
	body, err := billingsvc.EventPayload("evt_hook", "customer.subscription.updated", "subscription", "sub_hook", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	good := signStripe(body, billingWebhookSecret, time.Now())
	var logged []string

	// Bad deliveries: 400, nothing stored.
	for name, rec := range map[string]*httptest.ResponseRecorder{
		"bad signature":   e.deliver(body, signStripe(body, "whsec_wrong", time.Now())),
		"stale timestamp": e.deliver(body, signStripe(body, billingWebhookSecret, time.Now().Add(-10*time.Minute))),
		"no signature":    e.deliver(body, ""),
		"malformed body":  e.deliver([]byte(`{"id":`), signStripe([]byte(`{"id":`), billingWebhookSecret, time.Now())),
	} {
		p := problem(t, rec, http.StatusBadRequest)
		if p.Type != "/problems/invalid-webhook" {
			t.Errorf("%s: type %s", name, p.Type)
		}
	}
	if rec := e.deliver([]byte(strings.Repeat(" ", 70<<10)), good); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d", rec.Code)
	}
	if n := e.stripeEvents(); n != 0 {
		t.Fatalf("%d events stored from bad deliveries", n)
	}

	// Processing fails (Stripe down): 503, nothing stored; the redelivery applies it.
	e.stripe.mu.Lock()
	e.stripe.err = errors.New("stripe: 500")
	e.stripe.mu.Unlock()
	problem(t, e.deliver(body, good), http.StatusServiceUnavailable)
	if n := e.stripeEvents(); n != 0 {
		t.Fatalf("%d events stored from a failed delivery", n)
	}
	e.stripe.mu.Lock()
	e.stripe.err = nil
	e.stripe.mu.Unlock()

	var out api.StripeWebhookResponse
	decode(t, e.deliver(body, good), http.StatusOK, &out)
	if !out.Received || out.Outcome != "applied" {
		t.Errorf("response %+v", out)
	}
	acc, err := e.st.GetBillingAccount(ctx, e.w1.ID)
	if err != nil || acc.Plan != billing.Agency || acc.Status != "active" {
		t.Errorf("account %+v (%v)", acc, err)
	}
	decode(t, e.deliver(body, good), http.StatusOK, &out)
	if out.Outcome != "duplicate" || e.stripeEvents() != 1 {
		t.Errorf("redelivery %+v, %d events", out, e.stripeEvents())
	}

	// The signature never reaches the log.
	sig := good[strings.Index(good, "v1=")+3:]
	logged = append(logged, e.logs.String())
	for _, l := range logged {
		if strings.Contains(l, sig) || strings.Contains(l, billingWebhookSecret) {
			t.Error("the Stripe signature or secret appears in the log")
		}
	}
}
