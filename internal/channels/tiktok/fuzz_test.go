package tiktok_test

import (
	"context"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/fuzzsrv"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/tiktok"
)

// FuzzReadPage feeds the connector's whole read path arbitrary provider answers and
// cursors: whatever the provider (or something pretending to be it) says, the connector
// returns a page or an error, never panics, and never hangs past its context.
func FuzzReadPage(f *testing.F) {
	f.Add(200, []byte(`{"code":0,"message":"OK","data":{"list":[{"dimensions":{"ad_id":"1","stat_time_day":"2026-11-01 00:00:00"},"metrics":{"spend":"1.50","impressions":"10","clicks":"1"}}],"page_info":{"page":1,"page_size":50,"total_number":1,"total_page":1}}}`), "")
	f.Add(200, []byte(`{"code":51010,"message":"Too many requests"}`), "")
	f.Add(200, []byte(`{"code":0,"data":null}`), "x")
	fuzzsrv.Reads(f, func(baseURL string) func(context.Context, string) {
		c := tiktok.New(tiktok.Options{BaseURL: baseURL, DefaultRateLimitBackoff: time.Millisecond})
		acct := channels.Account{ID: "7000000001", Token: "fuzz-token"}
		return func(ctx context.Context, cursor string) {
			_, _ = c.ReadPage(ctx, acct, channels.ReadRequest{Window: fuzzsrv.TestWindow, Level: channels.LevelAd}, cursor)
		}
	})
}

// FuzzAccountInfo does the same for the account lookup made when a connection is created.
func FuzzAccountInfo(f *testing.F) {
	fuzzsrv.Accounts(f, func(baseURL string) func(context.Context) error {
		c := tiktok.New(tiktok.Options{BaseURL: baseURL, DefaultRateLimitBackoff: time.Millisecond})
		acct := channels.Account{ID: "7000000001", Token: "fuzz-token"}
		return func(ctx context.Context) error { _, err := c.AccountInfo(ctx, acct); return err }
	})
}
