package syncsvc

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// DeleteSchedule deletes the connection's schedule; one already gone is not an error.
func (s *Service) DeleteSchedule(ctx context.Context, conn store.Connection) error {
	err := s.Temporal.ScheduleClient().GetHandle(ctx, workflows.ScheduleID(conn.ID)).Delete(ctx)
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete schedule of connection %s: %w", conn.ID, err)
	}
	return nil
}

// CancelRuns asks Temporal to cancel the connection's on-demand sync and the given
// workflows (its lock holder, its backfills). Workflows that are gone or already closed
// are skipped. Cancellation is a request: each workflow closes its run as cancelled.
func (s *Service) CancelRuns(ctx context.Context, conn store.Connection, workflowIDs []string) error {
	ids := append([]string{workflows.SyncWorkflowID(conn.ID)}, workflowIDs...)
	seen := map[string]bool{}
	var errs []error
	for _, id := range ids {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		err := s.Temporal.CancelWorkflow(ctx, id, "")
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			errs = append(errs, fmt.Errorf("cancel %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// tokenRefreshCatchupWindow is how late a missed daily TokenRefresh may still start. Tokens
// are refreshed days before they expire, so a run half a day late is still in time; later
// than that the next day's run is as good.
const tokenRefreshCatchupWindow = 12 * time.Hour

// TokenRefreshCron runs TokenRefresh daily at 03:23 UTC, off the hour.
const TokenRefreshCron = "23 3 * * *"

// EnsureTokenRefreshSchedule creates the daily TokenRefresh schedule if it does not exist.
// Every worker calls it at start, so it is safe to call any number of times.
func (s *Service) EnsureTokenRefreshSchedule(ctx context.Context) error {
	_, err := s.Temporal.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:            workflows.TokenRefreshScheduleID,
		Spec:          client.ScheduleSpec{CronExpressions: []string{TokenRefreshCron}, TimeZoneName: "UTC"},
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: tokenRefreshCatchupWindow,
		Note:          "refreshes provider tokens close to expiry",
		Action: &client.ScheduleWorkflowAction{
			ID:                       workflows.TokenRefreshWorkflowID,
			Workflow:                 workflows.TokenRefresh,
			TaskQueue:                workflows.TaskQueueSync,
			WorkflowExecutionTimeout: workflows.TokenRefreshTimeout,
			StaticSummary:            "daily refresh of provider tokens close to expiry",
			Args:                     []any{workflows.TokenRefreshInput{}},
		},
	})
	if err != nil && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create token refresh schedule: %w", err)
	}
	return nil
}
