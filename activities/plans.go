package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// scheduledSyncPrefix is workflows.ScheduleWorkflowID without the connection id (that
// package imports this one): a connection's scheduled runs are
// "scheduled-sync-<connection>-<timestamp>".
const scheduledSyncPrefix = "scheduled-sync-"

// intervalSlack is how much earlier than the plan's MinSyncInterval a scheduled run may
// start after the previous one: schedules jitter, and a run that started a little late
// must not make the next one, on time, look too early.
const intervalSlack = 5 * time.Minute

// checkPlan applies the workspace's plan and standing to a run (EnforcePlans). While the
// workspace is suspended for an unpaid invoice nothing syncs: a scheduled run is skipped
// (the dunning workflow pauses the schedules as well; this holds if a run slips through),
// any other run fails non-retryably. A scheduled run is also skipped while the workspace
// has more connections than its plan allows, and when the connection's last successful
// scheduled sync started less than the plan's MinSyncInterval (less intervalSlack) ago: a
// downgrade can leave a faster cron behind, and the plan wins. On-demand syncs and
// backfills are not held to the interval. stop says the run must not go on; res is then
// the skipped result (or err the refusal).
func (a *Sync) checkPlan(ctx context.Context, conn store.Connection, in PrepareInput) (res PrepareResult, stop bool, err error) {
	st, err := a.Store.BillingStanding(ctx, conn.WorkspaceID)
	if err != nil {
		return PrepareResult{}, true, err
	}
	scheduled := in.Kind == kindIncremental && strings.HasPrefix(in.WorkflowID, scheduledSyncPrefix+conn.ID+"-")
	skip := func(reason string) (PrepareResult, bool, error) {
		a.logger().Info("scheduled sync skipped by the plan", "workspace_id", conn.WorkspaceID, "connection_id", conn.ID,
			"workflow_id", in.WorkflowID, "plan", st.Plan.ID, "reason", reason)
		return PrepareResult{Channel: conn.Channel, Skipped: true, Reason: reason}, true, nil
	}
	if !st.DunningState.Permits(billing.GateSync) {
		reason := fmt.Sprintf("the workspace is %s for an unpaid invoice", st.DunningState)
		if scheduled {
			return skip(reason)
		}
		return PrepareResult{}, true, temporal.NewNonRetryableApplicationError(
			reason+"; syncs resume once it is paid", ErrTypePaymentRequired, nil)
	}
	if !scheduled {
		return PrepareResult{}, false, nil
	}
	usage, err := a.Store.GetBillingUsage(ctx, a.Store.Pool, conn.WorkspaceID)
	if err != nil {
		return PrepareResult{}, true, err
	}
	if !st.Plan.Allows(billing.LimitConnections, usage.Connections, 0) {
		return skip(fmt.Sprintf("the workspace has %d connections and its %s plan allows %d: "+
			"scheduled syncs resume once it disconnects %d or upgrades", usage.Connections, st.Plan.ID,
			st.Plan.Limits.Connections, usage.Connections-st.Plan.Limits.Connections))
	}
	last, ok, err := a.Store.LastScheduledSyncStart(ctx, conn.WorkspaceID, conn.ID, scheduledSyncPrefix+conn.ID)
	if err != nil {
		return PrepareResult{}, true, err
	}
	if since := a.now().Sub(last); ok && since < st.Plan.Limits.MinSyncInterval-intervalSlack {
		return skip(fmt.Sprintf("the %s plan syncs a connection at most every %s, and its last scheduled sync started %s ago",
			st.Plan.ID, st.Plan.Limits.MinSyncInterval, since.Round(time.Minute)))
	}
	return PrepareResult{}, false, nil
}
