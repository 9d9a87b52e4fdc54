package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/activities"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	sandboxmeta "github.com/omnitrackiq/omnitrackiq/internal/sandbox/meta"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

const demoAccount = sandboxmeta.DemoAccountID

// TestMetaSyncEndToEnd drives the whole path: API -> Temporal -> worker -> sandbox Meta
// over HTTP -> PostgreSQL -> metrics API.
func TestMetaSyncEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{pageSize: 50})
	connID := e.connectMeta()

	res := e.syncAndWait(connID)
	today, err := e.Sandbox.Today(demoAccount)
	require.NoError(t, err)
	require.Equal(t, today, res.To, "the window ends today in the account's timezone")
	require.Equal(t, mustDay(t, today).AddDate(0, 0, -28).Format(channels.DateLayout), res.From, "28-day lookback")
	want, err := e.Sandbox.Totals(demoAccount, res.From, res.To, "ad")
	require.NoError(t, err)
	first := e.table()
	require.Equal(t, int64(want.Rows), first.Rows)
	require.Equal(t, want.SpendMicros, first.Spend)
	require.Equal(t, want.Impressions, first.Impressions)
	require.Equal(t, want.Clicks, first.Clicks)
	require.Equal(t, want.ConversionValueMicros, first.Value)
	require.Greater(t, res.Pages, 5, "a multi-page read")

	// The API shows the finished run and the advanced cursor.
	status, body := e.call("GET", "/v1/syncs/"+workflows.SyncWorkflowID(connID), nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "Completed", body["status"])
	runs := body["sync_runs"].([]any)
	require.Len(t, runs, 1)
	require.Equal(t, "succeeded", runs[0].(map[string]any)["status"])
	require.EqualValues(t, want.Rows, runs[0].(map[string]any)["rows_written"])
	status, body = e.call("GET", "/v1/connections/"+connID, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, today, body["cursor_date"])

	// Syncing the same window again leaves identical rows, down to synced_at.
	e.syncAndWait(connID)
	require.Equal(t, first, e.table())

	// Meta restates a day five days back; the next sync's lookback corrects it.
	day := mustDay(t, today).AddDate(0, 0, -5)
	before := e.daySpend(day)
	require.NoError(t, e.Sandbox.Restate(demoAccount, day.Format(channels.DateLayout), 150))
	e.syncAndWait(connID)
	after := e.daySpend(day)
	wantDay, err := e.Sandbox.Totals(demoAccount, day.Format(channels.DateLayout), day.Format(channels.DateLayout), "ad")
	require.NoError(t, err)
	require.Equal(t, wantDay.SpendMicros, after)
	require.NotEqual(t, before, after)
	restated := e.table()
	require.Equal(t, first.Rows, restated.Rows)
	require.Equal(t, first.Spend+(after-before), restated.Spend, "only the restated day changed")

	// The metrics API agrees with SQL over the same table.
	var sqlSpend int64
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT sum(spend_micros) FROM ad_metrics_daily
		WHERE workspace_id = $1 AND date BETWEEN $2 AND $3`, e.Workspace, res.From, res.To).Scan(&sqlSpend))
	status, body = e.call("GET", fmt.Sprintf("/v1/metrics/summary?from=%s&to=%s", res.From, res.To), nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.EqualValues(t, sqlSpend, body["spend_micros"])
}

// TestWorkerDiesMidSync stops the worker in the middle of a multi-page sync and starts a new
// one: the sync finishes from the heartbeated cursor, and the table equals an
// uninterrupted run's.
func TestWorkerDiesMidSync(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{pageSize: 10})
	connID := e.connectMeta()
	require.NoError(t, e.Sandbox.SetFaults(sandboxmeta.Faults{PageDelayMS: 150}))

	wfID := e.triggerSync(connID)
	eventually(t, time.Minute, "8 pages committed", func() bool { return e.committedPages(wfID) >= 8 })
	e.StopWorkers()
	stoppedAt := e.committedPages(wfID)
	time.Sleep(500 * time.Millisecond)
	e.StartWorkers()

	var res workflows.ChannelSyncResult
	require.NoError(t, e.waitWorkflow(wfID, 3*time.Minute, &res))
	require.Greater(t, res.Pages, stoppedAt+5, "pages remained after the stop")
	interrupted := e.table()

	// Every rows page was fetched once, except at most the one in flight when the worker
	// stopped: the new worker did not start over.
	fetches := map[string]int{}
	for _, r := range e.Sandbox.Requests() {
		if r.Method == "GET" && strings.HasSuffix(r.Path, "/insights") && r.Status == 200 {
			fetches[r.After]++
		}
	}
	refetched := 0
	for after, n := range fetches {
		require.LessOrEqual(t, n, 2, "page after=%q fetched %d times", after, n)
		if n == 2 {
			refetched++
		}
	}
	require.LessOrEqual(t, refetched, 1)
	require.Equal(t, 1, fetches[""], "the first page was not fetched again")

	// The same window read without interruption gives the same table.
	_, err := e.Store.Pool.Exec(e.ctx, `DELETE FROM ad_metrics_daily WHERE workspace_id = $1`, e.Workspace)
	require.NoError(t, err)
	e.Sandbox.ClearFaults()
	e.syncAndWait(connID)
	uninterrupted := e.table()
	require.Equal(t, uninterrupted.contentOnly(), interrupted.contentOnly())
	want, err := e.Sandbox.Totals(demoAccount, res.From, res.To, "ad")
	require.NoError(t, err)
	require.Equal(t, int64(want.Rows), interrupted.Rows)
	require.Equal(t, want.SpendMicros, interrupted.Spend)
}

// TestRateLimitWaitsProviderDelay: Meta answers code 17 once; the sync waits at least the
// time Meta asked for, then succeeds.
func TestRateLimitWaitsProviderDelay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	connID := e.connectMeta()
	require.NoError(t, e.Sandbox.SetFaults(sandboxmeta.Faults{
		RateLimit: &sandboxmeta.RateLimitFault{Code: 17, Times: 1, RegainMinutes: 1},
	}))
	res := e.syncAndWait(connID)
	require.Greater(t, res.Rows, int64(0))

	reqs := e.Sandbox.Requests()
	limited := -1
	for i, r := range reqs {
		if r.Status == 400 {
			require.Equal(t, -1, limited, "only one rate-limited answer")
			limited = i
		}
	}
	require.GreaterOrEqual(t, limited, 0, "the sandbox answered code 17")
	require.Greater(t, len(reqs), limited+1)
	gap := reqs[limited+1].Time.Sub(reqs[limited].Time)
	require.GreaterOrEqual(t, gap, time.Minute, "retried after %s, Meta asked for 1 minute", gap)
}

// TestExpiredTokenFailsFast: code 190 fails the run without retries within seconds and the
// connection shows needs_reauth.
func TestExpiredTokenFailsFast(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	connID := e.connectMeta()
	require.NoError(t, e.Sandbox.SetFaults(sandboxmeta.Faults{ExpiredToken: true}))

	start := time.Now()
	wfID := e.triggerSync(connID)
	err := e.waitWorkflow(wfID, time.Minute, nil)
	elapsed := time.Since(start)
	require.Error(t, err)
	require.Less(t, elapsed, 15*time.Second, "auth failures are not retried")
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	require.Equal(t, activities.ErrTypeProviderAuth, appErr.Type())
	require.True(t, appErr.NonRetryable())
	calls := 0
	for _, r := range e.Sandbox.Requests() {
		if r.Status == 400 {
			calls++
		}
	}
	require.Equal(t, 1, calls, "one provider call, no retries")

	status, body := e.call("GET", "/v1/connections/"+connID, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "needs_reauth", body["status"])
	require.Contains(t, body["status_reason"], "expired")
	status, body = e.call("GET", "/v1/syncs/"+wfID, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "Failed", body["status"])
	run := body["sync_runs"].([]any)[0].(map[string]any)
	require.Equal(t, "failed", run["status"])
	require.Contains(t, run["error"], "190")
	// A connection that needs re-authentication is not synced again.
	status, _ = e.call("POST", "/v1/connections/"+connID+"/syncs", nil)
	require.Equal(t, http.StatusConflict, status)
}

// TestConcurrentTriggersStartOneSync: two simultaneous triggers, and the schedule firing
// meanwhile, lead to exactly one running sync of the connection.
func TestConcurrentTriggersStartOneSync(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{pageSize: 10})
	connID := e.connectMeta()
	require.NoError(t, e.Sandbox.SetFaults(sandboxmeta.Faults{PageDelayMS: 100}))

	var wg sync.WaitGroup
	statuses := make([]int, 2)
	ids := make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body map[string]any
			statuses[i], body = e.call("POST", "/v1/connections/"+connID+"/syncs", nil)
			ids[i], _ = body["workflow_id"].(string)
		}()
	}
	wg.Wait()
	require.ElementsMatch(t, []int{http.StatusAccepted, http.StatusOK}, statuses)
	require.Equal(t, ids[0], ids[1])
	eventually(t, 10*time.Second, "the sync to be visible", func() bool { return len(e.runningSyncs(connID)) == 1 })

	// The scheduled run that fires meanwhile skips instead of syncing in parallel.
	status, body := e.call("POST", "/v1/connections/"+connID+"/schedule/trigger", nil)
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	scheduled := e.latestScheduledRun(connID)
	var skipped workflows.ChannelSyncResult
	require.NoError(t, e.waitWorkflow(scheduled, time.Minute, &skipped))
	require.Equal(t, "skipped", skipped.Status)
	require.Equal(t, ids[0], skipped.HeldBy)

	e.Sandbox.ClearFaults()
	var res workflows.ChannelSyncResult
	require.NoError(t, e.waitWorkflow(ids[0], 3*time.Minute, &res))
	require.Equal(t, "succeeded", res.Status)
	var runs int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM sync_runs WHERE connection_id = $1`, connID).Scan(&runs))
	require.Equal(t, 1, runs, "one sync ran")
}

// TestBackfillAndSchedule: a backfill through the API fills its whole range through child
// windows that ops can find by search attribute; the schedule is readable, editable and
// triggerable.
func TestBackfillAndSchedule(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	connID := e.connectMeta()
	today, err := e.Sandbox.Today(demoAccount)
	require.NoError(t, err)
	from := mustDay(t, today).AddDate(0, 0, -59).Format(channels.DateLayout)

	status, body := e.call("POST", "/v1/connections/"+connID+"/backfills", map[string]string{"from": from, "to": today})
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	var res workflows.BackfillResult
	require.NoError(t, e.waitWorkflow(body["workflow_id"].(string), 3*time.Minute, &res))
	require.Equal(t, 5, res.Windows, "60 days in 14-day windows")
	want, err := e.Sandbox.Totals(demoAccount, from, today, "ad")
	require.NoError(t, err)
	got := e.table()
	require.Equal(t, int64(want.Rows), got.Rows)
	require.Equal(t, want.SpendMicros, got.Spend)
	require.Equal(t, int64(want.Rows), res.Rows)

	// Operations find the runs by search attribute.
	eventually(t, 10*time.Second, "visibility", func() bool {
		resp, err := e.Temporal.ListWorkflow(e.ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf(`Channel = "meta" AND ConnectionId = %q AND WorkspaceId = %q`, connID, e.Workspace),
		})
		return err == nil && len(resp.GetExecutions()) == 6
	})

	// Schedule: defaults, edit, pause, trigger.
	status, body = e.call("GET", "/v1/connections/"+connID+"/schedule", nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "17 */6 * * *", body["cron"])
	require.Equal(t, "America/New_York", body["timezone"])
	require.Equal(t, false, body["paused"])
	status, body = e.call("PATCH", "/v1/connections/"+connID+"/schedule",
		map[string]any{"cron": "0 3 * * *", "timezone": "Europe/Paris", "paused": true})
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "0 3 * * *", body["cron"])
	require.Equal(t, "Europe/Paris", body["timezone"])
	require.Equal(t, true, body["paused"])
	next := body["next_runs"].([]any)
	require.NotEmpty(t, next)
	nextRun, err := time.Parse(time.RFC3339, next[0].(string))
	require.NoError(t, err)
	paris, _ := time.LoadLocation("Europe/Paris")
	require.Equal(t, 3, nextRun.In(paris).Hour(), "cron is read in the schedule's timezone")
	status, _ = e.call("PATCH", "/v1/connections/"+connID+"/schedule", map[string]any{"cron": "every day"})
	require.Equal(t, http.StatusUnprocessableEntity, status)

	status, body = e.call("POST", "/v1/connections/"+connID+"/schedule/trigger", nil)
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	scheduled := e.latestScheduledRun(connID)
	require.True(t, strings.HasPrefix(scheduled, workflows.ScheduleWorkflowID(connID)))
	var sres workflows.ChannelSyncResult
	require.NoError(t, e.waitWorkflow(scheduled, 3*time.Minute, &sres))
	require.Equal(t, "succeeded", sres.Status)
}

func (e *env) committedPages(workflowID string) int {
	var pages int
	_ = e.Store.Pool.QueryRow(e.ctx, `SELECT coalesce(max(pages), 0) FROM sync_runs WHERE workflow_id = $1`, workflowID).Scan(&pages)
	return pages
}

func mustDay(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(channels.DateLayout, s)
	require.NoError(t, err)
	return d
}

// TestTransientFaultsAreRetried: 500s and a failed report job are retried or restarted and
// the sync still loads exactly the provider's data.
func TestTransientFaultsAreRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{pageSize: 50})
	connID := e.connectMeta()
	require.NoError(t, e.Sandbox.SetFaults(sandboxmeta.Faults{ServerErrors: 2, FailReportJobs: 1}))

	res := e.syncAndWait(connID)
	want, err := e.Sandbox.Totals(demoAccount, res.From, res.To, "ad")
	require.NoError(t, err)
	got := e.table()
	require.Equal(t, int64(want.Rows), got.Rows)
	require.Equal(t, want.SpendMicros, got.Spend)
	failed := 0
	for _, r := range e.Sandbox.Requests() {
		if r.Status == 500 {
			failed++
		}
	}
	require.Equal(t, 2, failed, "both 500s were seen and retried")
}

// latestScheduledRun waits for the connection's schedule to have started a run and
// returns that run's workflow id, as the schedule API reports it.
func (e *env) latestScheduledRun(connID string) string {
	e.t.Helper()
	var id string
	eventually(e.t, 30*time.Second, "a scheduled run", func() bool {
		_, sched := e.call("GET", "/v1/connections/"+connID+"/schedule", nil)
		recent, _ := sched["recent_runs"].([]any)
		if len(recent) == 0 {
			return false
		}
		id = recent[0].(map[string]any)["workflow_id"].(string)
		return true
	})
	return id
}
