package syncsvc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/converter"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// Per-workspace sync capacity. Every workspace shares the workers and each provider's
// task queues, so one workspace's backfills are bounded: at most DefaultMaxBackfills run
// at once, reading at most DefaultMaxBackfillWindows windows at once between them.
const (
	DefaultMaxBackfills       = 3
	DefaultMaxBackfillWindows = 6
	// MinScheduleInterval is the shortest gap a connection's sync schedule may have,
	// whatever the plan (plans set longer ones where billing is on). Every sync re-reads
	// its lookback, so syncing more often costs quota and buys nothing.
	MinScheduleInterval = 15 * time.Minute
)

// backfillWindowsMemo is the memo field of a Backfill that records how many windows it
// reads at once, so later reservations can count the workspace's windows. Temporal
// carries a memo across continue-as-new.
const backfillWindowsMemo = "windows"

// LimitError: the workspace already runs as much of something as it may at once.
// Running names the runs that hold the capacity, oldest first.
type LimitError struct {
	Running []string
	Msg     string
}

func (e *LimitError) Error() string { return e.Msg }

func (s *Service) maxBackfills() int {
	if s.MaxBackfills > 0 {
		return s.MaxBackfills
	}
	return DefaultMaxBackfills
}

func (s *Service) maxBackfillWindows() int {
	if s.MaxBackfillWindows > 0 {
		return s.MaxBackfillWindows
	}
	return DefaultMaxBackfillWindows
}

// backfillCapacity checks a new backfill against the workspace's caps as
// store.ReserveBackfill asks, and sets the windows it may read at once.
type backfillCapacity struct {
	maxBackfills, maxWindows int
	// windowsOf is what each running backfill reads at once, filled in by status.
	windowsOf map[string]int
	// granted is the new backfill's windows at once, once admitted.
	granted int
	check   func(ctx context.Context, workflowID string) (enumspb.WorkflowExecutionStatus, int, bool, error)
}

// status is a store.BackfillStatus that also records the backfill's windows.
func (b *backfillCapacity) status(ctx context.Context, bf store.Backfill) (string, error) {
	st, windows, found, err := b.check(ctx, bf.WorkflowID)
	if err != nil {
		return "", err
	}
	b.windowsOf[bf.WorkflowID] = windows
	if !found {
		// Reserved, but its workflow is not visible yet (the API reserves, then starts).
		if bf.InStartingGrace(time.Now()) {
			return store.RunRunning, nil
		}
		return store.RunFailed, nil
	}
	switch st {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return store.RunRunning, nil
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return store.RunSucceeded, nil
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return store.RunCancelled, nil
	default:
		return store.RunFailed, nil
	}
}

// admit is a store.BackfillAdmit: the new backfill gets up to
// workflows.DefaultBackfillConcurrency windows, as many as the workspace has left.
func (b *backfillCapacity) admit(_ context.Context, running []store.Backfill) error {
	used := 0
	for _, r := range running {
		used += b.windowsOf[r.WorkflowID]
	}
	b.granted = min(workflows.DefaultBackfillConcurrency, b.maxWindows-used)
	switch {
	case len(running) >= b.maxBackfills:
		return limitError(running, fmt.Sprintf("the workspace runs %d backfills, the most it may run at once", len(running)))
	case b.granted < 1:
		return limitError(running, fmt.Sprintf("the workspace's running backfills read %d windows at once between them, the most it may", used))
	}
	return nil
}

func limitError(running []store.Backfill, why string) *LimitError {
	ids := make([]string, len(running))
	names := make([]string, len(running))
	for i, r := range running {
		ids[i] = r.WorkflowID
		names[i] = fmt.Sprintf("%s (%s..%s)", r.WorkflowID, r.From.Format(channels.DateLayout), r.To.Format(channels.DateLayout))
	}
	return &LimitError{Running: ids, Msg: fmt.Sprintf("%s: %s; start this one once one of them has finished, or cancel one",
		why, strings.Join(names, ", "))}
}

// describeBackfill reports a backfill's status, the windows it reads at once (from its
// memo; workflows.DefaultBackfillConcurrency for one started without it) and whether
// Temporal knows it at all.
func (s *Service) describeBackfill(ctx context.Context, workflowID string) (enumspb.WorkflowExecutionStatus, int, bool, error) {
	resp, err := s.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return 0, workflows.DefaultBackfillConcurrency, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("describe %s: %w", workflowID, err)
	}
	info := resp.GetWorkflowExecutionInfo()
	windows := workflows.DefaultBackfillConcurrency
	if p, ok := info.GetMemo().GetFields()[backfillWindowsMemo]; ok {
		var n int
		if err := converter.GetDefaultDataConverter().FromPayload(p, &n); err == nil && n > 0 {
			windows = n
		}
	}
	return info.GetStatus(), windows, true, nil
}

// checkScheduleInterval refuses a cron that fires more often than MinScheduleInterval.
func checkScheduleInterval(cron string) error {
	gap, err := billing.CronMinInterval(cron)
	if err != nil {
		return &ValidationError{Msg: err.Error()}
	}
	if gap < MinScheduleInterval {
		return &ValidationError{Msg: fmt.Sprintf("%q fires every %g minutes at the shortest; schedules may fire at most every %g minutes",
			cron, gap.Minutes(), MinScheduleInterval.Minutes())}
	}
	return nil
}
