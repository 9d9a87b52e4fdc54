package syncsvc

import (
	"github.com/omnitrackiq/omnitrackiq/internal/toolbin"

	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/omnitrackiq/omnitrackiq/activities"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

func temporalCLI() (string, error) { return toolbin.Find("TEMPORAL_CLI", "temporal") }

// Suspension pauses the schedules of the workspace's live connections and recovery
// resumes only those, on a real Temporal dev server.
func TestPauseAndResumeWorkspaceSchedules(t *testing.T) {
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
	ws, err := st.CreateWorkspace(ctx, "Acme", "USD", "UTC")
	require.NoError(t, err)
	other, err := st.CreateWorkspace(ctx, "Other", "USD", "UTC")
	require.NoError(t, err)
	svc := &Service{Temporal: srv.Client(), Store: st}
	conn := func(workspaceID, account string, schedule bool) store.Connection {
		c, err := st.CreateConnection(ctx, store.NewConnection{WorkspaceID: workspaceID, Channel: "meta", ExternalAccountID: account,
			DisplayName: "Acct " + account, TokenCiphertext: []byte("sealed"), Timezone: "UTC", Currency: "USD"})
		require.NoError(t, err)
		if schedule {
			require.NoError(t, svc.EnsureSchedule(ctx, c))
		}
		return c
	}
	running := conn(ws.ID, "1", true)
	userPaused := conn(ws.ID, "2", true)
	_ = conn(ws.ID, "3", false) // no schedule: skipped
	gone := conn(ws.ID, "4", true)
	elsewhere := conn(other.ID, "5", true)
	paused := true
	_, err = svc.UpdateSchedule(ctx, userPaused, ScheduleUpdate{Paused: &paused})
	require.NoError(t, err)
	_, err = st.DisconnectConnection(ctx, ws.ID, gone.ID)
	require.NoError(t, err)

	state := func(c store.Connection) (bool, string) {
		d, err := svc.Temporal.ScheduleClient().GetHandle(ctx, workflows.ScheduleID(c.ID)).Describe(ctx)
		require.NoError(t, err)
		return d.Schedule.State.Paused, d.Schedule.State.Note
	}

	for range 2 { // idempotent
		require.NoError(t, svc.PauseWorkspaceSchedules(ctx, ws.ID))
	}
	p, note := state(running)
	require.True(t, p)
	require.Equal(t, activities.SchedulesPausedNote, note)
	p, note = state(userPaused)
	require.True(t, p)
	require.Equal(t, "paused through the API", note, "a schedule the user paused is not marked as billing's")
	p, _ = state(gone)
	require.False(t, p, "a disconnected connection's schedule is left alone")
	p, _ = state(elsewhere)
	require.False(t, p, "other workspaces are untouched")

	for range 2 {
		require.NoError(t, svc.ResumeWorkspaceSchedules(ctx, ws.ID))
	}
	p, note = state(running)
	require.False(t, p)
	require.Equal(t, billingResumedNote, note)
	p, _ = state(userPaused)
	require.True(t, p, "the user's pause stays")
}
