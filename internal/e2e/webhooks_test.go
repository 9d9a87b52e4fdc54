package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	sandboxshopify "github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
)

// TestShopifyWebhooks: signed order webhooks upsert the order at once, a bad signature
// stores nothing, a redelivery stores nothing more, a refund webhook updates the order, and
// test and cancelled orders stay out of revenue.
func TestShopifyWebhooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	status, body := e.call("POST", "/v1/connections", map[string]any{
		"channel": "shopify", "account_id": sandboxshopify.DemoShopDomain, "access_token": sandboxshopify.DefaultToken})
	require.Equal(t, http.StatusCreated, status, "%v", body)
	hook := e.API.URL + "/webhooks/shopify"
	secret := []byte(sandboxshopify.DefaultWebhookSecret)
	today := e.SB.Shopify.Today()
	var regular, testOrder, cancelled string
	for d := 0; d < 30 && (regular == "" || testOrder == "" || cancelled == ""); d++ {
		day := mustDay(t, today).AddDate(0, 0, -d).Format("2006-01-02")
		orders, err := e.SB.Shopify.Orders(day)
		require.NoError(t, err)
		for _, o := range orders {
			switch {
			case o.Test && testOrder == "":
				testOrder = o.ID
			case o.Cancelled && !o.Test && cancelled == "":
				cancelled = o.ID
			case !o.Test && !o.Cancelled && o.Refunds == 0 && regular == "":
				regular = o.ID
			}
		}
	}
	require.NotEmpty(t, regular)
	require.NotEmpty(t, testOrder)
	require.NotEmpty(t, cancelled)
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		require.NoError(t, e.Store.Pool.QueryRow(e.ctx, q, args...).Scan(&n))
		return n
	}

	// A forged signature: 401, nothing stored.
	raw, err := e.SB.Shopify.OrderJSON(regular)
	require.NoError(t, err)
	req, _ := http.NewRequest("POST", hook, bytes.NewReader(raw))
	req.Header.Set("X-Shopify-Topic", "orders/create")
	req.Header.Set("X-Shopify-Hmac-Sha256", "SvIDxeQYioCDXQOQ/S/pbFTiuCdWknvTPvqp6AacIJY=")
	req.Header.Set("X-Shopify-Shop-Domain", sandboxshopify.DemoShopDomain)
	req.Header.Set("X-Shopify-Webhook-Id", "forged-1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, 0, count(`SELECT count(*) FROM orders`))
	require.Equal(t, 0, count(`SELECT count(*) FROM webhook_deliveries`))

	// Signed: stored at once, answered quickly; delivered twice, stored once.
	start := time.Now()
	code, err := e.SB.Shopify.SendWebhookWithID(e.ctx, hook, "orders/create", regular, secret, "wh-regular-1")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	require.Less(t, time.Since(start), time.Second)
	code, err = e.SB.Shopify.ResendWebhook(e.ctx, "wh-regular-1")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, 1, count(`SELECT count(*) FROM orders WHERE order_id = $1`, regular))
	require.Equal(t, 1, count(`SELECT count(*) FROM webhook_deliveries`))
	require.Greater(t, count(`SELECT count(*) FROM order_line_items WHERE order_id = $1`, regular), 0)

	// A refund webhook lowers the order's net revenue.
	_, err = e.SB.Shopify.RefundOrder(regular, "5.00")
	require.NoError(t, err)
	code, err = e.SB.Shopify.SendWebhook(e.ctx, hook, "refunds/create", regular, secret)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, 5_000_000, count(`SELECT refunded_micros::int FROM orders WHERE order_id = $1`, regular))

	// Test and cancelled orders are stored but are not revenue.
	revenue := func() float64 {
		_, b := e.call("GET", fmt.Sprintf("/v1/metrics/summary?from=%s&to=%s",
			mustDay(t, today).AddDate(0, 0, -40).Format("2006-01-02"), today), nil)
		return b["current"].(map[string]any)["revenue_micros"].(float64)
	}
	before := revenue()
	for _, id := range []string{testOrder, cancelled} {
		code, err := e.SB.Shopify.SendWebhook(e.ctx, hook, "orders/updated", id, secret)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
	}
	require.Equal(t, 3, count(`SELECT count(*) FROM orders`))
	require.Equal(t, before, revenue(), "test and cancelled orders add no revenue")
}
