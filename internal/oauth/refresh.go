package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// Refresher renews connection tokens for the TokenRefresh workflow.
type Refresher struct{ Client *Client }

// Refresh renews the token of a connection of channel. account is the connection's
// external account id (the shop domain, for Shopify). It returns a *ReauthError when the
// provider says the grant is dead (Meta 190, Google invalid_grant, Shopify refusing the
// refresh token), an *Error with Retryable set for 5xx and network failures, and
// ErrNotRefreshable for tokens that have no refresh (TikTok, classic Shopify tokens).
//
//   - Meta: a still-valid long-lived token is re-exchanged (fb_exchange_token) for a new
//     60-day one; Meta has no refresh tokens.
//   - Shopify expiring offline tokens: refresh_token grant; the refresh token rotates, so
//     the caller must store the returned Refresh before using it again.
//   - Google: refresh_token grant through oauth2's TokenSource; an answer without a
//     refresh token keeps the old one.
func (r Refresher) Refresh(ctx context.Context, channel, account, access, refresh string) (Token, error) {
	c := r.Client
	switch channel {
	case Meta:
		if access == "" {
			return Token{}, &ReauthError{Provider: Meta, Message: "no token to re-exchange"}
		}
		return c.metaLongLived(ctx, access)
	case Shopify:
		if refresh == "" {
			return Token{}, ErrNotRefreshable
		}
		if !ValidShop(account) {
			return Token{}, fmt.Errorf("shopify: refresh: %q is not a shop domain", account)
		}
		tok, _, err := c.shopifyTokenCall(ctx, account,
			map[string]string{"grant_type": "refresh_token", "refresh_token": refresh},
			"refresh the access token", scrubber{c.c.ShopifyClientSecret, refresh, access})
		var pe *Error
		if errors.As(err, &pe) && !pe.Retryable && (pe.Status == http.StatusBadRequest || pe.Status == http.StatusUnauthorized) {
			// The refresh token is expired, revoked or already rotated.
			return Token{}, &ReauthError{Provider: Shopify, Message: pe.Message}
		}
		return tok, err
	case GoogleAds, GA4:
		if refresh == "" {
			return Token{}, &ReauthError{Provider: channel, Message: "no refresh token"}
		}
		cfg := c.googleConfig(channel)
		t, err := cfg.TokenSource(c.googleContext(ctx), &oauth2.Token{RefreshToken: refresh}).Token()
		if err != nil {
			err = googleTokenError(channel, "refresh the access token", err, scrubber{c.c.GoogleClientSecret, refresh})
			var pe *Error
			if errors.As(err, &pe) && (pe.Code == "invalid_grant" || pe.Code == "unauthorized_client") {
				return Token{}, &ReauthError{Provider: channel, Message: pe.Message}
			}
			return Token{}, err
		}
		return Token{Access: t.AccessToken, Refresh: t.RefreshToken, ExpiresAt: t.Expiry.UTC()}, nil
	case TikTok:
		return Token{}, ErrNotRefreshable
	}
	return Token{}, fmt.Errorf("oauth: refresh: unknown channel %q", channel)
}

// Disconnector undoes on the provider's side what connecting set up: Shopify's webhook
// subscriptions. DELETE /v1/connections calls it before erasing the tokens.
type Disconnector struct {
	Client *Client
	// StillConnected reports whether another live connection reads the same shop (another
	// workspace): webhooks belong to the app's installation on the shop, not to one
	// workspace, so they stay while anyone uses them. Nil means none does.
	StillConnected func(ctx context.Context, conn store.Connection) (bool, error)
}

// Disconnect removes the connection's provider-side registrations. Channels that register
// nothing return nil.
func (d Disconnector) Disconnect(ctx context.Context, conn store.Connection, accessToken string) error {
	if conn.Channel != Shopify || accessToken == "" {
		return nil
	}
	if d.StillConnected != nil {
		shared, err := d.StillConnected(ctx, conn)
		if err != nil {
			return fmt.Errorf("shopify: disconnect %s: %w", conn.ID, err)
		}
		if shared {
			return nil
		}
	}
	if err := d.Client.deleteShopifyWebhooks(ctx, conn.ExternalAccountID, accessToken); err != nil {
		return fmt.Errorf("shopify: disconnect %s: %w", conn.ID, err)
	}
	return nil
}
