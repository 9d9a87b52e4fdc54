package activities

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/stripeapi"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

// fakeStripe keeps invoices in memory; PayInvoice pays unless declines > 0.
type fakeStripe struct {
	mu       sync.Mutex
	invoices map[string]stripeapi.Invoice
	declines int
	payErr   error
	pays     []string // idempotency keys
	cancels  []string
	cancelFn func(id string) error
	portals  []string // customer ids
}

func (f *fakeStripe) GetInvoice(_ context.Context, id string) (stripeapi.Invoice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	inv, ok := f.invoices[id]
	if !ok {
		return stripeapi.Invoice{}, fmt.Errorf("get invoice %s: %w", id, stripeapi.ErrNotFound)
	}
	return inv, nil
}

func (f *fakeStripe) PayInvoice(_ context.Context, id, key string) (stripeapi.Invoice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pays = append(f.pays, key)
	if f.payErr != nil {
		return stripeapi.Invoice{}, f.payErr
	}
	if f.declines > 0 {
		f.declines--
		return stripeapi.Invoice{}, fmt.Errorf("pay invoice %s: %w: Your card was declined.", id, stripeapi.ErrDeclined)
	}
	inv := f.invoices[id]
	inv.Status, inv.Paid = "paid", true
	f.invoices[id] = inv
	return inv, nil
}

func (f *fakeStripe) CancelSubscription(_ context.Context, id, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancels = append(f.cancels, id+"|"+key)
	if f.cancelFn != nil {
		return f.cancelFn(id)
	}
	return nil
}

func (f *fakeStripe) CreatePortal(_ context.Context, customerID, returnURL, flow string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.portals = append(f.portals, customerID)
	return "https://billing.stripe.test/p/session/" + customerID + "?flow=" + flow + "&return=" + returnURL, nil
}

// fakeSchedules remembers the pause/resume calls.
type fakeSchedules struct {
	mu    sync.Mutex
	calls []string
}

func (s *fakeSchedules) PauseWorkspaceSchedules(_ context.Context, ws string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "pause:"+ws)
	return nil
}

func (s *fakeSchedules) ResumeWorkspaceSchedules(_ context.Context, ws string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "resume:"+ws)
	return nil
}

type billingFixture struct {
	st     *store.Store
	acts   *Billing
	stripe *fakeStripe
	mail   *fakeMailer
	sched  *fakeSchedules
	ws     string
}

func newBillingFixture(t *testing.T) *billingFixture {
	t.Helper()
	ctx := context.Background()
	st, _ := testdb.New(t)
	ws, err := st.CreateWorkspace(ctx, "Acme Shoes", "USD", "UTC")
	require.NoError(t, err)
	for _, m := range []struct{ email, role string }{
		{"owner@example.com", "owner"}, {"admin@example.com", "admin"}, {"member@example.com", "member"},
	} {
		u, err := store.CreateUser(ctx, st.Pool, m.email, m.role, "x")
		require.NoError(t, err)
		require.NoError(t, store.AddMember(ctx, st.Pool, ws.ID, u.ID, m.role))
	}
	require.NoError(t, st.LinkStripeCustomer(ctx, st.Pool, ws.ID, "cus_1"))
	f := &billingFixture{st: st, ws: ws.ID, mail: &fakeMailer{}, sched: &fakeSchedules{},
		stripe: &fakeStripe{invoices: map[string]stripeapi.Invoice{
			"in_1": {ID: "in_1", Status: "open", AttemptCount: 1, HostedInvoiceURL: "https://invoice.stripe.test/in_1"},
		}}}
	f.acts = &Billing{Store: st, Stripe: f.stripe, Mailer: f.mail, Schedules: f.sched, AppURL: "https://app.example.com/"}
	return f
}

func requireErrType(t *testing.T, err error, typ string, nonRetryable bool) {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, typ, appErr.Type(), "%v", err)
	require.Equal(t, nonRetryable, appErr.NonRetryable(), "%v", err)
}

func TestSendDunningEmailOncePerStepAndAgainAfterAFailedSend(t *testing.T) {
	f := newBillingFixture(t)
	ctx := context.Background()
	in := SendDunningEmailInput{WorkflowID: "dunning-sub_1-in_1", WorkspaceID: f.ws, InvoiceID: "in_1", Step: DunningEmailPaymentFailed}

	// The relay fails once: the claim is released so the retry can send.
	f.mail.fail = 1
	_, err := f.acts.SendDunningEmail(ctx, in)
	require.Error(t, err)
	require.Zero(t, f.mail.count())
	steps, err := f.st.BillingEmailSteps(ctx, in.WorkflowID)
	require.NoError(t, err)
	require.Empty(t, steps, "a failed send leaves no claim")

	res, err := f.acts.SendDunningEmail(ctx, in)
	require.NoError(t, err)
	require.Equal(t, SendDunningEmailResult{Sent: true, Recipients: 2}, res)
	res, err = f.acts.SendDunningEmail(ctx, in)
	require.NoError(t, err)
	require.Equal(t, SendDunningEmailResult{AlreadySent: true}, res, "the second call sends nothing")
	require.Equal(t, 1, f.mail.count())

	msg := f.mail.sent[0]
	require.Equal(t, []string{"admin@example.com", "owner@example.com"}, msg.To, "owner and admins only")
	require.Contains(t, msg.Subject, "Acme Shoes")
	require.Contains(t, msg.Text, "https://billing.stripe.test/p/session/cus_1?flow=payment_method_update&return=https://app.example.com/billing")
	require.Contains(t, msg.Text, "https://app.example.com/billing")
	require.Equal(t, []string{"cus_1", "cus_1"}, f.stripe.portals, "a portal session per send attempt, none for the duplicate")

	// Another step of the same episode is its own email.
	in.Step = DunningEmailActionRequired(2)
	res, err = f.acts.SendDunningEmail(ctx, in)
	require.NoError(t, err)
	require.True(t, res.Sent)
	require.Contains(t, f.mail.sent[1].Text, "https://invoice.stripe.test/in_1", "action required links the hosted invoice")
	steps, err = f.st.BillingEmailSteps(ctx, in.WorkflowID)
	require.NoError(t, err)
	require.Equal(t, []string{"payment_failed", "action_required-2"}, steps)
}

func TestSendDunningEmailSaysWhatHappensNextAndFallsBackWithoutCustomer(t *testing.T) {
	f := newBillingFixture(t)
	ctx := context.Background()
	other, err := f.st.CreateWorkspace(ctx, "No Customer", "USD", "UTC")
	require.NoError(t, err)
	u, err := store.CreateUser(ctx, f.st.Pool, "solo@example.com", "Solo", "x")
	require.NoError(t, err)
	require.NoError(t, store.AddMember(ctx, f.st.Pool, other.ID, u.ID, "owner"))

	in := SendDunningEmailInput{WorkflowID: "dunning-sub_2-in_1", WorkspaceID: other.ID, InvoiceID: "in_1", Step: DunningEmailRestricted,
		NextStep: DunningEmailSuspended, NextStepAt: time.Date(2027, 1, 15, 10, 0, 0, 0, time.UTC)}
	_, err = f.acts.SendDunningEmail(ctx, in)
	require.NoError(t, err)
	msg := f.mail.sent[0]
	require.Equal(t, []string{"solo@example.com"}, msg.To)
	require.Contains(t, msg.Subject, "read-only")
	require.Contains(t, msg.Text, "Friday 15 January 2027", "names when the next step happens")
	require.Contains(t, msg.Text, "suspended")
	require.Contains(t, msg.Text, "https://invoice.stripe.test/in_1", "no customer: the hosted invoice instead of a portal")
	require.Empty(t, f.stripe.portals)

	_, err = f.acts.SendDunningEmail(ctx, SendDunningEmailInput{WorkflowID: "w", WorkspaceID: f.ws, InvoiceID: "in_1", Step: "bogus"})
	requireErrType(t, err, ErrTypeInvalidInput, true)
	_, err = f.acts.SendDunningEmail(ctx, SendDunningEmailInput{WorkflowID: "w", WorkspaceID: "00000000-0000-4000-8000-000000000000", InvoiceID: "in_1", Step: DunningEmailReminder})
	requireErrType(t, err, ErrTypeWorkspaceNotFound, true)
}

func TestApplyDunningStateRecordsStateAndPausesAndResumes(t *testing.T) {
	f := newBillingFixture(t)
	ctx := context.Background()
	wf := "dunning-sub_1-in_1"
	state := func() (billing.DunningState, string) {
		a, err := f.st.GetBillingAccount(ctx, f.ws)
		require.NoError(t, err)
		return a.DunningState, a.DunningWorkflowID
	}
	for _, st := range []billing.DunningState{billing.DunningGrace, billing.DunningRestricted} {
		require.NoError(t, f.acts.ApplyDunningState(ctx, ApplyDunningStateInput{WorkflowID: wf, WorkspaceID: f.ws, State: st}))
		got, id := state()
		require.Equal(t, st, got)
		require.Equal(t, wf, id)
	}
	require.Empty(t, f.sched.calls, "grace and restricted leave schedules alone")

	require.NoError(t, f.acts.ApplyDunningState(ctx, ApplyDunningStateInput{WorkflowID: wf, WorkspaceID: f.ws, State: billing.DunningSuspended}))
	got, _ := state()
	require.Equal(t, billing.DunningSuspended, got)
	require.Equal(t, []string{"pause:" + f.ws}, f.sched.calls)

	// A late activity of an older episode neither clears this one nor resumes its schedules.
	require.NoError(t, f.acts.ApplyDunningState(ctx, ApplyDunningStateInput{WorkflowID: "dunning-old", WorkspaceID: f.ws, State: billing.DunningRecovered}))
	got, _ = state()
	require.Equal(t, billing.DunningSuspended, got)
	require.Equal(t, []string{"pause:" + f.ws}, f.sched.calls)

	require.NoError(t, f.acts.ApplyDunningState(ctx, ApplyDunningStateInput{WorkflowID: wf, WorkspaceID: f.ws, State: billing.DunningRecovered}))
	got, id := state()
	require.Equal(t, billing.DunningNone, got)
	require.Empty(t, id)
	require.Equal(t, []string{"pause:" + f.ws, "resume:" + f.ws}, f.sched.calls)

	err := f.acts.ApplyDunningState(ctx, ApplyDunningStateInput{WorkflowID: wf, WorkspaceID: "00000000-0000-4000-8000-000000000000", State: billing.DunningGrace})
	requireErrType(t, err, ErrTypeWorkspaceNotFound, true)
	err = f.acts.ApplyDunningState(ctx, ApplyDunningStateInput{WorkflowID: wf, WorkspaceID: f.ws, State: billing.DunningNone})
	requireErrType(t, err, ErrTypeInvalidInput, true)
}

func TestBillingStripeActivities(t *testing.T) {
	f := newBillingFixture(t)
	ctx := context.Background()

	chk, err := f.acts.CheckInvoice(ctx, CheckInvoiceInput{InvoiceID: "in_1"})
	require.NoError(t, err)
	require.Equal(t, CheckInvoiceResult{Status: "open", AttemptCount: 1, HostedInvoiceURL: "https://invoice.stripe.test/in_1"}, chk)
	_, err = f.acts.CheckInvoice(ctx, CheckInvoiceInput{InvoiceID: "in_missing"})
	requireErrType(t, err, ErrTypeStripeNotFound, true)

	f.stripe.declines = 1
	pay, err := f.acts.PayInvoice(ctx, PayInvoiceInput{InvoiceID: "in_1", IdempotencyKey: "wf:pay:1"})
	require.NoError(t, err, "a decline is a result")
	require.True(t, pay.Declined)
	require.False(t, pay.Paid)
	pay, err = f.acts.PayInvoice(ctx, PayInvoiceInput{InvoiceID: "in_1", IdempotencyKey: "wf:pay:2"})
	require.NoError(t, err)
	require.True(t, pay.Paid)
	pay, err = f.acts.PayInvoice(ctx, PayInvoiceInput{InvoiceID: "in_1", IdempotencyKey: "wf:pay:3"})
	require.NoError(t, err)
	require.True(t, pay.Paid)
	require.Equal(t, []string{"wf:pay:1", "wf:pay:2"}, f.stripe.pays, "a settled invoice is not charged again")
	chk, err = f.acts.CheckInvoice(ctx, CheckInvoiceInput{InvoiceID: "in_1"})
	require.NoError(t, err)
	require.True(t, chk.Settled)

	f.stripe.invoices["in_2"] = stripeapi.Invoice{ID: "in_2", Status: "open"}
	f.stripe.payErr = fmt.Errorf("pay invoice in_2: %w: invalid", stripeapi.ErrPermanent)
	_, err = f.acts.PayInvoice(ctx, PayInvoiceInput{InvoiceID: "in_2", IdempotencyKey: "k"})
	requireErrType(t, err, ErrTypeStripeRefused, true)
	f.stripe.payErr = errors.New("stripe: 502 bad gateway")
	_, err = f.acts.PayInvoice(ctx, PayInvoiceInput{InvoiceID: "in_2", IdempotencyKey: "k"})
	requireErrType(t, err, ErrTypeStripeTransient, false)

	res, err := f.acts.CancelSubscription(ctx, CancelSubscriptionInput{SubscriptionID: "sub_1", IdempotencyKey: "wf:cancel"})
	require.NoError(t, err)
	require.False(t, res.AlreadyGone)
	f.stripe.cancelFn = func(id string) error { return fmt.Errorf("cancel subscription %s: %w", id, stripeapi.ErrNotFound) }
	res, err = f.acts.CancelSubscription(ctx, CancelSubscriptionInput{SubscriptionID: "sub_1", IdempotencyKey: "wf:cancel"})
	require.NoError(t, err, "a subscription already gone is fine")
	require.True(t, res.AlreadyGone)
	require.Equal(t, []string{"sub_1|wf:cancel", "sub_1|wf:cancel"}, f.stripe.cancels)

	require.NoError(t, f.acts.DowngradeToFree(ctx, DowngradeInput{WorkspaceID: f.ws}))
	a, err := f.st.GetBillingAccount(ctx, f.ws)
	require.NoError(t, err)
	require.Equal(t, billing.Free, a.Plan)
	require.Equal(t, "canceled", a.Status)
	require.Equal(t, "cus_1", a.StripeCustomerID, "the customer stays linked")
}
