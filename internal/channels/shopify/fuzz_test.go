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
	fuzzsrv.Reads(f, func(baseURL string) func(context.Context, string) {
		c := shopify.New(shopify.Options{BaseURL: baseURL})
		acct := channels.Account{ID: "demo.myshopify.com", Token: "fuzz-token"}
		return func(ctx context.Context, cursor string) {
			_, _ = c.ReadOrders(ctx, acct, channels.OrdersRequest{UpdatedMin: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}, cursor)
		}
	})
}

// FuzzAccountInfo does the same for the account lookup made when a connection is created.
func FuzzAccountInfo(f *testing.F) {
	fuzzsrv.Accounts(f, func(baseURL string) func(context.Context) error {
		c := shopify.New(shopify.Options{BaseURL: baseURL})
		acct := channels.Account{ID: "demo.myshopify.com", Token: "fuzz-token"}
		return func(ctx context.Context) error { _, err := c.AccountInfo(ctx, acct); return err }
	})
}
