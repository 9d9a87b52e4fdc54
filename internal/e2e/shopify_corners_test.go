package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	sandboxshopify "github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
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
