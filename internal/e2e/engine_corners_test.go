package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/omnitrackiq/omnitrackiq/activities"
	sandboxga4 "github.com/omnitrackiq/omnitrackiq/internal/sandbox/ga4"
	sandboxmeta "github.com/omnitrackiq/omnitrackiq/internal/sandbox/meta"
	sandboxtiktok "github.com/omnitrackiq/omnitrackiq/internal/sandbox/tiktok"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// TestThrottledLongerThanRetryBudgetSucceeds: TikTok answers 40100 to more calls in a row
// than the retry policy ever allowed attempts. Waiting for a rate limit is not a failure,
// so the sync finishes with every row, and while it waits the API says what it waits for.
func TestThrottledLongerThanRetryBudgetSucceeds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	status, body := e.call("POST", "/v1/connections", map[string]any{
		"channel": "tiktok", "account_id": sandboxtiktok.DemoAdvertiserID, "access_token": sandboxtiktok.DefaultToken,
	})
	require.Equal(t, http.StatusCreated, status, "%v", body)
	connID := body["id"].(string)
	const throttles = 14 // the retry policy allowed 10 attempts
	require.NoError(t, e.SB.TikTok.SetFaults(sandboxtiktok.Faults{
		RateLimit: &sandboxtiktok.CodeFault{Code: sandboxtiktok.CodeRateLimit, Times: throttles}}))

	wfID := e.triggerSync(connID)
	var message string
	eventually(t, time.Minute, "the sync says it waits for the rate limit", func() bool {
		_, st := e.call("GET", "/v1/syncs/"+wfID, nil)
		if p, ok := st["progress"].(map[string]any); ok {
			message, _ = p["message"].(string)
		}
		return strings.HasPrefix(message, "waiting for TikTok rate limit until ")
	})
	_, err := time.Parse(time.RFC3339, strings.TrimPrefix(message, "waiting for TikTok rate limit until "))
	require.NoError(t, err, "the message names the time: %q", message)

	var res workflows.ChannelSyncResult
	require.NoError(t, e.waitWorkflow(wfID, 4*time.Minute, &res))
	require.Equal(t, "succeeded", res.Status)
	e.recordHistory(wfID, "", "channel_sync_rate_limited")
	limited := 0
	for _, r := range e.SB.TikTok.Requests() {
		if r.Code == sandboxtiktok.CodeRateLimit {
			limited++
		}
	}
	require.Equal(t, throttles, limited)
	want, err := e.SB.TikTok.Totals(sandboxtiktok.DemoAdvertiserID, res.From, res.To, "ad")
	require.NoError(t, err)
	got := e.table()
	require.Equal(t, int64(want.Rows), got.Rows)
	require.Equal(t, want.SpendMicros, got.Spend)
}

// TestSlowPageIsReadByOneAttempt: a rows page takes longer than SyncWindow's heartbeat
// timeout. The attempt keeps heartbeating while the call is in flight, so Temporal never
// starts a second attempt beside it: every page is fetched once.
func TestSlowPageIsReadByOneAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{pageSize: 500})
	connID := e.connectMeta()
	require.NoError(t, e.Sandbox.SetFaults(sandboxmeta.Faults{PageDelayMS: 25_000})) // heartbeat timeout: 20 s

	res := e.syncAndWait(connID)
	fetches := map[string]int{}
	for _, r := range e.Sandbox.Requests() {
		if r.Method == "GET" && strings.HasSuffix(r.Path, "/insights") {
			fetches[r.After]++
		}
	}
	require.NotEmpty(t, fetches)
	for after, n := range fetches {
		require.Equal(t, 1, n, "page after=%q fetched %d times", after, n)
	}
	// Every SyncWindow ran as attempt 1: no attempt was presumed dead and retried.
	it := e.Temporal.GetWorkflowHistory(e.ctx, workflows.SyncWorkflowID(connID), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if st := ev.GetActivityTaskStartedEventAttributes(); st != nil {
			require.Equal(t, int32(1), st.GetAttempt(), "an activity ran as attempt %d: %v", st.GetAttempt(), st.GetLastFailure())
		}
	}
	var stalled, writers int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT stalled_attempts, writer_seq FROM sync_runs WHERE id = $1`,
		res.SyncRunID).Scan(&stalled, &writers))
	require.Zero(t, stalled)
	want, err := e.Sandbox.Totals(demoAccount, res.From, res.To, "ad")
	require.NoError(t, err)
	require.Equal(t, want.SpendMicros, e.table().Spend)
}

// dieAfter makes the first call of an activity whose result done accepts hang, after the
// activity's work is committed, until the worker is stopped: the worker dies between that
// activity and whatever the workflow does next.
type dieAfter struct {
	interceptor.WorkerInterceptorBase
	activity string
	done     func(out any) bool
	once     sync.Once
	reached  chan struct{}
}

func newDieAfter(activity string, done func(out any) bool) *dieAfter {
	return &dieAfter{activity: activity, done: done, reached: make(chan struct{})}
}

func (d *dieAfter) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	i := &dieAfterActivity{d: d}
	i.Next = next
	return i
}

type dieAfterActivity struct {
	interceptor.ActivityInboundInterceptorBase
	d *dieAfter
}

func (i *dieAfterActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	out, err := i.Next.ExecuteActivity(ctx, in)
	if activity.GetInfo(ctx).ActivityType.Name != i.d.activity || err != nil || !i.d.done(out) {
		return out, err
	}
	first := false
	i.d.once.Do(func() { first = true })
	if !first {
		return out, err
	}
	close(i.d.reached)
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestWorkerDiesBetweenLastPageAndFinish: the window's last page (and with it the removal
// of rows the provider no longer returns) is committed, then the worker dies before the
// window finishes. A new worker finishes it, and the rows equal an uninterrupted run's.
func TestWorkerDiesBetweenLastPageAndFinish(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{pageSize: 40})
	connID := e.connectMeta()
	res := e.syncAndWait(connID)
	uninterrupted := e.table()

	// A row the provider does not return (an ad since deleted, say) inside the window.
	_, err := e.Store.Pool.Exec(e.ctx, `INSERT INTO ad_metrics_daily (workspace_id, connection_id, channel, account_id,
		campaign_id, ad_id, date, currency, spend_micros, impressions, clicks)
		VALUES ($1, $2, 'meta', $3, 'gone', 'gone', $4, 'USD', 5000000, 10, 1)`, e.Workspace, connID, demoAccount, res.To)
	require.NoError(t, err)

	die := newDieAfter("SyncWindow", func(out any) bool {
		res, ok := out.(activities.SyncWindowResult)
		return ok && res.Done
	})
	e.StopWorkers()
	e.interceptors = []interceptor.WorkerInterceptor{die}
	e.StartWorkers()
	wfID := e.triggerSync(connID)
	select {
	case <-die.reached:
	case <-time.After(2 * time.Minute):
		t.Fatal("the read never completed")
	}
	e.StopWorkers()
	e.interceptors = nil
	e.StartWorkers()

	var res2 workflows.ChannelSyncResult
	require.NoError(t, e.waitWorkflow(wfID, 3*time.Minute, &res2))
	require.Equal(t, "succeeded", res2.Status)
	require.Equal(t, uninterrupted.contentOnly(), e.table().contentOnly())
	var removed int64
	var status string
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT rows_removed, status FROM sync_runs WHERE id = $1`,
		res2.SyncRunID).Scan(&removed, &status))
	require.Equal(t, int64(1), removed, "the removal happened exactly once")
	require.Equal(t, "succeeded", status)
}

// TestWindowDyingAfterEveryPageCompletes: the worker dies after every committed page,
// more times than the retry policy allows attempts. Each attempt moved the read, so none
// brings the window closer to giving up, and it completes equal to the provider's data.
func TestWindowDyingAfterEveryPageCompletes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{pageSize: 10})
	connID := e.connectMeta()
	require.NoError(t, e.Sandbox.SetFaults(sandboxmeta.Faults{PageDelayMS: 100}))

	wfID := e.triggerSync(connID)
	kills := 0
	last := 0
	deadline := time.Now().Add(4 * time.Minute)
	for kills < activities.MaxStalledAttempts+3 && time.Now().Before(deadline) {
		pages := e.committedPages(wfID)
		if pages > last {
			e.StopWorkers()
			e.StartWorkers()
			kills++
			last = pages
			continue
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, activities.MaxStalledAttempts+3, kills, "the worker died after %d pages", last)

	var res workflows.ChannelSyncResult
	require.NoError(t, e.waitWorkflow(wfID, 3*time.Minute, &res))
	require.Equal(t, "succeeded", res.Status)
	want, err := e.Sandbox.Totals(demoAccount, res.From, res.To, "ad")
	require.NoError(t, err)
	got := e.table()
	require.Equal(t, int64(want.Rows), got.Rows)
	require.Equal(t, want.SpendMicros, got.Spend)
}

// TestCompletedWindowReadDropsRowsTheProviderNoLongerReturns: GA4 folds a day's rare
// traffic sources into "(other)" after we first read it. The next completed read of the
// window leaves exactly GA4's rows for that day: the folded rows are gone, not kept beside
// the new "(other)" row, and the day's sessions are counted once.
func TestCompletedWindowReadDropsRowsTheProviderNoLongerReturns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	const id = sandboxga4.DemoPropertyID
	status, body := e.call("POST", "/v1/connections", map[string]any{
		"channel": "ga4", "account_id": "properties/" + id, "refresh_token": sandboxga4.DefaultRefreshToken,
	})
	require.Equal(t, http.StatusCreated, status, "%v", body)
	connID := body["id"].(string)
	res := e.syncAndWait(connID)
	day := res.To
	var before int64
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM sessions_daily WHERE connection_id = $1 AND date = $2`,
		connID, day).Scan(&before))
	require.Greater(t, before, int64(3), "the day has rare sources to fold")

	require.NoError(t, e.SB.GA4.FoldOther(id, day, 2))
	res2 := e.syncAndWait(connID)
	want, err := e.SB.GA4.Totals(id, day, day)
	require.NoError(t, err)
	var rows, sessions, other int64
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*), coalesce(sum(sessions), 0),
		count(*) FILTER (WHERE source = '(other)') FROM sessions_daily WHERE connection_id = $1 AND date = $2`,
		connID, day).Scan(&rows, &sessions, &other))
	require.Equal(t, int64(want.Rows), rows)
	require.Equal(t, int64(3), rows, "two kept rows and one (other)")
	require.Equal(t, int64(1), other)
	require.Equal(t, want.Sessions, sessions)
	wantAll, err := e.SB.GA4.Totals(id, res2.From, res2.To)
	require.NoError(t, err)
	gotRows, gotSessions, _ := e.sessionsState()
	require.Equal(t, int64(wantAll.Rows), gotRows)
	require.Equal(t, wantAll.Sessions, gotSessions)
	var removed int64
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT rows_removed FROM sync_runs WHERE id = $1`, res2.SyncRunID).Scan(&removed))
	require.Equal(t, before-2, removed)
}

// TestBackfillOverlapAndCancel: a backfill overlapping a running one is refused with 409
// naming it, the same one again returns it, and cancelling it closes every window run it
// had started as cancelled, none left running.
func TestBackfillOverlapAndCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{pageSize: 10})
	connID := e.connectMeta()
	require.NoError(t, e.Sandbox.SetFaults(sandboxmeta.Faults{PageDelayMS: 300}))
	today := time.Now().UTC()
	day := func(back int) string { return today.AddDate(0, 0, -back).Format("2006-01-02") }
	path := "/v1/connections/" + connID + "/backfills"

	status, a := e.call("POST", path, map[string]any{"from": day(60), "to": day(1)})
	require.Equal(t, http.StatusAccepted, status, "%v", a)
	backfillID := a["workflow_id"].(string)
	status, again := e.call("POST", path, map[string]any{"from": day(60), "to": day(1)})
	require.Equal(t, http.StatusOK, status, "%v", again)
	require.Equal(t, backfillID, again["workflow_id"])
	status, b := e.call("POST", path, map[string]any{"from": day(30), "to": day(0)})
	require.Equal(t, http.StatusConflict, status, "%v", b)
	require.Equal(t, backfillID, b["workflow_id"], "the conflict names the running backfill")
	require.Contains(t, b["detail"], backfillID)
	status, c := e.call("POST", path, map[string]any{"from": day(100), "to": day(90)})
	require.Equal(t, http.StatusAccepted, status, "a backfill of other days runs beside it: %v", c)

	eventually(t, time.Minute, "a window has committed pages", func() bool {
		var n int
		_ = e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM sync_runs WHERE connection_id = $1 AND status = 'running'
			AND pages > 0 AND workflow_id LIKE 'backfill-window-%' AND window_from >= $2::date`, connID, day(60)).Scan(&n)
		return n > 0
	})
	require.NoError(t, e.Temporal.CancelWorkflow(e.ctx, backfillID, ""))
	err := e.waitWorkflow(backfillID, 2*time.Minute, nil)
	require.Error(t, err)
	require.True(t, temporal.IsCanceledError(err), "%v", err)
	e.recordHistory(backfillID, "", "backfill_cancelled")
	eventually(t, time.Minute, "no window of the backfill left running", func() bool {
		var running int
		_ = e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM sync_runs WHERE connection_id = $1 AND status = 'running'
			AND window_from >= $2::date`, connID, day(60)).Scan(&running)
		return running == 0
	})
	var cancelled int
	var cancelledWindow string
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*), max(workflow_id) FROM sync_runs WHERE connection_id = $1
		AND status = 'cancelled'`, connID).Scan(&cancelled, &cancelledWindow))
	require.Greater(t, cancelled, 0)
	e.recordHistory(cancelledWindow, "", "channel_sync_cancelled")
	_, conn := e.call("GET", "/v1/connections/"+connID, nil)
	require.Equal(t, "active", conn["status"], "cancelling is not a failure")
	require.Nil(t, conn["last_error"])

	// Once cancelled, the overlapping range may start.
	status, b = e.call("POST", path, map[string]any{"from": day(30), "to": day(0)})
	require.Equal(t, http.StatusAccepted, status, "%v", b)
}

// TestFailedBackfillShowsOnConnection: a backfill window that fails for good names itself,
// its time and its error on the connection.
func TestFailedBackfillShowsOnConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	connID := e.connectMeta()
	require.NoError(t, e.Sandbox.SetFaults(sandboxmeta.Faults{ExpiredToken: true}))
	today := time.Now().UTC()
	status, b := e.call("POST", "/v1/connections/"+connID+"/backfills", map[string]any{
		"from": today.AddDate(0, 0, -20).Format("2006-01-02"), "to": today.AddDate(0, 0, -1).Format("2006-01-02"),
	})
	require.Equal(t, http.StatusAccepted, status, "%v", b)
	require.Error(t, e.waitWorkflow(b["workflow_id"].(string), 2*time.Minute, nil))
	_, conn := e.call("GET", "/v1/connections/"+connID, nil)
	le, ok := conn["last_error"].(map[string]any)
	require.True(t, ok, "connection shows the failure: %v", conn)
	require.True(t, strings.HasPrefix(le["workflow_id"].(string), "backfill-window-"+connID), "%v", le)
	require.Contains(t, le["message"], "190")
	require.NotEmpty(t, le["at"])
}

// recordHistory writes the workflow's history as `temporal workflow show -o json` does, into
// $RECORD_HISTORIES/<name>.history.json, when that variable is set: how the replay tests'
// testdata (workflows/testdata) is recorded from real runs.
func (e *env) recordHistory(workflowID, runID, name string) {
	e.t.Helper()
	dir := os.Getenv("RECORD_HISTORIES")
	if dir == "" {
		return
	}
	var events []*historypb.HistoryEvent
	it := e.Temporal.GetWorkflowHistory(e.ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(e.t, err)
		events = append(events, ev)
	}
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&historypb.History{Events: events})
	require.NoError(e.t, err)
	require.NoError(e.t, os.WriteFile(filepath.Join(dir, name+".history.json"), b, 0o644))
}
