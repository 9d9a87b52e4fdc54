package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/omnitrackiq/omnitrackiq/activities"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/cli/keys"
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	sandboxmeta "github.com/omnitrackiq/omnitrackiq/internal/sandbox/meta"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/worker"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// sameTokenRefresher "refreshes" a token to itself with a new expiry, as Meta's exchange
// of a long-lived token does (with a new token); the sandbox accepts the same token again.
type sameTokenRefresher struct{ expiresAt time.Time }

func (r sameTokenRefresher) Refresh(_ context.Context, _, _, access, refresh string) (activities.RefreshedToken, error) {
	return activities.RefreshedToken{Access: access, Refresh: refresh, ExpiresAt: r.expiresAt}, nil
}

// restartLifecycleWorkers replaces the harness's workers with ones that also send mail and
// refresh tokens, sealing with box.
func (e *env) restartLifecycleWorkers(box *secretbox.Box, refresher activities.TokenRefresher) {
	e.t.Helper()
	e.StopWorkers()
	mailer, err := notify.NewSMTP(mailServer.SMTPURL(), "OmniTrackIQ <no-reply@omnitrackiq.test>")
	require.NoError(e.t, err)
	acts := &activities.Sync{
		Store: e.Store, Connectors: e.Connectors, Box: box, Temporal: e.Temporal, Logger: e.logger,
		MaxPagesPerCall: 5, Mailer: mailer, AppURL: e.Identity.AppURL, Refresher: refresher,
	}
	e.workers = worker.New(e.Temporal, acts, worker.Options{
		ChannelActivitiesPerSecond: map[channels.Channel]float64{channels.Meta: 50},
		EnsureSchedules:            e.Syncs.EnsureTokenRefreshSchedule,
	})
	require.NoError(e.t, e.workers.Start())
}

// addPerson adds a user of the role to the test's workspace; the address is unique to the
// test, since every test shares one mailpit.
func (e *env) addPerson(role string) string {
	e.t.Helper()
	email := fmt.Sprintf("%s-%s@lifecycle.test", role, e.Workspace[:8])
	u, err := store.CreateUser(e.ctx, e.Store.Pool, email, role, "not-a-hash")
	require.NoError(e.t, err)
	require.NoError(e.t, store.AddMember(e.ctx, e.Store.Pool, e.Workspace, u.ID, role))
	return email
}

func (e *env) reauthMails(addr string) int {
	e.t.Helper()
	msgs, err := e.Mail.To(e.ctx, addr)
	require.NoError(e.t, err)
	n := 0
	for _, m := range msgs {
		if strings.Contains(m.Subject, "needs to be reconnected") {
			n++
		}
	}
	return n
}

func TestConnectionLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.restartLifecycleWorkers(e.Box, nil)
	owner, admin, member := e.addPerson("owner"), e.addPerson("admin"), e.addPerson("member")

	connID := e.connectMeta()
	res := e.syncAndWait(connID)
	require.Positive(t, res.Rows)
	rowsBefore := e.table().Rows

	// Pause: Temporal's schedule says paused.
	status, body := e.call("PATCH", "/v1/connections/"+connID, map[string]any{"paused": true, "display_name": "Brand EU"})
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, true, body["paused"])
	require.Equal(t, "Brand EU", body["display_name"])
	desc, err := e.Temporal.ScheduleClient().GetHandle(e.ctx, workflows.ScheduleID(connID)).Describe(e.ctx)
	require.NoError(t, err)
	require.True(t, desc.Schedule.State.Paused)

	// A needs_reauth episode: the provider refuses the token on two syncs; one email.
	require.NoError(t, e.Sandbox.SetFaults(sandboxmeta.Faults{ExpiredToken: true}))
	require.Error(t, e.waitWorkflow(e.triggerSync(connID), time.Minute, nil))
	msg, err := e.Mail.WaitFor(e.ctx, owner, "needs to be reconnected", 30*time.Second)
	require.NoError(t, err)
	require.Contains(t, msg.Subject, "Brand EU")
	require.Contains(t, msg.Text, e.Identity.AppURL+"/connections/"+connID)
	_, err = e.Mail.WaitFor(e.ctx, admin, "needs to be reconnected", 10*time.Second)
	require.NoError(t, err)
	// The API refuses another sync; one started behind its back fails without mailing again.
	status, _ = e.call("POST", "/v1/connections/"+connID+"/syncs", nil)
	require.Equal(t, http.StatusConflict, status)
	conn, err := e.Store.GetConnection(e.ctx, e.Workspace, connID)
	require.NoError(t, err)
	h, _, err := e.Syncs.TriggerSync(e.ctx, conn)
	require.NoError(t, err)
	require.Error(t, e.waitWorkflow(h.WorkflowID, time.Minute, nil))
	require.Equal(t, 1, e.reauthMails(owner), "one notice per episode")
	require.Equal(t, 1, e.reauthMails(admin))
	require.Equal(t, 0, e.reauthMails(member), "members are not told")
	e.Sandbox.ClearFaults()

	// Disconnect: schedule gone, tokens erased, data kept, still listed as disconnected.
	status, body = e.call("DELETE", "/v1/connections/"+connID, nil)
	require.Equal(t, http.StatusNoContent, status, "%v", body)
	_, err = e.Temporal.ScheduleClient().GetHandle(e.ctx, workflows.ScheduleID(connID)).Describe(e.ctx)
	var nf *serviceerror.NotFound
	require.True(t, errors.As(err, &nf), "schedule still there: %v", err)
	var token []byte
	var refreshNull bool
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT token_ciphertext, refresh_token_ciphertext IS NULL
		FROM connections WHERE id = $1`, connID).Scan(&token, &refreshNull))
	require.Empty(t, token)
	require.True(t, refreshNull)
	require.Equal(t, rowsBefore, e.table().Rows, "data kept")
	status, body = e.call("GET", "/v1/connections/"+connID, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "disconnected", body["status"])
	status, _ = e.call("POST", "/v1/connections/"+connID+"/syncs", nil)
	require.Equal(t, http.StatusConflict, status)
	status, body = e.call("POST", "/v1/syncs", nil)
	require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, status)
	var ws workflows.WorkspaceSyncResult
	require.NoError(t, e.waitWorkflow(body["workflow_id"].(string), time.Minute, &ws))
	require.Empty(t, ws.Connections, "a disconnected connection is not part of workspace syncs")

	// Purge: the connection and its data go.
	status, _ = e.call("DELETE", "/v1/connections/"+connID+"?purge=true", nil)
	require.Equal(t, http.StatusNoContent, status)
	require.Zero(t, e.table().Rows)
	status, _ = e.call("GET", "/v1/connections/"+connID, nil)
	require.Equal(t, http.StatusNotFound, status)
}

// TestKeyRotationAndTokenRefresh: tokens sealed under the harness's key k1 are re-sealed
// under k2 by `keys rotate`; workers that know only k2 still sync, and the daily
// TokenRefresh (its schedule created at worker start) stores a refreshed token under k2.
func TestKeyRotationAndTokenRefresh(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	connID := e.connectMeta()
	e.syncAndWait(connID)

	newKey := make([]byte, 32)
	for i := range newKey {
		newKey[i] = byte(200 + i)
	}
	oldKey := make([]byte, 32)
	for i := range oldKey {
		oldKey[i] = byte(i + 1) // the harness's key
	}
	both, err := secretbox.NewKeyring(secretbox.Key{ID: "k2", Secret: newKey}, secretbox.Key{ID: secretbox.DefaultKeyID, Secret: oldKey})
	require.NoError(t, err)
	counts, err := keys.Rotate(e.ctx, e.Store, both, 10, io.Discard)
	require.NoError(t, err)
	require.Equal(t, keys.Counts{Resealed: 1}, counts)

	onlyNew, err := secretbox.NewKeyring(secretbox.Key{ID: "k2", Secret: newKey})
	require.NoError(t, err)
	expires := time.Now().Add(60 * 24 * time.Hour).UTC().Truncate(time.Second)
	e.restartLifecycleWorkers(onlyNew, sameTokenRefresher{expiresAt: expires})
	status, body := e.call("POST", "/v1/connections/"+connID+"/syncs", nil)
	require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, status)
	var res workflows.ChannelSyncResult
	require.NoError(t, e.waitWorkflow(body["workflow_id"].(string), 3*time.Minute, &res), "sync with only the new key")
	require.Equal(t, "succeeded", res.Status)

	// The worker created the TokenRefresh schedule; run it now for a token 2 days from expiry.
	desc, err := e.Temporal.ScheduleClient().GetHandle(e.ctx, workflows.TokenRefreshScheduleID).Describe(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 12*time.Hour, desc.Schedule.Policy.CatchupWindow)
	require.NoError(t, e.Syncs.EnsureTokenRefreshSchedule(e.ctx), "idempotent")
	_, err = e.Store.Pool.Exec(e.ctx, `UPDATE connections SET token_expires_at = now() + interval '2 days' WHERE id = $1`, connID)
	require.NoError(t, err)
	run, err := e.Temporal.ExecuteWorkflow(e.ctx, client.StartWorkflowOptions{
		ID: "token-refresh-now", TaskQueue: workflows.TaskQueueSync, WorkflowExecutionTimeout: time.Minute,
	}, workflows.TokenRefresh, workflows.TokenRefreshInput{})
	require.NoError(t, err)
	var refreshed workflows.TokenRefreshResult
	require.NoError(t, run.Get(e.ctx, &refreshed))
	require.Equal(t, workflows.TokenRefreshResult{Refreshed: 1}, refreshed)
	conn, err := e.Store.GetConnection(e.ctx, e.Workspace, connID)
	require.NoError(t, err)
	require.True(t, conn.TokenExpiresAt.Equal(expires), "expiry %v", conn.TokenExpiresAt)
	require.Equal(t, "k2", conn.TokenKeyID)
	tok, err := onlyNew.Open(conn.TokenCiphertext, secretbox.ConnectionTokenAAD(e.Workspace, "meta", conn.ExternalAccountID))
	require.NoError(t, err)
	require.Equal(t, "sandbox-meta-token", string(tok))
	e.syncAndWait(connID)
}
