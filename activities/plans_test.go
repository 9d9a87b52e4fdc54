package activities_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/activities"
	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// planFixture is a workspace on a real database with one Meta connection, and the sync
// activities enforcing plans with a fixed clock.
type planFixture struct {
	t    *testing.T
	st   *store.Store
	acts *activities.Sync
	ws   string
	conn store.Connection
	now  time.Time
	n    int
}

func newPlanFixture(t *testing.T) *planFixture {
	t.Helper()
	st, _ := testdb.New(t)
	ctx := context.Background()
	ws, err := st.CreateWorkspace(ctx, "Plans", "USD", "UTC")
	require.NoError(t, err)
	f := &planFixture{t: t, st: st, ws: ws.ID, now: time.Now().UTC().Truncate(time.Second)}
	f.conn = f.addConnection("42")
	f.acts = &activities.Sync{Store: st, EnforcePlans: true, Now: func() time.Time { return f.now }}
	return f
}

func (f *planFixture) addConnection(account string) store.Connection {
	f.t.Helper()
	c, err := f.st.CreateConnection(context.Background(), store.NewConnection{
		WorkspaceID: f.ws, Channel: "meta", ExternalAccountID: account, TokenCiphertext: []byte("sealed"),
		Timezone: "UTC", Currency: "USD",
	})
	require.NoError(f.t, err)
	return c
}

// scheduledID is the id Temporal gives a scheduled run of the connection.
func (f *planFixture) scheduledID() string {
	f.n++
	return fmt.Sprintf("%s-%s", workflows.ScheduleWorkflowID(f.conn.ID), f.now.Add(time.Duration(f.n)*time.Second).Format(time.RFC3339))
}

// prepare runs PrepareSync for the workflow id (an incremental sync, or a backfill when
// from is set) and gives the connection's sync lock back if it took it.
func (f *planFixture) prepare(workflowID, kind string) (activities.PrepareResult, error) {
	f.t.Helper()
	in := activities.PrepareInput{WorkspaceID: f.ws, ConnectionID: f.conn.ID, Kind: kind, WorkflowID: workflowID, RunID: "run-" + workflowID}
	if kind == workflows.KindBackfill {
		day := f.now.AddDate(0, 0, -3).Format("2006-01-02")
		in.From, in.To = day, day
	}
	res, err := f.acts.PrepareSync(context.Background(), in)
	if err == nil && !res.Skipped && kind == workflows.KindIncremental {
		require.NoError(f.t, f.st.ReleaseSyncLock(context.Background(), f.conn.ID, workflowID))
	}
	return res, err
}

// runs counts the sync_runs rows recorded under the workflow id.
func (f *planFixture) runs(workflowID string) int {
	f.t.Helper()
	var n int
	require.NoError(f.t, f.st.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM sync_runs WHERE workflow_id = $1`, workflowID).Scan(&n))
	return n
}

// mustRun prepares a run that the plan lets through, and checks that its row exists.
func (f *planFixture) mustRun(workflowID, kind string) {
	f.t.Helper()
	res, err := f.prepare(workflowID, kind)
	require.NoError(f.t, err)
	require.False(f.t, res.Skipped, "run %s skipped: %s", workflowID, res.Reason)
	require.NotEmpty(f.t, res.SyncRunID)
	require.Equal(f.t, 1, f.runs(workflowID))
}

// mustSkip prepares a scheduled run the plan skips, and checks the reason and that it left
// no row and no lock behind.
func (f *planFixture) mustSkip(workflowID, reasonHas string) {
	f.t.Helper()
	res, err := f.prepare(workflowID, workflows.KindIncremental)
	require.NoError(f.t, err)
	require.True(f.t, res.Skipped, "run %s was not skipped", workflowID)
	require.Empty(f.t, res.HeldBy)
	require.Contains(f.t, res.Reason, reasonHas)
	require.Equal(f.t, "meta", res.Channel)
	require.Equal(f.t, 0, f.runs(workflowID), "a skipped run recorded a row")
	var holder *string
	require.NoError(f.t, f.st.Pool.QueryRow(context.Background(),
		`SELECT active_sync_workflow_id FROM connections WHERE id = $1`, f.conn.ID).Scan(&holder))
	require.Nil(f.t, holder, "a skipped run took the connection's sync lock")
}

// mustRefuse prepares a run the plan refuses outright (suspended), non-retryably.
func (f *planFixture) mustRefuse(workflowID, kind string) {
	f.t.Helper()
	_, err := f.prepare(workflowID, kind)
	var appErr *temporal.ApplicationError
	require.True(f.t, errors.As(err, &appErr), "want an application error, got %v", err)
	require.Equal(f.t, activities.ErrTypePaymentRequired, appErr.Type())
	require.True(f.t, appErr.NonRetryable())
	require.Contains(f.t, appErr.Error(), "suspended")
	require.Equal(f.t, 0, f.runs(workflowID))
}

// pastRun records a finished run of the connection that started ago before now.
func (f *planFixture) pastRun(workflowID, status string, ago time.Duration) {
	f.t.Helper()
	day := f.now.Format("2006-01-02")
	_, err := f.st.Pool.Exec(context.Background(), `INSERT INTO sync_runs
		(workspace_id, connection_id, channel, kind, workflow_id, run_id, window_from, window_to, status, started_at, finished_at)
		VALUES ($1, $2, 'meta', 'incremental', $3, 'r', $4, $4, $5, $6, $6)`,
		f.ws, f.conn.ID, workflowID, day, status, f.now.Add(-ago))
	require.NoError(f.t, err)
}

func TestPrepareSyncSkipsScheduledRunsOfSuspendedWorkspaces(t *testing.T) {
	f := newPlanFixture(t)
	ctx := context.Background()
	require.NoError(t, f.st.SetPlan(ctx, f.ws, billing.Pro, "past_due"))
	require.NoError(t, f.st.SetDunning(ctx, f.ws, billing.DunningSuspended, "dunning-sub-in"))

	f.mustSkip(f.scheduledID(), "suspended for an unpaid invoice")
	// On-demand syncs and backfills are refused, not skipped: the caller asked for them.
	f.mustRefuse(workflows.SyncWorkflowID(f.conn.ID), workflows.KindIncremental)
	f.mustRefuse(workflows.BackfillWindowWorkflowID(f.conn.ID, "a", "b"), workflows.KindBackfill)

	// Restricted workspaces sync on ("syncs go on").
	require.NoError(t, f.st.SetDunning(ctx, f.ws, billing.DunningRestricted, "dunning-sub-in"))
	f.mustRun(f.scheduledID(), workflows.KindIncremental)
	f.mustRun(workflows.SyncWorkflowID(f.conn.ID), workflows.KindIncremental)

	// Without billing, nothing is enforced.
	require.NoError(t, f.st.SetDunning(ctx, f.ws, billing.DunningSuspended, "dunning-sub-in"))
	f.acts.EnforcePlans = false
	f.mustRun(f.scheduledID(), workflows.KindIncremental)
	f.mustRun(workflows.BackfillWorkflowID(f.conn.ID, "c", "d"), workflows.KindBackfill)

	// Recovery lets everything through again.
	f.acts.EnforcePlans = true
	require.NoError(t, f.st.SetDunning(ctx, f.ws, billing.DunningRecovered, "dunning-sub-in"))
	f.mustRun(f.scheduledID(), workflows.KindIncremental)
}

func TestPrepareSyncSkipsScheduledRunsOverTheConnectionLimit(t *testing.T) {
	f := newPlanFixture(t)
	ctx := context.Background()
	// A workspace without a billing account is on free: 2 connections.
	f.addConnection("43")
	f.mustRun(f.scheduledID(), workflows.KindIncremental)

	third := f.addConnection("44")
	f.mustSkip(f.scheduledID(), "the workspace has 3 connections and its free plan allows 2")
	// On-demand syncs go on: only the schedule is held to the plan.
	f.mustRun(workflows.SyncWorkflowID(f.conn.ID)+"-again", workflows.KindIncremental)

	// Disconnected connections do not count.
	_, err := f.st.DisconnectConnection(ctx, f.ws, third.ID)
	require.NoError(t, err)
	f.mustRun(f.scheduledID(), workflows.KindIncremental)

	// A third live connection puts it over again, until the plan allows more.
	f.addConnection("45")
	f.mustSkip(f.scheduledID(), "3 connections")
	require.NoError(t, f.st.SetPlan(ctx, f.ws, billing.Starter, "active"))
	f.mustRun(f.scheduledID(), workflows.KindIncremental)
}

func TestPrepareSyncHoldsScheduledRunsToThePlansInterval(t *testing.T) {
	f := newPlanFixture(t)
	ctx := context.Background()
	sched := workflows.ScheduleWorkflowID(f.conn.ID)

	// No scheduled run yet: the first one goes.
	f.mustRun(f.scheduledID(), workflows.KindIncremental)

	// Free syncs every 6h: a scheduled run 2h after the last successful one is skipped
	// (a downgrade left an hourly cron behind), whatever on-demand syncs did meanwhile.
	f.pastRun(sched+"-earlier", "succeeded", 2*time.Hour)
	_, err := f.st.Pool.Exec(ctx, `DELETE FROM sync_runs WHERE workflow_id <> $1`, sched+"-earlier")
	require.NoError(t, err)
	f.pastRun(workflows.SyncWorkflowID(f.conn.ID), "succeeded", 10*time.Minute)
	f.mustSkip(f.scheduledID(), "the free plan syncs a connection at most every 6h0m0s, and its last scheduled sync started 2h0m0s ago")
	// On-demand syncs are not held to the interval.
	f.mustRun(workflows.SyncWorkflowID(f.conn.ID)+"-now", workflows.KindIncremental)

	// Five minutes of slack: 5h56m after the last run is on time, 5h54m is not.
	_, err = f.st.Pool.Exec(ctx, `UPDATE sync_runs SET started_at = $2 WHERE workflow_id = $1`, sched+"-earlier", f.now.Add(-(5*time.Hour + 54*time.Minute)))
	require.NoError(t, err)
	f.mustSkip(f.scheduledID(), "every 6h0m0s")
	_, err = f.st.Pool.Exec(ctx, `UPDATE sync_runs SET started_at = $2 WHERE workflow_id = $1`, sched+"-earlier", f.now.Add(-(5*time.Hour + 56*time.Minute)))
	require.NoError(t, err)
	f.mustRun(f.scheduledID(), workflows.KindIncremental)

	// Only successful scheduled syncs count: the run just prepared is still running.
	f.mustRun(f.scheduledID(), workflows.KindIncremental)
	_, err = f.st.Pool.Exec(ctx, `DELETE FROM sync_runs`)
	require.NoError(t, err)
	f.pastRun(sched+"-failed", "failed", time.Hour)
	f.mustRun(f.scheduledID(), workflows.KindIncremental)

	// Another connection's scheduled runs do not count either.
	other := f.addConnection("43")
	_, err = f.st.Pool.Exec(ctx, `INSERT INTO sync_runs
		(workspace_id, connection_id, channel, kind, workflow_id, run_id, window_from, window_to, status, started_at)
		VALUES ($1, $2, 'meta', 'incremental', $3, 'r', current_date, current_date, 'succeeded', $4)`,
		f.ws, other.ID, workflows.ScheduleWorkflowID(other.ID)+"-x", f.now.Add(-time.Minute))
	require.NoError(t, err)
	_, err = f.st.Pool.Exec(ctx, `DELETE FROM sync_runs WHERE connection_id = $1`, f.conn.ID)
	require.NoError(t, err)
	f.mustRun(f.scheduledID(), workflows.KindIncremental)

	// A bigger plan allows more often: pro syncs every 30 minutes.
	_, err = f.st.Pool.Exec(ctx, `DELETE FROM sync_runs WHERE connection_id = $1`, f.conn.ID)
	require.NoError(t, err)
	f.pastRun(sched+"-recent", "succeeded", 40*time.Minute)
	f.mustSkip(f.scheduledID(), "6h0m0s")
	require.NoError(t, f.st.SetPlan(ctx, f.ws, billing.Pro, "active"))
	f.mustRun(f.scheduledID(), workflows.KindIncremental)
	require.NoError(t, f.st.SetPlan(ctx, f.ws, billing.Agency, "active"))
	f.pastRun(sched+"-very-recent", "succeeded", 5*time.Minute)
	res, err := f.prepare(f.scheduledID(), workflows.KindIncremental)
	require.NoError(t, err)
	require.True(t, res.Skipped)
	require.True(t, strings.Contains(res.Reason, "agency plan"), res.Reason)
}
