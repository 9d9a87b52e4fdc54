// Package googleauth is the part of Google's OAuth refresh-token flow that the Google
// connectors (Google Ads, GA4) do alike: the refresh grant (through golang.org/x/oauth2)
// and a per-refresh-token cache of access tokens. How a token endpoint's answer is parsed and classified stays in each
// connector, which report it as their own channel and differ in the details.
package googleauth

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
)

// Refresh runs the refresh_token grant (RFC 6749 §6) against tokenURL through
// golang.org/x/oauth2, with the client credentials in the form body as Google documents.
// The returned token keeps refreshToken when the answer carries none, as Google's refresh
// answers never do. An answer of the endpoint that is not a token is an
// *oauth2.RetrieveError (status, headers and body, for the connector to classify); a
// failure to reach the endpoint is the transport's *url.Error; any other error is a 2xx
// answer that is not a usable token (no access_token, not JSON). A redirect is never followed
// (the refresh token and client secret would go with a 307 or 308): the *url.Error then
// wraps an *httpx.RedirectError.
func Refresh(ctx context.Context, hc *http.Client, tokenURL, userAgent, clientID, clientSecret, refreshToken string) (*oauth2.Token, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	withUA := *httpx.NoRedirects(hc)
	withUA.Transport = userAgentTransport{base: base, userAgent: userAgent}
	cfg := oauth2.Config{ClientID: clientID, ClientSecret: clientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &withUA)
	return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
}

// userAgentTransport names the connector in token requests, as in its API calls.
type userAgentTransport struct {
	base      http.RoundTripper
	userAgent string
}

func (t userAgentTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", t.userAgent)
	r.Header.Set("Accept", "application/json")
	return t.base.RoundTrip(r)
}

// AsRetrieveError returns the token endpoint's answer of a failed Refresh: its status,
// headers and body.
func AsRetrieveError(err error) (status int, h http.Header, body []byte, ok bool) {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return 0, nil, nil, false
	}
	return re.Response.StatusCode, re.Response.Header, re.Body, true
}

// IsTransport reports whether err is a failure to reach the token endpoint.
func IsTransport(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue)
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

// DefaultMaxEntries is how many refresh tokens a Cache holds access tokens for when its
// maximum is not set: far more Google connections than one worker serves at once, while an
// entry is a few hundred bytes.
const DefaultMaxEntries = 10_000

// Cache holds the access tokens minted from the refresh tokens of one OAuth client. Entries
// are keyed by a hash of the client id and the refresh token, so the map holds no refresh
// token. Concurrent requests for one refresh token mint one access token: the others wait
// for it, as long as their context lets them.
//
// The cache is bounded: beyond its maximum, the least recently used entry is evicted (every
// refresh token ever seen would otherwise stay, reconnected and deleted connections too).
// An evicted token costs one refresh the next time it is needed. An entry being minted when
// it is evicted still completes for its waiters; a request that arrives afterwards mints
// anew.
type Cache struct {
	name     string // the connector, for errors ("google ads")
	clientID string
	now      func() time.Time
	max      int

	mu      sync.Mutex
	entries map[[sha256.Size]byte]*list.Element // of *entry
	lru     *list.List                          // front: most recently used
}

type entry struct {
	key [sha256.Size]byte
	// lock is held while the entry is read or refreshed; it is a channel so that waiting
	// honours the context. access and previous are written under both lock and Cache.mu.
	lock    chan struct{}
	access  string
	renewAt time.Time // when to mint a new one
	// previous is the access token this one replaced, kept so that errors echoing it are
	// still scrubbed.
	previous string
}

// NewCache returns an empty cache of the OAuth client clientID holding at most maxEntries
// refresh tokens' access tokens (DefaultMaxEntries when maxEntries <= 0). name prefixes the
// error of a context that ends while waiting; now is the clock of renewals.
func NewCache(name, clientID string, maxEntries int, now func() time.Time) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	return &Cache{name: name, clientID: clientID, now: now, max: maxEntries,
		entries: map[[sha256.Size]byte]*list.Element{}, lru: list.New()}
}

// Len is the number of refresh tokens the cache holds an entry for.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// MintFunc mints an access token. renewIn is how long after the mint started the token may
// still be handed out: its lifetime less a safety margin, chosen by the connector.
type MintFunc func(ctx context.Context) (access string, renewIn time.Duration, err error)

func (c *Cache) key(refreshToken string) [sha256.Size]byte {
	return sha256.Sum256([]byte(c.clientID + "\x00" + refreshToken))
}

// entry returns refreshToken's entry, made the most recently used, creating it (and
// evicting the least recently used ones beyond the maximum) when there is none.
func (c *Cache) entry(refreshToken string) *entry {
	k := c.key(refreshToken)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[k]; ok {
		c.lru.MoveToFront(el)
		return el.Value.(*entry)
	}
	e := &entry{key: k, lock: make(chan struct{}, 1)}
	c.entries[k] = c.lru.PushFront(e)
	for c.lru.Len() > c.max {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.entries, oldest.Value.(*entry).key)
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
	defer c.mu.Unlock()
	if el, ok := c.entries[k]; ok {
		c.lru.Remove(el)
		delete(c.entries, k)
	}
}

// Minted lists the access tokens the cache holds for refreshToken (current and previous,
// possibly ""), for scrubbing them from messages.
func (c *Cache) Minted(refreshToken string) []string {
	k := c.key(refreshToken)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[k]; ok {
		e := el.Value.(*entry)
		return []string{e.access, e.previous}
	}
	return nil
}
