package e2e

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/omnitrackiq/omnitrackiq/activities"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/meta"
)

// TestHardeningProviderRedirectIsNotFollowed: a provider endpoint that redirects to a second
// server (a hijacked DNS name, a misconfigured proxy) makes the sync fail at once with an
// error naming the redirect, and the second server, which would have received the access
// token in the query, gets no request at all.
func TestHardeningProviderRedirectIsNotFollowed(t *testing.T) {
	e := newEnv(t, envOptions{})
	connID := e.connectMeta()

	var stolen atomic.Int64
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":[]}`))
	}))
	t.Cleanup(thief.Close)
	// "localhost", not the listener's IP: the redirect names a host, as a real one would.
	target := strings.Replace(thief.URL, "127.0.0.1", "localhost", 1) + "/steal"
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+"?token="+r.URL.Query().Get("access_token"), http.StatusFound)
	}))
	t.Cleanup(provider.Close)
	// The connection was checked against the sandbox; from now on Meta answers with the
	// redirect. No sync runs yet, so no activity reads the registry while it changes.
	e.Connectors.Ads[channels.Meta] = meta.New(meta.Options{BaseURL: provider.URL, PollInterval: 100 * time.Millisecond, Logger: e.logger})

	start := time.Now()
	wfID := e.triggerSync(connID)
	err := e.waitWorkflow(wfID, 2*time.Minute, nil)
	require.Error(t, err)
	// Generous: a refused redirect is not retried, so the run ends after one attempt; the
	// bound only tells a retried failure (minutes of backoff) apart.
	require.Less(t, time.Since(start), time.Minute, "a refused redirect is not retried")
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	require.Equal(t, activities.ErrTypeProviderBadRequest, appErr.Type())
	require.Zero(t, stolen.Load(), "the second server got a request: the redirect was followed")

	want := "refused to follow a redirect (HTTP 302) to " + target
	status, body := e.call("GET", "/v1/connections/"+connID, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "error", body["status"])
	reason, _ := body["status_reason"].(string)
	require.Contains(t, reason, want)
	require.NotContains(t, reason, "token=")
	require.NotContains(t, reason, "sandbox-meta-token")

	status, body = e.call("GET", "/v1/syncs/"+wfID, nil)
	require.Equal(t, http.StatusOK, status)
	runs, _ := body["sync_runs"].([]any)
	require.NotEmpty(t, runs)
	run := runs[0].(map[string]any)
	require.Equal(t, "failed", run["status"])
	require.Contains(t, run["error"], want)
	require.NotContains(t, run["error"], "sandbox-meta-token")
}

// TestHardeningBackfillOutsideRetention: a backfill from 0000-01-01 (or any day before the
// providers' retention) is a 422 naming from, and leaves nothing behind: no reservation, no
// run, no workflow.
func TestHardeningBackfillOutsideRetention(t *testing.T) {
	e := newEnv(t, envOptions{})
	connID := e.connectMeta()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	day := func(d time.Time) string { return d.Format(channels.DateLayout) }
	for _, w := range [][2]string{
		{"0000-01-01", "0000-12-31"},
		{"0000-01-01", day(today)},
		{"1970-01-01", "1970-01-31"},
		{day(channels.EarliestBackfillDay(today).AddDate(0, 0, -1)), day(today.AddDate(0, 0, -1000))},
	} {
		status, body := e.call("POST", "/v1/connections/"+connID+"/backfills", map[string]any{"from": w[0], "to": w[1]})
		require.Equal(t, http.StatusUnprocessableEntity, status, "%s..%s: %v", w[0], w[1], body)
		errs, _ := body["errors"].([]any)
		require.Len(t, errs, 1, "%v", body)
		fe := errs[0].(map[string]any)
		require.Equal(t, "from", fe["field"])
		require.Contains(t, fe["message"], day(channels.EarliestBackfillDay(today)))
	}
	var reserved, runs int
	ctx := context.Background()
	require.NoError(t, e.Store.Pool.QueryRow(ctx, `SELECT count(*) FROM sync_runs WHERE connection_id = $1 AND kind = 'backfill'`, connID).Scan(&runs))
	require.Zero(t, runs)
	require.NoError(t, e.Store.Pool.QueryRow(ctx, `SELECT count(*) FROM backfills WHERE connection_id = $1`, connID).Scan(&reserved))
	require.Zero(t, reserved)

	// The longest window the retention allows is accepted.
	status, body := e.call("POST", "/v1/connections/"+connID+"/backfills",
		map[string]any{"from": day(channels.EarliestBackfillDay(today)), "to": day(channels.EarliestBackfillDay(today).AddDate(0, 0, 2))})
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	require.NoError(t, e.waitWorkflow(body["workflow_id"].(string), 3*time.Minute, nil))
}
