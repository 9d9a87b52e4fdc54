package billingsvc_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/billingsvc"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// signed signs payload as Stripe would at time at.
func signed(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
}

func TestVerifyEvent(t *testing.T) {
	f := newFixture(t)
	created := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	payload, err := billingsvc.EventPayload("evt_1", "invoice.payment_failed", "invoice", "in_1", created)
	if err != nil {
		t.Fatal(err)
	}

	ev, err := f.svc.VerifyEvent(payload, signed(payload, webhookSecret, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	want := billingsvc.Event{ID: "evt_1", Type: "invoice.payment_failed", Created: created, ObjectID: "in_1", Object: "invoice"}
	if ev != want {
		t.Errorf("event %+v, want %+v", ev, want)
	}

	// Another API version is fine: only id, type, created and the object id are read.
	other := []byte(`{"id":"evt_2","object":"event","api_version":"2024-06-20","created":1767225600,"type":"customer.subscription.updated","data":{"object":{"id":"sub_1","object":"subscription","status":"active"}}}`)
	if ev, err := f.svc.VerifyEvent(other, signed(other, webhookSecret, time.Now())); err != nil || ev.ObjectID != "sub_1" {
		t.Errorf("event of another API version: %+v, %v", ev, err)
	}

	bad := []struct {
		name, header, want string
		body               []byte
	}{
		{"wrong secret", signed(payload, "whsec_someone_else", time.Now()), "no Stripe-Signature matches", payload},
		{"stale timestamp", signed(payload, webhookSecret, time.Now().Add(-10*time.Minute)), "more than 300 s old", payload},
		{"no header", "", "header is missing", payload},
		{"malformed header", "t=abc,v1=00", "malformed", payload},
		{"body changed after signing", signed(payload, webhookSecret, time.Now()), "no Stripe-Signature matches", append([]byte(" "), payload...)},
		{"malformed body", signed([]byte(`{"id":"evt_3",`), webhookSecret, time.Now()), "not a JSON Stripe event", []byte(`{"id":"evt_3",`)},
		{"no object id", signed([]byte(`{"id":"evt_4","type":"invoice.paid","data":{"object":{"object":"invoice"}}}`), webhookSecret, time.Now()),
			"data.object.id", []byte(`{"id":"evt_4","type":"invoice.paid","data":{"object":{"object":"invoice"}}}`)},
		{"no id or type", signed([]byte(`{"data":{"object":{"id":"in_1"}}}`), webhookSecret, time.Now()), "no id, type", []byte(`{"data":{"object":{"id":"in_1"}}}`)},
	}
	for _, tc := range bad {
		_, err := f.svc.VerifyEvent(tc.body, tc.header)
		var be *billingsvc.BadEventError
		if !errors.As(err, &be) || !contains(be.Msg, tc.want) {
			t.Errorf("%s: err %v, want a BadEventError saying %q", tc.name, err, tc.want)
		}
	}

	// Without a secret nothing verifies, not even a body "signed" with the empty secret.
	noSecret := *f.svc
	noSecret.WebhookSecret = ""
	var be *billingsvc.BadEventError
	if _, err := noSecret.VerifyEvent(payload, signed(payload, "", time.Now())); !errors.As(err, &be) {
		t.Errorf("empty secret: err %v, want a BadEventError", err)
	}
}

func TestCheckoutCompletedAndDuplicate(t *testing.T) {
	f := newFixture(t)
	trialEnd := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	f.stripe.set("/v1/checkout/sessions/cs_1", func(obj map[string]any) {
		obj["mode"], obj["client_reference_id"], obj["customer"], obj["subscription"], obj["status"] =
			"subscription", f.ws.ID, "cus_A", "sub_A", "complete"
	})
	f.stripe.setSubscription("sub_A", subscriptionState{Customer: "cus_A", Status: "trialing", Price: pricePro, TrialEnd: trialEnd})

	ev := event("evt_checkout", "checkout.session.completed", "checkout.session", "cs_1")
	if out := f.apply(ev); out != billingsvc.OutcomeApplied {
		t.Fatalf("outcome %s", out)
	}
	acc := f.account()
	if acc.Plan != billing.Pro || acc.Status != "trialing" || acc.StripeCustomerID != "cus_A" || acc.StripeSubscriptionID != "sub_A" ||
		acc.TrialEnd == nil || !acc.TrialEnd.Equal(trialEnd) || acc.StripeSyncedAt == nil {
		t.Fatalf("account after checkout %+v", acc)
	}
	rec, ok := f.recorded("evt_checkout")
	if !ok || rec.WorkspaceID != f.ws.ID || rec.Outcome != billingsvc.OutcomeApplied || rec.ObjectID != "cs_1" {
		t.Fatalf("recorded %+v, %v", rec, ok)
	}

	// The same delivery again: nothing is read, nothing changes.
	calls := f.stripe.callCount()
	f.stripe.setSubscription("sub_A", subscriptionState{Customer: "cus_A", Status: "canceled", Price: pricePro})
	if out := f.apply(ev); out != billingsvc.OutcomeDuplicate {
		t.Fatalf("redelivery outcome %s, want duplicate", out)
	}
	if n := f.stripe.callCount(); n != calls {
		t.Errorf("a duplicate made %d Stripe calls", n-calls)
	}
	if acc2 := f.account(); acc2.Status != "trialing" || acc2.Plan != billing.Pro || f.eventCount() != 1 {
		t.Errorf("a duplicate changed the account: %+v (%d events)", acc2, f.eventCount())
	}

	// A session naming no workspace of ours is recorded and answered.
	f.stripe.set("/v1/checkout/sessions/cs_2", func(obj map[string]any) {
		obj["mode"], obj["client_reference_id"], obj["customer"] = "subscription", "00000000-0000-0000-0000-000000000001", "cus_B"
	})
	if out := f.apply(event("evt_checkout_2", "checkout.session.completed", "checkout.session", "cs_2")); out != billingsvc.OutcomeUnknownWorkspace {
		t.Errorf("unknown workspace outcome %s", out)
	}
	// A session of another workspace's customer cannot move this one's.
	f.stripe.set("/v1/checkout/sessions/cs_3", func(obj map[string]any) {
		obj["mode"], obj["client_reference_id"], obj["customer"], obj["subscription"] = "subscription", f.ws.ID, "cus_other", nil
	})
	if out := f.apply(event("evt_checkout_3", "checkout.session.completed", "checkout.session", "cs_3")); out != billingsvc.OutcomeConflict {
		t.Errorf("conflicting customer outcome %s, want conflict", out)
	}
	if acc := f.account(); acc.StripeCustomerID != "cus_A" {
		t.Errorf("customer moved to %s", acc.StripeCustomerID)
	}
	if rec, ok := f.recorded("evt_checkout_3"); !ok || rec.Outcome != billingsvc.OutcomeConflict {
		t.Errorf("conflict recorded as %+v, %v", rec, ok)
	}
}

func TestUnknownCustomerAndIgnoredTypes(t *testing.T) {
	f := newFixture(t)
	f.stripe.setSubscription("sub_X", subscriptionState{Customer: "cus_nobody", Status: "active", Price: pricePro})
	if out := f.apply(event("evt_unknown", "customer.subscription.updated", "subscription", "sub_X")); out != billingsvc.OutcomeUnknownCustomer {
		t.Fatalf("outcome %s, want unknown_customer", out)
	}
	rec, ok := f.recorded("evt_unknown")
	if !ok || rec.WorkspaceID != "" || rec.Outcome != store.StripeEventUnknownCustomer {
		t.Errorf("recorded %+v, %v", rec, ok)
	}
	if acc := f.account(); acc.Plan != billing.Free || acc.StripeSubscriptionID != "" {
		t.Errorf("an unknown customer's event changed the workspace: %+v", acc)
	}
	if out := f.apply(event("evt_other", "charge.refunded", "charge", "ch_1")); out != billingsvc.OutcomeIgnored {
		t.Errorf("unhandled type outcome %s", out)
	}
	if rec, ok := f.recorded("evt_other"); !ok || rec.Outcome != store.StripeEventIgnored {
		t.Errorf("ignored event recorded as %+v, %v", rec, ok)
	}
	if calls := f.dunning.take(); len(calls) != 0 {
		t.Errorf("dunning calls %+v", calls)
	}
}

// A database failure answers an error and records nothing; the redelivery applies it.
func TestDatabaseFailureThenRedelivery(t *testing.T) {
	f := newFixture(t)
	f.link("cus_A")
	f.stripe.setSubscription("sub_A", subscriptionState{Customer: "cus_A", Status: "active", Price: priceStarter})
	ev := event("evt_db", "customer.subscription.created", "subscription", "sub_A")

	down, err := store.Open(context.Background(), f.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	down.Close()
	broken := *f.svc
	broken.Store = down
	if out, err := broken.ApplyEvent(context.Background(), ev); err == nil {
		t.Fatalf("applied with the database down: %s", out)
	}
	if _, ok := f.recorded("evt_db"); ok {
		t.Fatal("the event was recorded although its effect failed")
	}
	if acc := f.account(); acc.Plan != billing.Free {
		t.Fatalf("plan %s after a failed apply", acc.Plan)
	}

	if out := f.apply(ev); out != billingsvc.OutcomeApplied {
		t.Fatalf("redelivery outcome %s", out)
	}
	if acc := f.account(); acc.Plan != billing.Starter || acc.Status != "active" || acc.StripeSubscriptionID != "sub_A" {
		t.Errorf("account after redelivery %+v", acc)
	}
}

// A Stripe or Temporal failure answers an error and records nothing.
func TestStripeAndTemporalFailures(t *testing.T) {
	f := newFixture(t)
	f.link("cus_A")
	f.stripe.setSubscription("sub_A", subscriptionState{Customer: "cus_A", Status: "past_due", Price: pricePro})
	f.stripe.setInvoice("in_1", invoiceState{Customer: "cus_A", Subscription: "sub_A", Status: "open", Attempts: 1})

	f.stripe.failWith("/v1/invoices/in_1", http.StatusInternalServerError)
	ev := event("evt_fail", "invoice.payment_failed", "invoice", "in_1")
	if _, err := f.svc.ApplyEvent(context.Background(), ev); err == nil {
		t.Fatal("applied although Stripe failed")
	}
	f.stripe.failWith("/v1/invoices/in_1", 0)

	f.dunning.err = errors.New("temporal: unavailable")
	if _, err := f.svc.ApplyEvent(context.Background(), ev); err == nil {
		t.Fatal("applied although Temporal failed")
	}
	if _, ok := f.recorded("evt_fail"); ok {
		t.Fatal("recorded although processing failed")
	}
	if acc := f.account(); acc.Status != "" || acc.DunningState != billing.DunningNone {
		t.Fatalf("a failed event left its effect: %+v", acc)
	}
	f.dunning.err = nil
	if out := f.apply(ev); out != billingsvc.OutcomeApplied {
		t.Fatalf("redelivery outcome %s", out)
	}
	if acc := f.account(); acc.Status != "past_due" || acc.DunningState != billing.DunningGrace {
		t.Errorf("account after redelivery %+v", acc)
	}
}

func TestDunningEvents(t *testing.T) {
	f := newFixture(t)
	f.link("cus_A")
	f.stripe.setSubscription("sub_A", subscriptionState{Customer: "cus_A", Status: "past_due", Price: pricePro})
	f.stripe.setInvoice("in_1", invoiceState{Customer: "cus_A", Subscription: "sub_A", Status: "open", Attempts: 1})
	episode := workflows.DunningWorkflowID("sub_A", "in_1")

	// The first failure starts the episode.
	if out := f.apply(event("evt_f1", "invoice.payment_failed", "invoice", "in_1")); out != billingsvc.OutcomeApplied {
		t.Fatalf("outcome %s", out)
	}
	calls := f.dunning.take()
	wantStart := dunningCall{Op: "start", WorkflowID: episode,
		Input:  workflows.DunningInput{WorkspaceID: f.ws.ID, SubscriptionID: "sub_A", InvoiceID: "in_1"},
		Signal: workflows.SignalPaymentFailed, Payload: workflows.DunningSignal{InvoiceID: "in_1", AttemptCount: 1, EventID: "evt_f1"}}
	if len(calls) != 1 || calls[0] != wantStart {
		t.Fatalf("dunning calls %+v, want %+v", calls, wantStart)
	}
	acc := f.account()
	if acc.Plan != billing.Pro || acc.Status != "past_due" || acc.DunningState != billing.DunningGrace || acc.DunningWorkflowID != episode {
		t.Fatalf("account after the first failure %+v", acc)
	}

	// The same failure delivered again: nothing.
	if out := f.apply(event("evt_f1", "invoice.payment_failed", "invoice", "in_1")); out != billingsvc.OutcomeDuplicate {
		t.Errorf("redelivery outcome %s", out)
	}
	// A retry's failure (a new event) and a 3DS request go to the same episode.
	f.stripe.setInvoice("in_1", invoiceState{Customer: "cus_A", Subscription: "sub_A", Status: "open", Attempts: 2})
	f.apply(event("evt_f2", "invoice.payment_failed", "invoice", "in_1"))
	f.apply(event("evt_ar", "invoice.payment_action_required", "invoice", "in_1"))
	// A failure of another invoice of the subscription joins the running episode.
	f.stripe.setInvoice("in_2", invoiceState{Customer: "cus_A", Subscription: "sub_A", Status: "open", Attempts: 1})
	f.apply(event("evt_f3", "invoice.payment_failed", "invoice", "in_2"))
	calls = f.dunning.take()
	if len(calls) != 3 {
		t.Fatalf("dunning calls %+v, want 3", calls)
	}
	for i, want := range []struct{ signal, invoice string }{
		{workflows.SignalPaymentFailed, "in_1"}, {workflows.SignalActionRequired, "in_1"}, {workflows.SignalPaymentFailed, "in_2"},
	} {
		c := calls[i]
		if c.Op != "start" || c.WorkflowID != episode || c.Input.InvoiceID != "in_1" || c.Signal != want.signal || c.Payload.InvoiceID != want.invoice {
			t.Errorf("call %d: %+v, want %s about %s to %s", i, c, want.signal, want.invoice, episode)
		}
	}

	// A new payment method tells the episode to retry.
	f.stripe.set("/v1/payment_methods/pm_1", func(obj map[string]any) { obj["customer"] = "cus_A" })
	f.apply(event("evt_pm", "payment_method.attached", "payment_method", "pm_1"))
	f.apply(event("evt_cu", "customer.updated", "customer", "cus_A"))
	calls = f.dunning.take()
	if len(calls) != 2 || calls[0].Op != "signal" || calls[0].WorkflowID != episode || calls[0].Signal != workflows.SignalPaymentMethodUpdated ||
		calls[1].Signal != workflows.SignalPaymentMethodUpdated {
		t.Fatalf("payment method calls %+v", calls)
	}

	// Paid: the episode is told; the subscription is active again.
	f.stripe.setInvoice("in_1", invoiceState{Customer: "cus_A", Subscription: "sub_A", Status: "paid", Attempts: 3})
	f.stripe.setSubscription("sub_A", subscriptionState{Customer: "cus_A", Status: "active", Price: pricePro})
	f.apply(event("evt_paid", "invoice.paid", "invoice", "in_1"))
	calls = f.dunning.take()
	if len(calls) != 1 || calls[0].Op != "signal" || calls[0].WorkflowID != episode || calls[0].Signal != workflows.SignalInvoicePaid ||
		calls[0].Payload.InvoiceID != "in_1" {
		t.Fatalf("paid calls %+v", calls)
	}
	if acc := f.account(); acc.Status != "active" || acc.Plan != billing.Pro {
		t.Errorf("account after payment %+v", acc)
	}

	// The episode's workflow recovers the workspace (its activity clears the state).
	if err := f.st.SetDunning(context.Background(), f.ws.ID, billing.DunningRecovered, episode); err != nil {
		t.Fatal(err)
	}
	// An older failure delivered late re-reads the invoice, now paid: no new episode.
	late := event("evt_late", "invoice.payment_failed", "invoice", "in_1")
	late.Created = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	if out := f.apply(late); out != billingsvc.OutcomeApplied {
		t.Fatalf("late event outcome %s", out)
	}
	if calls := f.dunning.take(); len(calls) != 0 {
		t.Errorf("a late failure of a paid invoice made dunning calls %+v", calls)
	}
	if acc := f.account(); acc.DunningState != billing.DunningNone || acc.Status != "active" || acc.Plan != billing.Pro {
		t.Errorf("a late old event changed the account: %+v", acc)
	}
}

func TestSubscriptionCanceledEndsTheEpisode(t *testing.T) {
	f := newFixture(t)
	f.link("cus_A")
	f.stripe.setSubscription("sub_A", subscriptionState{Customer: "cus_A", Status: "unpaid", Price: pricePro})
	f.stripe.setInvoice("in_1", invoiceState{Customer: "cus_A", Subscription: "sub_A", Status: "open", Attempts: 4})
	f.apply(event("evt_f1", "invoice.payment_failed", "invoice", "in_1"))
	f.dunning.take()

	f.stripe.setSubscription("sub_A", subscriptionState{Customer: "cus_A", Status: "canceled", Price: pricePro})
	f.apply(event("evt_del", "customer.subscription.deleted", "subscription", "sub_A"))
	calls := f.dunning.take()
	if len(calls) != 1 || calls[0].Op != "signal" || calls[0].WorkflowID != workflows.DunningWorkflowID("sub_A", "in_1") ||
		calls[0].Signal != workflows.SignalSubscriptionCanceled {
		t.Fatalf("calls %+v", calls)
	}
	if acc := f.account(); acc.Plan != billing.Free || acc.Status != "canceled" {
		t.Errorf("account after cancel %+v", acc)
	}
	// A failure of the canceled subscription's invoice starts nothing.
	f.apply(event("evt_f2", "invoice.payment_failed", "invoice", "in_1"))
	if calls := f.dunning.take(); len(calls) != 0 {
		t.Errorf("a failure of a canceled subscription made dunning calls %+v", calls)
	}
}

func TestTrialEndingWithoutPaymentMethod(t *testing.T) {
	f := newFixture(t)
	f.link("cus_A")
	trialEnd := time.Date(2026, 3, 4, 9, 30, 0, 0, time.UTC)
	f.stripe.setSubscription("sub_T", subscriptionState{Customer: "cus_A", Status: "trialing", Price: pricePro, TrialEnd: trialEnd})

	// A failing send answers an error and leaves nothing claimed or recorded.
	f.mail.err = errors.New("smtp: connection refused")
	if _, err := f.svc.ApplyEvent(context.Background(), event("evt_t1", "customer.subscription.trial_will_end", "subscription", "sub_T")); err == nil {
		t.Fatal("applied although the email failed")
	}
	if _, ok := f.recorded("evt_t1"); ok {
		t.Fatal("recorded although the email failed")
	}
	f.mail.err = nil

	f.apply(event("evt_t1", "customer.subscription.trial_will_end", "subscription", "sub_T"))
	f.apply(event("evt_t2", "customer.subscription.trial_will_end", "subscription", "sub_T"))
	msgs := f.mail.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d trial emails, want 1", len(msgs))
	}
	m := msgs[0]
	if len(m.To) != 1 || m.To[0] != "owner@example.com" || !contains(m.Subject, "Pro trial ends on 4 March 2026") ||
		!contains(m.Text, "https://app.example.test/billing") || !contains(m.Text, "Wednesday, 4 March 2026") ||
		!contains(m.Text, "Free plan") || !contains(m.Text, "Acme Shop") {
		t.Errorf("trial email %+v", m)
	}
	steps, err := f.st.BillingEmailSteps(context.Background(), "trial-sub_T")
	if err != nil || len(steps) != 1 || steps[0] != billingsvc.TrialEmailStep(trialEnd) {
		t.Errorf("claimed steps %v, %v", steps, err)
	}
	if acc := f.account(); acc.Plan != billing.Pro || acc.Status != "trialing" {
		t.Errorf("account %+v", acc)
	}

	// With a payment method on file there is nothing to remind.
	f.stripe.setSubscription("sub_T", subscriptionState{Customer: "cus_A", Status: "trialing", Price: pricePro,
		TrialEnd: trialEnd.Add(24 * time.Hour), PaymentMethod: "pm_1"})
	f.apply(event("evt_t3", "customer.subscription.trial_will_end", "subscription", "sub_T"))
	if n := len(f.mail.messages()); n != 1 {
		t.Errorf("%d emails after a reminder with a payment method on file", n)
	}

	// The trial ended without one: Stripe pauses the subscription and the workspace is on free.
	f.stripe.setSubscription("sub_T", subscriptionState{Customer: "cus_A", Status: "paused", Price: pricePro, TrialEnd: trialEnd})
	f.apply(event("evt_paused", "customer.subscription.updated", "subscription", "sub_T"))
	if acc := f.account(); acc.Plan != billing.Free || acc.Status != "paused" {
		t.Errorf("account after the trial ended unpaid %+v", acc)
	}
}

// A late event of an older, paused subscription does not take the plan of the workspace's
// new live subscription away.
func TestOlderSubscriptionDoesNotOverrideTheLiveOne(t *testing.T) {
	f := newFixture(t)
	f.link("cus_A")
	f.stripe.setSubscription("sub_new", subscriptionState{Customer: "cus_A", Status: "active", Price: priceAgency})
	f.stripe.setSubscription("sub_old", subscriptionState{Customer: "cus_A", Status: "paused", Price: pricePro})
	f.apply(event("evt_new", "customer.subscription.created", "subscription", "sub_new"))
	f.apply(event("evt_old", "customer.subscription.updated", "subscription", "sub_old"))
	if acc := f.account(); acc.StripeSubscriptionID != "sub_new" || acc.Plan != billing.Agency || acc.Status != "active" {
		t.Errorf("account %+v, want the live agency subscription", acc)
	}
	// Events arriving in any order apply Stripe's current state: created after updated.
	f.stripe.setSubscription("sub_new", subscriptionState{Customer: "cus_A", Status: "past_due", Price: priceAgency})
	f.apply(event("evt_new_upd", "customer.subscription.updated", "subscription", "sub_new"))
	f.apply(event("evt_new_created_late", "customer.subscription.created", "subscription", "sub_new"))
	if acc := f.account(); acc.Status != "past_due" {
		t.Errorf("status %s, want Stripe's current past_due", acc.Status)
	}
}

func ExampleEventPayload() {
	p, _ := billingsvc.EventPayload("evt_1", "invoice.paid", "invoice", "in_1", time.Unix(1767225600, 0))
	fmt.Println(string(p))
	// Output: {"id":"evt_1","object":"event","api_version":"2023-10-16","created":1767225600,"type":"invoice.paid","data":{"object":{"id":"in_1","object":"invoice"}}}
}

// Two deliveries of one event at the same time: the insert in the transaction lets one
// apply; the other waits for it and finds the event recorded.
func TestConcurrentDuplicateDeliveries(t *testing.T) {
	f := newFixture(t)
	f.link("cus_A")
	f.stripe.setSubscription("sub_A", subscriptionState{Customer: "cus_A", Status: "past_due", Price: pricePro})
	f.stripe.setInvoice("in_1", invoiceState{Customer: "cus_A", Subscription: "sub_A", Status: "open", Attempts: 1})
	ev := event("evt_twice", "invoice.payment_failed", "invoice", "in_1")
	outcomes := make(chan string, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := f.svc.ApplyEvent(context.Background(), ev)
			if err != nil {
				t.Error(err)
			}
			outcomes <- out
		}()
	}
	wg.Wait()
	close(outcomes)
	got := map[string]int{}
	for o := range outcomes {
		got[o]++
	}
	if got[billingsvc.OutcomeApplied] != 1 || got[billingsvc.OutcomeDuplicate] != 1 {
		t.Errorf("outcomes %v, want one applied and one duplicate", got)
	}
	if calls := f.dunning.take(); len(calls) != 1 {
		t.Errorf("dunning calls %+v, want one", calls)
	}
}
