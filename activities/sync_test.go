package activities

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

// pagedReader serves `pages` pages of one row each with cursors "1", "2", ...; it records
// the cursors it was asked for.
type pagedReader struct {
	mu      sync.Mutex
	pages   int
	asked   []string
	failAt  string
	failErr error
	wait    time.Duration
	// slow makes every call take this long, as a provider call that outlasts the heartbeat timeout.
	slow time.Duration
}

func (r *pagedReader) AccountInfo(context.Context, channels.Account) (channels.AccountInfo, error) {
	return channels.AccountInfo{ID: "1", Currency: "USD", Timezone: "UTC"}, nil
}

func (r *pagedReader) ReadPage(_ context.Context, acct channels.Account, req channels.ReadRequest, cursor string) (channels.Page, error) {
	time.Sleep(r.slow)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, cursor)
	if r.failErr != nil && cursor == r.failAt {
		return channels.Page{}, r.failErr
	}
	n := 0
	if cursor != "" {
		n, _ = strconv.Atoi(cursor)
	}
	next := strconv.Itoa(n + 1)
	if n+1 >= r.pages {
		next = ""
	}
	row := channels.AdRow{
		Channel: channels.Meta, AccountID: acct.ID, CampaignID: "cmp", AdSetID: "set", AdID: fmt.Sprintf("ad%d", n),
		Date: req.Window.From, Currency: "USD", SpendMicros: int64(n+1) * 1_000_000, Impressions: 100, Clicks: 5,
	}
	return channels.Page{Rows: []channels.AdRow{row}, Next: next, Wait: r.wait}, nil
}

type fixture struct {
	st   *store.Store
	acts *Sync
	run  store.SyncRun
	conn store.Connection
}

func newFixture(t *testing.T, reader channels.AdReader) fixture {
	t.Helper()
	st, _ := testdb.New(t)
	ctx := context.Background()
	ws, err := st.CreateWorkspace(ctx, "Test", "USD", "UTC")
	require.NoError(t, err)
	box, err := secretbox.New(make([]byte, 32))
	require.NoError(t, err)
	sealed, err := box.Seal([]byte("tok"), secretbox.ConnectionTokenAAD(ws.ID, "meta", "42"))
	require.NoError(t, err)
	conn, err := st.CreateConnection(ctx, store.NewConnection{
		WorkspaceID: ws.ID, Channel: "meta", ExternalAccountID: "42", TokenCiphertext: sealed, Timezone: "UTC", Currency: "USD",
	})
	require.NoError(t, err)
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	run, err := st.StartSyncRun(ctx, store.NewSyncRun{
		WorkspaceID: ws.ID, ConnectionID: conn.ID, Channel: "meta", Kind: "backfill",
		WorkflowID: "wf", RunID: "run", Window: channels.Window{From: day, To: day},
	})
	require.NoError(t, err)
	acts := &Sync{Store: st, Box: box, Connectors: channels.Registry{Ads: map[channels.Channel]channels.AdReader{channels.Meta: reader}}, MaxPagesPerCall: 100}
	return fixture{st: st, acts: acts, run: run, conn: conn}
}

func TestSyncWindowCommitsEveryPage(t *testing.T) {
	reader := &pagedReader{pages: 4}
	f := newFixture(t, reader)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(f.acts.SyncWindow)

	val, err := env.ExecuteActivity(f.acts.SyncWindow, SyncWindowInput{WorkspaceID: f.run.WorkspaceID, SyncRunID: f.run.ID})
	require.NoError(t, err)
	var res SyncWindowResult
	require.NoError(t, val.Get(&res))
	require.Equal(t, SyncWindowResult{Pages: 4, Rows: 4, Done: true}, res)

	var rows, spend int64
	require.NoError(t, f.st.Pool.QueryRow(context.Background(),
		`SELECT count(*), sum(spend_micros) FROM ad_metrics_daily WHERE connection_id = $1`, f.conn.ID).Scan(&rows, &spend))
	require.Equal(t, int64(4), rows)
	require.Equal(t, int64(10_000_000), spend)
	run, err := f.st.GetSyncRun(context.Background(), f.run.ID)
	require.NoError(t, err)
	require.Equal(t, 4, run.Pages)
	require.Equal(t, "", run.PageCursor)
}

func TestSyncWindowResumesFromHeartbeatCursor(t *testing.T) {
	reader := &pagedReader{pages: 5}
	f := newFixture(t, reader)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(f.acts.SyncWindow)
	// A previous attempt committed pages 1-3 and heartbeated the cursor of page 4.
	env.SetHeartbeatDetails(readPosition{Cursor: "3", Pages: 3, Rows: 3})

	val, err := env.ExecuteActivity(f.acts.SyncWindow, SyncWindowInput{WorkspaceID: f.run.WorkspaceID, SyncRunID: f.run.ID})
	require.NoError(t, err)
	var res SyncWindowResult
	require.NoError(t, val.Get(&res))
	require.True(t, res.Done)
	require.Equal(t, []string{"3", "4"}, reader.asked, "must not re-read pages before the heartbeated cursor")
}

func TestSyncWindowResumesFromCommittedCursorWithoutHeartbeat(t *testing.T) {
	reader := &pagedReader{pages: 3}
	f := newFixture(t, reader)
	// The heartbeat was lost, but page 1 was committed with its cursor.
	claim, err := f.st.ClaimSyncRun(context.Background(), f.run.ID)
	require.NoError(t, err)
	_, err = f.st.CommitAdPage(context.Background(), f.run, claim, nil, "1")
	require.NoError(t, err)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(f.acts.SyncWindow)

	_, err = env.ExecuteActivity(f.acts.SyncWindow, SyncWindowInput{WorkspaceID: f.run.WorkspaceID, SyncRunID: f.run.ID})
	require.NoError(t, err)
	require.Equal(t, []string{"1", "2"}, reader.asked)
}

func TestSyncWindowClassifiesProviderErrors(t *testing.T) {
	cases := []struct {
		name         string
		err          error
		wantType     string
		nonRetryable bool
		wantDelay    time.Duration
		wantStatus   string
	}{
		{"expired token stops and flags the connection", &channels.Error{Channel: channels.Meta, Kind: channels.KindAuth, Code: 190, Message: "Session has expired"},
			ErrTypeProviderAuth, true, 0, store.ConnectionNeedsReauth},
		{"bad request stops", &channels.Error{Channel: channels.Meta, Kind: channels.KindBadRequest, Code: 100, Message: "Invalid parameter"},
			ErrTypeProviderBadRequest, true, 0, store.ConnectionActive},
		{"server error retries with backoff", &channels.Error{Channel: channels.Meta, Kind: channels.KindTransient, HTTPStatus: 500},
			ErrTypeProviderTransient, false, 0, store.ConnectionActive},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reader := &pagedReader{pages: 3, failAt: "1", failErr: tc.err}
			f := newFixture(t, reader)
			var s testsuite.WorkflowTestSuite
			env := s.NewTestActivityEnvironment()
			env.RegisterActivity(f.acts.SyncWindow)

			_, err := env.ExecuteActivity(f.acts.SyncWindow, SyncWindowInput{WorkspaceID: f.run.WorkspaceID, SyncRunID: f.run.ID})
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			require.Equal(t, tc.wantType, appErr.Type())
			require.Equal(t, tc.nonRetryable, appErr.NonRetryable())
			require.Equal(t, tc.wantDelay, appErr.NextRetryDelay())

			conn, err := f.st.GetConnection(context.Background(), f.conn.WorkspaceID, f.conn.ID)
			require.NoError(t, err)
			require.Equal(t, tc.wantStatus, conn.Status)
			// The page before the failure stays committed with its cursor.
			run, err := f.st.GetSyncRun(context.Background(), f.run.ID)
			require.NoError(t, err)
			require.Equal(t, 1, run.Pages)
			require.Equal(t, "1", run.PageCursor)
		})
	}
}

func TestSyncWindowTurnsProviderPausesIntoWorkflowWaits(t *testing.T) {
	cases := []struct {
		name     string
		reader   *pagedReader
		wantWait time.Duration
	}{
		{"long usage pause", &pagedReader{pages: 3, wait: 2 * time.Minute}, 2 * time.Minute},
		{"rate-limit error", &pagedReader{pages: 3, failAt: "1", failErr: &channels.Error{
			Channel: channels.Meta, Kind: channels.KindRateLimited, Code: 17, RetryAfter: time.Hour}}, time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.reader)
			var s testsuite.WorkflowTestSuite
			env := s.NewTestActivityEnvironment()
			env.RegisterActivity(f.acts.SyncWindow)

			// Waiting is not a failure: the call succeeds and asks the workflow to wait.
			val, err := env.ExecuteActivity(f.acts.SyncWindow, SyncWindowInput{WorkspaceID: f.run.WorkspaceID, SyncRunID: f.run.ID})
			require.NoError(t, err)
			var res SyncWindowResult
			require.NoError(t, val.Get(&res))
			require.Equal(t, SyncWindowResult{Pages: 1, Rows: 1, Wait: tc.wantWait, WaitReason: "Meta rate limit"}, res)
			run, err := f.st.GetSyncRun(context.Background(), f.run.ID)
			require.NoError(t, err)
			require.Equal(t, 1, run.Pages, "the page read before the pause is committed")
			require.Equal(t, 0, run.StalledAttempts)
		})
	}
}

// adRows is the connection's rows as ad id -> spend.
func (f fixture) adRows(t *testing.T) map[string]int64 {
	t.Helper()
	rows, err := f.st.Pool.Query(context.Background(), `SELECT ad_id, spend_micros FROM ad_metrics_daily WHERE connection_id = $1`, f.conn.ID)
	require.NoError(t, err)
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var spend int64
		require.NoError(t, rows.Scan(&id, &spend))
		out[id] = spend
	}
	require.NoError(t, rows.Err())
	return out
}

func (f fixture) newRun(t *testing.T, runID string) store.SyncRun {
	t.Helper()
	run, err := f.st.StartSyncRun(context.Background(), store.NewSyncRun{
		WorkspaceID: f.run.WorkspaceID, ConnectionID: f.conn.ID, Channel: "meta", Kind: "backfill",
		WorkflowID: "wf", RunID: runID, Window: channels.Window{From: f.run.WindowFrom, To: f.run.WindowTo},
	})
	require.NoError(t, err)
	return run
}

func (f fixture) syncWindow(t *testing.T, run store.SyncRun) (SyncWindowResult, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(f.acts.SyncWindow)
	val, err := env.ExecuteActivity(f.acts.SyncWindow, SyncWindowInput{WorkspaceID: run.WorkspaceID, SyncRunID: run.ID})
	var res SyncWindowResult
	if err == nil {
		require.NoError(t, val.Get(&res))
	}
	return res, err
}

func TestCompletedReadLeavesExactlyWhatTheProviderReturned(t *testing.T) {
	reader := &pagedReader{pages: 4}
	f := newFixture(t, reader)
	_, err := f.syncWindow(t, f.run)
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"ad0": 1e6, "ad1": 2e6, "ad2": 3e6, "ad3": 4e6}, f.adRows(t))

	// The provider now returns only the first two ads. A read that fails half-way removes
	// nothing: only a completed read knows what the provider no longer returns.
	reader.mu.Lock()
	reader.pages, reader.failAt, reader.failErr = 2, "1", &channels.Error{Channel: channels.Meta, Kind: channels.KindTransient, HTTPStatus: 500}
	reader.mu.Unlock()
	second := f.newRun(t, "run-2")
	_, err = f.syncWindow(t, second)
	require.Error(t, err)
	require.Len(t, f.adRows(t), 4, "an incomplete read must not remove rows")

	// The retry completes the read: exactly what the provider returned is left.
	reader.mu.Lock()
	reader.failErr = nil
	reader.mu.Unlock()
	res, err := f.syncWindow(t, second)
	require.NoError(t, err)
	require.True(t, res.Done)
	require.Equal(t, map[string]int64{"ad0": 1e6, "ad1": 2e6}, f.adRows(t))
	run, err := f.st.GetSyncRun(context.Background(), second.ID)
	require.NoError(t, err)
	require.Equal(t, int64(2), run.RowsRemoved)
	require.NotNil(t, run.ReadCompletedAt)

	// Calling the finished read again (a retried activity) reads and removes nothing more.
	reader.mu.Lock()
	reader.asked = nil
	reader.mu.Unlock()
	res, err = f.syncWindow(t, second)
	require.NoError(t, err)
	require.True(t, res.Done)
	require.Empty(t, reader.asked)
	var keys int
	require.NoError(t, f.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM sync_run_ad_keys`).Scan(&keys))
	require.Zero(t, keys, "a completed read drops its read keys")
}

func TestOnlyAttemptsWithoutProgressCountTowardGivingUp(t *testing.T) {
	reader := &pagedReader{pages: 3, failAt: "1", failErr: &channels.Error{Channel: channels.Meta, Kind: channels.KindTransient, HTTPStatus: 500}}
	f := newFixture(t, reader)
	// The first attempt commits a page, then fails: that is progress.
	_, err := f.syncWindow(t, f.run)
	require.Error(t, err)
	for i := 1; i < MaxStalledAttempts; i++ {
		_, err := f.syncWindow(t, f.run)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		require.Equal(t, ErrTypeProviderTransient, appErr.Type(), "attempt %d", i+1)
	}
	run, err := f.st.GetSyncRun(context.Background(), f.run.ID)
	require.NoError(t, err)
	require.Equal(t, MaxStalledAttempts-2, run.StalledAttempts, "counted when the next attempt claims the run")
	_, err = f.syncWindow(t, f.run)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, ErrTypeNoProgress, appErr.Type())
	require.True(t, appErr.NonRetryable())
	require.Contains(t, appErr.Error(), "10 attempts in a row")
	require.Contains(t, appErr.Error(), "HTTP 500", "the give-up names the last attempt's error")
}

func TestAttemptsThatCommitNeverGiveUp(t *testing.T) {
	// Every attempt commits one page and then dies: far more attempts than the stall
	// limit, and the window still completes.
	pages := 3 * MaxStalledAttempts
	reader := &pagedReader{pages: pages}
	f := newFixture(t, reader)
	f.acts.MaxPagesPerCall = 1
	for i := 0; i < pages; i++ {
		// A dead attempt leaves its claim open: it never released it.
		_, err := f.st.ClaimSyncRun(context.Background(), f.run.ID)
		require.NoError(t, err)
		res, err := f.syncWindow(t, f.run)
		require.NoError(t, err, "attempt %d", i+1)
		if res.Done {
			break
		}
	}
	run, err := f.st.GetSyncRun(context.Background(), f.run.ID)
	require.NoError(t, err)
	require.NotNil(t, run.ReadCompletedAt)
	require.Equal(t, pages, run.Pages)
}

func TestSupersededAttemptCannotWrite(t *testing.T) {
	f := newFixture(t, &pagedReader{pages: 2})
	ctx := context.Background()
	old, err := f.st.ClaimSyncRun(ctx, f.run.ID)
	require.NoError(t, err)
	_, err = f.st.ClaimSyncRun(ctx, f.run.ID) // Temporal presumed the first dead and started another
	require.NoError(t, err)
	row := channels.AdRow{Channel: channels.Meta, AccountID: "42", CampaignID: "c", AdID: "late", Date: f.run.WindowFrom, Currency: "USD", SpendMicros: 1}
	_, err = f.st.CommitAdPage(ctx, f.run, old, []channels.AdRow{row}, "")
	require.ErrorIs(t, err, store.ErrSuperseded)
	require.Empty(t, f.adRows(t))
	require.ErrorIs(t, f.st.SaveSyncCursor(ctx, old, "x"), store.ErrSuperseded)
}

func TestIncrementalWindowUsesLookbackAndAccountTimezone(t *testing.T) {
	f := newFixture(t, &pagedReader{})
	// 2026-11-26 03:00 UTC is still 2026-11-25 in New York.
	f.acts.Now = func() time.Time { return time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC) }
	conn := f.conn
	conn.Timezone = "America/New_York"
	w, err := f.acts.window(conn, PrepareInput{Kind: "incremental"})
	require.NoError(t, err)
	require.Equal(t, "2026-10-28..2026-11-25", w.String())

	cursor := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	conn.CursorDate = &cursor
	w, err = f.acts.window(conn, PrepareInput{Kind: "incremental"})
	require.NoError(t, err)
	require.Equal(t, "2026-10-23..2026-11-25", w.String())

	w, err = f.acts.window(conn, PrepareInput{Kind: "backfill", From: "2026-11-01", To: "2026-12-31"})
	require.NoError(t, err)
	require.Equal(t, "2026-11-01..2026-11-25", w.String(), "a backfill never reads the future")
}

func TestSyncWindowHeartbeatsDuringASlowProviderCall(t *testing.T) {
	reader := &pagedReader{pages: 1, slow: 500 * time.Millisecond}
	f := newFixture(t, reader)
	f.acts.HeartbeatEvery = 50 * time.Millisecond
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(f.acts.SyncWindow)
	var mu sync.Mutex
	beats := 0
	f.acts.recordHeartbeat = func(ctx context.Context, details ...any) {
		mu.Lock()
		beats++
		mu.Unlock()
		activity.RecordHeartbeat(ctx, details...)
	}

	_, err := env.ExecuteActivity(f.acts.SyncWindow, SyncWindowInput{WorkspaceID: f.run.WorkspaceID, SyncRunID: f.run.ID})
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	// One call of 500 ms: the attempt kept heartbeating while it was in flight.
	require.GreaterOrEqual(t, beats, 5)
}
