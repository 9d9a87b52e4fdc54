// Package worker wires workflows and activities to their task queues.
package worker

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/omnitrackiq/omnitrackiq/activities"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// Options configures the workers of one process.
type Options struct {
	// ChannelActivitiesPerSecond is the server-side rate of provider-calling activities per
	// channel task queue, shared by every worker of the cluster. 0 means 2.
	ChannelActivitiesPerSecond map[channels.Channel]float64
	// BackfillActivitiesPerSecond is the same for each channel's backfill task queue, which
	// carries only backfill windows' provider calls, so a large backfill never delays an
	// incremental sync. 0 means the channel's ChannelActivitiesPerSecond.
	BackfillActivitiesPerSecond map[channels.Channel]float64
	// Channels lists the channels this process serves; nil means all with a reader.
	Channels []channels.Channel
	// Interceptors wrap every worker's workflows and activities.
	Interceptors []interceptor.WorkerInterceptor
	// EnsureSchedules creates the cluster-wide schedules (the daily TokenRefresh) when the
	// workers start; it must be idempotent, since every worker process calls it. Nil: none.
	EnsureSchedules func(ctx context.Context) error
	// Billing runs the dunning workflow and its activities on the billing queue; nil: this
	// process runs no billing worker.
	Billing *activities.Billing
	// Reports runs the ReportRun workflow and its activities on the reports queue; nil: this
	// process runs no reports worker.
	Reports *activities.Reports
}

// Workers are the Temporal workers of one process.
type Workers struct {
	all             []sdkworker.Worker
	ensureSchedules func(ctx context.Context) error
}

// ensureSchedulesTimeout bounds the schedule creation at start.
const ensureSchedulesTimeout = 30 * time.Second

// heartbeatSendInterval is the longest a recorded heartbeat waits before it is sent.
const heartbeatSendInterval = 5 * time.Second

// New creates the workers: one on the "sync" queue for workflows and bookkeeping
// activities, two per channel for the activities that call the provider (the channel's
// queue for incremental syncs, its backfill queue for backfill windows), and, with
// Options.Billing, one on the "billing" queue for the dunning workflow and its activities,
// and with Options.Reports, one on the "reports" queue for ReportRun and its activities.
func New(c client.Client, acts *activities.Sync, o Options) *Workers {
	w := &Workers{ensureSchedules: o.EnsureSchedules}
	syncWorker := sdkworker.New(c, workflows.TaskQueueSync, sdkworker.Options{Interceptors: o.Interceptors})
	syncWorker.RegisterWorkflowWithOptions(workflows.ChannelSync, workflow.RegisterOptions{Name: "ChannelSync"})
	syncWorker.RegisterWorkflowWithOptions(workflows.Backfill, workflow.RegisterOptions{Name: "Backfill"})
	syncWorker.RegisterWorkflowWithOptions(workflows.WorkspaceSync, workflow.RegisterOptions{Name: "WorkspaceSync"})
	syncWorker.RegisterActivityWithOptions(acts.ListConnections, activity.RegisterOptions{Name: "ListConnections"})
	syncWorker.RegisterActivityWithOptions(acts.PrepareSync, activity.RegisterOptions{Name: "PrepareSync"})
	syncWorker.RegisterActivityWithOptions(acts.FinishSync, activity.RegisterOptions{Name: "FinishSync"})
	syncWorker.RegisterWorkflowWithOptions(workflows.TokenRefresh, workflow.RegisterOptions{Name: "TokenRefresh"})
	syncWorker.RegisterActivityWithOptions(acts.ListExpiringTokens, activity.RegisterOptions{Name: "ListExpiringTokens"})
	syncWorker.RegisterActivityWithOptions(acts.RefreshToken, activity.RegisterOptions{Name: "RefreshToken"})
	syncWorker.RegisterActivityWithOptions(acts.NotifyNeedsReauth, activity.RegisterOptions{Name: "NotifyNeedsReauth"})
	w.all = append(w.all, syncWorker)

	if b := o.Billing; b != nil {
		// Its own queue, so a backlog of syncs never delays restoring a workspace that paid.
		bw := sdkworker.New(c, workflows.TaskQueueBilling, sdkworker.Options{Interceptors: o.Interceptors})
		bw.RegisterWorkflowWithOptions(workflows.Dunning, workflow.RegisterOptions{Name: "Dunning"})
		bw.RegisterActivityWithOptions(b.ApplyDunningState, activity.RegisterOptions{Name: "ApplyDunningState"})
		bw.RegisterActivityWithOptions(b.CheckInvoice, activity.RegisterOptions{Name: "CheckInvoice"})
		bw.RegisterActivityWithOptions(b.PayInvoice, activity.RegisterOptions{Name: "PayInvoice"})
		bw.RegisterActivityWithOptions(b.CancelSubscription, activity.RegisterOptions{Name: "CancelSubscription"})
		bw.RegisterActivityWithOptions(b.DowngradeToFree, activity.RegisterOptions{Name: "DowngradeToFree"})
		bw.RegisterActivityWithOptions(b.SendDunningEmail, activity.RegisterOptions{Name: "SendDunningEmail"})
		w.all = append(w.all, bw)
	}

	if r := o.Reports; r != nil {
		// Its own queue, so a Monday-morning report never waits behind a backlog of syncs.
		rw := sdkworker.New(c, workflows.TaskQueueReports, sdkworker.Options{Interceptors: o.Interceptors})
		rw.RegisterWorkflowWithOptions(workflows.ReportRun, workflow.RegisterOptions{Name: "ReportRun"})
		rw.RegisterActivityWithOptions(r.PrepareReportRun, activity.RegisterOptions{Name: "PrepareReportRun"})
		rw.RegisterActivityWithOptions(r.RenderReport, activity.RegisterOptions{Name: "RenderReport"})
		rw.RegisterActivityWithOptions(r.DeliverReport, activity.RegisterOptions{Name: "DeliverReport"})
		rw.RegisterActivityWithOptions(r.RecordDeliveryFailure, activity.RegisterOptions{Name: "RecordDeliveryFailure"})
		rw.RegisterActivityWithOptions(r.FinishReportRun, activity.RegisterOptions{Name: "FinishReportRun"})
		w.all = append(w.all, rw)
	}

	chans := o.Channels
	if chans == nil {
		chans = acts.Connectors.Channels()
	}
	for _, ch := range chans {
		rate := o.ChannelActivitiesPerSecond[ch]
		if rate <= 0 {
			rate = defaultActivitiesPerSecond
		}
		backfillRate := o.BackfillActivitiesPerSecond[ch]
		if backfillRate <= 0 {
			backfillRate = rate
		}
		w.all = append(w.all,
			providerWorker(c, acts, workflows.ChannelTaskQueue(string(ch)), rate, o.Interceptors),
			providerWorker(c, acts, workflows.BackfillTaskQueue(string(ch)), backfillRate, o.Interceptors))
	}
	return w
}

// defaultActivitiesPerSecond is a channel queue's rate when Options leave it unset.
const defaultActivitiesPerSecond = 2

// providerWorker runs SyncWindow, the activity that calls the provider, on one of a
// channel's queues, at most rate activities a second across the cluster.
func providerWorker(c client.Client, acts *activities.Sync, queue string, rate float64,
	interceptors []interceptor.WorkerInterceptor) sdkworker.Worker {
	pw := sdkworker.New(c, queue, sdkworker.Options{
		TaskQueueActivitiesPerSecond: rate,
		Interceptors:                 interceptors,
		// The SDK sends a heartbeat at most every 0.8 x the heartbeat timeout (16 s of
		// SyncWindow's 20 s), which leaves a busy worker 4 s before Temporal presumes the
		// attempt dead and starts a second one. SyncWindow heartbeats every 5 s; send them.
		MaxHeartbeatThrottleInterval: heartbeatSendInterval,
	})
	pw.RegisterActivityWithOptions(acts.SyncWindow, activity.RegisterOptions{Name: "SyncWindow"})
	return pw
}

// Start creates the schedules (Options.EnsureSchedules) and starts every worker; on error
// the ones started are stopped.
func (w *Workers) Start() error {
	if w.ensureSchedules != nil {
		ctx, cancel := context.WithTimeout(context.Background(), ensureSchedulesTimeout)
		err := w.ensureSchedules(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("ensure schedules: %w", err)
		}
	}
	for i, wk := range w.all {
		if err := wk.Start(); err != nil {
			for _, started := range w.all[:i] {
				started.Stop()
			}
			return fmt.Errorf("start worker: %w", err)
		}
	}
	return nil
}

// Stop stops every worker. Running activities are cancelled; Temporal retries them
// elsewhere, resuming from their heartbeats.
func (w *Workers) Stop() {
	for _, wk := range w.all {
		wk.Stop()
	}
}

// Run starts the workers and blocks until ctx is done.
func (w *Workers) Run(ctx context.Context) error {
	if err := w.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	w.Stop()
	return nil
}
