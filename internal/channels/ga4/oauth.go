package ga4

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

const (
	// tokenExpiryMargin: a cached access token is replaced this long before it expires, so
	// that a call started with it does not reach Google after the expiry.
	tokenExpiryMargin = time.Minute
	// defaultTokenLifetime is assumed when the token response has no expires_in.
	defaultTokenLifetime = 5 * time.Minute
	maxTokenResponse     = 1 << 20
)

// tokenCache holds the access tokens minted from refresh tokens, keyed by a hash of the
// OAuth client id and the refresh token so that the map never holds a refresh token.
type tokenCache struct {
	mu sync.Mutex
	m  map[[32]byte]*cachedToken
}

type cachedToken struct {
	access  string
	refresh time.Time // when to mint a new one
	// previous is the access token this one replaced, kept so that errors echoing it are
	// still scrubbed.
	previous string
}

func newTokenCache() *tokenCache { return &tokenCache{m: map[[32]byte]*cachedToken{}} }

func cacheKey(clientID, refreshToken string) [32]byte {
	return sha256.Sum256([]byte(clientID + "\x00" + refreshToken))
}

// minted lists the access tokens of a cache key that the cache still knows.
func (tc *tokenCache) minted(key [32]byte) []string {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if t := tc.m[key]; t != nil {
		return []string{t.access, t.previous}
	}
	return nil
}

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
	key := cacheKey(c.o.ClientID, acct.RefreshToken)
	now := c.o.Now()
	c.tokens.mu.Lock()
	t := c.tokens.m[key]
	if t != nil && now.Before(t.refresh) && t.access != stale {
		access := t.access
		c.tokens.mu.Unlock()
		return access, nil
	}
	c.tokens.mu.Unlock()

	access, lifetime, err := c.mint(ctx, acct)
	if err != nil {
		return "", err
	}
	margin := min(tokenExpiryMargin, lifetime/2)
	c.tokens.mu.Lock()
	prev := ""
	if old := c.tokens.m[key]; old != nil {
		prev = old.access
	}
	c.tokens.m[key] = &cachedToken{access: access, refresh: now.Add(lifetime - margin), previous: prev}
	c.tokens.mu.Unlock()
	c.o.Logger.DebugContext(ctx, "ga4 access token minted", "expires_in", lifetime)
	return access, nil
}

// mint exchanges the refresh token for an access token (RFC 6749 §6, as Google's token
// endpoint implements it).
func (c *Client) mint(ctx context.Context, acct channels.Account) (string, time.Duration, error) {
	if c.o.ClientID == "" {
		return "", 0, &channels.Error{Channel: channels.GA4, Kind: channels.KindBadRequest,
			Message: "an OAuth client id is needed to use a refresh token; none is configured"}
	}
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {acct.RefreshToken},
		"client_id":     {c.o.ClientID},
		"client_secret": {c.o.ClientSecret},
	}
	what := "POST " + c.tokenURL.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, &channels.Error{Channel: channels.GA4, Kind: channels.KindBadRequest,
			Message: c.scrub(acct, fmt.Sprintf("token endpoint: build request: %v", err))}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.o.HTTPClient.Do(req)
	if err != nil {
		return "", 0, c.transportError(ctx, acct, "token endpoint "+what, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return "", 0, c.transportError(ctx, acct, "token endpoint "+what, fmt.Errorf("read body: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		e := classifyTokenError(resp.StatusCode, resp.Header, data, c.o.DefaultRateLimitBackoff)
		e.Message = c.scrub(acct, e.Message)
		c.o.Logger.InfoContext(ctx, "ga4 token refresh failed", "status", resp.StatusCode, "kind", e.Kind.String())
		return "", 0, e
	}
	var tr struct {
		AccessToken string  `json:"access_token"`
		ExpiresIn   jsonInt `json:"expires_in"`
		TokenType   string  `json:"token_type"`
	}
	if err := json.Unmarshal(data, &tr); err != nil {
		return "", 0, &channels.Error{Channel: channels.GA4, Kind: channels.KindTransient,
			Message: "unexpected token endpoint response: not JSON"}
	}
	if tr.AccessToken == "" {
		return "", 0, &channels.Error{Channel: channels.GA4, Kind: channels.KindTransient,
			Message: "unexpected token endpoint response: no access_token"}
	}
	lifetime := time.Duration(tr.ExpiresIn) * time.Second
	if lifetime <= 0 {
		lifetime = defaultTokenLifetime
	}
	return tr.AccessToken, lifetime, nil
}

// classifyTokenError classifies an OAuth error response ({"error","error_description"}):
// invalid_grant (refresh token expired or revoked) and unauthorized_client (issued to
// another client) need the user to connect again: KindAuth; 429 KindRateLimited; 5xx
// KindTransient; other errors (invalid_client: the configured client id or secret is
// wrong) KindBadRequest.
func classifyTokenError(status int, h http.Header, body []byte, backoff time.Duration) *channels.Error {
	var oe struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &oe)
	e := &channels.Error{Channel: channels.GA4, HTTPStatus: status}
	switch {
	case oe.Error != "":
		e.Message = "token endpoint: " + oe.Error
		if oe.Description != "" {
			e.Message += ": " + oe.Description
		}
	default:
		e.Message = fmt.Sprintf("token endpoint: HTTP %d: %s", status, snippet(body))
	}
	switch {
	case oe.Error == "invalid_grant" || oe.Error == "unauthorized_client":
		e.Kind = channels.KindAuth
	case status == http.StatusTooManyRequests:
		e.Kind = channels.KindRateLimited
		e.RetryAfter = backoff
		if d := retryAfterHeader(h); d > 0 {
			e.RetryAfter = d
		}
	case status >= 500:
		e.Kind = channels.KindTransient
	default:
		e.Kind = channels.KindBadRequest
	}
	return e
}
