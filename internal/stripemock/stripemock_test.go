package stripemock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/omnitrackiq/omnitrackiq/internal/stripeapi"
	"github.com/omnitrackiq/omnitrackiq/internal/stripemock"
)

// startMock runs a real stripe-mock for the test.
func startMock(t *testing.T) *stripemock.Process {
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
	return p
}

func TestStartAnswers(t *testing.T) {
	p := startMock(t)
	if !strings.HasPrefix(p.URL, "http://127.0.0.1:") || !strings.HasPrefix(p.HTTPSAddr, "127.0.0.1:") {
		t.Fatalf("listens on %s and %s, want loopback", p.URL, p.HTTPSAddr)
	}
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/v1/subscriptions/sub_123", nil)
	req.Header.Set("Authorization", "Bearer sk_test_123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sub struct {
		ID     string `json:"id"`
		Object string `json:"object"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&sub); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || sub.ID != "sub_123" || sub.Object != "subscription" {
		t.Fatalf("HTTP %d, %+v", resp.StatusCode, sub)
	}
	if resp.Header.Get("Stripe-Mock-Version") == "" {
		t.Fatal("the answer is not stripe-mock's")
	}
}

// overlayEnv is a real stripe-mock, an Overlay in front of it served over HTTP, and
// OmniTrackIQ's Stripe client pointed at the overlay.
type overlayEnv struct {
	overlay *stripemock.Overlay
	url     string
	client  *stripeapi.Client
}

func newOverlayEnv(t *testing.T) overlayEnv {
	t.Helper()
	p := startMock(t)
	o, err := stripemock.NewOverlay(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	c, err := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_overlay", BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return overlayEnv{overlay: o, url: srv.URL, client: c}
}

func TestOverlayState(t *testing.T) {
	ctx := context.Background()
	env := newOverlayEnv(t)
	trialEnd := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	periodEnd := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

	// Without state, reads are stripe-mock's fixtures.
	sub, err := env.client.GetSubscription(ctx, "sub_ov1")
	if err != nil {
		t.Fatal(err)
	}
	if sub.ID != "sub_ov1" || sub.Status != "active" || sub.WorkspaceID != "" {
		t.Fatalf("fixture %+v", sub)
	}

	env.overlay.Set("/v1/subscriptions/sub_ov1",
		stripemock.SubscriptionObject("sub_ov1", "cus_ov1", "past_due", "price_pro", trialEnd, periodEnd, "ws-1"))
	// A later Set merges over the earlier one.
	env.overlay.Set("/v1/subscriptions/sub_ov1", map[string]any{"latest_invoice": "in_ov1"})
	sub, err = env.client.GetSubscription(ctx, "sub_ov1")
	if err != nil {
		t.Fatal(err)
	}
	if sub.Status != "past_due" || sub.CustomerID != "cus_ov1" || sub.PriceID != "price_pro" || sub.WorkspaceID != "ws-1" ||
		sub.LatestInvoiceID != "in_ov1" || sub.HasPaymentMethod || !sub.TrialEnd.Equal(trialEnd) ||
		!sub.CurrentPeriodEnd.Equal(periodEnd) {
		t.Fatalf("subscription read through the overlay: %+v", sub)
	}
	got, ok := env.overlay.Get("/v1/subscriptions/sub_ov1")
	if !ok || got["status"] != "past_due" || got["latest_invoice"] != "in_ov1" {
		t.Fatalf("Get: %v %v", got, ok)
	}
	// Get is a copy.
	got["status"] = "active"
	if again, _ := env.overlay.Get("/v1/subscriptions/sub_ov1"); again["status"] != "past_due" {
		t.Fatal("Get returned the stored map")
	}

	// Canceling is remembered.
	if err := env.client.CancelSubscription(ctx, "sub_ov1", "cancel-sub_ov1"); err != nil {
		t.Fatal(err)
	}
	if sub, err = env.client.GetSubscription(ctx, "sub_ov1"); err != nil || sub.Status != "canceled" {
		t.Fatalf("after cancel: %+v %v", sub, err)
	}
}

func TestOverlayPay(t *testing.T) {
	ctx := context.Background()
	env := newOverlayEnv(t)
	env.overlay.Set("/v1/invoices/in_ov2", stripemock.InvoiceObject("in_ov2", "cus_ov2", "sub_ov2", "open", false, 2))
	inv, err := env.client.GetInvoice(ctx, "in_ov2")
	if err != nil {
		t.Fatal(err)
	}
	if inv.Status != "open" || inv.Paid || inv.AttemptCount != 2 || inv.SubscriptionID != "sub_ov2" || inv.Settled() {
		t.Fatalf("invoice %+v", inv)
	}

	env.overlay.SetPayOutcome("in_ov2", false)
	_, err = env.client.PayInvoice(ctx, "in_ov2", "dunning-sub_ov2-in_ov2:pay:1")
	if !errors.Is(err, stripeapi.ErrDeclined) {
		t.Fatalf("declined payment: %v", err)
	}
	if inv, _ = env.client.GetInvoice(ctx, "in_ov2"); inv.Status != "open" || inv.Paid {
		t.Fatalf("a decline changed the invoice: %+v", inv)
	}

	env.overlay.SetPayOutcome("in_ov2", true)
	paid, err := env.client.PayInvoice(ctx, "in_ov2", "dunning-sub_ov2-in_ov2:pay:2")
	if err != nil {
		t.Fatal(err)
	}
	if paid.ID != "in_ov2" || paid.Status != "paid" || !paid.Paid || !paid.Settled() {
		t.Fatalf("paid answer %+v", paid)
	}
	if inv, _ = env.client.GetInvoice(ctx, "in_ov2"); inv.Status != "paid" || !inv.Paid || inv.SubscriptionID != "sub_ov2" {
		t.Fatalf("re-read after paying: %+v", inv)
	}

	// stripe-mock still validates: an unknown parameter is refused, even with an outcome set.
	env.overlay.SetPayOutcome("in_ov3", true)
	req, _ := http.NewRequest(http.MethodPost, env.url+"/v1/invoices/in_ov3/pay", strings.NewReader("not_a_param=1"))
	req.Header.Set("Authorization", "Bearer sk_test_overlay")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "additional properties") {
		t.Fatalf("invalid call: HTTP %d %s", resp.StatusCode, body)
	}
	if _, ok := env.overlay.Get("/v1/invoices/in_ov3"); ok {
		t.Fatal("a refused payment marked the invoice paid")
	}

	var pays []stripemock.Request
	for _, r := range env.overlay.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/pay") {
			pays = append(pays, r)
		}
	}
	if len(pays) != 3 ||
		pays[0].IdempotencyKey != "dunning-sub_ov2-in_ov2:pay:1" || pays[0].Status != http.StatusPaymentRequired ||
		pays[1].IdempotencyKey != "dunning-sub_ov2-in_ov2:pay:2" || pays[1].Status != http.StatusOK ||
		pays[2].Form.Get("not_a_param") != "1" || pays[2].Status != http.StatusBadRequest {
		t.Fatalf("recorded payments: %+v", pays)
	}
}

func TestOverlayAdminAPI(t *testing.T) {
	ctx := context.Background()
	env := newOverlayEnv(t)
	admin := stripemock.Admin{BaseURL: env.url}
	if err := admin.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := admin.Set(ctx, "/v1/invoices/in_adm", stripemock.InvoiceObject("in_adm", "cus_adm", "sub_adm", "open", false, 1)); err != nil {
		t.Fatal(err)
	}
	if err := admin.Set(ctx, "/v1/invoices/in_adm", map[string]any{"attempt_count": 3}); err != nil {
		t.Fatal(err)
	}
	st, ok, err := admin.Get(ctx, "/v1/invoices/in_adm")
	if err != nil || !ok || st["status"] != "open" || st["attempt_count"] != float64(3) {
		t.Fatalf("admin Get: %v %v %v", st, ok, err)
	}
	if _, ok, err := admin.Get(ctx, "/v1/invoices/in_none"); ok || err != nil {
		t.Fatalf("state of an untouched invoice: %v %v", ok, err)
	}
	if err := admin.SetPayOutcome(ctx, "in_adm", false); err != nil {
		t.Fatal(err)
	}
	if _, err := env.client.PayInvoice(ctx, "in_adm", "k-adm-1"); !errors.Is(err, stripeapi.ErrDeclined) {
		t.Fatalf("programmed decline: %v", err)
	}
	if err := admin.SetPayOutcome(ctx, "in_adm", true); err != nil {
		t.Fatal(err)
	}
	if inv, err := env.client.PayInvoice(ctx, "in_adm", "k-adm-2"); err != nil || !inv.Paid || inv.AttemptCount != 3 {
		t.Fatalf("programmed success: %+v %v", inv, err)
	}

	// Bad admin calls are refused with Stripe's error shape.
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPut, "/_overlay/v1/invoices/in_adm", `[1,2]`},
		{http.MethodPut, "/_overlay/pay/in_adm?outcome=maybe", ``},
		{http.MethodDelete, "/_overlay/v1/invoices/in_adm", ``},
	} {
		req, _ := http.NewRequest(c.method, env.url+c.path, strings.NewReader(c.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode < 400 || e.Error.Message == "" {
			t.Fatalf("%s %s: HTTP %d %+v", c.method, c.path, resp.StatusCode, e)
		}
	}

	// Neither stripe-mock nor anything else is an overlay.
	p := startMock(t)
	if err := (stripemock.Admin{BaseURL: p.URL}).Ping(ctx); !errors.Is(err, stripemock.ErrNotOverlay) {
		t.Fatalf("ping of bare stripe-mock: %v", err)
	}
	if err := (stripemock.Admin{BaseURL: "http://127.0.0.1:1"}).Ping(ctx); err == nil || errors.Is(err, stripemock.ErrNotOverlay) {
		t.Fatalf("ping of nothing: %v", err)
	}
}

// TestOverlayConcurrent sets, reads and pays from many goroutines (run with -race).
func TestOverlayConcurrent(t *testing.T) {
	ctx := context.Background()
	env := newOverlayEnv(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		wg.Add(2)
		id := fmt.Sprintf("in_c%d", i)
		go func() {
			defer wg.Done()
			env.overlay.Set("/v1/invoices/"+id, stripemock.InvoiceObject(id, "cus_c", "sub_c", "open", false, 1))
			env.overlay.SetPayOutcome(id, true)
			if _, err := env.client.PayInvoice(ctx, id, "k-"+id); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := env.client.GetInvoice(ctx, "in_c0"); err != nil {
				errs <- err
			}
			_ = env.overlay.Requests()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range 20 {
		if st, _ := env.overlay.Get(fmt.Sprintf("/v1/invoices/in_c%d", i)); st["status"] != "paid" {
			t.Fatalf("in_c%d: %v", i, st)
		}
	}
}

func TestSignedEventVerifies(t *testing.T) {
	const secret = "whsec_test_secret"
	now := time.Now()
	payload := stripemock.NewEvent("evt_1", "invoice.payment_failed", now,
		stripemock.InvoiceObject("in_1", "cus_1", "sub_1", "open", false, 1))
	header := stripemock.Sign(payload, secret, now)
	opts := webhook.ConstructEventOptions{Tolerance: 300 * time.Second}

	ev, err := webhook.ConstructEventWithOptions(payload, header, secret, opts)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "evt_1" || ev.Type != "invoice.payment_failed" || ev.Created != now.Unix() || ev.Livemode ||
		ev.Data.Object["id"] != "in_1" || ev.Data.Object["subscription"] != "sub_1" {
		t.Fatalf("event %+v", ev)
	}
	var raw map[string]any
	if err := json.Unmarshal(payload, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["object"] != "event" || raw["api_version"] != "2023-10-16" || raw["pending_webhooks"] != float64(1) {
		t.Fatalf("payload %s", payload)
	}
	if req, ok := raw["request"].(map[string]any); !ok || req["id"] != nil || req["idempotency_key"] != nil {
		t.Fatalf("request %v", raw["request"])
	}

	tampered := bytes.Replace(payload, []byte(`"status":"open"`), []byte(`"status":"paid"`), 1)
	if bytes.Equal(tampered, payload) {
		t.Fatal("test did not tamper")
	}
	if _, err := webhook.ConstructEventWithOptions(tampered, header, secret, opts); !errors.Is(err, webhook.ErrNoValidSignature) {
		t.Fatalf("tampered payload: %v", err)
	}
	if _, err := webhook.ConstructEventWithOptions(payload, stripemock.Sign(payload, "whsec_other", now), secret, opts); err == nil {
		t.Fatal("a payload signed with another secret verified")
	}
	if _, err := webhook.ConstructEventWithOptions(payload, stripemock.Sign(payload, secret, now.Add(-6*time.Minute)), secret, opts); !errors.Is(err, webhook.ErrTooOld) {
		t.Fatalf("stale signature: %v", err)
	}

	// Every object helper decodes as the stripe-go type it stands for.
	created := time.Now()
	for typ, obj := range map[string]map[string]any{
		"customer.subscription.updated": stripemock.SubscriptionObject("sub_2", "cus_2", "trialing", "price_starter", created.Add(14*24*time.Hour), created.Add(14*24*time.Hour), "ws-2"),
		"checkout.session.completed":    stripemock.CheckoutSessionObject("cs_2", "cus_2", "sub_2", "ws-2"),
		"customer.updated":              stripemock.CustomerObject("cus_2", "a@example.com", "ws-2", "pm_2"),
		"payment_method.attached":       stripemock.PaymentMethodObject("pm_2", "cus_2"),
	} {
		p := stripemock.NewEventWithPrevious("evt_"+typ, typ, created, obj, map[string]any{"status": "active"})
		ev, err := webhook.ConstructEventWithOptions(p, stripemock.Sign(p, secret, created), secret, opts)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if ev.Data.Object["id"] != obj["id"] || ev.GetPreviousValue("status") != "active" {
			t.Fatalf("%s: %+v", typ, ev.Data)
		}
	}
}
