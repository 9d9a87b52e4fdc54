package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/stripemock"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// postStripe delivers a Stripe event to the webhook with the given Stripe-Signature.
func (e *env) postStripe(payload []byte, signature string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, "POST", e.API.URL+"/webhooks/stripe", bytes.NewReader(payload))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("Stripe-Signature", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// deliver signs and posts an event now, as Stripe would.
func (e *env) deliver(id, typ string, created time.Time, object map[string]any) (int, map[string]any) {
	e.t.Helper()
	payload := stripemock.NewEvent(id, typ, created, object)
	return e.postStripe(payload, stripemock.Sign(payload, e2eWebhookSecret, time.Now()))
}

func (e *env) stripeEvents() int {
	var n int
	require.NoError(e.t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM stripe_events`).Scan(&n))
	return n
}

func (e *env) mailsWithSubject(addr, part string) int {
	msgs, err := e.Mail.To(e.ctx, addr)
	require.NoError(e.t, err)
	n := 0
	for _, m := range msgs {
		if strings.Contains(m.Subject, part) {
			n++
		}
	}
	return n
}

// TestBillingJourney walks a workspace through checkout, a failed payment, duplicate and
// late deliveries, suspension (schedules paused in Temporal, API 402) and recovery on
// invoice.paid, with stripe-mock behind the state overlay, signed webhooks and mailpit.
func TestBillingJourney(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{billing: true})
	ctx := e.ctx
	ws := e.Workspace
	require.NoError(t, e.Store.SetPlan(ctx, ws, billing.Free, ""))
	owner := e.newUser("billing-owner@journey.example")
	e.addMember(ws, owner.ID, auth.Owner)
	as := creds{bearer: owner.Token, workspace: ws}
	connID := e.connectMeta()
	conn, err := e.Store.GetConnection(ctx, ws, connID)
	require.NoError(t, err)

	// Checkout: the customer is created once and the session names the workspace.
	status, body := e.request("POST", "/v1/billing/checkout", as, map[string]any{"plan": "starter"})
	require.Equal(t, http.StatusCreated, status, body)
	require.NotEmpty(t, body["url"])
	var sawSession bool
	for _, r := range e.Stripe.Requests() {
		if r.Method == "POST" && r.Path == "/v1/checkout/sessions" {
			sawSession = true
			require.Equal(t, ws, r.Form.Get("client_reference_id"))
			require.Contains(t, r.IdempotencyKey, ws, "the key derives from the workspace")
			require.Equal(t, "14", r.Form.Get("subscription_data[trial_period_days]"))
		}
	}
	require.True(t, sawSession, "checkout reached stripe-mock")
	acc, err := e.Store.GetBillingAccount(ctx, ws)
	require.NoError(t, err)
	cus, sub, inv := acc.StripeCustomerID, "sub_e2ejourney", "in_e2ejourney1"
	require.NotEmpty(t, cus)

	now := time.Now()
	e.Stripe.Set("/v1/checkout/sessions/cs_e2ejourney", stripemock.CheckoutSessionObject("cs_e2ejourney", cus, sub, ws))
	e.Stripe.Set("/v1/subscriptions/"+sub, stripemock.SubscriptionObject(sub, cus, "active", "price_e2e_starter",
		time.Time{}, now.AddDate(0, 1, 0), ws))
	status, body = e.deliver("evt_e2e_checkout", "checkout.session.completed", now,
		stripemock.CheckoutSessionObject("cs_e2ejourney", cus, sub, ws))
	require.Equal(t, http.StatusOK, status, body)
	status, body = e.request("GET", "/v1/billing", as, nil)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "starter", body["plan"].(map[string]any)["id"])
	require.Equal(t, "active", body["status"])

	// A failed payment starts dunning: grace, and the day-0 mail arrives.
	e.Stripe.Set("/v1/invoices/"+inv, stripemock.InvoiceObject(inv, cus, sub, "open", false, 1))
	e.Stripe.Set("/v1/subscriptions/"+sub, map[string]any{"status": "past_due"})
	failed := stripemock.InvoiceObject(inv, cus, sub, "open", false, 1)
	payload := stripemock.NewEvent("evt_e2e_fail1", "invoice.payment_failed", now, failed)
	status, body = e.postStripe(payload, stripemock.Sign(payload, e2eWebhookSecret, time.Now()))
	require.Equal(t, http.StatusOK, status, body)
	_, err = e.Mail.WaitFor(ctx, owner.Email, "Payment failed", time.Minute)
	require.NoError(t, err, "day-0 mail")
	wfID := workflows.DunningWorkflowID(sub, inv)
	e.waitDunning(ws, billing.DunningGrace)

	// The same event again, and an older one delivered late, change nothing.
	events := e.stripeEvents()
	status, body = e.postStripe(payload, stripemock.Sign(payload, e2eWebhookSecret, time.Now()))
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "duplicate", body["outcome"])
	require.Equal(t, events, e.stripeEvents())
	status, body = e.deliver("evt_e2e_fail0", "invoice.payment_failed", now.Add(-time.Hour), failed)
	require.Equal(t, http.StatusOK, status, body)
	time.Sleep(2 * time.Second)
	require.Equal(t, 1, e.mailsWithSubject(owner.Email, "Payment failed"), "no second day-0 mail")
	acc, err = e.Store.GetBillingAccount(ctx, ws)
	require.NoError(t, err)
	require.Equal(t, wfID, acc.DunningWorkflowID)
	require.Equal(t, billing.DunningGrace, acc.DunningState)

	// Support moves the episode on (the Update the CLI sends): the day-3 reminder,
	// restricted, then suspended.
	for _, want := range []billing.DunningState{billing.DunningGrace, billing.DunningRestricted, billing.DunningSuspended} {
		h, err := e.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: wfID, UpdateName: workflows.UpdateAdvance, WaitForStage: client.WorkflowUpdateStageCompleted,
			Args: []any{workflows.AdvanceRequest{Reason: "e2e", By: "support@omnitrackiq.test"}},
		})
		require.NoError(t, err)
		var st workflows.DunningStatus
		require.NoError(t, h.Get(ctx, &st))
		e.waitDunning(ws, want)
	}
	_, err = e.Mail.WaitFor(ctx, owner.Email, "is suspended", time.Minute)
	require.NoError(t, err, "suspension mail")
	e.waitSchedulePaused(conn.ID, true)
	status, body = e.request("GET", "/v1/connections", as, nil)
	require.Equal(t, http.StatusPaymentRequired, status, body)
	status, body = e.request("GET", "/v1/billing", as, nil)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "suspended", body["dunning_state"])

	// invoice.paid recovers: thank-you mail, schedules resumed, access restored.
	e.Stripe.Set("/v1/invoices/"+inv, map[string]any{"status": "paid", "paid": true})
	e.Stripe.Set("/v1/subscriptions/"+sub, map[string]any{"status": "active"})
	status, body = e.deliver("evt_e2e_paid", "invoice.paid", time.Now(), stripemock.InvoiceObject(inv, cus, sub, "paid", true, 1))
	require.Equal(t, http.StatusOK, status, body)
	_, err = e.Mail.WaitFor(ctx, owner.Email, "Thank you", time.Minute)
	require.NoError(t, err, "thank-you mail")
	e.waitDunning(ws, billing.DunningNone)
	e.waitSchedulePaused(conn.ID, false)
	status, body = e.request("GET", "/v1/connections", as, nil)
	require.Equal(t, http.StatusOK, status, body)

	// Bad deliveries: 400, nothing stored.
	events = e.stripeEvents()
	good := stripemock.NewEvent("evt_e2e_bad", "invoice.paid", time.Now(), stripemock.InvoiceObject(inv, cus, sub, "paid", true, 1))
	status, _ = e.postStripe(good, stripemock.Sign(good, "whsec_wrong", time.Now()))
	require.Equal(t, http.StatusBadRequest, status, "bad signature")
	status, _ = e.postStripe(good, stripemock.Sign(good, e2eWebhookSecret, time.Now().Add(-10*time.Minute)))
	require.Equal(t, http.StatusBadRequest, status, "stale timestamp")
	malformed := []byte(`{"id": "evt_e2e_malformed", "type": `)
	status, _ = e.postStripe(malformed, stripemock.Sign(malformed, e2eWebhookSecret, time.Now()))
	require.Equal(t, http.StatusBadRequest, status, "malformed body")
	require.Equal(t, events, e.stripeEvents())
}

func (e *env) waitDunning(ws string, want billing.DunningState) {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		acc, err := e.Store.GetBillingAccount(e.ctx, ws)
		require.NoError(e.t, err)
		if acc.DunningState == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("dunning state is %s, want %s", acc.DunningState, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *env) waitSchedulePaused(connID string, want bool) {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
		desc, err := e.Temporal.ScheduleClient().GetHandle(ctx, workflows.ScheduleID(connID)).Describe(ctx)
		cancel()
		require.NoError(e.t, err)
		if desc.Schedule.State != nil && desc.Schedule.State.Paused == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("schedule of %s: paused should be %v", connID, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
