package billingsvc_test

import (
	"github.com/omnitrackiq/omnitrackiq/internal/stripemock"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/billingsvc"
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/stripeapi"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// stripeMockURL is the plain-HTTP address of the stripe-mock every test shares. stripe-mock
// is stateless, so sharing it shares nothing.
var stripeMockURL string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	bin, err := stripemock.Bin()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stripe-mock:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := stripemock.Start(ctx, bin, "127.0.0.1:0", io.Discard)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stripe-mock:", err)
		return 1
	}
	defer p.Stop()
	stripeMockURL = p.URL
	return m.Run()
}

// stripeCall is one request the service made to Stripe.
type stripeCall struct {
	Method, Path, IdempotencyKey string
	Form                         url.Values
}

// overlay is a reverse proxy in front of stripe-mock. stripe-mock answers every GET with
// the same fixture, so a test patches the JSON of the objects whose content matters (the
// customer of a subscription, an invoice's status, ...), and can make a path fail. It
// records every call.
type overlay struct {
	*httptest.Server
	mu      sync.Mutex
	patches map[string]func(obj map[string]any)
	fail    map[string]int
	calls   []stripeCall
}

func newOverlay(t *testing.T) *overlay {
	t.Helper()
	target, err := url.Parse(stripeMockURL)
	if err != nil {
		t.Fatal(err)
	}
	o := &overlay{patches: map[string]func(map[string]any){}, fail: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method != "GET" || resp.StatusCode != http.StatusOK {
			return nil
		}
		o.mu.Lock()
		patch := o.patches[resp.Request.URL.Path]
		o.mu.Unlock()
		if patch == nil {
			return nil
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			return err
		}
		obj["id"] = path.Base(resp.Request.URL.Path)
		patch(obj)
		if raw, err = json.Marshal(obj); err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(raw))
		resp.ContentLength = int64(len(raw))
		resp.Header.Set("Content-Length", strconv.Itoa(len(raw)))
		return nil
	}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		o.mu.Lock()
		o.calls = append(o.calls, stripeCall{Method: r.Method, Path: r.URL.Path, IdempotencyKey: r.Header.Get("Idempotency-Key"), Form: form})
		status := o.fail[r.URL.Path]
		o.mu.Unlock()
		if status != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":{"type":"api_error","message":"injected failure %d"}}`, status)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

// set makes GET path answer stripe-mock's fixture with patch applied (and the path's id).
func (o *overlay) set(path string, patch func(obj map[string]any)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.patches[path] = patch
}

// failWith makes every request to path answer status.
func (o *overlay) failWith(path string, status int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if status == 0 {
		delete(o.fail, path)
		return
	}
	o.fail[path] = status
}

// callsTo returns the calls of method to path.
func (o *overlay) callsTo(method, path string) []stripeCall {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []stripeCall
	for _, c := range o.calls {
		if c.Method == method && c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

func (o *overlay) callCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.calls)
}

// subscriptionState patches a subscription fixture: its customer, status, price, trial end,
// default payment method.
type subscriptionState struct {
	Customer, Status, Price string
	TrialEnd                time.Time
	PaymentMethod           string
}

func (o *overlay) setSubscription(id string, s subscriptionState) {
	o.set("/v1/subscriptions/"+id, func(obj map[string]any) {
		obj["customer"] = s.Customer
		obj["status"] = s.Status
		obj["metadata"] = map[string]any{}
		obj["cancel_at_period_end"] = false
		obj["current_period_end"] = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		if s.TrialEnd.IsZero() {
			obj["trial_end"] = nil
		} else {
			obj["trial_end"] = s.TrialEnd.Unix()
		}
		if s.PaymentMethod == "" {
			obj["default_payment_method"] = nil
		} else {
			obj["default_payment_method"] = s.PaymentMethod
		}
		items := obj["items"].(map[string]any)
		item := items["data"].([]any)[0].(map[string]any)
		item["price"].(map[string]any)["id"] = s.Price
	})
}

// invoiceState patches an invoice fixture.
type invoiceState struct {
	Customer, Subscription, Status string
	Attempts                       int64
}

func (o *overlay) setInvoice(id string, s invoiceState) {
	o.set("/v1/invoices/"+id, func(obj map[string]any) {
		obj["customer"] = s.Customer
		obj["subscription"] = s.Subscription
		obj["status"] = s.Status
		obj["paid"] = s.Status == "paid"
		obj["attempt_count"] = s.Attempts
		obj["billing_reason"] = "subscription_cycle"
	})
}

// dunningCall is one call the service made to Dunning.
type dunningCall struct {
	Op         string // "start" or "signal"
	WorkflowID string
	Input      workflows.DunningInput
	Signal     string
	Payload    workflows.DunningSignal
}

// fakeDunning records calls; err fails them.
type fakeDunning struct {
	mu    sync.Mutex
	calls []dunningCall
	err   error
}

func (d *fakeDunning) SignalWithStart(_ context.Context, in workflows.DunningInput, signal string, payload workflows.DunningSignal) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return "", d.err
	}
	id := workflows.DunningWorkflowID(in.SubscriptionID, in.InvoiceID)
	d.calls = append(d.calls, dunningCall{Op: "start", WorkflowID: id, Input: in, Signal: signal, Payload: payload})
	return id, nil
}

func (d *fakeDunning) Signal(_ context.Context, workflowID, signal string, payload workflows.DunningSignal) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	d.calls = append(d.calls, dunningCall{Op: "signal", WorkflowID: workflowID, Signal: signal, Payload: payload})
	return nil
}

// take returns the calls since the last take.
func (d *fakeDunning) take() []dunningCall {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.calls
	d.calls = nil
	return out
}

// fakeMailer keeps what is sent; err fails every send.
type fakeMailer struct {
	mu   sync.Mutex
	sent []notify.Message
	err  error
}

func (m *fakeMailer) Send(_ context.Context, msg notify.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.sent = append(m.sent, msg)
	return nil
}

func (m *fakeMailer) messages() []notify.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]notify.Message(nil), m.sent...)
}

const (
	webhookSecret = "whsec_test_billingsvc"
	pricePro      = "price_test_pro"
	priceStarter  = "price_test_starter"
	priceAgency   = "price_test_agency"
)

// fixture is a Service on a fresh database and the overlay, with a workspace owned by
// owner@example.com.
type fixture struct {
	t       *testing.T
	svc     *billingsvc.Service
	st      *store.Store
	dbURL   string
	stripe  *overlay
	dunning *fakeDunning
	mail    *fakeMailer
	ws      store.Workspace
	clock   time.Time
	clockMu sync.Mutex
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, dbURL := testdb.New(t)
	f := &fixture{t: t, st: st, dbURL: dbURL, stripe: newOverlay(t), dunning: &fakeDunning{}, mail: &fakeMailer{},
		clock: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	sc, err := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_123", BaseURL: f.stripe.URL})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = &billingsvc.Service{
		Store: st, Stripe: sc, Dunning: f.dunning, Mailer: f.mail,
		Prices:        map[billing.PlanID]string{billing.Starter: priceStarter, billing.Pro: pricePro, billing.Agency: priceAgency},
		WebhookSecret: webhookSecret, AppURL: "https://app.example.test/",
		Logger: slog.New(slog.DiscardHandler),
		Now:    f.now,
	}
	owner, err := store.CreateUser(ctx, st.Pool, "owner@example.com", "Olga Owner", "not-a-real-hash")
	if err != nil {
		t.Fatal(err)
	}
	if f.ws, err = st.CreateOwnedWorkspace(ctx, owner.ID, "Acme Shop", "USD", "UTC"); err != nil {
		t.Fatal(err)
	}
	return f
}

// now is the service's clock: every reading is a second later than the one before, so
// re-reads are strictly ordered as they are in real life.
func (f *fixture) now() time.Time {
	f.clockMu.Lock()
	defer f.clockMu.Unlock()
	f.clock = f.clock.Add(time.Second)
	return f.clock
}

func (f *fixture) account() store.BillingAccount {
	f.t.Helper()
	acc, err := f.st.GetBillingAccount(context.Background(), f.ws.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return acc
}

// link gives the workspace a Stripe customer, as its first checkout does.
func (f *fixture) link(customer string) {
	f.t.Helper()
	if err := f.st.LinkStripeCustomer(context.Background(), f.st.Pool, f.ws.ID, customer); err != nil {
		f.t.Fatal(err)
	}
}

// eventCount counts recorded Stripe events.
func (f *fixture) eventCount() int {
	f.t.Helper()
	var n int
	if err := f.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM stripe_events`).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// event is a verified event as VerifyEvent returns it.
func event(id, typ, kind, objectID string) billingsvc.Event {
	return billingsvc.Event{ID: id, Type: typ, Object: kind, ObjectID: objectID, Created: time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)}
}

// apply applies ev and fails the test on error.
func (f *fixture) apply(ev billingsvc.Event) string {
	f.t.Helper()
	out, err := f.svc.ApplyEvent(context.Background(), ev)
	if err != nil {
		f.t.Fatalf("apply %s %s: %v", ev.Type, ev.ID, err)
	}
	return out
}

// recorded returns the recorded event; ok false when it was never recorded.
func (f *fixture) recorded(id string) (store.StripeEvent, bool) {
	f.t.Helper()
	e, err := f.st.GetStripeEvent(context.Background(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.StripeEvent{}, false
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return e, true
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
