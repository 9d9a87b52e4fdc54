package billingsvc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/billingsvc"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

func TestCheckoutRejectsPlansThatCannotBeBought(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, plan := range []billing.PlanID{billing.Free, "gold", ""} {
		_, err := f.svc.Checkout(ctx, billingsvc.CheckoutRequest{WorkspaceID: f.ws.ID, Plan: plan})
		var verr *billingsvc.ValidationError
		if !errors.As(err, &verr) || !contains(verr.Msg, "starter, pro, agency") {
			t.Errorf("plan %q: err %v, want a ValidationError naming the plans", plan, err)
		}
	}
	if n := f.stripe.callCount(); n != 0 {
		t.Errorf("rejected checkouts made %d Stripe calls", n)
	}
	if acc := f.account(); acc.StripeCustomerID != "" {
		t.Errorf("rejected checkouts linked customer %s", acc.StripeCustomerID)
	}
	if _, err := f.svc.Checkout(ctx, billingsvc.CheckoutRequest{WorkspaceID: "00000000-0000-0000-0000-000000000000", Plan: billing.Pro}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown workspace: err %v, want ErrNotFound", err)
	}
}

func TestCheckoutCreatesThenReusesTheCustomer(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	res, err := f.svc.Checkout(ctx, billingsvc.CheckoutRequest{WorkspaceID: f.ws.ID, Plan: billing.Pro, Email: "owner@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if res.URL == "" || res.SessionID == "" || res.Plan != "pro" || res.TrialDays != billing.TrialDays {
		t.Fatalf("result %+v: want a session URL, plan pro, a %d-day trial", res, billing.TrialDays)
	}
	customers := f.stripe.callsTo("POST", "/v1/customers")
	if len(customers) != 1 {
		t.Fatalf("%d customer creations, want 1", len(customers))
	}
	if c := customers[0]; c.IdempotencyKey != "customer-"+f.ws.ID || c.Form.Get("metadata[workspace_id]") != f.ws.ID ||
		c.Form.Get("name") != "Acme Shop" || c.Form.Get("email") != "owner@example.com" {
		t.Errorf("customer creation %+v: want key customer-<workspace>, the workspace's name and the email", c)
	}
	acc := f.account()
	if acc.StripeCustomerID == "" {
		t.Fatal("the customer was not linked to the workspace")
	}
	sessions := f.stripe.callsTo("POST", "/v1/checkout/sessions")
	if len(sessions) != 1 {
		t.Fatalf("%d checkout sessions, want 1", len(sessions))
	}
	s := sessions[0]
	for field, want := range map[string]string{
		"mode": "subscription", "customer": acc.StripeCustomerID, "client_reference_id": f.ws.ID,
		"line_items[0][price]": pricePro, "subscription_data[trial_period_days]": "14",
		"subscription_data[metadata][workspace_id]": f.ws.ID,
		"success_url": "https://app.example.test/billing?checkout=success&session_id={CHECKOUT_SESSION_ID}",
		"cancel_url":  "https://app.example.test/billing?checkout=canceled",
	} {
		if got := s.Form.Get(field); got != want {
			t.Errorf("checkout %s = %q, want %q", field, got, want)
		}
	}
	if !contains(s.IdempotencyKey, f.ws.ID) || !contains(s.IdempotencyKey, pricePro) {
		t.Errorf("checkout idempotency key %q is not derived from workspace and plan", s.IdempotencyKey)
	}

	// The same click again: the same key, so Stripe returns the same session.
	if _, err := f.svc.Checkout(ctx, billingsvc.CheckoutRequest{WorkspaceID: f.ws.ID, Plan: billing.Pro}); err != nil {
		t.Fatal(err)
	}
	// Another plan: the customer is reused, the key differs.
	if _, err := f.svc.Checkout(ctx, billingsvc.CheckoutRequest{WorkspaceID: f.ws.ID, Plan: billing.Starter}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.stripe.callsTo("POST", "/v1/customers")); n != 1 {
		t.Errorf("%d customer creations after three checkouts, want 1", n)
	}
	sessions = f.stripe.callsTo("POST", "/v1/checkout/sessions")
	if len(sessions) != 3 || sessions[1].IdempotencyKey != sessions[0].IdempotencyKey ||
		sessions[2].IdempotencyKey == sessions[0].IdempotencyKey || sessions[2].Form.Get("customer") != acc.StripeCustomerID {
		t.Errorf("sessions %+v: want the same key for the same plan, another for starter, the same customer", sessions)
	}
}

func TestCheckoutWithASubscription(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.link("cus_existing")
	trialEnd := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	apply := func(status string, plan billing.PlanID) {
		t.Helper()
		if _, err := f.st.ApplySubscription(ctx, f.st.Pool, f.ws.ID, store.SubscriptionState{
			SubscriptionID: "sub_old", Status: status, Plan: plan, TrialEnd: &trialEnd, ReadAt: f.now(),
		}); err != nil {
			t.Fatal(err)
		}
	}

	// A live subscription: no second one; the portal changes plans.
	for _, status := range []string{"trialing", "active", "past_due", "unpaid"} {
		apply(status, billing.Pro)
		_, err := f.svc.Checkout(ctx, billingsvc.CheckoutRequest{WorkspaceID: f.ws.ID, Plan: billing.Agency})
		if !errors.Is(err, billingsvc.ErrAlreadySubscribed) || !contains(err.Error(), "POST /v1/billing/portal") {
			t.Errorf("status %s: err %v, want ErrAlreadySubscribed pointing to the portal", status, err)
		}
	}
	if n := f.stripe.callCount(); n != 0 {
		t.Errorf("refused checkouts made %d Stripe calls", n)
	}

	// The subscription ended: checkout again, with the existing customer and no second trial.
	apply("canceled", billing.Free)
	res, err := f.svc.Checkout(ctx, billingsvc.CheckoutRequest{WorkspaceID: f.ws.ID, Plan: billing.Agency})
	if err != nil {
		t.Fatal(err)
	}
	if res.TrialDays != 0 {
		t.Errorf("trial days %d after a first subscription, want 0", res.TrialDays)
	}
	sessions := f.stripe.callsTo("POST", "/v1/checkout/sessions")
	if len(sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(sessions))
	}
	if s := sessions[0]; s.Form.Get("customer") != "cus_existing" || s.Form.Has("subscription_data[trial_period_days]") ||
		s.Form.Get("line_items[0][price]") != priceAgency {
		t.Errorf("session form %v: want the existing customer, no trial, the agency price", s.Form)
	}
	if n := len(f.stripe.callsTo("POST", "/v1/customers")); n != 0 {
		t.Errorf("%d customers created for a workspace that has one", n)
	}
}

func TestPortal(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.Portal(ctx, f.ws.ID, ""); !errors.Is(err, billingsvc.ErrNoCustomer) {
		t.Fatalf("no customer: err %v, want ErrNoCustomer", err)
	}
	f.link("cus_portal")
	var verr *billingsvc.ValidationError
	if _, err := f.svc.Portal(ctx, f.ws.ID, "subscription_cancel"); !errors.As(err, &verr) {
		t.Fatalf("unknown flow: err %v, want a ValidationError", err)
	}
	if n := f.stripe.callCount(); n != 0 {
		t.Errorf("refused portals made %d Stripe calls", n)
	}
	for _, flow := range []string{"", "payment_method_update"} {
		u, err := f.svc.Portal(ctx, f.ws.ID, flow)
		if err != nil {
			t.Fatalf("flow %q: %v", flow, err)
		}
		if u == "" {
			t.Errorf("flow %q: empty URL", flow)
		}
	}
	calls := f.stripe.callsTo("POST", "/v1/billing_portal/sessions")
	if len(calls) != 2 {
		t.Fatalf("%d portal sessions, want 2", len(calls))
	}
	for i, c := range calls {
		if c.Form.Get("customer") != "cus_portal" || c.Form.Get("return_url") != "https://app.example.test/billing" {
			t.Errorf("portal session %d form %v", i, c.Form)
		}
	}
	if calls[0].Form.Has("flow_data[type]") || calls[1].Form.Get("flow_data[type]") != "payment_method_update" {
		t.Errorf("flows: %v, %v", calls[0].Form, calls[1].Form)
	}
}

func TestOverview(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ov, err := f.svc.Overview(ctx, f.ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ov.Plan.ID != billing.Free || ov.Status != "" || ov.DunningState != billing.DunningNone || ov.Usage.Members != 1 ||
		ov.Limits.Connections != 2 || ov.Limits.MinSyncIntervalSeconds != 6*3600 {
		t.Errorf("new workspace overview %+v", ov)
	}
	if len(ov.Plans) != 4 || ov.Plans[0].ID != billing.Free || ov.Plans[0].TrialDays != 0 || ov.Plans[2].ID != billing.Pro ||
		ov.Plans[2].TrialDays != billing.TrialDays || ov.Plans[2].MonthlyCents != 14900 {
		t.Errorf("catalog %+v", ov.Plans)
	}
	trialEnd := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	if _, err := f.st.ApplySubscription(ctx, f.st.Pool, f.ws.ID, store.SubscriptionState{
		SubscriptionID: "sub_1", Status: "trialing", Plan: billing.Pro, TrialEnd: &trialEnd, ReadAt: f.now(),
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.SetDunning(ctx, f.ws.ID, billing.DunningRestricted, "dunning-sub_1-in_1"); err != nil {
		t.Fatal(err)
	}
	if ov, err = f.svc.Overview(ctx, f.ws.ID); err != nil {
		t.Fatal(err)
	}
	if ov.Plan.ID != billing.Pro || ov.Status != "trialing" || ov.TrialEnd == nil || !ov.TrialEnd.Equal(trialEnd) ||
		ov.Limits.Connections != 15 || ov.DunningState != billing.DunningRestricted || ov.DunningSince == nil {
		t.Errorf("pro overview %+v", ov)
	}
	if _, err := f.svc.Overview(ctx, "not-a-workspace"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown workspace: err %v", err)
	}
}
