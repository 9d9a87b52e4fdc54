package googleads

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/googleauth"
)

const (
	// tokenExpiryMargin: a cached access token is replaced this long before Google says it
	// expires (at most a tenth of its lifetime), so a call never starts with a dying token.
	tokenExpiryMargin = time.Minute
	// assumedTokenLifetime is used when the token endpoint omits expires_in; a token that
	// dies earlier costs one 401 and one refresh.
	assumedTokenLifetime = 5 * time.Minute
)

// accessToken returns the bearer token of a call: acct.Token without a refresh token, else a
// cached access token minted from it. stale is a token the API just rejected; it is never
// returned again. A refresh token the endpoint rejects (KindAuth) is forgotten, so that no
// access token minted from it is used again.
func (c *Client) accessToken(ctx context.Context, acct channels.Account, stale string) (string, error) {
	if acct.RefreshToken == "" {
		if acct.Token == "" {
			return "", &channels.Error{Channel: channels.GoogleAds, Kind: channels.KindAuth, Message: "no access token"}
		}
		return acct.Token, nil
	}
	token, err := c.tokens.Token(ctx, acct.RefreshToken, stale, func(ctx context.Context) (string, time.Duration, error) {
		token, lifetime, err := c.refresh(ctx, acct)
		if err != nil {
			return "", 0, err
		}
		c.o.Logger.InfoContext(ctx, "google ads access token refreshed", "expires_in", lifetime)
		return token, lifetime - min(tokenExpiryMargin, lifetime/10), nil
	})
	if pe, ok := channels.AsError(err); ok && pe.Kind == channels.KindAuth {
		c.tokens.Forget(acct.RefreshToken)
	}
	return token, err
}

// refresh runs the refresh_token grant against the token endpoint (channel-apis.md §6)
// through golang.org/x/oauth2, and classifies failures as before: the endpoint's error
// answers by ClassifyTokenError, transport failures as transient, and 2xx answers that are
// not a usable Bearer token as bad responses.
func (c *Client) refresh(ctx context.Context, acct channels.Account) (string, time.Duration, error) {
	what := "token endpoint"
	tok, err := googleauth.Refresh(ctx, c.o.HTTPClient, c.tokenURL, userAgent, c.o.ClientID, c.o.ClientSecret, acct.RefreshToken)
	if status, h, body, ok := googleauth.AsRetrieveError(err); ok {
		e := ClassifyTokenError(status, h, body, c.o.DefaultRateLimitBackoff)
		e.Message = c.scrub(acct, e.Message)
		c.o.Logger.InfoContext(ctx, "google ads token refresh failed", "status", status, "kind", e.Kind.String())
		return "", 0, e
	}
	if err != nil && googleauth.IsTransport(err) {
		return "", 0, c.transportError(ctx, acct, what, err, "")
	}
	if err != nil {
		return "", 0, c.badResponse(acct, what, err)
	}
	if tok.TokenType != "" && !strings.EqualFold(tok.TokenType, "Bearer") {
		return "", 0, c.badResponse(acct, what, fmt.Errorf("token_type %q is not Bearer", tok.TokenType))
	}
	lifetime := assumedTokenLifetime
	if tok.ExpiresIn > 0 {
		lifetime = time.Duration(tok.ExpiresIn) * time.Second
	}
	return tok.AccessToken, lifetime, nil
}
