package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// Backfill defaults.
const (
	DefaultBackfillWindowDays  = 14
	DefaultBackfillConcurrency = 3
	backfillWindowsPerRun      = 50
	maxBackfillConcurrency     = 10
	MaxBackfillWindowDays      = 90
)

// Backfill reads [From, To] as a series of ChannelSync children, one per window, at most
// MaxConcurrent at a time, and continues as new every backfillWindowsPerRun windows so its
// history stays small however long the range.
func Backfill(ctx workflow.Context, in BackfillInput) (BackfillResult, error) {
	if err := upsertSearchAttributes(ctx, in.WorkspaceID, in.ConnectionID, in.Channel); err != nil {
		return BackfillResult{}, err
	}
	if in.WindowDays <= 0 || in.WindowDays > MaxBackfillWindowDays {
		in.WindowDays = DefaultBackfillWindowDays
	}
	if in.MaxConcurrent <= 0 || in.MaxConcurrent > maxBackfillConcurrency {
		in.MaxConcurrent = DefaultBackfillConcurrency
	}
	full, err := channels.ParseWindow(in.From, in.To)
	if err != nil {
		return BackfillResult{}, fmt.Errorf("backfill window: %w", err)
	}
	start := full.From
	if in.NextFrom != "" {
		if start, err = time.Parse(channels.DateLayout, in.NextFrom); err != nil {
			return BackfillResult{}, fmt.Errorf("backfill resume day %q: %w", in.NextFrom, err)
		}
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("backfill %s..%s in %d-day windows, %d done",
		in.From, in.To, in.WindowDays, in.WindowsDone))

	var (
		pending  int
		firstErr error
		launched int
	)
	sel := workflow.NewSelector(ctx)
	next := start
	for !next.After(full.To) && launched < backfillWindowsPerRun && firstErr == nil {
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() && launched > 0 {
			break
		}
		for pending >= in.MaxConcurrent {
			sel.Select(ctx)
			pending--
		}
		if firstErr != nil {
			break
		}
		end := next.AddDate(0, 0, in.WindowDays-1)
		if end.After(full.To) {
			end = full.To
		}
		from, to := next.Format(channels.DateLayout), end.Format(channels.DateLayout)
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:            BackfillWindowWorkflowID(in.ConnectionID, from, to),
			TaskQueue:             TaskQueueSync,
			WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			// A backfill that is cancelled or ends for any other reason asks its windows to
			// cancel, so each closes its run as cancelled instead of being cut off mid-write.
			ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
			TypedSearchAttributes: SearchAttributes(in.WorkspaceID, in.ConnectionID, in.Channel),
			StaticSummary:         fmt.Sprintf("%s backfill window %s..%s", in.Channel, from, to),
		})
		fut := workflow.ExecuteChildWorkflow(cctx, ChannelSync, ChannelSyncInput{
			WorkspaceID: in.WorkspaceID, ConnectionID: in.ConnectionID, Channel: in.Channel,
			Kind: KindBackfill, From: from, To: to,
		})
		sel.AddFuture(fut, func(f workflow.Future) {
			var res ChannelSyncResult
			if err := f.Get(ctx, &res); err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("backfill window %s..%s: %w", from, to, err)
				}
				return
			}
			in.WindowsDone++
			in.Rows += res.Rows
		})
		pending++
		launched++
		next = end.AddDate(0, 0, 1)
	}
	for pending > 0 {
		sel.Select(ctx)
		pending--
	}
	if firstErr != nil {
		return BackfillResult{Windows: in.WindowsDone, Rows: in.Rows}, firstErr
	}
	if !next.After(full.To) {
		in.NextFrom = next.Format(channels.DateLayout)
		return BackfillResult{}, workflow.NewContinueAsNewError(ctx, Backfill, in)
	}
	return BackfillResult{Windows: in.WindowsDone, Rows: in.Rows}, nil
}
