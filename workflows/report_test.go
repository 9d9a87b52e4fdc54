package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/omnitrackiq/omnitrackiq/activities"
)

func newReportEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Reports
	env.RegisterActivity(a.PrepareReportRun)
	env.RegisterActivity(a.RenderReport)
	env.RegisterActivity(a.DeliverReport)
	env.RegisterActivity(a.RecordDeliveryFailure)
	env.RegisterActivity(a.FinishReportRun)
	return env
}

// deliveryCalls counts DeliverReport attempts per delivery id (the deliveries run in
// parallel, so the mocks are called from several goroutines).
type deliveryCalls struct {
	mu    sync.Mutex
	calls map[string]int
}

func (d *deliveryCalls) add(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.calls == nil {
		d.calls = map[string]int{}
	}
	d.calls[id]++
	return d.calls[id]
}

func (d *deliveryCalls) get(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[id]
}

var prepared = activities.PreparedReportRun{RunID: "run1", From: "2027-03-08", To: "2027-03-14", DeliveryIDs: []string{"d-mail", "d-hook"}}

func TestReportRunDeliversToEveryRecipient(t *testing.T) {
	env := newReportEnv(t)
	var a *activities.Reports
	start := time.Date(2027, 3, 15, 7, 0, 3, 0, time.UTC)
	env.SetStartTime(start)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "report-rep1-run-run1"})
	env.OnUpsertTypedSearchAttributes(temporal.NewSearchAttributes(WorkspaceIDKey.ValueSet("ws1"), ReportIDKey.ValueSet("rep1"))).
		Return(nil).Once()
	env.OnActivity(a.PrepareReportRun, mock.Anything, activities.PrepareReportRunInput{
		WorkspaceID: "ws1", ReportID: "rep1", WorkflowID: "report-rep1-run-run1", Trigger: ReportTriggerManual, RunID: "run1", AsOf: start,
	}).Return(prepared, nil).Once()
	env.OnActivity(a.RenderReport, mock.Anything, activities.RenderReportInput{RunID: "run1"}).
		Return(activities.RenderedReport{Rows: 42, Formats: []string{"csv", "pdf"}, Bytes: 9000}, nil).Once()
	var calls deliveryCalls
	env.OnActivity(a.DeliverReport, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DeliverReportInput) (activities.DeliveredReport, error) {
			require.Equal(t, "run1", in.RunID)
			// The webhook answers 503 twice before it takes the delivery.
			if n := calls.add(in.DeliveryID); in.DeliveryID == "d-hook" && n < 3 {
				return activities.DeliveredReport{}, errors.New("webhook answered 503")
			}
			return activities.DeliveredReport{Status: "sent"}, nil
		})
	env.OnActivity(a.FinishReportRun, mock.Anything, activities.FinishReportRunInput{RunID: "run1", Delivered: 2, Failed: 0}).
		Return(nil).Once()

	env.ExecuteWorkflow(ReportRun, ReportRunInput{WorkspaceID: "ws1", ReportID: "rep1", Trigger: ReportTriggerManual, RunID: "run1"})

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res ReportRunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, ReportRunResult{RunID: "run1", Status: ReportRunDelivered, From: "2027-03-08", To: "2027-03-14", Rows: 42, Delivered: 2}, res)
	require.Equal(t, 1, calls.get("d-mail"))
	require.Equal(t, 3, calls.get("d-hook"))
	env.AssertExpectations(t)
}

func TestReportRunRecordsADeliveryThatFailsForGood(t *testing.T) {
	cases := []struct {
		name     string
		err      error
		attempts int
		wantText string
	}{
		{"retries run out", errors.New("dial smtp: connection refused"), 8, "dial smtp: connection refused"},
		{"target rejects", temporal.NewNonRetryableApplicationError("webhook answered 410 Gone", activities.ErrTypeDeliveryRejected, nil),
			1, "webhook answered 410 Gone"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newReportEnv(t)
			var a *activities.Reports
			env.OnActivity(a.PrepareReportRun, mock.Anything, mock.Anything).Return(prepared, nil).Once()
			env.OnActivity(a.RenderReport, mock.Anything, mock.Anything).Return(activities.RenderedReport{Rows: 7}, nil).Once()
			var calls deliveryCalls
			env.OnActivity(a.DeliverReport, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.DeliverReportInput) (activities.DeliveredReport, error) {
					calls.add(in.DeliveryID)
					if in.DeliveryID == "d-hook" {
						return activities.DeliveredReport{}, tc.err
					}
					return activities.DeliveredReport{Status: "sent"}, nil
				})
			env.OnActivity(a.RecordDeliveryFailure, mock.Anything, mock.MatchedBy(func(in activities.DeliveryFailedInput) bool {
				return in.RunID == "run1" && in.DeliveryID == "d-hook" && in.Error == tc.wantText
			})).Return(activities.DeliveryFailureOutcome{ConsecutiveFailures: 3, Notified: true, Paused: true}, nil).Once()
			env.OnActivity(a.FinishReportRun, mock.Anything, activities.FinishReportRunInput{RunID: "run1", Delivered: 1, Failed: 1}).
				Return(nil).Once()

			env.ExecuteWorkflow(ReportRun, ReportRunInput{WorkspaceID: "ws1", ReportID: "rep1", Trigger: ReportTriggerSchedule})

			require.True(t, env.IsWorkflowCompleted())
			err := env.GetWorkflowError()
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			require.Equal(t, ErrTypeReportDeliveryFailed, appErr.Type())
			require.True(t, appErr.NonRetryable())
			require.Contains(t, appErr.Error(), "report delivery failed to 1 of 2 recipients")
			var res ReportRunResult
			require.NoError(t, appErr.Details(&res))
			require.Equal(t, ReportRunResult{RunID: "run1", Status: ReportRunPartiallyDelivered, From: "2027-03-08", To: "2027-03-14",
				Rows: 7, Delivered: 1, Failed: 1, Paused: true}, res)
			require.Equal(t, tc.attempts, calls.get("d-hook"))
			require.Equal(t, 1, calls.get("d-mail"))
			env.AssertExpectations(t)
		})
	}
}

func TestReportRunSkipsAReportGoneOrPaused(t *testing.T) {
	env := newReportEnv(t)
	var a *activities.Reports
	env.OnActivity(a.PrepareReportRun, mock.Anything, mock.Anything).
		Return(activities.PreparedReportRun{Skipped: true, Reason: "report is paused"}, nil).Once()

	env.ExecuteWorkflow(ReportRun, ReportRunInput{WorkspaceID: "ws1", ReportID: "rep1", Trigger: ReportTriggerSchedule})

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res ReportRunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, ReportRunResult{Status: ReportRunSkipped, Skipped: true, Reason: "report is paused"}, res)
	// Nothing is rendered, delivered or finished.
	env.AssertExpectations(t)
	env.AssertActivityNotCalled(t, "RenderReport", mock.Anything, mock.Anything)
	env.AssertActivityNotCalled(t, "FinishReportRun", mock.Anything, mock.Anything)
}

// A scheduled run started late (after an outage) reports on the period it was scheduled
// for: the range is resolved at TemporalScheduledStartTime, not at the start of the run.
func TestReportRunResolvesTheRangeAtTheScheduledTime(t *testing.T) {
	env := newReportEnv(t)
	var a *activities.Reports
	scheduled := time.Date(2027, 3, 15, 12, 0, 0, 0, time.UTC)
	env.SetStartTime(scheduled.Add(5*time.Hour + 17*time.Minute))
	require.NoError(t, env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(ScheduledStartTimeKey.ValueSet(scheduled))))
	env.OnActivity(a.PrepareReportRun, mock.Anything, mock.MatchedBy(func(in activities.PrepareReportRunInput) bool {
		return in.AsOf.Equal(scheduled) && in.Trigger == ReportTriggerSchedule && in.RunID == ""
	})).Return(activities.PreparedReportRun{RunID: "run9", From: "2027-03-08", To: "2027-03-14"}, nil).Once()
	env.OnActivity(a.RenderReport, mock.Anything, activities.RenderReportInput{RunID: "run9"}).
		Return(activities.RenderedReport{Rows: 3}, nil).Once()
	env.OnActivity(a.FinishReportRun, mock.Anything, activities.FinishReportRunInput{RunID: "run9"}).Return(nil).Once()

	env.ExecuteWorkflow(ReportRun, ReportRunInput{WorkspaceID: "ws1", ReportID: "rep1", Trigger: ReportTriggerSchedule})

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res ReportRunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, ReportRunResult{RunID: "run9", Status: ReportRunRendered, From: "2027-03-08", To: "2027-03-14", Rows: 3}, res)
	env.AssertExpectations(t)
}

func TestReportRunRefusesInputWithoutAReport(t *testing.T) {
	env := newReportEnv(t)
	env.ExecuteWorkflow(ReportRun, ReportRunInput{WorkspaceID: "ws1"})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &appErr)
	require.Equal(t, ErrTypeInvalidReportRunInput, appErr.Type())
	env.AssertActivityNotCalled(t, "PrepareReportRun", mock.Anything, mock.Anything)
}

func TestReportRunStatus(t *testing.T) {
	cases := []struct {
		delivered, failed int
		want              string
	}{
		{0, 0, ReportRunRendered},
		{3, 0, ReportRunDelivered},
		{2, 1, ReportRunPartiallyDelivered},
		{0, 2, ReportRunFailed},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, reportRunStatus(tc.delivered, tc.failed), "%d delivered, %d failed", tc.delivered, tc.failed)
	}
}
