package workflows

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/omnitrackiq/omnitrackiq/activities"
)

// recordingReports stands in for the report activities while recording histories: the
// workflow's history holds only the activities' inputs and results, which these give in
// the shapes the real ones do.
type recordingReports struct {
	mu       sync.Mutex
	attempts map[string]int
	asOf     map[string]time.Time
}

func (r *recordingReports) PrepareReportRun(_ context.Context, in activities.PrepareReportRunInput) (activities.PreparedReportRun, error) {
	r.mu.Lock()
	r.asOf[in.ReportID] = in.AsOf
	r.mu.Unlock()
	runID := in.RunID
	if runID == "" {
		runID = "run-" + in.ReportID
	}
	return activities.PreparedReportRun{RunID: runID, From: "2035-03-05", To: "2035-03-11",
		DeliveryIDs: []string{runID + "-mail", runID + "-hook"}}, nil
}

func (r *recordingReports) RenderReport(_ context.Context, _ activities.RenderReportInput) (activities.RenderedReport, error) {
	return activities.RenderedReport{Rows: 14, Formats: []string{"csv", "pdf"}, Bytes: 23817}, nil
}

// DeliverReport: "-hook" deliveries of a run named "...-flaky" fail once and then go
// through; those of a run named "...-gone" are refused for good.
func (r *recordingReports) DeliverReport(_ context.Context, in activities.DeliverReportInput) (activities.DeliveredReport, error) {
	r.mu.Lock()
	r.attempts[in.DeliveryID]++
	n := r.attempts[in.DeliveryID]
	r.mu.Unlock()
	if in.DeliveryID == in.RunID+"-hook" {
		switch {
		case strings.HasSuffix(in.RunID, "-flaky") && n == 1:
			return activities.DeliveredReport{}, fmt.Errorf("post webhook: answered 503 Service Unavailable")
		case strings.HasSuffix(in.RunID, "-gone"):
			return activities.DeliveredReport{}, temporal.NewNonRetryableApplicationError(
				"post webhook: answered 410 Gone", activities.ErrTypeDeliveryRejected, nil)
		}
	}
	return activities.DeliveredReport{Status: "sent"}, nil
}

func (r *recordingReports) RecordDeliveryFailure(_ context.Context, _ activities.DeliveryFailedInput) (activities.DeliveryFailureOutcome, error) {
	return activities.DeliveryFailureOutcome{ConsecutiveFailures: 1}, nil
}

func (r *recordingReports) FinishReportRun(_ context.Context, _ activities.FinishReportRunInput) error {
	return nil
}

// TestRecordReportHistories records the ReportRun histories the replay test replays, from
// real runs on a Temporal dev server (the activities stand-ins, as above): a manual run
// whose webhook answers 503 once, a manual run whose webhook is refused for good, and a
// run a Schedule started. It runs only when RECORD_HISTORIES names the directory to write
// to: `RECORD_HISTORIES=testdata go test -run TestRecordReportHistories ./workflows/`.
func TestRecordReportHistories(t *testing.T) {
	c, dir := recordingServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	acts := &recordingReports{attempts: map[string]int{}, asOf: map[string]time.Time{}}
	w := worker.New(c, TaskQueueReports, worker.Options{})
	w.RegisterWorkflowWithOptions(ReportRun, workflow.RegisterOptions{Name: "ReportRun"})
	w.RegisterActivityWithOptions(acts.PrepareReportRun, activity.RegisterOptions{Name: "PrepareReportRun"})
	w.RegisterActivityWithOptions(acts.RenderReport, activity.RegisterOptions{Name: "RenderReport"})
	w.RegisterActivityWithOptions(acts.DeliverReport, activity.RegisterOptions{Name: "DeliverReport"})
	w.RegisterActivityWithOptions(acts.RecordDeliveryFailure, activity.RegisterOptions{Name: "RecordDeliveryFailure"})
	w.RegisterActivityWithOptions(acts.FinishReportRun, activity.RegisterOptions{Name: "FinishReportRun"})
	require.NoError(t, w.Start())
	defer w.Stop()

	attrs := func(reportID string) temporal.SearchAttributes {
		return temporal.NewSearchAttributes(WorkspaceIDKey.ValueSet("ws-rec"), ReportIDKey.ValueSet(reportID))
	}
	manual := func(reportID, runID string) (string, ReportRunResult, error) {
		id := ReportManualWorkflowID(reportID, runID)
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: TaskQueueReports,
			TypedSearchAttributes: attrs(reportID)},
			ReportRun, ReportRunInput{WorkspaceID: "ws-rec", ReportID: reportID, Trigger: ReportTriggerManual, RunID: runID})
		require.NoError(t, err)
		var res ReportRunResult
		err = run.Get(ctx, &res)
		return id, res, err
	}

	// The webhook's second attempt comes 10 s after the first (the delivery retry policy).
	id, res, err := manual("rep-flaky", "run-flaky")
	require.NoError(t, err)
	require.Equal(t, ReportRunResult{RunID: "run-flaky", Status: ReportRunDelivered, From: "2035-03-05", To: "2035-03-11", Rows: 14, Delivered: 2}, res)
	require.Equal(t, 2, acts.attempts["run-flaky-hook"])
	writeHistory(t, ctx, c, id, filepath.Join(dir, "report_run_retried.history.json"))

	id, _, err = manual("rep-gone", "run-gone")
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, ErrTypeReportDeliveryFailed, appErr.Type())
	writeHistory(t, ctx, c, id, filepath.Join(dir, "report_run_delivery_failed.history.json"))

	// A run a Schedule starts carries TemporalScheduledStartTime, which the run resolves
	// its range at.
	sched, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:   ReportScheduleID("rep-sched"),
		Spec: client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{{Hour: []client.ScheduleRange{{Start: 8}}}}, TimeZoneName: "Europe/Berlin"},
		Action: &client.ScheduleWorkflowAction{ID: ReportScheduledWorkflowID("rep-sched"), Workflow: ReportRun, TaskQueue: TaskQueueReports,
			TypedSearchAttributes: attrs("rep-sched"),
			Args:                  []any{ReportRunInput{WorkspaceID: "ws-rec", ReportID: "rep-sched", Trigger: ReportTriggerSchedule}}},
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE,
		Paused:  true,
	})
	require.NoError(t, err)
	defer func() { _ = sched.Delete(context.Background()) }()
	require.NoError(t, sched.Trigger(ctx, client.ScheduleTriggerOptions{}))
	var started string
	require.Eventually(t, func() bool {
		d, err := sched.Describe(ctx)
		if err != nil || len(d.Info.RecentActions) == 0 {
			return false
		}
		started = d.Info.RecentActions[0].StartWorkflowResult.WorkflowID
		return true
	}, 20*time.Second, 100*time.Millisecond)
	require.NoError(t, c.GetWorkflow(ctx, started, "").Get(ctx, &res))
	require.Equal(t, "run-rep-sched", res.RunID)
	acts.mu.Lock()
	asOf := acts.asOf["rep-sched"]
	acts.mu.Unlock()
	require.WithinDuration(t, time.Now(), asOf, time.Minute)
	writeHistory(t, ctx, c, started, filepath.Join(dir, "report_run_scheduled.history.json"))
}
