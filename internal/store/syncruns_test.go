package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

// TestFinishSyncRunShowsFailuresUntilALaterRunSucceeds: a failed run, incremental or
// backfill, shows on the connection with its workflow; a run that started before the failure
// and succeeds after it leaves it shown; a run started after it clears it; a retried finish
// changes nothing; a cancelled run is not a failure.
func TestFinishSyncRunShowsFailuresUntilALaterRunSucceeds(t *testing.T) {
	st, _ := testdb.New(t)
	ctx := context.Background()
	ws, err := st.CreateWorkspace(ctx, "W", "USD", "UTC")
	require.NoError(t, err)
	conn, err := st.CreateConnection(ctx, store.NewConnection{WorkspaceID: ws.ID, Channel: "meta",
		ExternalAccountID: "1", TokenCiphertext: []byte{1}, Timezone: "UTC", Currency: "USD"})
	require.NoError(t, err)
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	start := func(wf, kind string) store.SyncRun {
		r, err := st.StartSyncRun(ctx, store.NewSyncRun{WorkspaceID: ws.ID, ConnectionID: conn.ID, Channel: "meta",
			Kind: kind, WorkflowID: wf, RunID: "r", Window: channels.Window{From: day, To: day}})
		require.NoError(t, err)
		return r
	}
	finish := func(r store.SyncRun, status, msg string) {
		_, err := st.FinishSyncRun(ctx, store.FinishRun{RunID: r.ID, Status: status, Error: msg, WorkflowID: r.WorkflowID})
		require.NoError(t, err)
	}
	get := func() store.Connection {
		c, err := st.GetConnection(ctx, ws.ID, conn.ID)
		require.NoError(t, err)
		return c
	}

	early := start("backfill-window-a", "backfill")
	time.Sleep(10 * time.Millisecond)
	failed := start("backfill-window-b", "backfill")
	finish(failed, store.RunFailed, "meta bad_request error: boom")
	c := get()
	require.Equal(t, store.ConnectionError, c.Status)
	require.Equal(t, "meta bad_request error: boom", c.StatusReason)
	require.Equal(t, "backfill-window-b", c.LastErrorWorkflowID)
	require.NotNil(t, c.LastErrorAt)

	// Retried finish of the failed run: nothing moves.
	at := *c.LastErrorAt
	finish(failed, store.RunFailed, "other")
	require.Equal(t, at, *get().LastErrorAt)

	finish(early, store.RunSucceeded, "")
	require.Equal(t, store.ConnectionError, get().Status, "a run started before the failure does not clear it")

	cancelled := start("backfill-window-c", "backfill")
	finish(cancelled, store.RunCancelled, "canceled")
	require.Equal(t, "backfill-window-b", get().LastErrorWorkflowID, "cancelling is not a failure")

	later := start("sync-x", "incremental")
	finish(later, store.RunSucceeded, "")
	c = get()
	require.Equal(t, store.ConnectionActive, c.Status)
	require.Empty(t, c.StatusReason)
	require.Nil(t, c.LastErrorAt)
	require.Empty(t, c.LastErrorWorkflowID)
	require.Empty(t, c.LastErrorMessage)
}
