package googleads

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/googleauth"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/jsonx"
)

const (
	// tokenExpiryMargin: a cached access token is replaced this long before Google says it
	// expires (at most a tenth of its lifetime), so a call never starts with a dying token.
	tokenExpiryMargin = time.Minute
	// assumedTokenLifetime is used when the token endpoint omits expires_in; a token that
	// dies earlier costs one 401 and one refresh.
	assumedTokenLifetime = 5 * time.Minute
	maxTokenResponse     = 1 << 20
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

// refresh runs the refresh_token grant against the token endpoint (channel-apis.md §6).
func (c *Client) refresh(ctx context.Context, acct channels.Account) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {acct.RefreshToken},
	}
	if c.o.ClientID != "" {
		form.Set("client_id", c.o.ClientID)
	}
	if c.o.ClientSecret != "" {
		form.Set("client_secret", c.o.ClientSecret)
	}
	what := "token endpoint"
	req, err := googleauth.NewRefreshRequest(ctx, c.tokenURL, userAgent, form)
	if err != nil {
		return "", 0, &channels.Error{Channel: channels.GoogleAds, Kind: channels.KindBadRequest,
			Message: c.scrub(acct, fmt.Sprintf("%s: build request: %v", what, err))}
	}
	resp, data, err := httpx.Do(c.o.HTTPClient, req, maxTokenResponse)
	if err != nil {
		return "", 0, c.transportError(ctx, acct, what, err, "")
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := ClassifyTokenError(resp.StatusCode, resp.Header, data, c.o.DefaultRateLimitBackoff)
		e.Message = c.scrub(acct, e.Message)
		c.o.Logger.InfoContext(ctx, "google ads token refresh failed", "status", resp.StatusCode,
			"kind", e.Kind.String())
		return "", 0, e
	}
	var r struct {
		AccessToken string     `json:"access_token"`
		ExpiresIn   jsonx.Text `json:"expires_in"`
		TokenType   string     `json:"token_type"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return "", 0, c.badResponse(acct, what, err)
	}
	if r.AccessToken == "" {
		return "", 0, c.badResponse(acct, what, fmt.Errorf("no access_token"))
	}
	if r.TokenType != "" && !strings.EqualFold(r.TokenType, "Bearer") {
		return "", 0, c.badResponse(acct, what, fmt.Errorf("token_type %q is not Bearer", r.TokenType))
	}
	lifetime := assumedTokenLifetime
	if r.ExpiresIn != "" {
		secs, err := strconv.ParseInt(string(r.ExpiresIn), 10, 64)
		if err != nil || secs <= 0 {
			return "", 0, c.badResponse(acct, what, fmt.Errorf("expires_in %q is not a positive integer", string(r.ExpiresIn)))
		}
		lifetime = time.Duration(secs) * time.Second
	}
	return r.AccessToken, lifetime, nil
}
