package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/omnitrackiq/omnitrackiq/activities"
)

// Timeouts and retries of the sync activities. SyncWindow's heartbeat timeout is how long
// a dead worker goes unnoticed before another worker resumes from the heartbeated cursor;
// SyncWindow heartbeats every 5 s from its own goroutine, whatever call is in flight, and
// one call starts no page after 5 minutes, so 30 minutes covers the slowest legitimate call
// (a page at the connectors' 2-minute HTTP timeout, then its merge).
const (
	bookkeepingTimeout  = time.Minute
	syncWindowTimeout   = 30 * time.Minute
	syncWindowHeartbeat = 20 * time.Second
	// maxRateLimitWait caps how far consecutive rate-limit waits back off; the provider's
	// own delay is always honoured, however long.
	maxRateLimitWait            = 10 * time.Minute
	throttleStreakBeforeBackoff = 10
)

func bookkeepingOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           TaskQueueSync,
		StartToCloseTimeout: bookkeepingTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			MaximumAttempts:        10,
			NonRetryableErrorTypes: activities.NonRetryableErrorTypes,
		},
	}
}

func syncWindowOptions(taskQueue string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           taskQueue,
		StartToCloseTimeout: syncWindowTimeout,
		HeartbeatTimeout:    syncWindowHeartbeat,
		// Cancellation waits for the attempt to stop, so the run is closed only once nothing
		// writes to it any more.
		WaitForCancellation: true,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    2 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    2 * time.Minute,
			// Unlimited here: SyncWindow itself gives up after activities.MaxStalledAttempts
			// attempts in a row that moved nothing, so attempts that commit pages never
			// bring a long window closer to failing. Rate limits are not failures at all:
			// SyncWindow returns them as waits.
			MaximumAttempts:        0,
			NonRetryableErrorTypes: activities.NonRetryableErrorTypes,
		},
	}
}

// ChannelSync reads one window of one connection into PostgreSQL: an incremental sync
// ([cursor - lookback, today]) or one backfill window. Rows never pass through the
// workflow: activities return counts and the cursor lives in PostgreSQL and heartbeats.
func ChannelSync(ctx workflow.Context, in ChannelSyncInput) (ChannelSyncResult, error) {
	var acts *activities.Sync // names activity methods; never called directly
	if in.Kind == "" {
		in.Kind = KindIncremental
	}
	if err := upsertSearchAttributes(ctx, in.WorkspaceID, in.ConnectionID, in.Channel); err != nil {
		return ChannelSyncResult{}, err
	}
	progress := Progress{Phase: "preparing", From: in.From, To: in.To}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return progress, nil }); err != nil {
		return ChannelSyncResult{}, fmt.Errorf("register progress query: %w", err)
	}
	info := workflow.GetInfo(ctx)

	// PrepareSync records the run's row; it must finish even if the workflow is cancelled
	// meanwhile, or the row would stay "running" forever with nothing left to close it.
	prepCtx, cancelPrep := workflow.NewDisconnectedContext(ctx)
	defer cancelPrep()
	var prep activities.PrepareResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(prepCtx, bookkeepingOptions()), acts.PrepareSync,
		activities.PrepareInput{
			WorkspaceID: in.WorkspaceID, ConnectionID: in.ConnectionID, Kind: in.Kind, From: in.From, To: in.To,
			WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
		}).Get(prepCtx, &prep)
	if err != nil {
		progress.Phase = "failed"
		return ChannelSyncResult{}, err
	}
	if prep.Skipped {
		// Details and the result's payload are not commands: replay is unaffected.
		progress.Phase = "skipped"
		why := "connection is being synced by " + prep.HeldBy
		if prep.Reason != "" {
			why = prep.Reason
		}
		progress.Message = why
		workflow.SetCurrentDetails(ctx, "skipped: "+why)
		return ChannelSyncResult{Status: "skipped", HeldBy: prep.HeldBy, Reason: prep.Reason}, nil
	}
	progress = Progress{Phase: "reading", SyncRunID: prep.SyncRunID, From: prep.From, To: prep.To}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("%s %s sync, window %s..%s", prep.Channel, in.Kind, prep.From, prep.To))

	var readErr error
	if ctx.Err() != nil {
		readErr = temporal.NewCanceledError()
	} else {
		readErr = readWindow(ctx, in, prep, &progress)
	}

	// Bookkeeping must run even if the workflow was cancelled mid-read.
	finishCtx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	progress.Phase = "finishing"
	finish := activities.FinishInput{
		WorkspaceID: in.WorkspaceID, ConnectionID: in.ConnectionID, SyncRunID: prep.SyncRunID,
		WorkflowID: info.WorkflowExecution.ID, Kind: in.Kind, Succeeded: readErr == nil,
	}
	if readErr != nil {
		finish.Error = failureMessage(readErr)
		finish.Cancelled = temporal.IsCanceledError(readErr)
	}
	var fin activities.FinishResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(finishCtx, bookkeepingOptions()), acts.FinishSync, finish).
		Get(finishCtx, &fin); err != nil {
		progress.Phase = "failed"
		return ChannelSyncResult{}, errors.Join(readErr, err)
	}
	if readErr != nil {
		progress.Phase = "failed"
		if finish.Cancelled {
			progress.Phase = "cancelled"
		}
		return ChannelSyncResult{}, readErr
	}
	progress.Phase = "done"
	progress.Pages, progress.Rows = fin.Pages, fin.Rows
	return ChannelSyncResult{
		SyncRunID: prep.SyncRunID, Status: "succeeded", From: prep.From, To: prep.To, Pages: fin.Pages, Rows: fin.Rows,
	}, nil
}

// readWindow calls SyncWindow until the window is read; each call reads a bounded number of
// pages so the progress query advances during long windows. When the provider asks us to
// wait, the workflow sleeps on a timer, for as long as the provider asks: a throttled sync
// finishes slowly instead of failing. Waits in a row without a new page back off, up to
// maxRateLimitWait, so a provider that keeps throttling is asked less and less often.
func readWindow(ctx workflow.Context, in ChannelSyncInput, prep activities.PrepareResult, progress *Progress) error {
	var acts *activities.Sync
	actx := workflow.WithActivityOptions(ctx, syncWindowOptions(syncWindowQueue(ctx, in.Kind, prep.Channel)))
	streak := 0 // waits in a row without a new page
	for {
		var res activities.SyncWindowResult
		err := workflow.ExecuteActivity(actx, acts.SyncWindow, activities.SyncWindowInput{
			WorkspaceID: in.WorkspaceID, SyncRunID: prep.SyncRunID,
		}).Get(ctx, &res)
		if err != nil {
			return err
		}
		if res.Pages > progress.Pages {
			streak = 0
		}
		progress.Pages, progress.Rows = res.Pages, res.Rows
		if res.Done {
			return nil
		}
		if res.Wait <= 0 {
			continue
		}
		streak++
		wait := rateLimitWait(res.Wait, streak)
		until := workflow.Now(ctx).Add(wait).UTC()
		progress.Phase = "waiting"
		progress.WaitingFor = res.WaitReason
		progress.WaitingUntil = until.Format(time.RFC3339)
		progress.Message = fmt.Sprintf("waiting for %s until %s", res.WaitReason, progress.WaitingUntil)
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("%s sync %s..%s: %s", prep.Channel, prep.From, prep.To, progress.Message))
		if err := workflow.Sleep(ctx, wait); err != nil {
			return err
		}
		progress.Phase, progress.WaitingFor, progress.WaitingUntil, progress.Message = "reading", "", "", ""
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("%s %s sync, window %s..%s", prep.Channel, in.Kind, prep.From, prep.To))
	}
}

// backfillQueueChange is the workflow.GetVersion change id of moving backfill windows'
// provider calls from the channel's queue to the channel's backfill queue.
const backfillQueueChange = "backfill-task-queue"

// syncWindowQueue is the task queue of a window's SyncWindow calls: the channel's backfill
// queue for a backfill window, so backfills never delay incremental syncs, and the channel's
// queue otherwise. A backfill window started before the change keeps reading on the
// channel's queue, as its history says it did.
func syncWindowQueue(ctx workflow.Context, kind, channel string) string {
	if kind != KindBackfill {
		return ChannelTaskQueue(channel)
	}
	if workflow.GetVersion(ctx, backfillQueueChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return ChannelTaskQueue(channel)
	}
	return BackfillTaskQueue(channel)
}

// rateLimitWait is how long to wait before the next call after the streak-th rate-limit
// answer in a row: what the provider asked, and past throttleStreakBeforeBackoff answers
// doubling per answer up to maxRateLimitWait, so a sync throttled for hours keeps a small
// history and asks the provider less and less often.
func rateLimitWait(asked time.Duration, streak int) time.Duration {
	if streak <= throttleStreakBeforeBackoff {
		return asked
	}
	limit := max(asked, maxRateLimitWait)
	wait := asked
	for i := throttleStreakBeforeBackoff; i < streak && wait < limit; i++ {
		wait *= 2
	}
	return min(wait, limit)
}

// failureMessage is the innermost application error message, which names the provider's
// own explanation rather than Temporal's wrapping.
func failureMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Error()
	}
	return err.Error()
}

func upsertSearchAttributes(ctx workflow.Context, workspaceID, connectionID, channel string) error {
	err := workflow.UpsertTypedSearchAttributes(ctx,
		WorkspaceIDKey.ValueSet(workspaceID),
		ConnectionIDKey.ValueSet(connectionID),
		ChannelKey.ValueSet(channel),
	)
	if err != nil {
		return fmt.Errorf("upsert search attributes: %w", err)
	}
	return nil
}

// SearchAttributes are the typed search attributes of a connection's workflows.
func SearchAttributes(workspaceID, connectionID, channel string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		WorkspaceIDKey.ValueSet(workspaceID),
		ConnectionIDKey.ValueSet(connectionID),
		ChannelKey.ValueSet(channel),
	)
}
