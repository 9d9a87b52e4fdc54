package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	sandboxshopify "github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// connectShopify connects the sandbox's demo shop with token and returns the connection id.
func (e *env) connectShopify(token string) string {
	e.t.Helper()
	status, body := e.call("POST", "/v1/connections", map[string]any{
		"channel": "shopify", "account_id": sandboxshopify.DemoShopDomain, "access_token": token})
	require.Equal(e.t, http.StatusCreated, status, "%v", body)
	return body["id"].(string)
}

// foreignCurrencyOrder finds a recent paid order, neither test nor cancelled nor refunded,
// that the buyer paid in a currency other than the shop's.
func (e *env) foreignCurrencyOrder() string {
	e.t.Helper()
	today := mustDay(e.t, e.SB.Shopify.Today())
	for d := 3; d < 40; d++ {
		orders, err := e.SB.Shopify.Orders(today.AddDate(0, 0, -d).Format("2006-01-02"))
		require.NoError(e.t, err)
		for _, o := range orders {
			if o.Test || o.Cancelled || o.Refunds > 0 {
				continue
			}
			raw, err := e.SB.Shopify.OrderJSON(o.ID)
			require.NoError(e.t, err)
			var j struct {
				Currency            string `json:"currency"`
				PresentmentCurrency string `json:"presentment_currency"`
			}
			require.NoError(e.t, json.Unmarshal(raw, &j))
			if j.PresentmentCurrency != j.Currency {
				return o.ID
			}
		}
	}
	e.t.Fatal("no foreign-currency order in the sandbox's last 40 days")
	return ""
}

// TestShopifyRefundRaceKeepsRefund: the refund race keeps the refund. A refunds/create
// webhook is applied, then a sync page read before the refund committed arrives with the
// order and no refund: the refund stays, summed in the shop's currency although the buyer
// paid (and was refunded) in another one.
func TestShopifyRefundRaceKeepsRefund(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	conn := e.connectShopify(sandboxshopify.DefaultToken)
	e.syncAndWait(conn)
	id := e.foreignCurrencyOrder()
	refunded := func() (micros int64, refunds int) {
		t.Helper()
		require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT refunded_micros,
			(SELECT count(*) FROM order_refunds r WHERE r.order_id = o.order_id)
			FROM orders o WHERE order_id = $1`, id).Scan(&micros, &refunds))
		return
	}

	// The order changes (so the next incremental read includes it); a read of the store as
	// it stands now will be served late, after the refund below.
	require.NoError(t, e.SB.Shopify.EditOrder(id, "150.00"))
	asOf := time.Now()
	require.NoError(t, e.SB.Shopify.SetFaults(sandboxshopify.Faults{StaleReadsAsOf: &asOf}))
	time.Sleep(1100 * time.Millisecond) // the refund lands in a later second than the edit

	_, err := e.SB.Shopify.RefundOrder(id, "5.00")
	require.NoError(t, err)
	code, err := e.SB.Shopify.SendWebhook(e.ctx, e.API.URL+"/webhooks/shopify", "refunds/create", id,
		[]byte(sandboxshopify.DefaultWebhookSecret))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	micros, n := refunded()
	require.Equal(t, int64(5_000_000), micros, "the refund is summed in the shop's currency")
	require.Equal(t, 1, n)

	// The stale page: the edited order without its refund.
	e.syncAndWait(conn)
	micros, n = refunded()
	require.Equal(t, int64(5_000_000), micros, "a page read before the refund erased it")
	require.Equal(t, 1, n)

	// Once reads are current again the order holds both the edit and the refund.
	e.SB.Shopify.ClearFaults()
	e.syncAndWait(conn)
	micros, n = refunded()
	require.Equal(t, int64(5_000_000), micros)
	require.Equal(t, 1, n)
	var total int64
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT total_micros FROM orders WHERE order_id = $1`, id).Scan(&total))
	require.Equal(t, int64(150_000_000), total)
}

// backfill starts a backfill of [from, to] through the API and waits for it.
func (e *env) backfill(conn, from, to string) (workflows.BackfillResult, error) {
	e.t.Helper()
	status, body := e.call("POST", "/v1/connections/"+conn+"/backfills", map[string]string{"from": from, "to": to})
	require.Contains(e.t, []int{http.StatusAccepted, http.StatusOK}, status, "%v", body)
	var res workflows.BackfillResult
	err := e.waitWorkflow(body["workflow_id"].(string), 3*time.Minute, &res)
	return res, err
}

// TestShopifyBackfillReadsEachOrderOnce: a backfill's windows are bounded by creation time,
// so over the whole backfill the sandbox serves each order created in its days exactly once,
// and nothing created after them.
func TestShopifyBackfillReadsEachOrderOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	conn := e.connectShopify(sandboxshopify.DefaultToken)
	today := mustDay(t, e.SB.Shopify.Today())
	from, to := today.AddDate(0, 0, -95).Format("2006-01-02"), today.AddDate(0, 0, -5).Format("2006-01-02")
	status, body := e.call("GET", "/v1/connections/"+conn, nil)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "history_from")
	require.Nil(t, body["history_from"], "a token with read_all_orders reads all history")
	e.SB.Shopify.ResetRequests()
	_, err := e.backfill(conn, from, to)
	require.NoError(t, err)

	want, err := e.SB.Shopify.Totals(from, to)
	require.NoError(t, err)
	served, backfillCalls := 0, 0
	for _, r := range e.SB.Shopify.Requests() {
		// Only the backfill's reads: a scheduled incremental sync may run meanwhile.
		if r.Filter == nil || r.Filter.CreatedAtMin == "" {
			continue
		}
		backfillCalls++
		served += r.Orders
	}
	require.Greater(t, backfillCalls, 0)
	require.Equal(t, want.Orders, served, "orders served by the backfill's calls")
	var stored int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM orders WHERE workspace_id = $1
		AND (created_at AT TIME ZONE 'America/New_York')::date BETWEEN $2 AND $3`, e.Workspace, from, to).Scan(&stored))
	require.Equal(t, want.Orders, stored)
	var outside int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM orders WHERE workspace_id = $1
		AND (created_at AT TIME ZONE 'America/New_York')::date > $2`, e.Workspace, to).Scan(&outside))
	require.Zero(t, outside, "orders created after the backfill's days")

	// Every order with a customer has the store's record of that customer; returning
	// customers' records predate the backfilled days, and some guest orders share an
	// account's email.
	var missing, before, guestsMatched int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT
		(SELECT count(*) FROM orders o WHERE o.workspace_id = $1 AND o.customer_id <> ''
			AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.workspace_id = o.workspace_id
				AND c.shop_domain = o.shop_domain AND c.customer_id = o.customer_id)),
		(SELECT count(*) FROM customers c WHERE c.workspace_id = $1
			AND (c.created_at AT TIME ZONE 'America/New_York')::date < $2 AND c.orders_count = -1),
		(SELECT count(*) FROM orders o JOIN customers c ON c.workspace_id = o.workspace_id
			AND c.email_sha256 = o.email_sha256 WHERE o.workspace_id = $1 AND o.customer_id = '')`,
		e.Workspace, from).Scan(&missing, &before, &guestsMatched))
	require.Zero(t, missing, "orders whose customer has no record")
	require.Greater(t, before, 0, "returning customers created before the backfilled days")
	require.Greater(t, guestsMatched, 0, "guest orders with an account's email")
}

// TestShopifyHistoryNeedsReadAllOrders: a token without read_all_orders reads 60 days of
// orders; the connection says so, and a backfill reaching further back fails at once, with
// a 422 from the API and a non-retryable error in the workflow, naming the scope.
func TestShopifyHistoryNeedsReadAllOrders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	status, body := e.call("POST", "/v1/connections", map[string]any{
		"channel": "shopify", "account_id": sandboxshopify.DemoShopDomain, "access_token": sandboxshopify.LimitedToken})
	require.Equal(t, http.StatusCreated, status, "%v", body)
	conn := body["id"].(string)
	// Shopify's limit is 60 days of absolute time, shown as a day of the connection's zone:
	// subtracting the days in the zone instead is an hour off across a DST change.
	loc, err := time.LoadLocation(body["timezone"].(string))
	require.NoError(t, err)
	first := time.Now().AddDate(0, 0, -60).In(loc).Format("2006-01-02")
	require.Equal(t, first, body["history_from"])
	status, body = e.call("GET", "/v1/connections/"+conn, nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, first, body["history_from"])

	today := mustDay(t, e.SB.Shopify.Today())
	day := func(back int) string { return today.AddDate(0, 0, -back).Format("2006-01-02") }
	status, body = e.call("POST", "/v1/connections/"+conn+"/backfills", map[string]string{"from": day(90), "to": day(1)})
	require.Equal(t, http.StatusUnprocessableEntity, status, "%v", body)
	require.Equal(t, "/problems/missing-scope", body["type"])
	require.Contains(t, body["detail"], "read_all_orders")

	// Within the 60 days the backfill works.
	_, err = e.backfill(conn, day(50), day(1))
	require.NoError(t, err)
	var stored int
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM orders WHERE workspace_id = $1`, e.Workspace).Scan(&stored))
	want, err := e.SB.Shopify.Totals(day(50), day(1))
	require.NoError(t, err)
	require.Equal(t, want.Orders, stored)

	// The workflow checks too (a backfill started by a schedule or an operator).
	c, err := e.Store.GetConnection(e.ctx, e.Workspace, conn)
	require.NoError(t, err)
	h, _, err := e.Syncs.StartBackfill(e.ctx, c, day(90), day(61))
	require.NoError(t, err)
	start := time.Now()
	err = e.waitWorkflow(h.WorkflowID, time.Minute, nil)
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "read_all_orders"), "%v", err)
	require.Less(t, time.Since(start), 20*time.Second, "failed at once, not after retries")
	require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT count(*) FROM orders WHERE workspace_id = $1`, e.Workspace).Scan(&stored))
	require.Equal(t, want.Orders, stored)
}

// TestShopifyUnavailableShopRecovers: a frozen (402) or locked (423) shop is not an expired
// token. The sync fails at once, the connection shows status "error" with a reason naming
// the cause (not needs_reauth), and the next successful sync makes it active again.
func TestShopifyUnavailableShopRecovers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	conn := e.connectShopify(sandboxshopify.DefaultToken)
	e.syncAndWait(conn)
	for _, tc := range []struct {
		status int
		cause  string
	}{{http.StatusPaymentRequired, "frozen"}, {http.StatusLocked, "locked"}} {
		require.NoError(t, e.SB.Shopify.SetFaults(sandboxshopify.Faults{ShopUnavailable: tc.status}))
		start := time.Now()
		_ = e.waitWorkflow(e.triggerSync(conn), time.Minute, nil)
		require.Less(t, time.Since(start), 20*time.Second, "HTTP %d: failed at once, not after retries", tc.status)
		_, body := e.call("GET", "/v1/connections/"+conn, nil)
		require.Equal(t, "error", body["status"], "HTTP %d: %v", tc.status, body)
		require.Contains(t, body["status_reason"], tc.cause, "HTTP %d", tc.status)

		e.SB.Shopify.ClearFaults()
		e.syncAndWait(conn)
		_, body = e.call("GET", "/v1/connections/"+conn, nil)
		require.Equal(t, "active", body["status"], "HTTP %d: recovered by the next sync: %v", tc.status, body)
	}
}
