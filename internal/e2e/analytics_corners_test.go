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

// TestSummaryNewCustomersFollowTheStoreRecord: new customers follow the store's customer
// record. Through the API: a customer whose record counts more orders than we hold is
// returning, a guest's email order joins the account of that email, the summary says how
// far back the order history reaches, and the conversion rate divides workspace-currency
// orders by the sessions of the workspace-currency property only.
func TestSummaryNewCustomersFollowTheStoreRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := e.Store.Pool.Exec(e.ctx, sql, args...)
		require.NoError(t, err)
	}
	var shop, ga4 string
	for _, c := range []struct {
		id      *string
		channel string
	}{{&shop, "shopify"}, {&ga4, "ga4"}} {
		require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `INSERT INTO connections (workspace_id, channel, external_account_id,
			token_ciphertext) VALUES ($1, $2, 'x', '\x00') RETURNING id`, e.Workspace, c.channel).Scan(c.id))
	}
	order := func(id, at, customer, email string) {
		exec(`INSERT INTO orders (workspace_id, connection_id, shop_domain, order_id, created_at, updated_at, currency,
			total_micros, customer_id, email_sha256) VALUES ($1, $2, 's.myshopify.com', $3, $4, $4, 'USD', 10000000, $5, $6)`,
			e.Workspace, shop, id, at, customer, email)
	}
	// Our history starts 2024-03-01 (New York); everyone's first order held is on 03-10.
	order("first", "2024-03-01T17:00:00Z", "", "")
	order("returning", "2024-03-10T17:00:00Z", "ret", "")
	order("new", "2024-03-10T17:00:00Z", "new", "")
	order("guest", "2024-03-09T17:00:00Z", "", "mail")
	order("account", "2024-03-10T18:00:00Z", "acct", "")
	for _, c := range []struct {
		id, email, created string
		count              int64
	}{
		{"ret", "", "2023-01-01T00:00:00Z", 5}, // five orders in the store, one held
		{"new", "", "2024-03-10T16:00:00Z", 1},
		{"acct", "mail", "2024-03-09T16:00:00Z", 2}, // the guest order is theirs
	} {
		exec(`INSERT INTO customers (workspace_id, connection_id, shop_domain, customer_id, email_sha256, created_at,
			updated_at, orders_count) VALUES ($1, $2, 's.myshopify.com', $3, $4, $5, $5, $6)`,
			e.Workspace, shop, c.id, c.email, c.created, c.count)
	}
	for _, s := range []struct {
		property, currency string
		sessions           int64
	}{{"usd", "USD", 30}, {"eur", "EUR", 1000}} {
		exec(`INSERT INTO sessions_daily (workspace_id, connection_id, property_id, date, source, medium, campaign,
			sessions, currency) VALUES ($1, $2, $3, '2024-03-10', 'google', 'organic', '', $4, $5)`,
			e.Workspace, ga4, s.property, s.sessions, s.currency)
	}

	status, body := e.call("GET", "/v1/metrics/summary?from=2024-03-10&to=2024-03-10", nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	cur := body["current"].(map[string]any)
	require.EqualValues(t, 3, cur["orders"])
	require.EqualValues(t, 1, cur["new_customers"], "only new: ret is returning, acct was new on 03-09")
	require.EqualValues(t, 30, cur["sessions"], "the EUR property's sessions are left out")
	require.EqualValues(t, 0.1, cur["conversion_rate"])
	require.Equal(t, "2024-03-01", body["order_history_from"])
	require.Equal(t, []any{"EUR"}, body["excluded_currencies"])
	require.Equal(t, cur["cpc"], body["cpc"])

	status, body = e.call("GET", "/v1/metrics/summary?from=2024-03-09&to=2024-03-09", nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.EqualValues(t, 1, body["current"].(map[string]any)["new_customers"], "acct, through the guest order")
}
