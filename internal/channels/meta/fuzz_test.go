package meta_test

import (
	"context"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/fuzzsrv"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/meta"
)

// FuzzReadPage feeds the connector's whole read path arbitrary provider answers and
// cursors: whatever the provider (or something pretending to be it) says, the connector
// returns a page or an error, never panics, and never hangs past its context.
func FuzzReadPage(f *testing.F) {
	f.Add(200, []byte(`{"data":[{"account_id":"42","campaign_id":"1","adset_id":"2","ad_id":"3","date_start":"2026-11-01","spend":"1.50","impressions":"10","clicks":"1","account_currency":"USD"}],"paging":{}}`), "")
	f.Add(200, []byte(`{"report_run_id":"9","async_status":"Job Completed","async_percent_completion":100}`), "")
	f.Add(400, []byte(`{"error":{"message":"(#17) User request limit reached","type":"OAuthException","code":17,"error_subcode":2446079,"fbtrace_id":"x"}}`), "")
	f.Add(200, []byte(`{}`), "not-a-cursor")
	srv := fuzzsrv.Start(f)
	c := meta.New(meta.Options{BaseURL: srv.URL, PollInterval: time.Millisecond, DefaultRateLimitBackoff: time.Millisecond, JobTimeout: 500 * time.Millisecond})
	acct := channels.Account{ID: "42", Token: "fuzz-token"}
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
	c := meta.New(meta.Options{BaseURL: srv.URL, PollInterval: time.Millisecond, DefaultRateLimitBackoff: time.Millisecond, JobTimeout: 500 * time.Millisecond})
	acct := channels.Account{ID: "42", Token: "fuzz-token"}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		code := srv.Set(status, body)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := c.AccountInfo(ctx, acct); err == nil && code >= 400 {
			t.Fatalf("an HTTP %d answer was taken for an account", code)
		}
	})
}
