package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/omnitrackiq/omnitrackiq/activities"
)

// ErrTypeInvalidReportRunInput fails a ReportRun started without a workspace or report.
const ErrTypeInvalidReportRunInput = "InvalidReportRunInput"

// ErrTypeReportDeliveryFailed is the error a ReportRun ends with when a delivery failed
// for good. Everything is recorded first; the error only makes the run show as Failed, so
// operations find it with `WorkflowType="ReportRun" AND ExecutionStatus="Failed"`.
const ErrTypeReportDeliveryFailed = "ReportDeliveryFailed"

// ScheduledStartTimeKey is set by Temporal on every workflow a Schedule starts: the time
// the schedule's spec named, not the (possibly later) moment the run actually began.
var ScheduledStartTimeKey = temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")

// Statuses of a ReportRunResult, the same words report_runs.status uses.
const (
	ReportRunSkipped            = "skipped"
	ReportRunRendered           = "rendered"
	ReportRunDelivered          = "delivered"
	ReportRunPartiallyDelivered = "partially_delivered"
	ReportRunFailed             = "failed"
)

// reportStoreOptions: the database reads and writes of a run, retried for about five
// minutes; a report deleted meanwhile is not retried.
func reportStoreOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           TaskQueueReports,
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 10,
			NonRetryableErrorTypes: []string{activities.ErrTypeReportNotFound, activities.ErrTypeInvalidInput},
		},
	}
}

// reportRenderOptions: querying and rendering a report of up to report.MaxRows rows takes
// seconds; five minutes leaves room for a slow database. A query that keeps failing is
// retried five times, about a minute and a half in all.
func reportRenderOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           TaskQueueReports,
		StartToCloseTimeout: 5 * time.Minute,
		// RenderReport heartbeats before its query and after each format: a worker that
		// died mid-render is noticed within a minute rather than at the 5-minute timeout.
		HeartbeatTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5,
			NonRetryableErrorTypes: []string{activities.ErrTypeReportNotFound, activities.ErrTypeInvalidInput},
		},
	}
}

// reportDeliverOptions: a mail relay or webhook target that is down is retried with
// backoff, 10s, 20s, 40s, ... up to 10 minutes apart, 8 attempts: about 30 minutes of
// retries (10+20+40+80+160+320+600 s = 20.5 minutes of waits, plus up to 2 minutes per
// attempt). A target that refused the delivery for good is not retried. The delivery row
// makes every attempt after a successful send a no-op, so retries never send twice.
func reportDeliverOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           TaskQueueReports,
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute, MaximumAttempts: 8,
			NonRetryableErrorTypes: []string{activities.ErrTypeDeliveryRejected, activities.ErrTypeReportNotFound, activities.ErrTypeInvalidInput},
		},
	}
}

// ReportRun produces one run of a report: it resolves the report's range at the run's
// moment (the scheduled time of a scheduled run), queries and renders the artifacts, and
// delivers them to every recipient at once, each delivery retried on its own. A delivery
// that fails for good is recorded (a target that keeps failing is reported to the admins
// and pauses the report). The run's outcome is recorded last. Only ids and counts pass
// through the history; rows and files stay in the database.
//
// A run where some delivery failed returns its result together with a non-retryable
// ReportDeliveryFailed error carrying the result as details, so it shows as Failed in the
// Web UI while the report_runs row says exactly what was delivered.
func ReportRun(ctx workflow.Context, in ReportRunInput) (ReportRunResult, error) {
	if in.WorkspaceID == "" || in.ReportID == "" {
		return ReportRunResult{}, temporal.NewNonRetryableApplicationError(
			"a report run needs a workspace and a report", ErrTypeInvalidReportRunInput, nil)
	}
	// The starter sets these too; upserting keeps runs started any other way findable.
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		WorkspaceIDKey.ValueSet(in.WorkspaceID), ReportIDKey.ValueSet(in.ReportID)); err != nil {
		return ReportRunResult{}, fmt.Errorf("upsert search attributes: %w", err)
	}
	var acts *activities.Reports
	storeCtx := workflow.WithActivityOptions(ctx, reportStoreOptions())

	var prep activities.PreparedReportRun
	if err := workflow.ExecuteActivity(storeCtx, acts.PrepareReportRun, activities.PrepareReportRunInput{
		WorkspaceID: in.WorkspaceID, ReportID: in.ReportID,
		WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		Trigger:    in.Trigger, RunID: in.RunID, AsOf: reportAsOf(ctx),
	}).Get(ctx, &prep); err != nil {
		return ReportRunResult{RunID: in.RunID}, fmt.Errorf("prepare run of report %s: %w", in.ReportID, err)
	}
	res := ReportRunResult{RunID: prep.RunID, From: prep.From, To: prep.To}
	if prep.Skipped {
		res.Status, res.Skipped, res.Reason = ReportRunSkipped, true, prep.Reason
		return res, nil
	}

	var rendered activities.RenderedReport
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, reportRenderOptions()), acts.RenderReport,
		activities.RenderReportInput{RunID: prep.RunID}).Get(ctx, &rendered); err != nil {
		// The run row says so too, so the API does not show a run forever "running".
		res.Status = ReportRunFailed
		_ = workflow.ExecuteActivity(storeCtx, acts.FinishReportRun, activities.FinishReportRunInput{
			RunID: prep.RunID, Error: "render failed: " + deliveryErrorText(err),
		}).Get(ctx, nil)
		return res, fmt.Errorf("render run %s of report %s: %w", prep.RunID, in.ReportID, err)
	}
	res.Rows = rendered.Rows

	outcomes := deliverAll(ctx, prep.RunID, prep.DeliveryIDs)
	for _, o := range outcomes {
		if o.delivered {
			res.Delivered++
		} else {
			res.Failed++
		}
		res.Paused = res.Paused || o.paused
	}
	res.Status = reportRunStatus(res.Delivered, res.Failed)

	if err := workflow.ExecuteActivity(storeCtx, acts.FinishReportRun, activities.FinishReportRunInput{
		RunID: prep.RunID, Delivered: res.Delivered, Failed: res.Failed,
	}).Get(ctx, nil); err != nil {
		return res, fmt.Errorf("finish run %s of report %s: %w", prep.RunID, in.ReportID, err)
	}
	if res.Failed > 0 {
		return res, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("report delivery failed to %d of %d recipients", res.Failed, res.Failed+res.Delivered),
			ErrTypeReportDeliveryFailed, nil, res)
	}
	return res, nil
}

// reportAsOf is the moment the run's relative range is resolved at: the time a schedule
// meant the run for (so a run started late, after an outage, still reports on the period
// it was scheduled for), else the start of the run.
func reportAsOf(ctx workflow.Context) time.Time {
	if t, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(ScheduledStartTimeKey); ok && !t.IsZero() {
		return t.UTC()
	}
	return workflow.Now(ctx).UTC()
}

// deliveryOutcome is how one delivery ended.
type deliveryOutcome struct {
	delivered bool
	paused    bool
}

// deliverAll delivers to every recipient at once, each in its own coroutine, and returns
// the outcomes in the order of ids. A delivery whose retries ran out (or that was
// rejected) is recorded as failed before deliverAll returns.
func deliverAll(ctx workflow.Context, runID string, ids []string) []deliveryOutcome {
	outcomes := make([]deliveryOutcome, len(ids))
	wg := workflow.NewWaitGroup(ctx)
	for i, id := range ids {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			outcomes[i] = deliverOne(ctx, runID, id)
		})
	}
	wg.Wait(ctx)
	return outcomes
}

// deliverOne delivers to one recipient; on failure it records the failure, which counts
// the target's streak of failed runs.
func deliverOne(ctx workflow.Context, runID, deliveryID string) deliveryOutcome {
	var acts *activities.Reports
	var sent activities.DeliveredReport
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, reportDeliverOptions()), acts.DeliverReport,
		activities.DeliverReportInput{RunID: runID, DeliveryID: deliveryID}).Get(ctx, &sent)
	if err == nil {
		return deliveryOutcome{delivered: true}
	}
	logger := workflow.GetLogger(ctx)
	logger.Warn("report delivery failed", "run_id", runID, "delivery_id", deliveryID, "error", err)
	var out activities.DeliveryFailureOutcome
	if rerr := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, reportStoreOptions()), acts.RecordDeliveryFailure,
		activities.DeliveryFailedInput{RunID: runID, DeliveryID: deliveryID, Error: deliveryErrorText(err)}).Get(ctx, &out); rerr != nil {
		// The run still counts the delivery as failed and ends Failed; only the target's
		// streak misses this run.
		logger.Error("report delivery failure not recorded", "run_id", runID, "delivery_id", deliveryID, "error", rerr)
		return deliveryOutcome{}
	}
	return deliveryOutcome{paused: out.Paused}
}

// deliveryErrorText is the activity's own message, without the wrapping Temporal adds
// ("activity error (type: DeliverReport, ...)"), for the delivery row and the admins.
func deliveryErrorText(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

// reportRunStatus names a rendered run's outcome from its delivery counts.
func reportRunStatus(delivered, failed int) string {
	switch {
	case delivered == 0 && failed == 0:
		return ReportRunRendered
	case failed == 0:
		return ReportRunDelivered
	case delivered == 0:
		return ReportRunFailed
	default:
		return ReportRunPartiallyDelivered
	}
}
