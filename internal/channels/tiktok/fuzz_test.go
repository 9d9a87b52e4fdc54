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
	srv := fuzzsrv.Start(f)
	c := tiktok.New(tiktok.Options{BaseURL: srv.URL, DefaultRateLimitBackoff: time.Millisecond})
	acct := channels.Account{ID: "7000000001", Token: "fuzz-token"}
	f.Fuzz(func(t *testing.T, status int, body []byte, cursor string) {
		srv.Set(status, body)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = c.ReadPage(ctx, acct, channels.ReadRequest{Window: channels.Window{From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)}, Level: channels.LevelAd}, cursor)
	})
}

// FuzzAccountInfo does the same for the account lookup made when a connection is created.
func FuzzAccountInfo(f *testing.F) {
	f.Add(200, []byte(`{}`))
	f.Add(401, []byte(`{"error":"bad token"}`))
	srv := fuzzsrv.Start(f)
	c := tiktok.New(tiktok.Options{BaseURL: srv.URL, DefaultRateLimitBackoff: time.Millisecond})
	acct := channels.Account{ID: "7000000001", Token: "fuzz-token"}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		code := srv.Set(status, body)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := c.AccountInfo(ctx, acct); err == nil && code >= 400 {
			t.Fatalf("an HTTP %d answer was taken for an account", code)
		}
	})
}
