package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/omnitrackiq/omnitrackiq/activities"
	"github.com/omnitrackiq/omnitrackiq/internal/apikey"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	sandboxmeta "github.com/omnitrackiq/omnitrackiq/internal/sandbox/meta"
	"github.com/omnitrackiq/omnitrackiq/worker"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// fairSyncBound is how long workspace B's incremental sync may take while workspace A's
// backfills fill their queue: generous (the sync alone takes a few seconds: 4 provider
// calls of 5 slow pages) so a loaded machine does not fail it, and far below what A's
// backfills take (over a hundred calls at 2 a second), so the sync cannot have waited for
// them.
const fairSyncBound = 60 * time.Second

// TestBackfillDoesNotDelayOtherWorkspacesSync: workspace A backfills three years of Meta
// history with all its room (two backfills, six windows at once), and a third backfill is
// refused with 429 naming the two; then workspace B's incremental sync of the same provider
// completes within fairSyncBound while A's backfills still run, because backfill windows
// call the provider on their own task queue (sync-meta-backfill) and incremental syncs keep
// sync-meta. Both queues run at the production default of 2 activities a second and every
// page is slow, so A's backlog is real.
func TestBackfillDoesNotDelayOtherWorkspacesSync(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{pageSize: 20})
	e.StopWorkers()
	acts := &activities.Sync{
		Store: e.Store, Connectors: e.Connectors, Box: e.Box, Temporal: e.Temporal, Logger: e.logger, MaxPagesPerCall: 5,
	}
	e.workers = worker.New(e.Temporal, acts, worker.Options{
		ChannelActivitiesPerSecond:  map[channels.Channel]float64{channels.Meta: 2},
		BackfillActivitiesPerSecond: map[channels.Channel]float64{channels.Meta: 2},
	})
	require.NoError(t, e.workers.Start())
	require.NoError(t, e.Sandbox.SetFaults(sandboxmeta.Faults{PageDelayMS: 300}))

	keyA := e.APIKey
	wsB, err := e.Store.CreateWorkspace(e.ctx, "Workspace B", "USD", "America/New_York")
	require.NoError(t, err)
	keyB, _, err := apikey.Issue(e.ctx, e.Store, wsB.ID, "fair-sync")
	require.NoError(t, err)
	connA := e.connectMeta()
	e.APIKey = keyB
	connB := e.connectMeta()
	e.APIKey = keyA

	today := time.Now().UTC()
	day := func(back int) string { return today.AddDate(0, 0, -back).Format(channels.DateLayout) }
	path := "/v1/connections/" + connA + "/backfills"
	var backfills []string
	for _, r := range [][2]int{{1100, 551}, {550, 1}} {
		status, body := e.call("POST", path, map[string]any{"from": day(r[0]), "to": day(r[1])})
		require.Equal(t, http.StatusAccepted, status, "%v", body)
		backfills = append(backfills, body["workflow_id"].(string))
	}
	// A's two backfills read its six windows at once: a third is refused, naming them.
	status, refused := e.send("POST", path, creds{bearer: keyA}, map[string]any{"from": day(1120), "to": day(1101)})
	require.Equal(t, http.StatusTooManyRequests, status, "%s", refused)
	for _, id := range backfills {
		require.Contains(t, string(refused), id)
	}
	eventually(t, time.Minute, "A's backfill windows are reading", func() bool {
		var n int
		_ = e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM sync_runs WHERE connection_id = $1 AND status = 'running'
			AND pages > 0`, connA).Scan(&n)
		return n > 0
	})

	// B's incremental sync, on the same provider, meanwhile.
	e.APIKey = keyB
	syncB := e.triggerSync(connB)
	e.APIKey = keyA
	started := time.Now()
	var res workflows.ChannelSyncResult
	require.NoError(t, e.waitWorkflow(syncB, fairSyncBound, &res), "B's sync did not finish within %s", fairSyncBound)
	took := time.Since(started)
	require.Equal(t, "succeeded", res.Status)
	require.Positive(t, res.Rows)
	for _, id := range backfills {
		desc, err := e.Temporal.DescribeWorkflowExecution(e.ctx, id, "")
		require.NoError(t, err)
		require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.GetWorkflowExecutionInfo().GetStatus(),
			"A's backfill %s still runs when B's sync is done (%s)", id, took)
	}
	t.Logf("B's sync took %s while A's backfills ran", took)

	// Where each read its pages: B on sync-meta, A's windows on sync-meta-backfill.
	require.Equal(t, []string{"sync-meta"}, e.syncWindowQueues(syncB))
	first := workflows.BackfillWindowWorkflowID(connA, day(1100), today.AddDate(0, 0, -1100+workflows.DefaultBackfillWindowDays-1).Format(channels.DateLayout))
	var window workflows.ChannelSyncResult
	require.NoError(t, e.waitWorkflow(first, 3*time.Minute, &window))
	require.Equal(t, "succeeded", window.Status)
	require.Equal(t, []string{"sync-meta-backfill"}, e.syncWindowQueues(first))
	e.recordHistory(first, "", "channel_sync_backfill_queue")

	for _, id := range backfills {
		require.NoError(t, e.Temporal.CancelWorkflow(e.ctx, id, ""))
	}
}

// syncWindowQueues lists the task queues a workflow's SyncWindow activities were
// scheduled on, each once.
func (e *env) syncWindowQueues(workflowID string) []string {
	e.t.Helper()
	seen := map[string]bool{}
	var queues []string
	it := e.Temporal.GetWorkflowHistory(e.ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(e.t, err)
		a := ev.GetActivityTaskScheduledEventAttributes()
		if a == nil || a.GetActivityType().GetName() != "SyncWindow" {
			continue
		}
		if q := a.GetTaskQueue().GetName(); !seen[q] {
			seen[q] = true
			queues = append(queues, q)
		}
	}
	return queues
}

// TestScheduleMinimumInterval: a schedule firing more often than every 15 minutes is
// refused with 422 naming the minimum, without billing (plans set longer minimums with it);
// every 15 minutes is accepted and reaches Temporal.
func TestScheduleMinimumInterval(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	connID := e.connectMeta()
	path := "/v1/connections/" + connID + "/schedule"
	for _, cron := range []string{"* * * * *", "*/5 * * * *", "0,10 * * * *"} {
		status, body := e.call("PATCH", path, map[string]any{"cron": cron})
		require.Equal(t, http.StatusUnprocessableEntity, status, "%s: %v", cron, body)
		errs := body["errors"].([]any)
		field := errs[0].(map[string]any)
		require.Equal(t, "cron", field["field"])
		require.True(t, strings.Contains(field["message"].(string), "at most every 15m"), "%v", field)
	}
	status, body := e.call("GET", path, nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "17 */6 * * *", body["cron"], "refused crons change nothing")
	status, body = e.call("PATCH", path, map[string]any{"cron": "*/15 * * * *"})
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "*/15 * * * *", body["cron"])
	require.Len(t, body["next_runs"], 10)
}
