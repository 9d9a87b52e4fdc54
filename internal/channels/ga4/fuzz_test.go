package ga4_test

import (
	"context"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/fuzzsrv"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/ga4"
)

// FuzzReadSessions feeds the connector's whole read path arbitrary provider answers and
// cursors: whatever the provider (or something pretending to be it) says, the connector
// returns a page or an error, never panics, and never hangs past its context.
func FuzzReadSessions(f *testing.F) {
	f.Add(200, []byte(`{"dimensionHeaders":[{"name":"date"}],"metricHeaders":[{"name":"sessions","type":"TYPE_INTEGER"}],"rows":[{"dimensionValues":[{"value":"20261101"}],"metricValues":[{"value":"12"}]}],"rowCount":1,"metadata":{"currencyCode":"USD","timeZone":"UTC"}}`), "")
	f.Add(429, []byte(`{"error":{"code":429,"message":"Exhausted concurrent requests quota.","status":"RESOURCE_EXHAUSTED"}}`), "")
	f.Add(200, []byte(`{"access_token":"t","expires_in":3600}`), "x")
	fuzzsrv.Reads(f, func(baseURL string) func(context.Context, string) {
		c := ga4.New(ga4.Options{BaseURL: baseURL, TokenURL: baseURL + "/token", ClientID: "id", ClientSecret: "secret", DefaultRateLimitBackoff: time.Millisecond})
		acct := channels.Account{ID: "123456", Token: "fuzz-token", RefreshToken: "fuzz-refresh"}
		return func(ctx context.Context, cursor string) {
			_, _ = c.ReadSessions(ctx, acct, channels.ReadRequest{Window: fuzzsrv.TestWindow, Level: channels.LevelAd}, cursor)
		}
	})
}

// FuzzAccountInfo does the same for the account lookup made when a connection is created.
func FuzzAccountInfo(f *testing.F) {
	fuzzsrv.Accounts(f, func(baseURL string) func(context.Context) error {
		c := ga4.New(ga4.Options{BaseURL: baseURL, TokenURL: baseURL + "/token", ClientID: "id", ClientSecret: "secret", DefaultRateLimitBackoff: time.Millisecond})
		acct := channels.Account{ID: "123456", Token: "fuzz-token", RefreshToken: "fuzz-refresh"}
		return func(ctx context.Context) error { _, err := c.AccountInfo(ctx, acct); return err }
	})
}
