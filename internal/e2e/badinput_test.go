package e2e

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/omnitrackiq/omnitrackiq/internal/apikey"
)

// TestBadInputWritesNothing sends bad requests to the real stack and checks that each gets
// a problem response and that nothing reached PostgreSQL or Temporal.
func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	connID := e.connectMeta()

	other, err := e.Store.CreateWorkspace(e.ctx, "Other Store", "EUR", "Europe/Paris")
	require.NoError(t, err)
	otherKey, _, err := apikey.Issue(e.ctx, e.Store, other.ID, "other")
	require.NoError(t, err)

	cases := []struct {
		name   string
		key    string
		method string
		path   string
		body   any
		want   int
	}{
		{"backfill from after to", "", "POST", "/v1/connections/" + connID + "/backfills", map[string]string{"from": "2026-11-10", "to": "2026-11-01"}, 422},
		{"backfill invalid date", "", "POST", "/v1/connections/" + connID + "/backfills", map[string]string{"from": "2026-02-30", "to": "2026-03-01"}, 422},
		{"backfill malformed JSON", "", "POST", "/v1/connections/" + connID + "/backfills", `{"from": "2026-11-01",`, 400},
		{"unknown channel", "", "POST", "/v1/connections", map[string]string{"channel": "myspace", "account_id": "1", "access_token": "x"}, 422},
		{"unknown field", "", "POST", "/v1/connections", map[string]string{"channel": "meta", "account_id": "1", "access_token": "x", "base_url": "http://evil"}, 400},
		{"missing API key", "none", "POST", "/v1/connections/" + connID + "/syncs", nil, 401},
		{"wrong API key", "otq_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "POST", "/v1/connections/" + connID + "/syncs", nil, 401},
		{"another workspace's connection: sync", otherKey, "POST", "/v1/connections/" + connID + "/syncs", nil, 404},
		{"another workspace's connection: backfill", otherKey, "POST", "/v1/connections/" + connID + "/backfills", map[string]string{"from": "2026-11-01", "to": "2026-11-02"}, 404},
		{"another workspace's connection: schedule", otherKey, "PATCH", "/v1/connections/" + connID + "/schedule", map[string]any{"paused": true}, 404},
		{"another workspace's sync", otherKey, "GET", "/v1/syncs/sync-" + connID, nil, 404},
		{"metrics from after to", "", "GET", "/v1/metrics/summary?from=2026-11-10&to=2026-11-01", nil, 422},
		{"metrics invalid date", "", "GET", "/v1/metrics/summary?from=yesterday&to=2026-11-01", nil, 422},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := e.APIKey
			switch tc.key {
			case "":
			case "none":
				key = ""
			default:
				key = tc.key
			}
			saved := e.APIKey
			e.APIKey = key
			status, body := e.call(tc.method, tc.path, tc.body)
			e.APIKey = saved
			require.Equal(t, tc.want, status, "%v", body)
			require.NotEmpty(t, body["title"], "problem+json body: %v", body)
			require.EqualValues(t, tc.want, body["status"])
		})
	}

	var conns, runs, rows int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT (SELECT count(*) FROM connections), (SELECT count(*) FROM sync_runs),
		(SELECT count(*) FROM ad_metrics_daily)`).Scan(&conns, &runs, &rows))
	require.Equal(t, []int{1, 0, 0}, []int{conns, runs, rows})
	resp, err := e.Temporal.ListWorkflow(e.ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: `ConnectionId = "` + connID + `"`})
	require.NoError(t, err)
	require.Empty(t, resp.GetExecutions(), "no workflow was started")
	status, body := e.call("GET", "/v1/connections/"+connID+"/schedule", nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, false, body["paused"], "the other workspace could not pause it")
}
