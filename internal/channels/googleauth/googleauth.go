// Package googleauth is the part of Google's OAuth refresh-token flow that the Google
// connectors (Google Ads, GA4) do alike: the token request and a per-refresh-token cache
// of access tokens. How a token endpoint's answer is parsed and classified stays in each
// connector, which report it as their own channel and differ in the details.
package googleauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
)

// NewRefreshRequest builds the POST of a refresh_token grant (RFC 6749 §6) to tokenURL
// with the form the caller filled in (grant_type, refresh_token, client credentials).
func NewRefreshRequest(ctx context.Context, tokenURL, userAgent string, form url.Values) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	return req, nil
}

// ErrorResponse reads a failed token response ({"error":"invalid_grant",
// "error_description":...}, RFC 6749 §5.2). code is the error code ("" when the body is
// not such an object); msg describes the failure for a *channels.Error, starting with
// "token endpoint:". The caller scrubs msg.
func ErrorResponse(status int, body []byte) (code, msg string) {
	var r struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &r)
	if r.Error == "" {
		return "", fmt.Sprintf("token endpoint: HTTP %d: %s", status, httpx.Snippet(body))
	}
	msg = "token endpoint: " + r.Error
	if r.ErrorDescription != "" {
		msg += ": " + r.ErrorDescription
	}
	return r.Error, msg
}

// Cache holds the access tokens minted from the refresh tokens of one OAuth client. Entries
// are keyed by a hash of the client id and the refresh token, so the map holds no refresh
// token. Concurrent requests for one refresh token mint one access token: the others wait
// for it, as long as their context lets them.
type Cache struct {
	name     string // the connector, for errors ("google ads")
	clientID string
	now      func() time.Time

	mu      sync.Mutex
	entries map[[sha256.Size]byte]*entry
}

type entry struct {
	// lock is held while the entry is read or refreshed; it is a channel so that waiting
	// honours the context. access and previous are written under both lock and Cache.mu.
	lock    chan struct{}
	access  string
	renewAt time.Time // when to mint a new one
	// previous is the access token this one replaced, kept so that errors echoing it are
	// still scrubbed.
	previous string
}

// NewCache returns an empty cache of the OAuth client clientID. name prefixes the error of
// a context that ends while waiting; now is the clock of renewals.
func NewCache(name, clientID string, now func() time.Time) *Cache {
	return &Cache{name: name, clientID: clientID, now: now, entries: map[[sha256.Size]byte]*entry{}}
}

// MintFunc mints an access token. renewIn is how long after the mint started the token may
// still be handed out: its lifetime less a safety margin, chosen by the connector.
type MintFunc func(ctx context.Context) (access string, renewIn time.Duration, err error)

func (c *Cache) key(refreshToken string) [sha256.Size]byte {
	return sha256.Sum256([]byte(c.clientID + "\x00" + refreshToken))
}

func (c *Cache) entry(refreshToken string) *entry {
	k := c.key(refreshToken)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		e = &entry{lock: make(chan struct{}, 1)}
		c.entries[k] = e
	}
	return e
}

// Token returns the cached access token of refreshToken, or one minted with mint when there
// is none, it is due for renewal or it is stale (a token the API just rejected, which is
// never returned again). A mint error is returned as is and leaves the entry unchanged.
func (c *Cache) Token(ctx context.Context, refreshToken, stale string, mint MintFunc) (string, error) {
	e := c.entry(refreshToken)
	select {
	case e.lock <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("%s: wait for access token: %w", c.name, ctx.Err())
	}
	defer func() { <-e.lock }()
	start := c.now()
	if e.access != "" && e.access != stale && start.Before(e.renewAt) {
		return e.access, nil
	}
	access, renewIn, err := mint(ctx)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	e.access, e.previous, e.renewAt = access, e.access, start.Add(renewIn)
	c.mu.Unlock()
	return access, nil
}

// Forget drops what the cache holds for refreshToken: the next Token mints.
func (c *Cache) Forget(refreshToken string) {
	k := c.key(refreshToken)
	c.mu.Lock()
	delete(c.entries, k)
	c.mu.Unlock()
}

// Minted lists the access tokens the cache holds for refreshToken (current and previous,
// possibly ""), for scrubbing them from messages.
func (c *Cache) Minted(refreshToken string) []string {
	k := c.key(refreshToken)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[k]; e != nil {
		return []string{e.access, e.previous}
	}
	return nil
}
