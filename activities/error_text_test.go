package activities

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// TestStoredErrorsHideOurAddresses drives the three places where an error's text is stored
// for tenants to read (the attempt error of a run, a needs_reauth reason, and a failed run's
// error with the connection's status_reason and last_error) with messages that name our own
// addresses, as a database or proxy error would.
func TestStoredErrorsHideOurAddresses(t *testing.T) {
	ctx := context.Background()
	const internal = "10.0.3.7"

	t.Run("attempt error", func(t *testing.T) {
		reader := &pagedReader{pages: 3, failAt: "", failErr: errors.New("load fx rates: dial tcp 10.0.3.7:5432: connect: connection refused")}
		f := newFixture(t, reader)
		var s testsuite.WorkflowTestSuite
		env := s.NewTestActivityEnvironment()
		env.RegisterActivity(f.acts.SyncWindow)
		_, err := env.ExecuteActivity(f.acts.SyncWindow, SyncWindowInput{WorkspaceID: f.run.WorkspaceID, SyncRunID: f.run.ID})
		require.Error(t, err)
		var stored string
		require.NoError(t, f.st.Pool.QueryRow(ctx, `SELECT last_attempt_error FROM sync_runs WHERE id = $1`, f.run.ID).Scan(&stored))
		require.Equal(t, "load fx rates: dial tcp [address]: connect: connection refused (type: ProviderTransient, retryable: true)", stored)
	})

	t.Run("needs_reauth reason", func(t *testing.T) {
		reader := &pagedReader{pages: 3, failAt: "", failErr: &channels.Error{Channel: channels.Meta, Kind: channels.KindAuth, Code: 190,
			Message: "Session has expired (seen from 10.0.3.7)"}}
		f := newFixture(t, reader)
		var s testsuite.WorkflowTestSuite
		env := s.NewTestActivityEnvironment()
		env.RegisterActivity(f.acts.SyncWindow)
		_, err := env.ExecuteActivity(f.acts.SyncWindow, SyncWindowInput{WorkspaceID: f.run.WorkspaceID, SyncRunID: f.run.ID})
		require.Error(t, err)
		conn, err := f.st.GetConnection(ctx, f.conn.WorkspaceID, f.conn.ID)
		require.NoError(t, err)
		require.Equal(t, store.ConnectionNeedsReauth, conn.Status)
		require.Equal(t, "Session has expired (seen from [address])", conn.StatusReason)
	})

	t.Run("failed run", func(t *testing.T) {
		f := newFixture(t, &pagedReader{pages: 1})
		msg := "meta transient error: GET /v21.0/act_42/insights: could not reach graph.facebook.com: connection refused; " +
			"then: read tcp 10.0.3.7:51234->[fd00::7]:443: read: connection reset by peer"
		_, err := f.acts.FinishSync(ctx, FinishInput{WorkspaceID: f.run.WorkspaceID, ConnectionID: f.conn.ID,
			SyncRunID: f.run.ID, WorkflowID: "wf", Kind: "backfill", Error: msg})
		require.NoError(t, err)
		want := "meta transient error: GET /v21.0/act_42/insights: could not reach graph.facebook.com: connection refused; " +
			"then: read tcp [address]->[address]: read: connection reset by peer"
		run, err := f.st.GetSyncRun(ctx, f.run.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunFailed, run.Status)
		require.Equal(t, want, run.Error)
		conn, err := f.st.GetConnection(ctx, f.conn.WorkspaceID, f.conn.ID)
		require.NoError(t, err)
		require.Equal(t, want, conn.StatusReason)
		require.Equal(t, want, conn.LastErrorMessage)
		for _, s := range []string{run.Error, conn.StatusReason, conn.LastErrorMessage} {
			require.False(t, strings.Contains(s, internal), s)
		}
	})
}
