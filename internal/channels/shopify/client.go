// Package shopify is the Shopify Admin REST API orders connector. It implements
// channels.OrderReader over
//
//	GET /admin/api/{ver}/shop.json                       account info
//	GET /admin/api/{ver}/orders.json?status=any&limit=250&order=updated_at asc&updated_at_min=...
//	GET /admin/api/{ver}/orders.json?limit=250&page_info=...   the following pages
//	GET /admin/api/{ver}/orders/{id}.json                 one order (order.go)
//
// and parses and verifies the orders/* and refunds/create webhooks (webhook.go).
//
// Each store has its own host ({shop}.myshopify.com), so the base URL is per account unless
// Options.BaseURL replaces it for every shop (the sandbox). The cursor of a read is
// Shopify's page_info: opaque, and never the access token.
package shopify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
)

// Defaults of Options.
const (
	DefaultAPIVersion  = "2024-10"
	DefaultPageSize    = 250
	DefaultHTTPTimeout = time.Minute
	// DefaultRateLimitBackoff is the RetryAfter of a 429 without a usable Retry-After.
	DefaultRateLimitBackoff = 2 * time.Second
)

// MaxPageSize is the largest `limit` Shopify accepts.
const MaxPageSize = 250

const (
	maxResponseBytes = 64 << 20
	maxCursorLen     = 4096
	userAgent        = "omnitrackiq-shopify-connector"
	tokenHeader      = "X-Shopify-Access-Token"
	shopSuffix       = ".myshopify.com"
	maxShopNameLen   = 63 // one DNS label
)

// Options configures a Client. Zero values take the defaults above.
type Options struct {
	// BaseURL, when set, replaces https://{shop}.myshopify.com for every shop (the sandbox,
	// e.g. http://127.0.0.1:8090/shopify). It may carry a path prefix; API paths are joined
	// onto it. Empty means the shop's own host, taken from Account.ID.
	BaseURL string
	// APIVersion is the Admin API version path segment, e.g. "2024-10".
	APIVersion string
	// PageSize is the `limit` of each orders page, at most 250.
	PageSize int
	// HTTPClient defaults to a client with a DefaultHTTPTimeout timeout. The Client uses a
	// copy that never follows redirects: a redirect would carry the access token header to
	// whatever host the Location names.
	HTTPClient *http.Client
	// Logger receives debug and info events; it never sees the access token.
	Logger *slog.Logger
}

// Client is the Shopify orders connector. It is safe for concurrent use.
type Client struct {
	o       Options
	http    *http.Client
	base    *url.URL // nil: the shop's own host
	baseErr error
}

var _ channels.OrderReader = (*Client)(nil)

// New returns a Client; unset options take their defaults. Invalid options are reported by
// every call as a KindBadRequest error.
func New(o Options) *Client {
	if o.APIVersion == "" {
		o.APIVersion = DefaultAPIVersion
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{o: o, http: httpx.NoRedirects(o.HTTPClient)}
	switch {
	case o.PageSize > MaxPageSize:
		c.baseErr = fmt.Errorf("page size %d is above Shopify's maximum %d", o.PageSize, MaxPageSize)
	case !validVersion(o.APIVersion):
		c.baseErr = fmt.Errorf("invalid API version %q (want YYYY-MM or unstable)", o.APIVersion)
	case o.BaseURL != "":
		if u, err := httpx.ParseBaseURL("base URL", o.BaseURL); err != nil {
			c.baseErr = err
		} else {
			u.User = nil // never send credentials of the URL to every shop's calls
			c.base = u
		}
	}
	return c
}

func validVersion(v string) bool {
	if v == "unstable" {
		return true
	}
	if len(v) != 7 || v[4] != '-' {
		return false
	}
	for i, r := range v {
		if i != 4 && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// NormalizeShopDomain accepts "demo-store", "demo-store.myshopify.com" or
// "https://demo-store.myshopify.com/" and returns "demo-store.myshopify.com". The result ends
// up as the host of API URLs, so anything but a shop name of [a-z0-9-] (starting with a letter
// or digit) is rejected: no custom domains, ports, paths, user info or other hosts.
func NormalizeShopDomain(s string) (string, error) {
	d := strings.ToLower(strings.TrimSpace(s))
	if rest, ok := strings.CutPrefix(d, "https://"); ok {
		d = rest
	} else if rest, ok := strings.CutPrefix(d, "http://"); ok {
		d = rest
	}
	d = strings.TrimSuffix(d, "/")
	name := strings.TrimSuffix(d, shopSuffix)
	if name == "" || len(name) > maxShopNameLen || name[0] == '-' {
		return "", fmt.Errorf("shopify shop %q is not a shop name or a myshopify.com domain", s)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return "", fmt.Errorf("shopify shop %q is not a shop name or a myshopify.com domain", s)
		}
	}
	return name + shopSuffix, nil
}

// AccountInfo reads the shop's name, currency and IANA timezone. ID is the shop domain.
func (c *Client) AccountInfo(ctx context.Context, acct channels.Account) (channels.AccountInfo, error) {
	shop, base, err := c.prepare(acct)
	if err != nil {
		return channels.AccountInfo{}, err
	}
	body, _, err := c.call(ctx, acct.Token, base, "shop.json", nil)
	if err != nil {
		return channels.AccountInfo{}, err
	}
	var r struct {
		Shop *struct {
			Name         string `json:"name"`
			Currency     string `json:"currency"`
			IANATimezone string `json:"iana_timezone"`
		} `json:"shop"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return channels.AccountInfo{}, badResponse(acct.Token, "shop", err)
	}
	if r.Shop == nil {
		return channels.AccountInfo{}, badResponse(acct.Token, "shop", errors.New("no shop object"))
	}
	return channels.AccountInfo{ID: shop, Name: r.Shop.Name, Currency: r.Shop.Currency, Timezone: r.Shop.IANATimezone}, nil
}

// ReadOrders reads one page of orders updated at or after req.UpdatedMin, oldest update
// first, or, when req.CreatedMin is set, of the orders created in [CreatedMin, CreatedMax],
// oldest first, each once whatever its later updates. With an empty cursor it sends the filters; with a cursor (a page_info) it sends only
// limit and page_info, because Shopify keeps the first call's filters in page_info and rejects
// them next to it: req is then ignored. Timestamps are inclusive, so a resumed incremental
// sync sees the orders at its boundary again; store orders by id.
func (c *Client) ReadOrders(ctx context.Context, acct channels.Account, req channels.OrdersRequest, cursor string) (channels.OrdersPage, error) {
	shop, base, err := c.prepare(acct)
	if err != nil {
		return channels.OrdersPage{}, err
	}
	q := url.Values{"limit": {strconv.Itoa(c.o.PageSize)}}
	if cursor == "" {
		q.Set("status", "any")
		switch {
		case !req.CreatedMin.IsZero():
			q.Set("order", "created_at asc")
			// Shopify keeps whole seconds: an inclusive max at the last instant of a day
			// truncates to its last second, and the next window starts at the next one.
			q.Set("created_at_min", req.CreatedMin.UTC().Format(time.RFC3339))
			if !req.CreatedMax.IsZero() {
				q.Set("created_at_max", req.CreatedMax.UTC().Format(time.RFC3339))
			}
		default:
			q.Set("order", "updated_at asc")
			if !req.UpdatedMin.IsZero() {
				// Truncating to seconds moves the bound earlier: never misses an order.
				q.Set("updated_at_min", req.UpdatedMin.UTC().Format(time.RFC3339))
			}
		}
	} else {
		if err := checkCursor(cursor, acct.Token); err != nil {
			return channels.OrdersPage{}, err
		}
		q.Set("page_info", cursor)
	}
	body, h, err := c.call(ctx, acct.Token, base, "orders.json", q)
	if err != nil {
		return channels.OrdersPage{}, err
	}
	var r struct {
		Orders []json.RawMessage `json:"orders"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return channels.OrdersPage{}, badResponse(acct.Token, "orders", err)
	}
	if r.Orders == nil {
		return channels.OrdersPage{}, badResponse(acct.Token, "orders", errors.New("no orders array"))
	}
	page := channels.OrdersPage{Orders: make([]channels.Order, 0, len(r.Orders))}
	for i, raw := range r.Orders {
		o, err := parseOrder(raw, shop)
		if err != nil {
			return channels.OrdersPage{}, &channels.Error{Channel: channels.Shopify, Kind: channels.KindBadRequest,
				Message: httpx.Scrub(fmt.Sprintf("orders page order %d: %v", i, err), acct.Token)}
		}
		page.Orders = append(page.Orders, o)
	}
	next, err := NextPageInfo(h)
	if err != nil {
		return channels.OrdersPage{}, badResponse(acct.Token, "orders", err)
	}
	if next != "" && len(page.Orders) > 0 {
		if next == cursor {
			return channels.OrdersPage{}, badResponse(acct.Token, "orders", errors.New("page_info did not advance"))
		}
		if err := checkCursor(next, acct.Token); err != nil {
			return channels.OrdersPage{}, badResponse(acct.Token, "orders", errors.New("unusable next page_info"))
		}
		page.Next = next
	}
	if l, ok := ParseCallLimit(h); ok {
		page.Wait = l.Wait()
	}
	c.o.Logger.DebugContext(ctx, "shopify orders page", "shop", shop, "orders", len(page.Orders),
		"more", page.Next != "", "wait", page.Wait)
	return page, nil
}

// ReadAllOrdersScope is the scope without which Shopify serves only the orders created in
// the last RecentOrdersDays days, and silently leaves out the older ones.
const ReadAllOrdersScope = "read_all_orders"

// RecentOrdersDays is how far back a token without ReadAllOrdersScope reads orders.
const RecentOrdersDays = 60

// AccessScopes lists the scopes granted to the account's token
// (GET /admin/oauth/access_scopes.json, which is not versioned).
func (c *Client) AccessScopes(ctx context.Context, acct channels.Account) ([]string, error) {
	_, base, err := c.prepare(acct)
	if err != nil {
		return nil, err
	}
	body, _, err := c.get(ctx, acct.Token, base, "/admin/oauth/access_scopes.json", url.Values{})
	if err != nil {
		return nil, err
	}
	var r struct {
		AccessScopes []struct {
			Handle string `json:"handle"`
		} `json:"access_scopes"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, badResponse(acct.Token, "access scopes", err)
	}
	if r.AccessScopes == nil {
		return nil, badResponse(acct.Token, "access scopes", errors.New("no access_scopes array"))
	}
	out := make([]string, 0, len(r.AccessScopes))
	for _, s := range r.AccessScopes {
		out = append(out, s.Handle)
	}
	return out, nil
}

// History reports how far back the account's token reads orders: all history with
// read_all_orders, else the orders created since RecentOrdersDays days before now.
func (c *Client) History(ctx context.Context, acct channels.Account, now time.Time) (channels.History, error) {
	scopes, err := c.AccessScopes(ctx, acct)
	if err != nil {
		return channels.History{}, err
	}
	return HistoryOf(scopes, now), nil
}

// HistoryOf is the history a token granted scopes reads at now.
func HistoryOf(scopes []string, now time.Time) channels.History {
	h := channels.History{Scopes: scopes}
	for _, s := range scopes {
		if s == ReadAllOrdersScope {
			return h
		}
	}
	h.From, h.Scope = now.AddDate(0, 0, -RecentOrdersDays), ReadAllOrdersScope
	return h
}

// checkCursor rejects what cannot be a page_info; it never echoes the cursor, which came from
// storage and could in theory hold anything.
func checkCursor(cur, token string) error {
	bad := len(cur) > maxCursorLen || (token != "" && strings.Contains(cur, token))
	for _, r := range cur {
		if r <= ' ' || r == 0x7f {
			bad = true
		}
	}
	if bad {
		return &channels.Error{Channel: channels.Shopify, Kind: channels.KindBadRequest, Message: "invalid shopify cursor"}
	}
	return nil
}

// prepare validates the account and returns the shop domain and the base URL of its calls.
func (c *Client) prepare(acct channels.Account) (string, *url.URL, error) {
	if c.baseErr != nil {
		return "", nil, &channels.Error{Channel: channels.Shopify, Kind: channels.KindBadRequest, Message: c.baseErr.Error()}
	}
	shop, err := NormalizeShopDomain(acct.ID)
	if err != nil {
		return "", nil, &channels.Error{Channel: channels.Shopify, Kind: channels.KindBadRequest, Message: err.Error()}
	}
	if acct.Token == "" {
		return "", nil, &channels.Error{Channel: channels.Shopify, Kind: channels.KindAuth, Message: "no access token"}
	}
	if c.base != nil {
		u := *c.base
		return shop, &u, nil
	}
	return shop, &url.URL{Scheme: "https", Host: shop}, nil
}

// call makes one GET of /admin/api/{ver}/{resource}. Errors never contain the token or the
// query string.
func (c *Client) call(ctx context.Context, token string, base *url.URL, resource string, q url.Values) ([]byte, http.Header, error) {
	return c.get(ctx, token, base, "/admin/api/"+c.o.APIVersion+"/"+resource, q)
}

// get makes one GET of path on the shop.
func (c *Client) get(ctx context.Context, token string, base *url.URL, path string, q url.Values) ([]byte, http.Header, error) {
	u := *base
	u.Path = strings.TrimRight(base.Path, "/") + path
	u.RawPath = ""
	// Encode writes spaces as '+'; Shopify's examples use %20 ("order=updated_at%20asc").
	// A literal '+' is already %2B, so every '+' left is a space.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	what := "GET " + u.Path // for errors and logs: never the query
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, &channels.Error{Channel: channels.Shopify, Kind: channels.KindBadRequest,
			Message: httpx.Scrub(fmt.Sprintf("%s: build request: %v", what, err), token)}
	}
	req.Header.Set(tokenHeader, token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	start := time.Now()
	resp, data, err := httpx.Do(c.http, req, maxResponseBytes)
	if err != nil {
		return nil, nil, transportError(ctx, what, err, token)
	}
	c.o.Logger.DebugContext(ctx, "shopify call", "request", what, "status", resp.StatusCode,
		"call_limit", resp.Header.Get(CallLimitHeader), "duration", time.Since(start).Round(time.Millisecond))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return data, resp.Header, nil
	}
	e := ClassifyError(resp.StatusCode, resp.Header, data)
	e.Message = httpx.Scrub(e.Message, token)
	c.o.Logger.InfoContext(ctx, "shopify call failed", "request", what, "status", resp.StatusCode,
		"kind", e.Kind.String(), "retry_after", e.RetryAfter)
	return nil, resp.Header, e
}

// transportError turns a client-side failure into an error without the request URL, which
// *url.Error would print with its query.
func transportError(ctx context.Context, what string, err error, token string) error {
	return httpx.TransportError(ctx, channels.Shopify, "shopify", what, err, token)
}

// badResponse is a 2xx answer that cannot be understood: most likely a truncated or
// proxied body, which a retry fixes.
func badResponse(token, what string, err error) error {
	return httpx.BadResponse(channels.Shopify, what, err, token)
}
