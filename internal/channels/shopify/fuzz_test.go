package shopify_test

import (
	"context"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/fuzzsrv"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/shopify"
)

// FuzzReadOrders feeds the connector's whole read path arbitrary provider answers and
// cursors: whatever the provider (or something pretending to be it) says, the connector
// returns a page or an error, never panics, and never hangs past its context.
func FuzzReadOrders(f *testing.F) {
	f.Add(200, []byte(`{"orders":[{"id":1,"name":"#1001","created_at":"2026-11-01T10:00:00-05:00","updated_at":"2026-11-01T10:00:00-05:00","currency":"USD","total_price":"10.00","line_items":[],"refunds":[]}]}`), "")
	f.Add(429, []byte(`{"errors":"Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}`), "")
	f.Add(200, []byte(`{"orders":null}`), "page_info=abc")
	srv := fuzzsrv.Start(f)
	c := shopify.New(shopify.Options{BaseURL: srv.URL})
	acct := channels.Account{ID: "demo.myshopify.com", Token: "fuzz-token"}
	f.Fuzz(func(t *testing.T, status int, body []byte, cursor string) {
		srv.Set(status, body)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = c.ReadOrders(ctx, acct, channels.OrdersRequest{UpdatedMin: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}, cursor)
	})
}

// FuzzAccountInfo does the same for the account lookup made when a connection is created.
func FuzzAccountInfo(f *testing.F) {
	f.Add(200, []byte(`{}`))
	f.Add(401, []byte(`{"error":"bad token"}`))
	srv := fuzzsrv.Start(f)
	c := shopify.New(shopify.Options{BaseURL: srv.URL})
	acct := channels.Account{ID: "demo.myshopify.com", Token: "fuzz-token"}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		code := srv.Set(status, body)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := c.AccountInfo(ctx, acct); err == nil && code >= 400 {
			t.Fatalf("an HTTP %d answer was taken for an account", code)
		}
	})
}
