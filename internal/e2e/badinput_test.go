package e2e

import (
	"fmt"
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

// TestConnectEveryChannel connects each channel through the API against its sandbox and
// rejects credentials and ids in the wrong shape, writing nothing for them.
func TestConnectEveryChannel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	bad := []struct {
		name string
		body map[string]any
		want int
	}{
		{"google_ads without any token", map[string]any{"channel": "google_ads", "account_id": "1234567890"}, 422},
		{"google_ads customer id not 10 digits", map[string]any{"channel": "google_ads", "account_id": "12345", "refresh_token": "x"}, 422},
		{"google_ads bad manager id", map[string]any{"channel": "google_ads", "account_id": "1234567890", "refresh_token": "x", "login_customer_id": "abc"}, 422},
		{"google_ads revoked refresh token", map[string]any{"channel": "google_ads", "account_id": "1234567890", "refresh_token": "not-a-valid-refresh-token"}, 422},
		{"refresh token on meta", map[string]any{"channel": "meta", "account_id": "act_100200300", "access_token": "t", "refresh_token": "r"}, 422},
		{"manager id on tiktok", map[string]any{"channel": "tiktok", "account_id": "7000000000000000001", "access_token": "t", "login_customer_id": "1234567890"}, 422},
		{"shopify domain elsewhere", map[string]any{"channel": "shopify", "account_id": "evil.example.com", "access_token": "t"}, 422},
		{"shopify wrong token", map[string]any{"channel": "shopify", "account_id": "demo-store", "access_token": "shpat_wrong"}, 422},
		{"ga4 property not numeric", map[string]any{"channel": "ga4", "account_id": "properties/abc", "refresh_token": "x"}, 422},
		{"tiktok wrong token", map[string]any{"channel": "tiktok", "account_id": "7000000000000000001", "access_token": "wrong"}, 422},
	}
	for _, tc := range bad {
		status, body := e.call("POST", "/v1/connections", tc.body)
		require.Equal(t, tc.want, status, "%s: %v", tc.name, body)
		require.NotContains(t, fmt.Sprint(body), "not-a-valid-refresh-token", tc.name)
	}
	var n int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM connections`).Scan(&n))
	require.Zero(t, n, "rejected connections wrote nothing")

	good := []map[string]any{
		{"channel": "meta", "account_id": "act_100200300", "access_token": "sandbox-meta-token"},
		{"channel": "google_ads", "account_id": "123-456-7890", "refresh_token": "sandbox-google-refresh-token"},
		{"channel": "tiktok", "account_id": "7000000000000000001", "access_token": "sandbox-tiktok-token"},
		{"channel": "shopify", "account_id": "https://demo-store.myshopify.com/", "access_token": "sandbox-shopify-token"},
		{"channel": "ga4", "account_id": "properties/400500600", "refresh_token": "sandbox-ga4-refresh-token"},
	}
	for _, b := range good {
		status, body := e.call("POST", "/v1/connections", b)
		require.Equal(t, http.StatusCreated, status, "%v: %v", b["channel"], body)
		require.Equal(t, "USD", body["currency"])
		require.Equal(t, "America/New_York", body["timezone"])
		raw := fmt.Sprint(body)
		for _, secret := range []string{"sandbox-meta-token", "sandbox-google-refresh-token", "sandbox-tiktok-token", "sandbox-shopify-token", "sandbox-ga4-refresh-token"} {
			require.NotContains(t, raw, secret)
		}
	}
	var plaintext int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM connections
		WHERE position('sandbox-'::bytea in token_ciphertext) > 0
		   OR position('sandbox-'::bytea in coalesce(refresh_token_ciphertext, ''::bytea)) > 0`).Scan(&plaintext))
	require.Zero(t, plaintext, "tokens are sealed")
	var refresh int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM connections WHERE refresh_token_ciphertext IS NOT NULL`).Scan(&refresh))
	require.Equal(t, 2, refresh, "Google Ads and GA4 keep a sealed refresh token")
}
