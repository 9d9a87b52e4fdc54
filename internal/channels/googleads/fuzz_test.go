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
	fuzzsrv.Reads(f, func(baseURL string) func(context.Context, string) {
		c := googleads.New(googleads.Options{BaseURL: baseURL, TokenURL: baseURL + "/token", ClientID: "id", ClientSecret: "secret", DeveloperToken: "dev", DefaultRateLimitBackoff: time.Millisecond})
		acct := channels.Account{ID: "1234567890", Token: "fuzz-token", RefreshToken: "fuzz-refresh"}
		return func(ctx context.Context, cursor string) {
			_, _ = c.ReadPage(ctx, acct, channels.ReadRequest{Window: fuzzsrv.TestWindow, Level: channels.LevelAd}, cursor)
		}
	})
}

// FuzzAccountInfo does the same for the account lookup made when a connection is created.
func FuzzAccountInfo(f *testing.F) {
	fuzzsrv.Accounts(f, func(baseURL string) func(context.Context) error {
		c := googleads.New(googleads.Options{BaseURL: baseURL, TokenURL: baseURL + "/token", ClientID: "id", ClientSecret: "secret", DeveloperToken: "dev", DefaultRateLimitBackoff: time.Millisecond})
		acct := channels.Account{ID: "1234567890", Token: "fuzz-token", RefreshToken: "fuzz-refresh"}
		return func(ctx context.Context) error { _, err := c.AccountInfo(ctx, acct); return err }
	})
}
