// Package oauth is the provider side of OAuth connect: consent URLs, signed single-use
// states, code exchange, listing the accounts a grant can see, Shopify's callback HMAC and
// webhooks, and token refresh for the TokenRefresh workflow. It follows channel-apis.md §6
// and /work/oauth-contract.md, so the same code talks to the real providers and the sandbox.
// It stores nothing: the API keeps the states and connections.
package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
)

// Providers that connect through OAuth; the names are the channel names.
const (
	Meta      = "meta"
	GoogleAds = "google_ads"
	GA4       = "ga4"
	TikTok    = "tiktok"
	Shopify   = "shopify"
)

// Providers lists every OAuth provider.
var Providers = []string{Meta, GoogleAds, GA4, TikTok, Shopify}

// Scopes requested at consent.
const (
	metaScopes       = "ads_read,ads_management,business_management"
	googleAdsScope   = "https://www.googleapis.com/auth/adwords"
	ga4Scope         = "https://www.googleapis.com/auth/analytics.readonly"
	ShopifyScopes    = "read_orders,read_all_orders"
	defaultMetaVer   = "v23.0"
	defaultAdsVer    = "v23"
	defaultShopifyV  = "2024-10"
	maxResponseBytes = 1 << 20
)

// ShopifyWebhookTopics are registered on connect and removed on disconnect.
var ShopifyWebhookTopics = []string{"orders/create", "orders/updated", "refunds/create", "app/uninstalled"}

// Config holds the OAuth clients and the provider hosts. An empty client id means the
// provider cannot be connected by OAuth. Empty URLs default to the real providers.
type Config struct {
	// PublicURL is where providers reach the API: redirect URIs are
	// {PublicURL}/v1/oauth/callback/{provider}, Shopify webhooks go to {PublicURL}/webhooks/shopify.
	PublicURL string
	// StateSecret is JWT_SECRET; the state key is derived from it.
	StateSecret []byte

	MetaAppID, MetaAppSecret string
	MetaDialogURL            string // https://www.facebook.com
	MetaGraphURL             string // https://graph.facebook.com
	MetaAPIVersion           string

	GoogleClientID, GoogleClientSecret string
	GoogleAuthURL                      string // https://accounts.google.com/o/oauth2/v2/auth
	GoogleTokenURL                     string // https://oauth2.googleapis.com/token
	GoogleAdsBaseURL                   string // https://googleads.googleapis.com
	GoogleAdsAPIVersion                string
	GoogleAdsDeveloperToken            string
	// GA4AdminBaseURL is the Analytics Admin API (env GA4_ADMIN_BASE_URL for now).
	GA4AdminBaseURL string // https://analyticsadmin.googleapis.com

	TikTokAppID, TikTokAppSecret string
	TikTokAuthURL                string // https://business-api.tiktok.com/portal/auth
	TikTokBaseURL                string // https://business-api.tiktok.com

	ShopifyClientID, ShopifyClientSecret string
	// ShopifyBaseURL replaces https://{shop} for every shop when set (sandbox), as for the
	// connector.
	ShopifyBaseURL    string
	ShopifyAPIVersion string
	// ShopifyExpiringTokens asks for expiring offline tokens (expiring=1). Off by default:
	// the Shopify connector sends the stored token as is, so a one-hour token would stop
	// syncs until the TokenRefresh workflow refreshes it more often than daily.
	ShopifyExpiringTokens bool

	HTTPClient *http.Client
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Client runs the OAuth flows of every configured provider.
type Client struct {
	c      Config
	states *StateSigner
}

// New checks the configuration and fills in the defaults.
func New(c Config) (*Client, error) {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	// No provider call follows a redirect: the code, client secret, tokens and developer
	// token would go to whatever host the Location names.
	c.HTTPClient = httpx.NoRedirects(c.HTTPClient)
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.PublicURL == "" {
		return nil, fmt.Errorf("oauth: PublicURL is required for redirect URIs")
	}
	def := func(p *string, v string) {
		*p = strings.TrimRight(*p, "/")
		if *p == "" {
			*p = v
		}
	}
	def(&c.MetaDialogURL, "https://www.facebook.com")
	def(&c.MetaGraphURL, "https://graph.facebook.com")
	def(&c.MetaAPIVersion, defaultMetaVer)
	def(&c.GoogleAuthURL, "https://accounts.google.com/o/oauth2/v2/auth")
	def(&c.GoogleTokenURL, "https://oauth2.googleapis.com/token")
	def(&c.GoogleAdsBaseURL, "https://googleads.googleapis.com")
	def(&c.GoogleAdsAPIVersion, defaultAdsVer)
	def(&c.GA4AdminBaseURL, "https://analyticsadmin.googleapis.com")
	def(&c.TikTokAuthURL, "https://business-api.tiktok.com/portal/auth")
	def(&c.TikTokBaseURL, "https://business-api.tiktok.com")
	def(&c.ShopifyAPIVersion, defaultShopifyV)
	c.ShopifyBaseURL = strings.TrimRight(c.ShopifyBaseURL, "/")
	cl := &Client{c: c}
	// Workers only refresh and disconnect; they sign no consent state and need no secret.
	if len(c.StateSecret) > 0 {
		states, err := NewStateSigner(c.StateSecret, c.Now)
		if err != nil {
			return nil, err
		}
		cl.states = states
	}
	return cl, nil
}

// States signs and verifies the consent states; nil for a client made without StateSecret.
func (c *Client) States() *StateSigner { return c.states }

// Now is the client's clock.
func (c *Client) Now() time.Time { return c.c.Now() }

// Configured reports whether the provider's OAuth client is set up.
func (c *Client) Configured(provider string) bool {
	switch provider {
	case Meta:
		return c.c.MetaAppID != "" && c.c.MetaAppSecret != ""
	case GoogleAds, GA4:
		return c.c.GoogleClientID != "" && c.c.GoogleClientSecret != ""
	case TikTok:
		return c.c.TikTokAppID != "" && c.c.TikTokAppSecret != ""
	case Shopify:
		return c.c.ShopifyClientID != "" && c.c.ShopifyClientSecret != ""
	}
	return false
}

// UsesPKCE reports whether the provider's consent carries a PKCE challenge (Google).
func UsesPKCE(provider string) bool { return provider == GoogleAds || provider == GA4 }

// RedirectURI is the callback the provider sends the browser back to.
func (c *Client) RedirectURI(provider string) string {
	return c.c.PublicURL + "/v1/oauth/callback/" + provider
}

// ShopifyWebhookAddress is where Shopify delivers webhooks.
func (c *Client) ShopifyWebhookAddress() string { return c.c.PublicURL + "/webhooks/shopify" }

// ShopifySecret is the app's client secret, which signs callbacks and webhooks.
func (c *Client) ShopifySecret() []byte { return []byte(c.c.ShopifyClientSecret) }

// Token is a provider grant. Refresh is empty for providers without refresh tokens;
// ExpiresAt is zero for tokens that do not expire.
type Token struct {
	Access    string
	Refresh   string
	ExpiresAt time.Time
}

// Account is one account a grant can see, its id in the channel's canonical form.
type Account struct {
	ID   string
	Name string
}

// Grant is the outcome of a callback: the token, the scopes granted (when the provider
// says) and the accounts the token can read.
type Grant struct {
	Token    Token
	Scopes   []string
	Accounts []Account
}

// AuthorizeURL returns the consent URL. verifier is the PKCE verifier (Google only); shop
// the validated shop domain (Shopify only).
func (c *Client) AuthorizeURL(provider, state, verifier, shop string) (string, error) {
	if !c.Configured(provider) {
		return "", fmt.Errorf("oauth: %s has no OAuth client configured", provider)
	}
	switch provider {
	case Meta:
		return c.metaConfig().AuthCodeURL(state), nil
	case GoogleAds, GA4:
		return c.googleAuthURL(provider, state, verifier), nil
	case TikTok:
		return c.tiktokAuthURL(state), nil
	case Shopify:
		if !ValidShop(shop) {
			return "", fmt.Errorf("oauth: shop %q is not a myshopify.com domain", shop)
		}
		return c.shopifyAuthURL(shop, state), nil
	}
	return "", fmt.Errorf("oauth: unknown provider %q", provider)
}

// Exchange turns the code of a callback into a grant and lists its accounts. q is the
// callback's query, already checked (state, and Shopify's HMAC via CheckShopifyCallback).
func (c *Client) Exchange(ctx context.Context, provider string, q map[string][]string, verifier, shop string) (Grant, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if e := get("error"); e != "" {
		return Grant{}, &DeniedError{Provider: provider, Code: truncate(e, 100),
			Description: truncate(firstNonEmpty(get("error_description"), get("error_reason")), 300)}
	}
	code := get("code")
	if provider == TikTok {
		code = firstNonEmpty(get("auth_code"), code)
	}
	if code == "" || len(code) > 2048 {
		return Grant{}, &Error{Provider: provider, Status: 0, Message: "the callback carries no authorization code"}
	}
	switch provider {
	case Meta:
		return c.metaExchange(ctx, code)
	case GoogleAds, GA4:
		return c.googleExchange(ctx, provider, code, verifier)
	case TikTok:
		return c.tiktokExchange(ctx, code)
	case Shopify:
		return c.shopifyExchange(ctx, shop, code)
	}
	return Grant{}, fmt.Errorf("oauth: unknown provider %q", provider)
}

// call sends req and decodes a 2xx JSON answer into v. A non-2xx answer is returned as
// *Error with the body's first bytes, scrubbed; classify may set Code and Retryable from
// the body and status (nil: 5xx and 429 are retryable).
func (c *Client) call(req *http.Request, provider, what string, scrub scrubber, v any) (int, []byte, error) {
	req.Header.Set("Accept", "application/json")
	resp, err := c.c.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, networkError(provider, what, err, scrub)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return resp.StatusCode, nil, &Error{Provider: provider, Status: resp.StatusCode, Retryable: true,
			Message: scrub.clean(fmt.Sprintf("%s: lost the connection while reading the response: %s", what, httpx.NetworkCause(err)))}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, body, &Error{Provider: provider, Status: resp.StatusCode,
			Retryable: resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests,
			Message:   scrub.clean(fmt.Sprintf("%s: HTTP %d: %s", what, resp.StatusCode, snippet(body)))}
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			return resp.StatusCode, body, &Error{Provider: provider, Status: resp.StatusCode, Retryable: true,
				Message: fmt.Sprintf("%s: the answer is not the expected JSON", what)}
		}
	}
	return resp.StatusCode, body, nil
}

// networkError is a provider call that got no answer to classify: a refused redirect (not
// retryable: the provider, or something posing as it, sent us elsewhere) or a network
// failure, described by the provider's host and a generic cause, never by the URL (its
// query may carry a code or secret) or the addresses we dialled. Any other error (oauth2's
// own, for a 2xx answer without a usable token) keeps its text.
func networkError(provider, what string, err error, scrub scrubber) *Error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return &Error{Provider: provider, Retryable: true, Message: scrub.clean(what + ": " + err.Error())}
	}
	var re *httpx.RedirectError
	if errors.As(err, &re) {
		return &Error{Provider: provider, Status: re.Status, Message: scrub.clean(what + ": " + re.Error())}
	}
	return &Error{Provider: provider, Retryable: true, Message: scrub.clean(what + ": " + httpx.Describe(err))}
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	return truncate(s, 300)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
