package workflows

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/omnitrackiq/omnitrackiq/activities"
	"github.com/omnitrackiq/omnitrackiq/internal/billing"
)

// The dunning timeline, from the start of the episode; support's grace extensions push
// every step still ahead back.
const (
	// DunningReminderAfter: the second email; the workspace still has full access.
	DunningReminderAfter = 3 * 24 * time.Hour
	// DunningRestrictAfter: read-only (no new connections, reports or exports; syncs go on).
	DunningRestrictAfter = 7 * 24 * time.Hour
	// DunningSuspendAfter: schedules paused; the API answers 402 except billing and export.
	DunningSuspendAfter = 14 * 24 * time.Hour
	// DunningCancelAfter: the subscription is canceled and the workspace moves to free. It
	// stays under a monthly billing period, so the next invoice never overlaps the episode.
	DunningCancelAfter = 30 * 24 * time.Hour
)

// Steps of the timeline, as DunningStatus.NextStep names them.
const (
	DunningStepReminder   = "reminder"
	DunningStepRestricted = "restricted"
	DunningStepSuspended  = "suspended"
	DunningStepCanceled   = "canceled"
)

// ErrTypeInvalidDunningInput fails a Dunning started without a workspace or invoice.
const ErrTypeInvalidDunningInput = "InvalidDunningInput"

// dunningStep is step i of the timeline; ok is false past the last one.
func dunningStep(i int) (name string, after time.Duration, ok bool) {
	switch i {
	case 0:
		return DunningStepReminder, DunningReminderAfter, true
	case 1:
		return DunningStepRestricted, DunningRestrictAfter, true
	case 2:
		return DunningStepSuspended, DunningSuspendAfter, true
	case 3:
		return DunningStepCanceled, DunningCancelAfter, true
	}
	return "", 0, false
}

// dunningSignals lists the signals in the order the workflow listens to them.
func dunningSignals() []string {
	return []string{SignalPaymentFailed, SignalActionRequired, SignalInvoicePaid, SignalPaymentMethodUpdated, SignalSubscriptionCanceled}
}

// billingStoreOptions: database writes (and schedule pauses) retried until they succeed
// within a day, since the entitlements must follow the episode.
func billingStoreOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:              TaskQueueBilling,
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: []string{activities.ErrTypeInvalidInput, activities.ErrTypeWorkspaceNotFound},
		},
	}
}

// stripeReadOptions: a re-read that keeps failing (about 5 minutes) counts as "not
// settled"; the next step or signal reads again.
func stripeReadOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           TaskQueueBilling,
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 8,
			NonRetryableErrorTypes: []string{activities.ErrTypeInvalidInput, activities.ErrTypeStripeNotFound, activities.ErrTypeStripeRefused},
		},
	}
}

// stripeWriteOptions: a charge or cancel retried for about half an hour, always under the
// same idempotency key, so retries never apply twice.
func stripeWriteOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           TaskQueueBilling,
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute, MaximumAttempts: 10,
			NonRetryableErrorTypes: []string{activities.ErrTypeInvalidInput, activities.ErrTypeStripeNotFound, activities.ErrTypeStripeRefused},
		},
	}
}

// billingEmailOptions: a mail relay that is down is retried for about an hour; the
// activity's claim keeps every step to one email however often it runs.
func billingEmailOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           TaskQueueBilling,
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute, MaximumAttempts: 12,
			NonRetryableErrorTypes: []string{activities.ErrTypeInvalidInput, activities.ErrTypeWorkspaceNotFound},
		},
	}
}

// dunning is the state of one episode.
type dunning struct {
	in         DunningInput
	workflowID string
	startedAt  time.Time
	state      billing.DunningState
	// next is the timeline step to take next; done counts the steps finished.
	next, done int
	// advanceTo: support asked (Update advance) for the steps before it to be taken now.
	advanceTo    int
	extendedDays int
	attempts     int64
	payTries     int
	emails       []string
	over         bool
	// wake interrupts the wait when an update moved the deadline or asked to advance.
	wake workflow.Channel
}

// Dunning walks a workspace through one failed-payment episode: grace (full access;
// emails on day 0 and day 3), restricted from day 7, suspended from day 14 (schedules
// paused), and on day 30 the subscription is canceled and the workspace moves to free.
// Every escalation first re-reads the invoice from Stripe. The invoice_paid signal, or a
// re-read showing the invoice settled, recovers the workspace at any point: access
// restored, schedules resumed, a thank-you email. A new payment method retries the
// invoice at once. Support can extend the grace period and move the episode to its next
// step with Updates; the state query and the DunningState search attribute show where
// the episode stands.
func Dunning(ctx workflow.Context, in DunningInput) (DunningStatus, error) {
	d := &dunning{
		in:         in,
		workflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		startedAt:  workflow.Now(ctx),
		state:      billing.DunningGrace,
		wake:       workflow.NewBufferedChannel(ctx, 1),
	}
	if err := d.registerHandlers(ctx); err != nil {
		return d.status(), err
	}
	if in.WorkspaceID == "" || in.InvoiceID == "" {
		d.over = true
		return d.status(), temporal.NewNonRetryableApplicationError(
			"a dunning episode needs a workspace and an invoice", ErrTypeInvalidDunningInput, nil)
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, WorkspaceIDKey.ValueSet(in.WorkspaceID)); err != nil {
		return d.status(), fmt.Errorf("upsert search attributes: %w", err)
	}
	// A start that comes late (the invoice was paid before the failure event was handled)
	// has nothing to do: no state, no email.
	if d.invoiceSettled(ctx) {
		d.state, d.over = billing.DunningNone, true
		if err := workflow.UpsertTypedSearchAttributes(ctx, WorkspaceIDKey.ValueSet(in.WorkspaceID), DunningStateKey.ValueSet(string(d.state))); err != nil {
			return d.status(), fmt.Errorf("upsert search attributes: %w", err)
		}
		return d.finish(ctx)
	}
	if err := d.setState(ctx, billing.DunningGrace); err != nil {
		return d.status(), err
	}
	d.sendEmail(ctx, activities.DunningEmailPaymentFailed)

	signals := make([]workflow.ReceiveChannel, 0, len(dunningSignals()))
	for _, name := range dunningSignals() {
		signals = append(signals, workflow.GetSignalChannel(ctx, name))
	}
	var timer workflow.Future
	var timerAt time.Time
	var timerFired bool
	var cancelTimer workflow.CancelFunc
	for !d.over {
		at := d.nextAt()
		if d.advanceTo > d.next || (timerFired && timerAt.Equal(at)) || !workflow.Now(ctx).Before(at) {
			if err := d.takeStep(ctx); err != nil {
				return d.status(), err
			}
			continue
		}
		// One timer per deadline: recreated only when an extension or a step moved it.
		if timer == nil || !timerAt.Equal(at) {
			if cancelTimer != nil {
				cancelTimer()
			}
			var timerCtx workflow.Context
			timerCtx, cancelTimer = workflow.WithCancel(ctx)
			timer, timerAt, timerFired = workflow.NewTimer(timerCtx, at.Sub(workflow.Now(ctx))), at, false
		}
		var sigName string
		var sig DunningSignal
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(timer, func(f workflow.Future) { timerFired = f.Get(ctx, nil) == nil })
		for i, ch := range signals {
			name := dunningSignals()[i]
			sel.AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) {
				c.Receive(ctx, &sig)
				sigName = name
			})
		}
		sel.AddReceive(d.wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.Select(ctx)
		if sigName != "" {
			if err := d.onSignal(ctx, sigName, sig); err != nil {
				return d.status(), err
			}
		}
	}
	if cancelTimer != nil {
		cancelTimer()
	}
	return d.finish(ctx)
}

// finish reads the signals left, waits for the update handlers still running (an advance
// waiting for the step that ended the episode) and returns the final status.
func (d *dunning) finish(ctx workflow.Context) (DunningStatus, error) {
	// Signals that arrived with the end of the episode have nothing left to change; read
	// them so none is left behind when the run completes.
	for _, name := range dunningSignals() {
		var sig DunningSignal
		for workflow.GetSignalChannel(ctx, name).ReceiveAsync(&sig) {
			workflow.GetLogger(ctx).Info("signal after the end of the dunning episode", "signal", name,
				"event_id", sig.EventID, "state", d.state)
		}
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return d.status(), err
	}
	return d.status(), nil
}

func (d *dunning) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, DunningStateQuery, func() (DunningStatus, error) {
		return d.status(), nil
	}); err != nil {
		return fmt.Errorf("set state query handler: %w", err)
	}
	maxDays := int(MaxGraceExtension / (24 * time.Hour))
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateExtendGrace,
		func(ctx workflow.Context, req ExtendGraceRequest) (DunningStatus, error) {
			d.extendedDays += req.Days
			workflow.GetLogger(ctx).Info("dunning grace extended", "days", req.Days, "total_days", d.extendedDays,
				"by", req.By, "reason", req.Reason)
			d.wake.SendAsync(true)
			return d.status(), nil
		},
		workflow.UpdateHandlerOptions{
			Description: "push every later step of the episode back by Days (support)",
			Validator: func(_ workflow.Context, req ExtendGraceRequest) error {
				switch {
				case d.over:
					return fmt.Errorf("the dunning episode is over (%s): there is no grace to extend", d.state)
				case req.Days <= 0:
					return fmt.Errorf("days must be positive: grace only moves forward (got %d)", req.Days)
				case req.Days > maxDays-d.extendedDays:
					return fmt.Errorf("grace can be extended by at most %d days in all; %d already granted, %d more asked",
						maxDays, d.extendedDays, req.Days)
				}
				return nil
			},
		}); err != nil {
		return fmt.Errorf("set extend_grace update handler: %w", err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateAdvance,
		func(ctx workflow.Context, req AdvanceRequest) (DunningStatus, error) {
			target := max(d.advanceTo, d.next) + 1
			d.advanceTo = target
			workflow.GetLogger(ctx).Info("dunning advanced by support", "to_step", target, "by", req.By, "reason", req.Reason)
			d.wake.SendAsync(true)
			// Answer with the state after the step, once it has been taken.
			if err := workflow.Await(ctx, func() bool { return d.done >= target || d.over }); err != nil {
				return d.status(), err
			}
			return d.status(), nil
		},
		workflow.UpdateHandlerOptions{
			Description: "take the next step of the episode now (support)",
			Validator: func(_ workflow.Context, _ AdvanceRequest) error {
				if d.over {
					return fmt.Errorf("the dunning episode is over (%s): there is no next step", d.state)
				}
				if _, _, ok := dunningStep(max(d.advanceTo, d.next)); !ok {
					return fmt.Errorf("the dunning episode is already moving to its last step")
				}
				return nil
			},
		}); err != nil {
		return fmt.Errorf("set advance update handler: %w", err)
	}
	return nil
}

// nextAt is when the next step is due.
func (d *dunning) nextAt() time.Time {
	_, after, _ := dunningStep(d.next)
	return d.startedAt.Add(after + time.Duration(d.extendedDays)*24*time.Hour)
}

// nextEscalation is the next step that changes the state (not a reminder) and when.
func (d *dunning) nextEscalation() (string, time.Time) {
	for i := d.next; ; i++ {
		name, after, ok := dunningStep(i)
		if !ok {
			return "", time.Time{}
		}
		if name != DunningStepReminder {
			return name, d.startedAt.Add(after + time.Duration(d.extendedDays)*24*time.Hour)
		}
	}
}

func (d *dunning) status() DunningStatus {
	s := DunningStatus{
		WorkspaceID: d.in.WorkspaceID, SubscriptionID: d.in.SubscriptionID, InvoiceID: d.in.InvoiceID,
		State: string(d.state), StartedAt: d.startedAt, ExtendedDays: d.extendedDays,
		EmailsSent: append(make([]string, 0, len(d.emails)), d.emails...),
	}
	if !d.over {
		if name, _, ok := dunningStep(d.next); ok {
			at := d.nextAt()
			s.NextStep, s.NextStepAt = name, &at
		}
	}
	return s
}

// takeStep takes the next step of the timeline, after re-reading the invoice.
func (d *dunning) takeStep(ctx workflow.Context) error {
	name, _, ok := dunningStep(d.next)
	if !ok {
		return fmt.Errorf("dunning step %d does not exist", d.next)
	}
	d.next++
	defer func() { d.done = d.next }()
	if d.invoiceSettled(ctx) {
		return d.recover(ctx)
	}
	switch name {
	case DunningStepReminder:
		d.sendEmail(ctx, activities.DunningEmailReminder)
	case DunningStepRestricted:
		if err := d.setState(ctx, billing.DunningRestricted); err != nil {
			return err
		}
		d.sendEmail(ctx, activities.DunningEmailRestricted)
	case DunningStepSuspended:
		if err := d.setState(ctx, billing.DunningSuspended); err != nil {
			return err
		}
		d.sendEmail(ctx, activities.DunningEmailSuspended)
	case DunningStepCanceled:
		return d.cancel(ctx, true)
	}
	return nil
}

// onSignal handles one signal. A failure of another invoice belongs to another episode;
// the other signals always concern this episode's invoice, which is re-read or paid.
func (d *dunning) onSignal(ctx workflow.Context, name string, sig DunningSignal) error {
	var acts *activities.Billing
	logger := workflow.GetLogger(ctx)
	if (name == SignalPaymentFailed || name == SignalActionRequired) && sig.InvoiceID != "" && sig.InvoiceID != d.in.InvoiceID {
		logger.Info("signal of another invoice ignored", "signal", name, "invoice_id", sig.InvoiceID, "event_id", sig.EventID)
		return nil
	}
	switch name {
	case SignalPaymentFailed:
		// Stripe's own retries: the cadence is the workflow's, so only the count is kept.
		// The same failure delivered again changes nothing.
		if sig.AttemptCount > d.attempts {
			d.attempts = sig.AttemptCount
		}
	case SignalActionRequired:
		attempt := sig.AttemptCount
		if attempt <= 0 {
			attempt = max(d.attempts, 1)
		}
		d.attempts = max(d.attempts, attempt)
		d.sendEmail(ctx, activities.DunningEmailActionRequired(attempt))
	case SignalInvoicePaid:
		if d.invoiceSettled(ctx) {
			return d.recover(ctx)
		}
		logger.Info("invoice_paid signal, but the invoice is not settled", "invoice_id", d.in.InvoiceID, "event_id", sig.EventID)
	case SignalPaymentMethodUpdated:
		// Stripe stops retrying once the subscription is unpaid: charge the new method now.
		d.payTries++
		var res activities.PayInvoiceResult
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, stripeWriteOptions()), acts.PayInvoice,
			activities.PayInvoiceInput{InvoiceID: d.in.InvoiceID, IdempotencyKey: d.workflowID + ":pay:" + strconv.Itoa(d.payTries)},
		).Get(ctx, &res)
		switch {
		case err != nil:
			logger.Error("retrying the invoice with the new payment method failed", "invoice_id", d.in.InvoiceID, "error", err)
		case res.Paid:
			return d.recover(ctx)
		default:
			logger.Info("the new payment method was declined", "invoice_id", d.in.InvoiceID, "reason", res.Reason)
		}
	case SignalSubscriptionCanceled:
		return d.cancel(ctx, false)
	}
	return nil
}

// invoiceSettled re-reads the invoice; a read that keeps failing counts as not settled.
func (d *dunning) invoiceSettled(ctx workflow.Context) bool {
	var acts *activities.Billing
	var res activities.CheckInvoiceResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, stripeReadOptions()), acts.CheckInvoice,
		activities.CheckInvoiceInput{InvoiceID: d.in.InvoiceID}).Get(ctx, &res)
	if err != nil {
		workflow.GetLogger(ctx).Error("re-reading the invoice failed; taken as unpaid", "invoice_id", d.in.InvoiceID, "error", err)
		return false
	}
	return res.Settled
}

// setState applies the state to the workspace, then to the search attribute.
func (d *dunning) setState(ctx workflow.Context, state billing.DunningState) error {
	var acts *activities.Billing
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, billingStoreOptions()), acts.ApplyDunningState,
		activities.ApplyDunningStateInput{WorkflowID: d.workflowID, WorkspaceID: d.in.WorkspaceID, State: state},
	).Get(ctx, nil); err != nil {
		return fmt.Errorf("apply dunning state %s: %w", state, err)
	}
	d.state = state
	if err := workflow.UpsertTypedSearchAttributes(ctx, WorkspaceIDKey.ValueSet(d.in.WorkspaceID), DunningStateKey.ValueSet(string(state))); err != nil {
		return fmt.Errorf("upsert search attributes: %w", err)
	}
	if name, at := d.nextEscalation(); name != "" && state.Active() {
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("%s; %s on %s", state, name, at.UTC().Format(time.RFC3339)))
	} else {
		workflow.SetCurrentDetails(ctx, string(state))
	}
	return nil
}

// recover ends the episode because the invoice is settled.
func (d *dunning) recover(ctx workflow.Context) error {
	if err := d.setState(ctx, billing.DunningRecovered); err != nil {
		return err
	}
	d.over = true
	d.sendEmail(ctx, activities.DunningEmailRecovered)
	return nil
}

// cancel ends the episode unpaid: the subscription is canceled on Stripe (unless Stripe
// canceled it already), the workspace moves to free with its data kept, and the schedules
// billing paused resume under the free plan's limits.
func (d *dunning) cancel(ctx workflow.Context, cancelOnStripe bool) error {
	var acts *activities.Billing
	if cancelOnStripe && d.in.SubscriptionID != "" {
		var res activities.CancelSubscriptionResult
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, stripeWriteOptions()), acts.CancelSubscription,
			activities.CancelSubscriptionInput{SubscriptionID: d.in.SubscriptionID, IdempotencyKey: d.workflowID + ":cancel"},
		).Get(ctx, &res); err != nil {
			// The workspace moves to free regardless; a subscription left on Stripe is for
			// support to close (it is unpaid, so Stripe charges nothing more).
			workflow.GetLogger(ctx).Error("canceling the subscription on Stripe failed", "subscription_id", d.in.SubscriptionID, "error", err)
		}
	}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, billingStoreOptions()), acts.DowngradeToFree,
		activities.DowngradeInput{WorkspaceID: d.in.WorkspaceID}).Get(ctx, nil); err != nil {
		return fmt.Errorf("downgrade to free: %w", err)
	}
	if err := d.setState(ctx, billing.DunningCanceled); err != nil {
		return err
	}
	d.over = true
	d.sendEmail(ctx, activities.DunningEmailCanceled)
	return nil
}

// sendEmail sends the step's email once; a send that fails for good is logged, since the
// entitlements must not wait on the mail relay.
func (d *dunning) sendEmail(ctx workflow.Context, step string) {
	var acts *activities.Billing
	if slices.Contains(d.emails, step) {
		return
	}
	in := activities.SendDunningEmailInput{WorkflowID: d.workflowID, WorkspaceID: d.in.WorkspaceID, InvoiceID: d.in.InvoiceID, Step: step}
	if d.state.Active() {
		in.NextStep, in.NextStepAt = d.nextEscalation()
	}
	var res activities.SendDunningEmailResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, billingEmailOptions()), acts.SendDunningEmail, in).Get(ctx, &res); err != nil {
		workflow.GetLogger(ctx).Error("dunning email not sent", "step", step, "error", err)
		return
	}
	if res.Sent || res.AlreadySent {
		d.emails = append(d.emails, step)
	}
}
