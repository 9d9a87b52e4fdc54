package ga4

import (
	"context"
	"net/http"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/googleauth"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
)

const (
	// tokenExpiryMargin: a cached access token is replaced this long before it expires, so
	// that a call started with it does not reach Google after the expiry.
	tokenExpiryMargin = time.Minute
	// defaultTokenLifetime is assumed when the token response has no expires_in.
	defaultTokenLifetime = 5 * time.Minute
)

// accessToken returns the bearer token for the account: acct.Token when there is no
// refresh token, else a cached or newly minted access token. stale is a token the API just
// rejected: it is not returned again.
func (c *Client) accessToken(ctx context.Context, acct channels.Account, stale string) (string, error) {
	if acct.RefreshToken == "" {
		if acct.Token == "" {
			return "", &channels.Error{Channel: channels.GA4, Kind: channels.KindAuth, Message: "no access token"}
		}
		return acct.Token, nil
	}
	return c.tokens.Token(ctx, acct.RefreshToken, stale, func(ctx context.Context) (string, time.Duration, error) {
		access, lifetime, err := c.mint(ctx, acct)
		if err != nil {
			return "", 0, err
		}
		c.o.Logger.DebugContext(ctx, "ga4 access token minted", "expires_in", lifetime)
		return access, lifetime - min(tokenExpiryMargin, lifetime/2), nil
	})
}

// mint exchanges the refresh token for an access token (RFC 6749 §6, as Google's token
// endpoint implements it) through golang.org/x/oauth2.
func (c *Client) mint(ctx context.Context, acct channels.Account) (string, time.Duration, error) {
	if c.o.ClientID == "" {
		return "", 0, &channels.Error{Channel: channels.GA4, Kind: channels.KindBadRequest,
			Message: "an OAuth client id is needed to use a refresh token; none is configured"}
	}
	what := "POST " + c.tokenURL.Path
	tok, err := googleauth.Refresh(ctx, c.o.HTTPClient, c.tokenURL.String(), userAgent, c.o.ClientID, c.o.ClientSecret, acct.RefreshToken)
	if status, h, body, ok := googleauth.AsRetrieveError(err); ok {
		e := classifyTokenError(status, h, body, c.o.DefaultRateLimitBackoff)
		e.Message = c.scrub(acct, e.Message)
		c.o.Logger.InfoContext(ctx, "ga4 token refresh failed", "status", status, "kind", e.Kind.String())
		return "", 0, e
	}
	if err != nil && googleauth.IsTransport(err) {
		return "", 0, c.transportError(ctx, acct, "token endpoint "+what, err)
	}
	if err != nil {
		// A 2xx answer without an access token, or not JSON.
		return "", 0, &channels.Error{Channel: channels.GA4, Kind: channels.KindTransient,
			Message: "unexpected token endpoint response: no usable access_token"}
	}
	lifetime := time.Duration(tok.ExpiresIn) * time.Second
	if lifetime <= 0 {
		lifetime = defaultTokenLifetime
	}
	return tok.AccessToken, lifetime, nil
}

// classifyTokenError classifies an OAuth error response ({"error","error_description"}):
// invalid_grant (refresh token expired or revoked) and unauthorized_client (issued to
// another client) need the user to connect again: KindAuth; 429 KindRateLimited; 5xx
// KindTransient; other errors (invalid_client: the configured client id or secret is
// wrong) KindBadRequest.
func classifyTokenError(status int, h http.Header, body []byte, backoff time.Duration) *channels.Error {
	code, msg := googleauth.ErrorResponse(status, body)
	e := &channels.Error{Channel: channels.GA4, HTTPStatus: status, Message: msg}
	switch {
	case code == "invalid_grant" || code == "unauthorized_client":
		e.Kind = channels.KindAuth
	case status == http.StatusTooManyRequests:
		e.Kind = channels.KindRateLimited
		e.RetryAfter = backoff
		if d := httpx.RetryAfter(h); d > 0 {
			e.RetryAfter = d
		}
	case status >= 500:
		e.Kind = channels.KindTransient
	default:
		e.Kind = channels.KindBadRequest
	}
	return e
}
