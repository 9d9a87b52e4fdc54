package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omnitrackiq/omnitrackiq/internal/app"
	"github.com/omnitrackiq/omnitrackiq/internal/devstack"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// TestDevSeedAndWorkspaceSync runs what `make dev` seeds, twice (the second run reuses
// everything), then a workspace sync of the five connections through the API, and checks
// the KPIs against SQL written independently of the analytics package.
func TestDevSeedAndWorkspaceSync(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	deps := &app.Deps{Logger: e.logger, Store: e.Store, Temporal: e.Temporal, Box: e.Box, Connectors: e.Connectors}

	for range 2 {
		seeded, err := devstack.Seed(e.ctx, deps)
		require.NoError(t, err)
		require.Len(t, seeded.Connections, 5)
		for _, c := range seeded.Connections {
			var res workflows.BackfillResult
			require.NoError(t, e.waitWorkflow(c.Backfill, 3*time.Minute, &res), "%s backfill", c.Channel)
			require.Greater(t, res.Rows, int64(0), "%s backfill", c.Channel)
		}
	}
	ws := devstack.DemoWorkspaceID
	// The weekly demo report is there once, with its Temporal Schedule.
	var reports int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM reports WHERE workspace_id = $1 AND scheduled`, ws).Scan(&reports))
	require.Equal(t, 1, reports)
	_, err := e.Temporal.ScheduleClient().GetHandle(e.ctx, workflows.ReportScheduleID(devstack.DemoReportID)).Describe(e.ctx)
	require.NoError(t, err)
	var keys, conns int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT (SELECT count(*) FROM api_keys WHERE workspace_id = $1),
		(SELECT count(*) FROM connections WHERE workspace_id = $1)`, ws).Scan(&keys, &conns))
	require.Equal(t, []int{1, 5}, []int{keys, conns})
	for _, ch := range []string{"meta", "google_ads", "tiktok"} {
		var days int
		require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(DISTINCT date) FROM ad_metrics_daily
			WHERE workspace_id = $1 AND channel = $2`, ws, ch).Scan(&days))
		require.Equal(t, 90, days, ch)
	}
	var orders, sessionDays int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT (SELECT count(*) FROM orders WHERE workspace_id = $1),
		(SELECT count(DISTINCT date) FROM sessions_daily WHERE workspace_id = $1)`, ws).Scan(&orders, &sessionDays))
	require.Greater(t, orders, 1000)
	require.Equal(t, 90, sessionDays)

	// The printed demo key works, and a workspace sync of the five connections completes.
	e.APIKey = devstack.DemoAPIKey()
	status, body := e.call("POST", "/v1/syncs", nil)
	require.Equal(t, http.StatusAccepted, status, "%v", body)
	var ws5 workflows.WorkspaceSyncResult
	require.NoError(t, e.waitWorkflow(body["workflow_id"].(string), 3*time.Minute, &ws5))
	require.Len(t, ws5.Connections, 5)
	for _, c := range ws5.Connections {
		require.Equal(t, "succeeded", c.Status, "%+v", c)
	}
	status, body = e.call("GET", "/v1/syncs/"+workflows.WorkspaceSyncWorkflowID(ws), nil)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "Completed", body["status"])
	require.Len(t, body["connections"], 5)

	// Every KPI of the summary equals SQL over the same tables and days.
	today := time.Now().In(mustLoc(t, "America/New_York"))
	ranges := [][2]time.Time{
		{today.AddDate(0, 0, -6), today},
		{today.AddDate(0, 0, -29), today},
		{today.AddDate(0, 0, -60), today.AddDate(0, 0, -31)},
		{today.AddDate(0, 0, -10), today.AddDate(0, 0, -10)},
	}
	for _, r := range ranges {
		from, to := r[0].Format("2006-01-02"), r[1].Format("2006-01-02")
		status, body := e.call("GET", fmt.Sprintf("/v1/metrics/summary?from=%s&to=%s", from, to), nil)
		require.Equal(t, http.StatusOK, status, "%v", body)
		cur := body["current"].(map[string]any)
		want := e.independentKPIs(ws, from, to)
		for name, v := range want {
			require.EqualValues(t, v, cur[name], "%s for %s..%s", name, from, to)
		}
	}
}

// independentKPIs computes the summary's KPIs with plain SQL, written without the
// analytics package: money as micros, ratios rounded to 4 decimals.
func (e *env) independentKPIs(ws, from, to string) map[string]any {
	e.t.Helper()
	var revenue, orders, spend, impressions, clicks, value, sessions, newCustomers int64
	var conversions string
	err := e.Store.Pool.QueryRow(e.ctx, `
		WITH w AS (SELECT timezone AS tz, currency AS cur FROM workspaces WHERE id = $1),
		valid AS (
			SELECT o.*, (o.created_at AT TIME ZONE w.tz)::date AS day FROM orders o, w
			WHERE o.workspace_id = $1 AND NOT o.test AND o.cancelled_at IS NULL
		),
		-- New customers as the analytics package doc defines them: guest orders join the
		-- account of their email (store record first), the store's record can make a
		-- person returning.
		acct AS (
			SELECT DISTINCT ON (shop, email) shop, email, id FROM (
				SELECT shop_domain AS shop, email_sha256 AS email, customer_id AS id, 0 AS pref
				FROM customers WHERE workspace_id = $1 AND email_sha256 <> ''
				UNION ALL
				SELECT shop_domain, email_sha256, customer_id, 1 FROM orders
				WHERE workspace_id = $1 AND customer_id <> '' AND email_sha256 <> ''
			) x ORDER BY shop, email, pref, id
		),
		held AS (
			SELECT o.shop_domain AS shop, coalesce(nullif(o.customer_id, ''), a.id) AS id,
				coalesce('id ' || coalesce(nullif(o.customer_id, ''), a.id), 'email ' || o.email_sha256) AS who,
				o.created_at, NOT o.test AND o.cancelled_at IS NULL AS valid
			FROM orders o LEFT JOIN acct a ON o.customer_id = '' AND a.shop = o.shop_domain AND a.email = o.email_sha256
			WHERE o.workspace_id = $1 AND (o.customer_id <> '' OR o.email_sha256 <> '')
		),
		firsts AS (
			SELECT h.shop, max(h.id) AS id, min(h.created_at) FILTER (WHERE h.valid) AS first_at, count(*) AS n
			FROM held h GROUP BY h.shop, h.who HAVING count(*) FILTER (WHERE h.valid) > 0
		),
		newcomers AS (
			SELECT f.first_at FROM firsts f
			LEFT JOIN customers c ON c.workspace_id = $1 AND c.shop_domain = f.shop AND c.customer_id = f.id
			WHERE c.customer_id IS NULL OR NOT (c.orders_count > f.n
				OR (c.orders_count < 0 AND c.created_at < (SELECT min(created_at) FROM orders WHERE workspace_id = $1)))
		)
		SELECT
			(SELECT coalesce(sum(total_micros - refunded_micros), 0) FROM valid, w WHERE day BETWEEN $2 AND $3 AND currency = w.cur),
			(SELECT count(*) FROM valid, w WHERE day BETWEEN $2 AND $3 AND currency = w.cur),
			(SELECT coalesce(sum(spend_micros), 0) FROM ad_metrics_daily, w WHERE workspace_id = $1 AND date BETWEEN $2 AND $3 AND currency = w.cur),
			(SELECT coalesce(sum(impressions), 0) FROM ad_metrics_daily, w WHERE workspace_id = $1 AND date BETWEEN $2 AND $3 AND currency = w.cur),
			(SELECT coalesce(sum(clicks), 0) FROM ad_metrics_daily, w WHERE workspace_id = $1 AND date BETWEEN $2 AND $3 AND currency = w.cur),
			(SELECT coalesce(sum(conversion_value_micros), 0) FROM ad_metrics_daily, w WHERE workspace_id = $1 AND date BETWEEN $2 AND $3 AND currency = w.cur),
			(SELECT coalesce(sum(sessions), 0) FROM sessions_daily, w WHERE workspace_id = $1 AND date BETWEEN $2 AND $3 AND currency = w.cur),
			(SELECT count(*) FROM newcomers, w WHERE (first_at AT TIME ZONE w.tz)::date BETWEEN $2 AND $3),
			(SELECT coalesce(sum(conversions), 0)::text FROM ad_metrics_daily, w WHERE workspace_id = $1 AND date BETWEEN $2 AND $3 AND currency = w.cur)`,
		ws, from, to).Scan(&revenue, &orders, &spend, &impressions, &clicks, &value, &sessions, &newCustomers, &conversions)
	if err != nil {
		e.t.Fatal(err)
	}
	ratio := func(a, b int64) any {
		if b == 0 {
			return nil
		}
		return roundTo4(float64(a) / float64(b))
	}
	// Per-unit money in whole micros, rounded half away from zero (all values here are >= 0).
	perUnit := func(a, b int64) any {
		if b == 0 {
			return nil
		}
		return (2*a + b) / (2 * b)
	}
	return map[string]any{
		"aov_micros": perUnit(revenue, orders), "new_customer_cac_micros": perUnit(spend, newCustomers),
		"cpc_micros": perUnit(spend, clicks), "conversions": trimDecimal(conversions),
		"revenue_micros": revenue, "orders": orders, "spend_micros": spend, "impressions": impressions,
		"clicks": clicks, "conversion_value_micros": value, "sessions": sessions, "new_customers": newCustomers,
		"blended_roas": ratio(revenue, spend), "platform_roas": ratio(value, spend), "ctr": ratio(clicks, impressions),
		"conversion_rate": ratio(orders, sessions),
	}
}

func roundTo4(f float64) float64 {
	if f < 0 {
		return -roundTo4(-f)
	}
	return float64(int64(f*10000+0.5)) / 10000
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// trimDecimal renders a numeric's text without trailing zeros ("3457.390000" -> "3457.39").
func trimDecimal(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
