package syncsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// Backfills past a workspace's caps are refused naming the running ones, other workspaces
// are unaffected, an ended backfill frees its room, and concurrent requests from several
// API replicas never pass the caps together. No worker runs, so started backfills stay
// Running.
func TestBackfillCaps(t *testing.T) {
	bin, err := temporalCLI()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: bin, LogLevel: "error", SearchAttributes: workflows.AllSearchAttributes(),
		ClientOptions: &client.Options{Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))},
	})
	require.NoError(t, err)
	defer func() { _ = srv.Stop() }()
	st, _ := testdb.New(t)
	svc := &Service{Temporal: srv.Client(), Store: st}

	workspace := func(name string) string {
		ws, err := st.CreateWorkspace(ctx, name, "USD", "UTC")
		require.NoError(t, err)
		return ws.ID
	}
	conn := func(workspaceID, account string) store.Connection {
		c, err := st.CreateConnection(ctx, store.NewConnection{WorkspaceID: workspaceID, Channel: "meta", ExternalAccountID: account,
			DisplayName: "Acct " + account, TokenCiphertext: []byte("sealed"), Timezone: "UTC", Currency: "USD"})
		require.NoError(t, err)
		return c
	}
	windowsOf := func(id string) int {
		status, windows, found, err := svc.describeBackfill(ctx, id)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, status)
		return windows
	}

	// Ranges relative to today, inside the providers' retention whenever the test runs.
	day := func(daysAgo int) string { return time.Now().UTC().AddDate(0, 0, -daysAgo).Format("2006-01-02") }
	halfFrom, halfTo := day(400), day(220)   // a long backfill (several windows)
	laterFrom, laterTo := day(200), day(20)  // another, not overlapping it
	monthFrom, monthTo := day(400), day(370) // a short one (a few windows)
	quarterFrom, quarterTo := day(400), day(310)

	a := workspace("A")
	a1, a2 := conn(a, "1"), conn(a, "2")
	h1, started, err := svc.StartBackfill(ctx, a1, halfFrom, halfTo)
	require.NoError(t, err)
	require.True(t, started)
	h2, _, err := svc.StartBackfill(ctx, a2, halfFrom, halfTo)
	require.NoError(t, err)
	require.Equal(t, []int{3, 3}, []int{windowsOf(h1.WorkflowID), windowsOf(h2.WorkflowID)})

	// Two backfills read the workspace's 6 windows: a third is refused, naming both.
	_, _, err = svc.StartBackfill(ctx, a1, laterFrom, laterTo)
	var lim *LimitError
	require.ErrorAs(t, err, &lim)
	require.Equal(t, []string{h1.WorkflowID, h2.WorkflowID}, lim.Running)
	require.Contains(t, lim.Msg, "6 windows at once")
	require.Contains(t, lim.Msg, h1.WorkflowID+" ("+halfFrom+".."+halfTo+")")
	// The same backfill again is still the running one, not a refusal.
	again, started, err := svc.StartBackfill(ctx, a1, halfFrom, halfTo)
	require.NoError(t, err)
	require.False(t, started)
	require.Equal(t, h1.WorkflowID, again.WorkflowID)

	// Another workspace has its own room.
	b := workspace("B")
	hb, started, err := svc.StartBackfill(ctx, conn(b, "3"), halfFrom, halfTo)
	require.NoError(t, err)
	require.True(t, started)
	require.Equal(t, 3, windowsOf(hb.WorkflowID))

	// A backfill that ended (terminated here, so nothing told the database) frees its room.
	require.NoError(t, svc.Temporal.TerminateWorkflow(ctx, h1.WorkflowID, "", "test"))
	h3, started, err := svc.StartBackfill(ctx, a1, laterFrom, laterTo)
	require.NoError(t, err)
	require.True(t, started)
	require.Equal(t, 3, windowsOf(h3.WorkflowID))
	var status string
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT status FROM backfills WHERE workflow_id = $1`, h1.WorkflowID).Scan(&status))
	require.Equal(t, store.RunFailed, status)

	// With more windows than backfills allowed, the count cap refuses, and the last one
	// admitted gets only the windows left.
	c := workspace("C")
	roomy := &Service{Temporal: srv.Client(), Store: st, MaxBackfills: 3, MaxBackfillWindows: 8}
	var granted []int
	for i := range 3 {
		h, _, err := roomy.StartBackfill(ctx, conn(c, fmt.Sprint(10+i)), monthFrom, monthTo)
		require.NoError(t, err)
		granted = append(granted, windowsOf(h.WorkflowID))
	}
	require.Equal(t, []int{3, 3, 2}, granted)
	_, _, err = roomy.StartBackfill(ctx, conn(c, "13"), monthFrom, monthTo)
	require.ErrorAs(t, err, &lim)
	require.Len(t, lim.Running, 3)
	require.Contains(t, lim.Msg, "runs 3 backfills")

	// Ten requests at once, each through its own Service as on separate API replicas:
	// exactly two fit the default caps.
	d := workspace("D")
	conns := make([]store.Connection, 10)
	for i := range conns {
		conns[i] = conn(d, fmt.Sprint(20+i))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(conns))
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replica := &Service{Temporal: srv.Client(), Store: st}
			_, _, errs[i] = replica.StartBackfill(ctx, conns[i], quarterFrom, quarterTo)
		}()
	}
	wg.Wait()
	admitted, refused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			admitted++
		case errors.As(err, &lim):
			refused++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	require.Equal(t, [2]int{2, 8}, [2]int{admitted, refused})
	var running int
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT count(*) FROM backfills WHERE workspace_id = $1 AND status = 'running'`, d).Scan(&running))
	require.Equal(t, 2, running)
}

func TestCheckScheduleInterval(t *testing.T) {
	cases := []struct {
		cron string
		ok   bool
	}{
		{"* * * * *", false},
		{"*/5 * * * *", false},
		{"0,14 * * * *", false},
		{"*/15 * * * *", true},
		{"0,30 * * * *", true},
		{DefaultCron, true},
		{"0 3 * * MON-FRI", true},
	}
	for _, tc := range cases {
		t.Run(tc.cron, func(t *testing.T) {
			err := checkScheduleInterval(tc.cron)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			require.True(t, strings.Contains(verr.Msg, "at most every 15 minutes"), verr.Msg)
		})
	}
}
