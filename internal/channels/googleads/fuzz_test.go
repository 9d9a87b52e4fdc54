package googleads_test

import (
	"context"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/fuzzsrv"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/googleads"
)

// FuzzReadPage feeds the connector's whole read path arbitrary provider answers and
// cursors: whatever the provider (or something pretending to be it) says, the connector
// returns a page or an error, never panics, and never hangs past its context.
func FuzzReadPage(f *testing.F) {
	f.Add(200, []byte(`[{"results":[{"campaign":{"id":"1","name":"c"},"metrics":{"costMicros":"1000000","impressions":"10","clicks":"1"},"segments":{"date":"2026-11-01"}}],"fieldMask":"campaign.id"}]`), "")
	f.Add(200, []byte(`{"access_token":"t","expires_in":3600,"token_type":"Bearer"}`), "")
	f.Add(429, []byte(`{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.ads.googleads.v23.errors.GoogleAdsFailure","errors":[{"errorCode":{"quotaError":"RESOURCE_EXHAUSTED"}}]}]}}`), "")
	f.Add(200, []byte(`[]`), "garbage")
	srv := fuzzsrv.Start(f)
	c := googleads.New(googleads.Options{BaseURL: srv.URL, TokenURL: srv.URL + "/token", ClientID: "id", ClientSecret: "secret", DeveloperToken: "dev", DefaultRateLimitBackoff: time.Millisecond})
	acct := channels.Account{ID: "1234567890", Token: "fuzz-token", RefreshToken: "fuzz-refresh"}
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
	c := googleads.New(googleads.Options{BaseURL: srv.URL, TokenURL: srv.URL + "/token", ClientID: "id", ClientSecret: "secret", DeveloperToken: "dev", DefaultRateLimitBackoff: time.Millisecond})
	acct := channels.Account{ID: "1234567890", Token: "fuzz-token", RefreshToken: "fuzz-refresh"}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		code := srv.Set(status, body)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := c.AccountInfo(ctx, acct); err == nil && code >= 400 {
			t.Fatalf("an HTTP %d answer was taken for an account", code)
		}
	})
}
