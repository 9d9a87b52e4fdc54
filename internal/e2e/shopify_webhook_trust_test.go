package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omnitrackiq/omnitrackiq/internal/apikey"
	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	sandboxshopify "github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
)

// trustFixture is one API with workspace A connected to the sandbox's demo shop and
// workspace B connected to the sandbox's other shop, and a supply of demo-shop orders that
// no webhook has delivered yet.
type trustFixture struct {
	e            *env
	hook         string
	connA, connB string
	wsB, keyB    string
	orders       []string
}

func newTrustFixture(t *testing.T) *trustFixture {
	t.Helper()
	e := newEnv(t, envOptions{})
	f := &trustFixture{e: e, hook: e.API.URL + "/webhooks/shopify"}
	f.connA = e.connectShopify(sandboxshopify.DefaultToken)

	wsB, err := e.Store.CreateWorkspace(e.ctx, "Other merchant", "USD", "UTC")
	require.NoError(t, err)
	require.NoError(t, e.Store.SetPlan(e.ctx, wsB.ID, billing.Agency, "active"))
	f.wsB = wsB.ID
	f.keyB, _, err = apikey.Issue(e.ctx, e.Store, wsB.ID, "b")
	require.NoError(t, err)
	status, body := e.request("POST", "/v1/connections", creds{bearer: f.keyB}, map[string]any{
		"channel": "shopify", "account_id": sandboxshopify.OtherShopDomain, "access_token": sandboxshopify.OtherShopToken})
	require.Equal(t, http.StatusCreated, status, "%v", body)
	f.connB = body["id"].(string)

	today := mustDay(t, e.SB.Shopify.Today())
	for d := 1; d < 30 && len(f.orders) < 12; d++ {
		orders, err := e.SB.Shopify.Orders(today.AddDate(0, 0, -d).Format("2006-01-02"))
		require.NoError(t, err)
		for _, o := range orders {
			if !o.Test && !o.Cancelled && o.Refunds == 0 {
				f.orders = append(f.orders, o.ID)
			}
		}
	}
	require.GreaterOrEqual(t, len(f.orders), 12)
	return f
}

// next takes an order no delivery has named yet.
func (f *trustFixture) next() string {
	id := f.orders[0]
	f.orders = f.orders[1:]
	return id
}

// delivery is a webhook as a sender crafts it: any body, signed with the app's secret (as
// only Shopify can), and any unsigned headers.
type delivery struct {
	topic, shop, webhookID string
	// triggeredAt is X-Shopify-Triggered-At; zero means now, and omit leaves it out.
	triggeredAt time.Time
	omit        bool
	body        []byte
}

func (f *trustFixture) post(d delivery) (int, map[string]any) {
	f.e.t.Helper()
	req, err := http.NewRequestWithContext(f.e.ctx, "POST", f.hook, bytes.NewReader(d.body))
	require.NoError(f.e.t, err)
	m := hmac.New(sha256.New, []byte(sandboxshopify.DefaultWebhookSecret))
	m.Write(d.body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Topic", d.topic)
	req.Header.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(m.Sum(nil)))
	req.Header.Set("X-Shopify-Shop-Domain", d.shop)
	req.Header.Set("X-Shopify-Webhook-Id", d.webhookID)
	req.Header.Set("X-Shopify-API-Version", sandboxshopify.APIVersion)
	if !d.omit {
		at := d.triggeredAt
		if at.IsZero() {
			at = time.Now()
		}
		req.Header.Set("X-Shopify-Triggered-At", at.UTC().Format("2006-01-02T15:04:05.000000Z"))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(f.e.t, err)
	defer resp.Body.Close()
	out := map[string]any{}
	require.NoError(f.e.t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

// orderBody is the sandbox's JSON of an order with fields replaced (nil deletes one).
func (f *trustFixture) orderBody(id string, set map[string]any) []byte {
	f.e.t.Helper()
	raw, err := f.e.SB.Shopify.OrderJSON(id)
	require.NoError(f.e.t, err)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // order ids exceed float64's exact integers
	var o map[string]any
	require.NoError(f.e.t, dec.Decode(&o))
	for k, v := range set {
		if v == nil {
			delete(o, k)
		} else {
			o[k] = v
		}
	}
	out, err := json.Marshal(o)
	require.NoError(f.e.t, err)
	return out
}

// outcomes are the recorded outcomes of a delivery, by workspace.
func (f *trustFixture) outcomes(webhookID string) map[string]string {
	f.e.t.Helper()
	rows, err := f.e.Store.Pool.Query(f.e.ctx, `SELECT workspace_id::text, outcome FROM webhook_deliveries WHERE webhook_id = $1`, webhookID)
	require.NoError(f.e.t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var ws, outcome string
		require.NoError(f.e.t, rows.Scan(&ws, &outcome))
		out[ws] = outcome
	}
	require.NoError(f.e.t, rows.Err())
	return out
}

// stored is an order as workspace A holds it; ok false when it holds none.
func (f *trustFixture) stored(id string) (total int64, updated time.Time, ok bool) {
	f.e.t.Helper()
	err := f.e.Store.Pool.QueryRow(f.e.ctx, `SELECT total_micros, updated_at FROM orders
		WHERE workspace_id = $1 AND order_id = $2`, f.e.Workspace, id).Scan(&total, &updated)
	if err != nil {
		require.ErrorContains(f.e.t, err, "no rows")
		return 0, time.Time{}, false
	}
	return total, updated, true
}

func (f *trustFixture) count(q string, args ...any) int {
	f.e.t.Helper()
	var n int
	require.NoError(f.e.t, f.e.Store.Pool.QueryRow(f.e.ctx, q, args...).Scan(&n))
	return n
}

// TestShopifyWebhookTrust: a Shopify webhook applies only what the shop's own API confirms
// with the connection's token. Each hostile delivery is answered without a 5xx, recorded
// once with its outcome, and changes no order.
func TestShopifyWebhookTrust(t *testing.T) {
	t.Parallel()
	f := newTrustFixture(t)
	e := f.e
	demo, other := sandboxshopify.DemoShopDomain, sandboxshopify.OtherShopDomain

	t.Run("the order applied is the shop's, not the body's", func(t *testing.T) {
		id := f.next()
		want, err := e.SB.Shopify.OrderJSON(id)
		require.NoError(t, err)
		var o struct {
			TotalPrice string `json:"total_price"`
		}
		require.NoError(t, json.Unmarshal(want, &o))
		status, body := f.post(delivery{topic: "orders/create", shop: demo, webhookID: "trust-body",
			body: f.orderBody(id, map[string]any{"total_price": "99999.00"})})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, "applied", body["status"])
		total, _, ok := f.stored(id)
		require.True(t, ok)
		require.Equal(t, o.TotalPrice, fmt.Sprintf("%d.%02d", total/1_000_000, total%1_000_000/10_000),
			"the total is the shop API's, not the signed body's")
	})

	t.Run("replay under another shop's domain", func(t *testing.T) {
		id := f.next()
		code, err := e.SB.Shopify.SendWebhookWithID(e.ctx, f.hook, "orders/create", id,
			[]byte(sandboxshopify.DefaultWebhookSecret), "trust-original")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
		totalA, updatedA, ok := f.stored(id)
		require.True(t, ok)
		var sent sandboxshopify.WebhookDelivery
		for _, d := range e.SB.Shopify.Webhooks() {
			if d.ID == "trust-original" {
				sent = d
			}
		}
		require.NotEmpty(t, sent.Body)

		// The same signed bytes under the other shop's domain, with a fresh and with the
		// original webhook id: the other shop's API has no such order.
		for _, wid := range []string{"trust-replay", "trust-original"} {
			status, body := f.post(delivery{topic: "orders/create", shop: other, webhookID: wid, body: sent.Body})
			require.Equal(t, http.StatusOK, status, "%v", body)
			require.Equal(t, "not_applied", body["status"], "%v", body)
			require.Equal(t, "not_found", f.outcomes(wid)[f.wsB])
		}
		require.Equal(t, 0, f.count(`SELECT count(*) FROM orders WHERE workspace_id = $1`, f.wsB))
		require.Equal(t, 0, f.count(`SELECT count(*) FROM customers WHERE workspace_id = $1`, f.wsB))
		require.Equal(t, 1, f.count(`SELECT count(*) FROM orders WHERE order_id = $1`, id))
		total, updated, _ := f.stored(id)
		require.Equal(t, totalA, total)
		require.True(t, updatedA.Equal(updated))
		require.Len(t, f.outcomes("trust-original"), 2, "recorded once per workspace")

		// An uninstall of the demo shop replayed under the other shop's domain disables nothing.
		uninstall := []byte(`{"id":60180000001,"domain":"demo-store.myshopify.com","myshopify_domain":"demo-store.myshopify.com"}`)
		status, _ := f.post(delivery{topic: "app/uninstalled", shop: other, webhookID: "trust-uninstall", body: uninstall})
		require.Equal(t, http.StatusUnprocessableEntity, status)
		var st string
		require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT status FROM connections WHERE id = $1`, f.connB).Scan(&st))
		require.Equal(t, "active", st)
	})

	t.Run("stale delivery", func(t *testing.T) {
		id := f.next()
		d := delivery{topic: "orders/create", shop: demo, webhookID: "trust-stale", body: f.orderBody(id, nil),
			triggeredAt: time.Now().Add(-time.Hour)}
		for i := 0; i < 2; i++ { // Shopify's retry of it is answered the same
			status, body := f.post(d)
			require.Equal(t, http.StatusOK, status, "%v", body)
			require.Contains(t, []any{"rejected", "duplicate"}, body["status"])
		}
		require.Equal(t, map[string]string{e.Workspace: "stale"}, f.outcomes("trust-stale"),
			"recorded once, for the one connection of the named shop")
		_, _, ok := f.stored(id)
		require.False(t, ok, "a stale delivery stored the order")

		// Triggered in the future beyond the clock skew: invalid. Without the header: applied
		// (it is unsigned, so requiring it would stop nothing; the read-back is the guard).
		status, body := f.post(delivery{topic: "orders/create", shop: demo, webhookID: "trust-future-trigger",
			body: f.orderBody(id, nil), triggeredAt: time.Now().Add(time.Hour)})
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "rejected", body["status"])
		require.Equal(t, "invalid", f.outcomes("trust-future-trigger")[e.Workspace])
		status, body = f.post(delivery{topic: "orders/create", shop: demo, webhookID: "trust-no-trigger",
			body: f.orderBody(id, nil), omit: true})
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "applied", body["status"], "%v", body)
	})

	t.Run("invalid bodies are recorded once, never retried", func(t *testing.T) {
		id := f.next()
		_, err := e.SB.Shopify.SendWebhook(e.ctx, f.hook, "orders/create", id, []byte(sandboxshopify.DefaultWebhookSecret))
		require.NoError(t, err)
		total, updated, ok := f.stored(id)
		require.True(t, ok)
		cases := []struct {
			name string
			set  map[string]any
		}{
			{"far-future updated_at", map[string]any{"updated_at": "9999-12-31T23:59:59Z"}},
			{"bad currency", map[string]any{"currency": "US$"}},
			{"lower-case currency", map[string]any{"currency": "usd"}},
			{"four-letter currency", map[string]any{"currency": "USDT"}},
			{"negative total", map[string]any{"total_price": "-5.00"}},
			{"exponent total", map[string]any{"total_price": "1e9"}},
			{"unbounded total", map[string]any{"total_price": "99999999999999.00"}},
			{"year 0000", map[string]any{"created_at": "0000-01-01T00:00:00Z"}},
			{"future created_at", map[string]any{"created_at": time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339)}},
			{"no id", map[string]any{"id": nil}},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				wid := fmt.Sprintf("trust-invalid-%d", i)
				d := delivery{topic: "orders/updated", shop: demo, webhookID: wid, body: f.orderBody(id, tc.set)}
				for try := 0; try < 2; try++ {
					status, body := f.post(d)
					require.Equal(t, http.StatusOK, status, "%v", body)
					require.Contains(t, []any{"rejected", "duplicate"}, body["status"], "%v", body)
				}
				require.Equal(t, "invalid", f.outcomes(wid)[e.Workspace])
				require.Equal(t, 1, f.count(`SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1 AND workspace_id = $2`,
					wid, e.Workspace))
				gotTotal, gotUpdated, _ := f.stored(id)
				require.Equal(t, total, gotTotal)
				require.True(t, updated.Equal(gotUpdated))
			})
		}

		// The year-9999 delivery froze nothing: a later, real update applies.
		require.NoError(t, e.SB.Shopify.EditOrder(id, "150.00"))
		code, err := e.SB.Shopify.SendWebhook(e.ctx, f.hook, "orders/updated", id, []byte(sandboxshopify.DefaultWebhookSecret))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
		gotTotal, gotUpdated, _ := f.stored(id)
		require.Equal(t, int64(150_000_000), gotTotal)
		require.True(t, gotUpdated.After(updated))
	})

	t.Run("connections that take no data", func(t *testing.T) {
		setStatus := func(status string) {
			_, err := e.Store.Pool.Exec(e.ctx, `UPDATE connections SET status = $2 WHERE id = $1`, f.connA, status)
			require.NoError(t, err)
		}
		pause := func(paused bool) {
			status, body := e.call("PATCH", "/v1/connections/"+f.connA+"/schedule", map[string]any{"paused": paused})
			require.Equal(t, http.StatusOK, status, "%v", body)
		}
		for _, tc := range []struct {
			name       string
			set, undo  func()
			wantDetail string
		}{
			{"disabled", func() { setStatus("disabled") }, func() { setStatus("active") }, "the connection is disabled"},
			{"needs_reauth", func() { setStatus("needs_reauth") }, func() { setStatus("active") }, "the connection is needs_reauth"},
			{"paused", func() { pause(true) }, func() { pause(false) }, "the connection's syncs are paused"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := f.next()
				tc.set()
				wid := "trust-skip-" + tc.name
				status, body := f.post(delivery{topic: "orders/create", shop: demo, webhookID: wid, body: f.orderBody(id, nil)})
				tc.undo()
				require.Equal(t, http.StatusOK, status, "%v", body)
				require.Equal(t, "not_applied", body["status"], "%v", body)
				var outcome, detail string
				require.NoError(t, e.Store.Pool.QueryRow(e.ctx, `SELECT outcome, detail FROM webhook_deliveries
					WHERE webhook_id = $1 AND workspace_id = $2`, wid, e.Workspace).Scan(&outcome, &detail))
				require.Equal(t, "skipped", outcome)
				require.Equal(t, tc.wantDetail, detail)
				_, _, ok := f.stored(id)
				require.False(t, ok, "an order was applied to a %s connection", tc.name)

				// Once the connection takes data again, a new delivery applies.
				status, body = f.post(delivery{topic: "orders/create", shop: demo, webhookID: wid + "-after", body: f.orderBody(id, nil)})
				require.Equal(t, http.StatusOK, status)
				require.Equal(t, "applied", body["status"], "%v", body)
			})
		}
	})
}
