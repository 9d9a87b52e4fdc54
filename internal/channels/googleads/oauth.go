package googleads

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
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

// tokenCache holds the access tokens minted per refresh token. Entries are keyed by a hash
// so the map holds no refresh token.
type tokenCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]*tokenEntry
}

type tokenEntry struct {
	// lock is held while the entry is read or refreshed, so concurrent reads of one
	// account mint one token; it is a channel so that waiting honours the context.
	lock   chan struct{}
	token  string
	expiry time.Time
}

func newTokenCache() *tokenCache {
	return &tokenCache{entries: map[[sha256.Size]byte]*tokenEntry{}}
}

func (tc *tokenCache) entry(refreshToken string) *tokenEntry {
	k := sha256.Sum256([]byte(refreshToken))
	tc.mu.Lock()
	defer tc.mu.Unlock()
	e, ok := tc.entries[k]
	if !ok {
		e = &tokenEntry{lock: make(chan struct{}, 1)}
		tc.entries[k] = e
	}
	return e
}

func (tc *tokenCache) forget(refreshToken string) {
	k := sha256.Sum256([]byte(refreshToken))
	tc.mu.Lock()
	delete(tc.entries, k)
	tc.mu.Unlock()
}

// accessToken returns the bearer token of a call: acct.Token without a refresh token, else a
// cached access token minted from it. stale is a token the API just rejected; it is never
// returned again.
func (c *Client) accessToken(ctx context.Context, acct channels.Account, stale string) (string, error) {
	if acct.RefreshToken == "" {
		if acct.Token == "" {
			return "", &channels.Error{Channel: channels.GoogleAds, Kind: channels.KindAuth, Message: "no access token"}
		}
		return acct.Token, nil
	}
	e := c.tokens.entry(acct.RefreshToken)
	select {
	case e.lock <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("google ads: wait for access token: %w", ctx.Err())
	}
	defer func() { <-e.lock }()
	if e.token != "" && e.token != stale && c.o.Now().Before(e.expiry) {
		return e.token, nil
	}
	start := c.o.Now()
	token, lifetime, err := c.refresh(ctx, acct)
	if err != nil {
		if pe, ok := channels.AsError(err); ok && pe.Kind == channels.KindAuth {
			c.tokens.forget(acct.RefreshToken)
		}
		return "", err
	}
	e.token = token
	e.expiry = start.Add(lifetime - min(tokenExpiryMargin, lifetime/10))
	c.o.Logger.InfoContext(ctx, "google ads access token refreshed", "expires_in", lifetime)
	return token, nil
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, &channels.Error{Channel: channels.GoogleAds, Kind: channels.KindBadRequest,
			Message: c.scrub(acct, fmt.Sprintf("%s: build request: %v", what, err))}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.o.HTTPClient.Do(req)
	if err != nil {
		return "", 0, c.transportError(ctx, acct, what, err, "")
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return "", 0, c.transportError(ctx, acct, what, fmt.Errorf("read body: %w", err), "")
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := ClassifyTokenError(resp.StatusCode, resp.Header, data, c.o.DefaultRateLimitBackoff)
		e.Message = c.scrub(acct, e.Message)
		c.o.Logger.InfoContext(ctx, "google ads token refresh failed", "status", resp.StatusCode,
			"kind", e.Kind.String())
		return "", 0, e
	}
	var r struct {
		AccessToken string   `json:"access_token"`
		ExpiresIn   jsonText `json:"expires_in"`
		TokenType   string   `json:"token_type"`
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
