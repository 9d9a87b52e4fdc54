package workflows

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/omnitrackiq/omnitrackiq/activities"
	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/stripeapi"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

// These tests run the real billing activities against PostgreSQL; only Stripe, the mail
// relay and Temporal's schedules are in-memory fakes.

const day = 24 * time.Hour

// billingStripe is Stripe as the dunning activities see it: invoices in memory, payments
// that succeed unless declines > 0.
type billingStripe struct {
	mu       sync.Mutex
	invoices map[string]stripeapi.Invoice
	declines int
	pays     []string
	cancels  []string
}

func (f *billingStripe) GetInvoice(_ context.Context, id string) (stripeapi.Invoice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	inv, ok := f.invoices[id]
	if !ok {
		return stripeapi.Invoice{}, fmt.Errorf("get invoice %s: %w", id, stripeapi.ErrNotFound)
	}
	return inv, nil
}

func (f *billingStripe) PayInvoice(_ context.Context, id, key string) (stripeapi.Invoice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pays = append(f.pays, key)
	if f.declines > 0 {
		f.declines--
		return stripeapi.Invoice{}, fmt.Errorf("pay invoice %s: %w: Your card was declined.", id, stripeapi.ErrDeclined)
	}
	inv := f.invoices[id]
	inv.Status, inv.Paid = "paid", true
	f.invoices[id] = inv
	return inv, nil
}

func (f *billingStripe) CancelSubscription(_ context.Context, id, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancels = append(f.cancels, id+" "+key)
	return nil
}

func (f *billingStripe) CreatePortal(_ context.Context, customerID, _, flow string) (string, error) {
	return "https://billing.stripe.test/session/" + customerID + "/" + flow, nil
}

// markPaid settles the invoice out of band (a bank transfer, a Smart Retry).
func (f *billingStripe) markPaid(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	inv := f.invoices[id]
	inv.Status, inv.Paid = "paid", true
	f.invoices[id] = inv
}

type billingMailer struct {
	mu   sync.Mutex
	sent []notify.Message
}

func (m *billingMailer) Send(_ context.Context, msg notify.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

func (m *billingMailer) messages() []notify.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]notify.Message(nil), m.sent...)
}

// billingSchedules is the workspace's sync schedules: paused or not, and the calls made.
type billingSchedules struct {
	mu     sync.Mutex
	paused bool
	calls  []string
}

func (s *billingSchedules) PauseWorkspaceSchedules(context.Context, string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = true
	s.calls = append(s.calls, "pause")
	return nil
}

func (s *billingSchedules) ResumeWorkspaceSchedules(context.Context, string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = false
	s.calls = append(s.calls, "resume")
	return nil
}

func (s *billingSchedules) state() (bool, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused, append([]string(nil), s.calls...)
}

type dunningFixture struct {
	t      *testing.T
	st     *store.Store
	ws     string
	stripe *billingStripe
	mail   *billingMailer
	sched  *billingSchedules
	env    *testsuite.TestWorkflowEnvironment
	in     DunningInput
	wfID   string
	start  time.Time
	// states are the DunningState search attribute values, in the order upserted.
	states []string
}

// seedDunningWorkspace creates a workspace on the pro plan, past due, with an owner, an
// admin and a viewer, and its Stripe customer.
func seedDunningWorkspace(t *testing.T) (*store.Store, string) {
	t.Helper()
	ctx := context.Background()
	st, _ := testdb.New(t)
	ws, err := st.CreateWorkspace(ctx, "Acme Shoes", "USD", "UTC")
	require.NoError(t, err)
	for _, m := range []struct{ email, role string }{{"owner@example.com", "owner"}, {"admin@example.com", "admin"}, {"viewer@example.com", "viewer"}} {
		u, err := store.CreateUser(ctx, st.Pool, m.email, m.role, "x")
		require.NoError(t, err)
		require.NoError(t, store.AddMember(ctx, st.Pool, ws.ID, u.ID, m.role))
	}
	require.NoError(t, st.LinkStripeCustomer(ctx, st.Pool, ws.ID, "cus_1"))
	_, err = st.ApplySubscription(ctx, st.Pool, ws.ID, store.SubscriptionState{
		SubscriptionID: "sub_1", Status: "past_due", Plan: billing.Pro, HasPaymentMethod: true, ReadAt: time.Now()})
	require.NoError(t, err)
	return st, ws.ID
}

func newOpenInvoiceStripe() *billingStripe {
	return &billingStripe{invoices: map[string]stripeapi.Invoice{
		"in_1": {ID: "in_1", Status: "open", AttemptCount: 1, HostedInvoiceURL: "https://invoice.stripe.test/in_1"},
	}}
}

func newDunningFixture(t *testing.T) *dunningFixture {
	t.Helper()
	st, ws := seedDunningWorkspace(t)
	f := &dunningFixture{t: t, st: st, ws: ws, mail: &billingMailer{}, sched: &billingSchedules{}, stripe: newOpenInvoiceStripe(),
		in:    DunningInput{WorkspaceID: ws, SubscriptionID: "sub_1", InvoiceID: "in_1"},
		wfID:  DunningWorkflowID("sub_1", "in_1"),
		start: time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC),
	}
	var s testsuite.WorkflowTestSuite
	f.env = s.NewTestWorkflowEnvironment()
	f.env.SetTestTimeout(2 * time.Minute)
	f.env.SetStartTime(f.start)
	f.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: f.wfID, TaskQueue: TaskQueueBilling})
	f.env.RegisterActivity(&activities.Billing{Store: st, Stripe: f.stripe, Mailer: f.mail, Schedules: f.sched, AppURL: "https://app.example.com"})
	f.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		if ws, ok := sa.GetKeyword(WorkspaceIDKey); !ok || ws != f.ws {
			t.Errorf("search attributes without the workspace: %v", sa.GetUntypedValues())
		}
		if v, ok := sa.GetKeyword(DunningStateKey); ok {
			f.states = append(f.states, v)
		}
	}).Return(nil)
	// The first invoice.payment_failed starts the workflow through SignalWithStart.
	f.signalAt(0, SignalPaymentFailed, DunningSignal{InvoiceID: "in_1", AttemptCount: 1, EventID: "evt_1"})
	return f
}

// at runs fn when the episode is d old.
func (f *dunningFixture) at(d time.Duration, fn func()) { f.env.RegisterDelayedCallback(fn, d) }

func (f *dunningFixture) signalAt(d time.Duration, name string, sig DunningSignal) {
	f.at(d, func() { f.env.SignalWorkflow(name, sig) })
}

func (f *dunningFixture) run() DunningStatus {
	f.t.Helper()
	f.env.ExecuteWorkflow(Dunning, f.in)
	require.True(f.t, f.env.IsWorkflowCompleted())
	require.NoError(f.t, f.env.GetWorkflowError())
	var out DunningStatus
	require.NoError(f.t, f.env.GetWorkflowResult(&out))
	return out
}

func (f *dunningFixture) query() DunningStatus {
	f.t.Helper()
	v, err := f.env.QueryWorkflow(DunningStateQuery)
	require.NoError(f.t, err)
	var s DunningStatus
	require.NoError(f.t, v.Get(&s))
	return s
}

// expect asserts the entitlements in force and the emails sent so far: the workspace's
// dunning_state in PostgreSQL, whether its schedules are paused, the emails claimed and
// delivered (each once, in order) and the workflow's own account of them.
func (f *dunningFixture) expect(when string, state billing.DunningState, paused bool, emails ...string) {
	f.t.Helper()
	ctx := context.Background()
	acct, err := f.st.GetBillingAccount(ctx, f.ws)
	require.NoError(f.t, err)
	require.Equal(f.t, state, acct.DunningState, "%s: dunning_state in PostgreSQL", when)
	if state.Active() {
		require.Equal(f.t, f.wfID, acct.DunningWorkflowID, when)
	}
	gotPaused, _ := f.sched.state()
	require.Equal(f.t, paused, gotPaused, "%s: schedules paused", when)
	if emails == nil {
		emails = []string{}
	}
	steps, err := f.st.BillingEmailSteps(ctx, f.wfID)
	require.NoError(f.t, err)
	require.Equal(f.t, emails, steps, "%s: emails claimed", when)
	var subjects []string
	for _, m := range f.mail.messages() {
		require.Equal(f.t, []string{"admin@example.com", "owner@example.com"}, m.To, "%s: owner and admins", when)
		subjects = append(subjects, m.Subject)
	}
	require.Len(f.t, subjects, len(emails), "%s: emails delivered: %q", when, subjects)
}

func (f *dunningFixture) expectQuery(when string, state billing.DunningState, next string, nextAfter time.Duration, emails ...string) {
	f.t.Helper()
	s := f.query()
	require.Equal(f.t, string(state), s.State, when)
	require.Equal(f.t, next, s.NextStep, when)
	require.NotNil(f.t, s.NextStepAt, when)
	require.True(f.t, f.start.Add(nextAfter).Equal(*s.NextStepAt), "%s: next step at %s, want %s", when, s.NextStepAt, f.start.Add(nextAfter))
	if emails == nil {
		emails = []string{}
	}
	require.Equal(f.t, emails, s.EmailsSent, when)
	require.True(f.t, f.start.Equal(s.StartedAt), when)
}

func (f *dunningFixture) plan() (billing.PlanID, string) {
	f.t.Helper()
	acct, err := f.st.GetBillingAccount(context.Background(), f.ws)
	require.NoError(f.t, err)
	return acct.Plan, acct.Status
}

func TestDunningWholeTimelineEndsOnTheFreePlan(t *testing.T) {
	f := newDunningFixture(t)
	f.at(day, func() {
		f.expect("day 1", billing.DunningGrace, false, "payment_failed")
		f.expectQuery("day 1", billing.DunningGrace, DunningStepReminder, 3*day, "payment_failed")
	})
	f.at(4*day, func() {
		f.expect("day 4", billing.DunningGrace, false, "payment_failed", "reminder")
		f.expectQuery("day 4", billing.DunningGrace, DunningStepRestricted, 7*day, "payment_failed", "reminder")
	})
	f.at(7*day-time.Minute, func() { f.expect("just before day 7", billing.DunningGrace, false, "payment_failed", "reminder") })
	f.at(8*day, func() {
		f.expect("day 8", billing.DunningRestricted, false, "payment_failed", "reminder", "restricted")
		f.expectQuery("day 8", billing.DunningRestricted, DunningStepSuspended, 14*day, "payment_failed", "reminder", "restricted")
	})
	f.at(15*day, func() {
		f.expect("day 15", billing.DunningSuspended, true, "payment_failed", "reminder", "restricted", "suspended")
		f.expectQuery("day 15", billing.DunningSuspended, DunningStepCanceled, 30*day, "payment_failed", "reminder", "restricted", "suspended")
		plan, _ := f.plan()
		require.Equal(t, billing.Pro, plan, "suspended keeps the plan")
	})
	out := f.run()

	require.Equal(t, 30*day, f.env.Now().Sub(f.start), "the episode ends on day 30")
	f.expect("day 30", billing.DunningNone, false, "payment_failed", "reminder", "restricted", "suspended", "canceled")
	require.Equal(t, string(billing.DunningCanceled), out.State)
	require.Equal(t, []string{"payment_failed", "reminder", "restricted", "suspended", "canceled"}, out.EmailsSent)
	require.Empty(t, out.NextStep)
	require.Nil(t, out.NextStepAt)
	plan, status := f.plan()
	require.Equal(t, billing.Free, plan)
	require.Equal(t, "canceled", status)
	require.Equal(t, []string{"sub_1 " + f.wfID + ":cancel"}, f.stripe.cancels, "canceled on Stripe once, with the episode's key")
	_, calls := f.sched.state()
	require.Equal(t, []string{"pause", "resume"}, calls, "paused on day 14, resumed under the free plan on day 30")
	require.Equal(t, []string{"grace", "restricted", "suspended", "canceled"}, f.states)

	msgs := f.mail.messages()
	require.Contains(t, msgs[0].Subject, "Payment failed")
	require.Contains(t, msgs[0].Text, "https://billing.stripe.test/session/cus_1/payment_method_update", "day-0 mail has the portal link")
	require.Contains(t, msgs[0].Text, "Monday 11 January 2027", "day-0 mail names the day it becomes read-only")
	require.Contains(t, msgs[2].Subject, "read-only")
	require.Contains(t, msgs[2].Text, "Monday 18 January 2027", "restricted mail names the day of suspension")
	require.Contains(t, msgs[3].Text, "Wednesday 3 February 2027", "suspended mail names the day of cancellation")
	require.Contains(t, msgs[4].Subject, "free plan")
}

func TestDunningRecoversFromEachState(t *testing.T) {
	tests := []struct {
		name   string
		paidAt time.Duration
		state  billing.DunningState
		paused bool
		emails []string
	}{
		{"grace", 2 * day, billing.DunningGrace, false, []string{"payment_failed"}},
		{"restricted", 10 * day, billing.DunningRestricted, false, []string{"payment_failed", "reminder", "restricted"}},
		{"suspended", 20 * day, billing.DunningSuspended, true, []string{"payment_failed", "reminder", "restricted", "suspended"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newDunningFixture(t)
			// invoice.paid of an invoice Stripe still shows open changes nothing.
			f.signalAt(tc.paidAt-time.Hour, SignalInvoicePaid, DunningSignal{InvoiceID: "in_1", EventID: "evt_early"})
			f.at(tc.paidAt-time.Minute, func() { f.expect("before payment", tc.state, tc.paused, tc.emails...) })
			f.at(tc.paidAt, func() {
				f.stripe.markPaid("in_1")
				f.env.SignalWorkflow(SignalInvoicePaid, DunningSignal{InvoiceID: "in_1", EventID: "evt_paid"})
			})
			out := f.run()

			require.Equal(t, tc.paidAt, f.env.Now().Sub(f.start), "recovers at once")
			want := append(append([]string{}, tc.emails...), "recovered")
			f.expect("recovered", billing.DunningNone, false, want...)
			require.Equal(t, string(billing.DunningRecovered), out.State)
			require.Equal(t, want, out.EmailsSent)
			plan, status := f.plan()
			require.Equal(t, billing.Pro, plan, "the plan is kept")
			require.Equal(t, "past_due", status)
			require.Empty(t, f.stripe.cancels)
			require.Equal(t, string(billing.DunningRecovered), f.states[len(f.states)-1])
			msgs := f.mail.messages()
			require.Contains(t, msgs[len(msgs)-1].Subject, "Thank you")
		})
	}
}

func TestDunningRecoversWhenTheReReadShowsThePayment(t *testing.T) {
	f := newDunningFixture(t)
	// Paid out of band; the invoice.paid event never reaches the workflow.
	f.at(10*day, func() { f.stripe.markPaid("in_1") })
	out := f.run()

	require.Equal(t, 14*day, f.env.Now().Sub(f.start), "the day-14 re-read finds the payment")
	f.expect("recovered", billing.DunningNone, false, "payment_failed", "reminder", "restricted", "recovered")
	require.Equal(t, string(billing.DunningRecovered), out.State)
	_, calls := f.sched.state()
	require.NotContains(t, calls, "pause", "never suspended")
	require.Equal(t, []string{"grace", "restricted", "recovered"}, f.states)
}

func TestDunningNewPaymentMethodPaysWhileSuspended(t *testing.T) {
	f := newDunningFixture(t)
	f.at(15*day, func() {
		f.expect("suspended", billing.DunningSuspended, true, "payment_failed", "reminder", "restricted", "suspended")
		f.stripe.declines = 1
		f.env.SignalWorkflow(SignalPaymentMethodUpdated, DunningSignal{EventID: "evt_pm1"})
	})
	f.at(16*day, func() {
		f.expect("declined", billing.DunningSuspended, true, "payment_failed", "reminder", "restricted", "suspended")
		require.Equal(t, string(billing.DunningSuspended), f.query().State, "a decline keeps the workflow where it is")
		f.env.SignalWorkflow(SignalPaymentMethodUpdated, DunningSignal{EventID: "evt_pm2"})
	})
	out := f.run()

	require.Equal(t, 16*day, f.env.Now().Sub(f.start))
	require.Equal(t, []string{f.wfID + ":pay:1", f.wfID + ":pay:2"}, f.stripe.pays, "one idempotency key per retry")
	f.expect("recovered", billing.DunningNone, false, "payment_failed", "reminder", "restricted", "suspended", "recovered")
	require.Equal(t, string(billing.DunningRecovered), out.State)
	_, calls := f.sched.state()
	require.Equal(t, []string{"pause", "resume"}, calls)
}

func TestDunningActionRequiredAndDuplicateFailures(t *testing.T) {
	f := newDunningFixture(t)
	var before DunningStatus
	f.at(day, func() {
		before = f.query()
		// The starting failure delivered again, and a late copy of it.
		f.env.SignalWorkflow(SignalPaymentFailed, DunningSignal{InvoiceID: "in_1", AttemptCount: 1, EventID: "evt_1"})
		f.env.SignalWorkflow(SignalPaymentFailed, DunningSignal{InvoiceID: "in_1", AttemptCount: 1, EventID: "evt_1b"})
	})
	f.at(day+time.Hour, func() {
		require.Equal(t, before, f.query(), "a duplicate failure changes nothing")
		f.expect("after duplicates", billing.DunningGrace, false, "payment_failed")
		f.env.SignalWorkflow(SignalActionRequired, DunningSignal{InvoiceID: "in_1", AttemptCount: 2, EventID: "evt_ar"})
	})
	f.at(day+2*time.Hour, func() {
		f.expect("action required", billing.DunningGrace, false, "payment_failed", "action_required-2")
		msgs := f.mail.messages()
		require.Contains(t, msgs[1].Subject, "Action required")
		require.Contains(t, msgs[1].Text, "https://invoice.stripe.test/in_1", "the hosted invoice link, at once")
		f.env.SignalWorkflow(SignalActionRequired, DunningSignal{InvoiceID: "in_1", AttemptCount: 2, EventID: "evt_ar_again"})
		f.env.SignalWorkflow(SignalPaymentFailed, DunningSignal{InvoiceID: "in_1", AttemptCount: 2, EventID: "evt_2"})
		// A failure of another invoice belongs to another episode.
		f.env.SignalWorkflow(SignalActionRequired, DunningSignal{InvoiceID: "in_other", AttemptCount: 1, EventID: "evt_other"})
	})
	f.at(day+3*time.Hour, func() {
		f.expect("duplicates again", billing.DunningGrace, false, "payment_failed", "action_required-2")
		f.expectQuery("duplicates again", billing.DunningGrace, DunningStepReminder, 3*day, "payment_failed", "action_required-2")
	})
	// Stripe canceled the subscription itself: same end as day 30, without a Stripe call.
	f.signalAt(5*day, SignalSubscriptionCanceled, DunningSignal{EventID: "evt_deleted"})
	out := f.run()

	require.Equal(t, 5*day, f.env.Now().Sub(f.start))
	f.expect("canceled", billing.DunningNone, false, "payment_failed", "action_required-2", "reminder", "canceled")
	require.Equal(t, string(billing.DunningCanceled), out.State)
	require.Empty(t, f.stripe.cancels, "Stripe canceled it already")
	plan, status := f.plan()
	require.Equal(t, billing.Free, plan)
	require.Equal(t, "canceled", status)
}

// updateResult collects an update's outcome.
type updateResult struct {
	accepted bool
	rejected error
	status   DunningStatus
	err      error
	done     bool
}

func (f *dunningFixture) update(name string, arg any) *updateResult {
	r := &updateResult{}
	f.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnAccept: func() { r.accepted = true },
		OnReject: func(err error) { r.rejected = err },
		OnComplete: func(v any, err error) {
			r.done, r.err = true, err
			switch v := v.(type) {
			case DunningStatus:
				r.status = v
			case converter.EncodedValue:
				r.err = v.Get(&r.status)
			}
		},
	}, arg)
	return r
}

func TestDunningExtendGraceUpdate(t *testing.T) {
	f := newDunningFixture(t)
	var ok *updateResult
	rejected := map[int]*updateResult{}
	// Updates are delivered with the next workflow task; their outcome is checked a minute on.
	f.at(day, func() {
		ok = f.update(UpdateExtendGrace, ExtendGraceRequest{Days: 5, Reason: "customer on holiday", By: "support@omnitrackiq.test"})
	})
	f.at(day+time.Minute, func() {
		require.True(t, ok.accepted)
		require.True(t, ok.done)
		require.NoError(t, ok.err)
		require.Equal(t, 5, ok.status.ExtendedDays)
		require.Equal(t, DunningStepReminder, ok.status.NextStep)
		require.True(t, f.start.Add(8*day).Equal(*ok.status.NextStepAt), "every pending step moves back")
		for _, days := range []int{0, -3, 26} {
			rejected[days] = f.update(UpdateExtendGrace, ExtendGraceRequest{Days: days, By: "support"})
		}
	})
	f.at(day+2*time.Minute, func() {
		for days, want := range map[int]string{0: "positive", -3: "positive", 26: "at most 30 days"} {
			require.False(t, rejected[days].accepted, "%d days", days)
			require.ErrorContains(t, rejected[days].rejected, want)
		}
		f.expectQuery("after the rejected ones", billing.DunningGrace, DunningStepReminder, 8*day, "payment_failed")
	})
	f.at(8*day-time.Minute, func() { f.expect("day 8 minus a minute", billing.DunningGrace, false, "payment_failed") })
	f.at(12*day-time.Minute, func() {
		f.expect("day 12 minus a minute", billing.DunningGrace, false, "payment_failed", "reminder")
		f.expectQuery("day 12 minus a minute", billing.DunningGrace, DunningStepRestricted, 12*day, "payment_failed", "reminder")
	})
	var rest, over *updateResult
	f.at(13*day, func() {
		f.expect("day 13", billing.DunningRestricted, false, "payment_failed", "reminder", "restricted")
		// 5 + 25 = 30 days in all: allowed; one more is not.
		rest = f.update(UpdateExtendGrace, ExtendGraceRequest{Days: 25, By: "support"})
	})
	f.at(13*day+time.Minute, func() {
		require.True(t, rest.accepted)
		require.Equal(t, 30, rest.status.ExtendedDays)
		require.True(t, f.start.Add(44*day).Equal(*rest.status.NextStepAt), "suspension moves from day 19 to day 44")
		over = f.update(UpdateExtendGrace, ExtendGraceRequest{Days: 1, By: "support"})
	})
	f.at(13*day+2*time.Minute, func() { require.ErrorContains(t, over.rejected, "at most 30 days") })
	f.at(40*day, func() {
		f.expect("day 40", billing.DunningRestricted, false, "payment_failed", "reminder", "restricted")
	})
	f.at(45*day, func() {
		f.expect("day 45", billing.DunningSuspended, true, "payment_failed", "reminder", "restricted", "suspended")
	})
	out := f.run()
	require.Equal(t, 60*day, f.env.Now().Sub(f.start), "cancellation on day 30 + 30")
	require.Equal(t, string(billing.DunningCanceled), out.State)
	require.Equal(t, 30, out.ExtendedDays)
}

func TestDunningAdvanceUpdate(t *testing.T) {
	f := newDunningFixture(t)
	steps := []struct {
		state  billing.DunningState
		paused bool
		next   string
		emails []string
	}{
		{billing.DunningGrace, false, DunningStepRestricted, []string{"payment_failed", "reminder"}},
		{billing.DunningRestricted, false, DunningStepSuspended, []string{"payment_failed", "reminder", "restricted"}},
		{billing.DunningSuspended, true, DunningStepCanceled, []string{"payment_failed", "reminder", "restricted", "suspended"}},
	}
	for i, s := range steps {
		var r *updateResult
		at := day + time.Duration(i)*time.Hour
		f.at(at, func() { r = f.update(UpdateAdvance, AdvanceRequest{Reason: "demo", By: "support"}) })
		f.at(at+time.Minute, func() {
			require.True(t, r.accepted)
			require.True(t, r.done, "the update answers once the step is taken")
			require.NoError(t, r.err)
			require.Equal(t, string(s.state), r.status.State)
			require.Equal(t, s.next, r.status.NextStep)
			require.Equal(t, s.emails, r.status.EmailsSent)
			f.expect(fmt.Sprintf("advance %d", i+1), s.state, s.paused, s.emails...)
		})
	}
	var last *updateResult
	f.at(day+3*time.Hour, func() { last = f.update(UpdateAdvance, AdvanceRequest{By: "support"}) })
	out := f.run()

	require.Equal(t, day+3*time.Hour, f.env.Now().Sub(f.start), "advanced to the end on day 1")
	require.True(t, last.accepted)
	require.True(t, last.done)
	require.Equal(t, string(billing.DunningCanceled), last.status.State)
	require.Equal(t, string(billing.DunningCanceled), out.State)
	f.expect("canceled", billing.DunningNone, false, "payment_failed", "reminder", "restricted", "suspended", "canceled")
	require.Equal(t, []string{"sub_1 " + f.wfID + ":cancel"}, f.stripe.cancels)
	require.Equal(t, []string{"grace", "restricted", "suspended", "canceled"}, f.states)
}

func TestDunningStartedAfterThePaymentDoesNothing(t *testing.T) {
	f := newDunningFixture(t)
	f.stripe.markPaid("in_1")
	out := f.run()
	require.Equal(t, string(billing.DunningNone), out.State)
	require.Empty(t, out.EmailsSent)
	f.expect("late start", billing.DunningNone, false)
	_, calls := f.sched.state()
	require.Empty(t, calls)
}

func TestDunningRejectsAnEpisodeWithoutInvoice(t *testing.T) {
	f := newDunningFixture(t)
	f.in.InvoiceID = ""
	f.env.ExecuteWorkflow(Dunning, f.in)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, f.env.GetWorkflowError(), &appErr)
	require.Equal(t, ErrTypeInvalidDunningInput, appErr.Type())
	require.True(t, strings.Contains(appErr.Error(), "invoice"))
}
