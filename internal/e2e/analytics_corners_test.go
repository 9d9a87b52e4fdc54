package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	sandboxga4 "github.com/omnitrackiq/omnitrackiq/internal/sandbox/ga4"
)

// TestGA4FloatRevenueIsStoredRounded: a 17-decimal GA4 value is stored rounded. GA4 sends
// totalRevenue as a float64 rendering ("2046.3999999999999"); the sync does not fail on
// it, and what is stored is the value rounded half to even to the micro.
func TestGA4FloatRevenueIsStoredRounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	// Armed through the admin API, as an operator would.
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.SandboxTS.URL+"/ga4/_sandbox/faults",
		strings.NewReader(`{"float_revenue":true}`))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, e.SB.GA4.Faults().FloatRevenue)

	status, body := e.call("POST", "/v1/connections", map[string]any{
		"channel": "ga4", "account_id": "properties/" + sandboxga4.DemoPropertyID, "refresh_token": sandboxga4.DefaultRefreshToken,
	})
	require.Equal(t, http.StatusCreated, status, "%v", body)
	res := e.syncAndWait(body["id"].(string))

	want, err := e.SB.GA4.Totals(sandboxga4.DemoPropertyID, res.From, res.To)
	require.NoError(t, err)
	rows, sessions, revenue := e.sessionsState()
	require.Equal(t, int64(want.Rows), rows)
	require.Equal(t, want.Sessions, sessions)
	require.Equal(t, want.RevenueMicros, revenue, "every 17-digit value rounds to its cent")
	var odd int64
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM sessions_daily
		WHERE workspace_id = $1 AND revenue_micros % 10000 <> 0`, e.Workspace).Scan(&odd))
	require.Zero(t, odd, "no value kept digits beyond the cent")
}
