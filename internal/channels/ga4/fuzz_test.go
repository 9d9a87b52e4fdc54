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
	srv := fuzzsrv.Start(f)
	c := ga4.New(ga4.Options{BaseURL: srv.URL, TokenURL: srv.URL + "/token", ClientID: "id", ClientSecret: "secret", DefaultRateLimitBackoff: time.Millisecond})
	acct := channels.Account{ID: "123456", Token: "fuzz-token", RefreshToken: "fuzz-refresh"}
	f.Fuzz(func(t *testing.T, status int, body []byte, cursor string) {
		srv.Set(status, body)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = c.ReadSessions(ctx, acct, channels.ReadRequest{Window: channels.Window{From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)}, Level: channels.LevelAd}, cursor)
	})
}

// FuzzAccountInfo does the same for the account lookup made when a connection is created.
func FuzzAccountInfo(f *testing.F) {
	f.Add(200, []byte(`{}`))
	f.Add(401, []byte(`{"error":"bad token"}`))
	srv := fuzzsrv.Start(f)
	c := ga4.New(ga4.Options{BaseURL: srv.URL, TokenURL: srv.URL + "/token", ClientID: "id", ClientSecret: "secret", DefaultRateLimitBackoff: time.Millisecond})
	acct := channels.Account{ID: "123456", Token: "fuzz-token", RefreshToken: "fuzz-refresh"}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		code := srv.Set(status, body)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := c.AccountInfo(ctx, acct); err == nil && code >= 400 {
			t.Fatalf("an HTTP %d answer was taken for an account", code)
		}
	})
}
