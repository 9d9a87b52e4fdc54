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
	fuzzsrv.Reads(f, func(baseURL string) func(context.Context, string) {
		c := meta.New(meta.Options{BaseURL: baseURL, PollInterval: time.Millisecond, DefaultRateLimitBackoff: time.Millisecond, JobTimeout: 500 * time.Millisecond})
		acct := channels.Account{ID: "42", Token: "fuzz-token"}
		return func(ctx context.Context, cursor string) {
			_, _ = c.ReadPage(ctx, acct, channels.ReadRequest{Window: fuzzsrv.TestWindow, Level: channels.LevelAd}, cursor)
		}
	})
}

// FuzzAccountInfo does the same for the account lookup made when a connection is created.
func FuzzAccountInfo(f *testing.F) {
	fuzzsrv.Accounts(f, func(baseURL string) func(context.Context) error {
		c := meta.New(meta.Options{BaseURL: baseURL, PollInterval: time.Millisecond, DefaultRateLimitBackoff: time.Millisecond, JobTimeout: 500 * time.Millisecond})
		acct := channels.Account{ID: "42", Token: "fuzz-token"}
		return func(ctx context.Context) error { _, err := c.AccountInfo(ctx, acct); return err }
	})
}
