// Package oauthtest is an in-process fake of the five providers' OAuth endpoints, written
// to /work/oauth-contract.md, for tests of the OAuth clients and the API. Consent is a
// function call (Approve), not a page.
package oauthtest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/oauth"
)

// Client credentials the fake accepts.
const (
	MetaAppID, MetaAppSecret         = "fake-meta-app", "fake-meta-secret-0123456789"
	GoogleClientID, GoogleSecret     = "fake-google-client", "fake-google-secret-0123456789"
	TikTokAppID, TikTokSecret        = "fake-tiktok-app", "fake-tiktok-secret-0123456789"
	ShopifyClientID, ShopifySecret   = "fake-shopify-client", "fake-shopify-secret-0123456789"
	DeveloperToken                   = "fake-dev-token"
	Shop                             = "demo-store.myshopify.com"
	MetaVersion, AdsVersion, ShopVer = "v23.0", "v23", "2024-10"
)

// Accounts each provider's grants see.
var (
	MetaAccounts    = []string{"1111", "2222"}
	GoogleCustomers = []string{"1234567890", "9876543210"}
	GA4Properties   = []string{"333444"}
	TikTokIDs       = []string{"7000000000001"}
)

type code struct {
	provider, redirectURI, challenge, shop string
}

// Fake is the fake provider server.
type Fake struct {
	*httptest.Server
	t *testing.T

	mu       sync.Mutex
	n        int
	codes    map[string]code
	tokens   map[string]string            // live access and refresh tokens -> provider
	webhooks map[string]map[string]string // id -> topic, address
	// Calls counts requests by "METHOD path".
	Calls map[string]int
	// Fail5xx makes every token endpoint answer 503.
	Fail5xx bool
}

// New starts a fake; it stops with the test.
func New(t *testing.T) *Fake {
	f := &Fake{t: t, codes: map[string]code{}, tokens: map[string]string{}, webhooks: map[string]map[string]string{},
		Calls: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// Config is an oauth.Config pointing every provider at the fake.
func (f *Fake) Config(publicURL string, stateSecret []byte) oauth.Config {
	return oauth.Config{
		PublicURL: publicURL, StateSecret: stateSecret,
		MetaAppID: MetaAppID, MetaAppSecret: MetaAppSecret, MetaDialogURL: f.URL + "/meta/www", MetaGraphURL: f.URL + "/meta",
		MetaAPIVersion: MetaVersion,
		GoogleClientID: GoogleClientID, GoogleClientSecret: GoogleSecret, GoogleAuthURL: f.URL + "/google/o/oauth2/v2/auth",
		GoogleTokenURL: f.URL + "/google/token", GoogleAdsBaseURL: f.URL + "/googleads", GoogleAdsAPIVersion: AdsVersion,
		GoogleAdsDeveloperToken: DeveloperToken, GA4AdminBaseURL: f.URL + "/ga4admin",
		TikTokAppID: TikTokAppID, TikTokAppSecret: TikTokSecret, TikTokAuthURL: f.URL + "/tiktok/portal/auth",
		TikTokBaseURL:   f.URL + "/tiktok",
		ShopifyClientID: ShopifyClientID, ShopifyClientSecret: ShopifySecret, ShopifyBaseURL: f.URL + "/shopify",
		ShopifyAPIVersion: ShopVer,
	}
}

func (f *Fake) next(prefix string) string {
	f.n++
	return prefix + strconv.Itoa(f.n) + "-" + strings.Repeat("x", 8)
}

// Approve plays the user approving the consent at authorizeURL and returns the query the
// provider sends to the redirect URI.
func (f *Fake) Approve(provider, authorizeURL string) url.Values {
	f.t.Helper()
	u, err := url.Parse(authorizeURL)
	if err != nil {
		f.t.Fatalf("authorize URL: %v", err)
	}
	q := u.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.next("code-")
	out := url.Values{"state": {q.Get("state")}}
	rec := code{provider: provider, redirectURI: q.Get("redirect_uri")}
	switch provider {
	case oauth.Meta:
		f.want(u.Path == "/meta/www/"+MetaVersion+"/dialog/oauth" && q.Get("client_id") == MetaAppID &&
			q.Get("response_type") == "code" && q.Get("scope") == "ads_read,ads_management,business_management", "meta consent %s", u)
		out.Set("code", c)
	case oauth.GoogleAds, oauth.GA4:
		f.want(u.Path == "/google/o/oauth2/v2/auth" && q.Get("client_id") == GoogleClientID && q.Get("access_type") == "offline" &&
			q.Get("prompt") == "consent" && q.Get("code_challenge_method") == "S256" && q.Get("code_challenge") != "", "google consent %s", u)
		rec.challenge = q.Get("code_challenge")
		out.Set("code", c)
		out.Set("scope", q.Get("scope"))
	case oauth.TikTok:
		f.want(u.Path == "/tiktok/portal/auth" && q.Get("app_id") == TikTokAppID, "tiktok consent %s", u)
		out.Set("auth_code", c)
		out.Set("code", c)
	case oauth.Shopify:
		f.want(u.Path == "/shopify/admin/oauth/authorize" && q.Get("client_id") == ShopifyClientID &&
			q.Get("scope") == oauth.ShopifyScopes, "shopify consent %s", u)
		rec.shop = Shop
		out.Set("code", c)
		out.Set("shop", Shop)
		out.Set("host", base64.RawURLEncoding.EncodeToString([]byte(Shop+"/admin")))
		out.Set("timestamp", strconv.FormatInt(time.Now().Unix(), 10))
		out.Set("hmac", oauth.SignShopifyQuery([]byte(ShopifySecret), out))
	}
	f.want(rec.redirectURI != "", "consent without redirect_uri")
	f.codes[c] = rec
	return out
}

func (f *Fake) want(ok bool, format string, args ...any) {
	if !ok {
		f.t.Errorf("fake provider: unexpected "+format, args...)
	}
}

// Revoke makes the provider refuse tok from now on.
func (f *Fake) Revoke(tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.tokens, tok)
}

// Live reports whether tok is a token the fake issued and still accepts.
func (f *Fake) Live(tok string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.tokens[tok]
	return ok
}

// Webhooks lists the registered Shopify webhooks as topic -> address.
func (f *Fake) Webhooks() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for _, w := range f.webhooks {
		out[w["topic"]] = w["address"]
	}
	return out
}

func (f *Fake) issue(prefix, provider string) string {
	t := f.next(prefix)
	f.tokens[t] = provider
	return t
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// useCode consumes a code issued for provider; a redirectURI sent with the exchange must
// match the consent's.
func (f *Fake) useCode(c, provider, redirectURI string) (code, bool) {
	rec, ok := f.codes[c]
	delete(f.codes, c)
	return rec, ok && rec.provider == provider && (redirectURI == "" || rec.redirectURI == redirectURI)
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls[r.Method+" "+r.URL.Path]++
	p := r.URL.Path
	switch {
	case p == "/meta/"+MetaVersion+"/oauth/access_token" && r.Method == http.MethodGet:
		f.metaToken(w, r.URL.Query())
	case p == "/meta/"+MetaVersion+"/me/adaccounts" && r.Method == http.MethodGet:
		if _, ok := f.tokens[bearer(r)]; !ok {
			writeJSON(w, 400, map[string]any{"error": map[string]any{"message": "Invalid OAuth access token", "type": "OAuthException", "code": 190}})
			return
		}
		var data []map[string]string
		for _, id := range MetaAccounts {
			data = append(data, map[string]string{"account_id": id, "id": "act_" + id, "name": "Meta " + id,
				"currency": "USD", "timezone_name": "America/New_York"})
		}
		writeJSON(w, 200, map[string]any{"data": data})
	case p == "/google/token" && r.Method == http.MethodPost:
		f.googleToken(w, r)
	case p == "/googleads/"+AdsVersion+"/customers:listAccessibleCustomers":
		if _, ok := f.tokens[bearer(r)]; !ok || r.Header.Get("developer-token") != DeveloperToken {
			writeJSON(w, 401, map[string]any{"error": map[string]any{"code": 401, "status": "UNAUTHENTICATED"}})
			return
		}
		var names []string
		for _, id := range GoogleCustomers {
			names = append(names, "customers/"+id)
		}
		writeJSON(w, 200, map[string]any{"resourceNames": names})
	case p == "/ga4admin/v1beta/accountSummaries":
		if _, ok := f.tokens[bearer(r)]; !ok {
			writeJSON(w, 401, map[string]any{"error": map[string]any{"code": 401, "status": "UNAUTHENTICATED"}})
			return
		}
		var props []map[string]string
		for _, id := range GA4Properties {
			props = append(props, map[string]string{"property": "properties/" + id, "displayName": "Property " + id,
				"propertyType": "PROPERTY_TYPE_ORDINARY", "parent": "accounts/1"})
		}
		writeJSON(w, 200, map[string]any{"accountSummaries": []any{map[string]any{"name": "accountSummaries/1",
			"account": "accounts/1", "displayName": "Demo", "propertySummaries": props}}})
	case p == "/tiktok/open_api/v1.3/oauth2/access_token/" && r.Method == http.MethodPost:
		var b map[string]string
		_ = json.NewDecoder(r.Body).Decode(&b)
		if b["app_id"] != TikTokAppID || b["secret"] != TikTokSecret {
			writeJSON(w, 200, map[string]any{"code": 40101, "message": "app_id and secret do not match"})
			return
		}
		if _, ok := f.useCode(b["auth_code"], oauth.TikTok, ""); !ok {
			writeJSON(w, 200, map[string]any{"code": 40110, "message": "auth_code has been used or expired"})
			return
		}
		writeJSON(w, 200, map[string]any{"code": 0, "message": "OK", "request_id": "r1", "data": map[string]any{
			"access_token": f.issue("tiktok-token-", oauth.TikTok), "advertiser_ids": TikTokIDs, "scope": []int{4, 5, 6}}})
	case p == "/tiktok/open_api/v1.3/oauth2/advertiser/get/":
		if _, ok := f.tokens[r.Header.Get("Access-Token")]; !ok || r.URL.Query().Get("secret") != TikTokSecret {
			writeJSON(w, 200, map[string]any{"code": 40105, "message": "access token invalid"})
			return
		}
		var list []map[string]string
		for _, id := range TikTokIDs {
			list = append(list, map[string]string{"advertiser_id": id, "advertiser_name": "TikTok " + id})
		}
		writeJSON(w, 200, map[string]any{"code": 0, "message": "OK", "data": map[string]any{"list": list}})
	case p == "/shopify/admin/oauth/access_token" && r.Method == http.MethodPost:
		f.shopifyToken(w, r)
	case strings.HasPrefix(p, "/shopify/admin/api/"+ShopVer+"/webhooks"):
		f.shopifyWebhooks(w, r)
	default:
		http.NotFound(w, r)
	}
}

func bearer(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

func (f *Fake) metaToken(w http.ResponseWriter, q url.Values) {
	metaErr := func(code int, msg string) {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"message": msg, "type": "OAuthException", "code": code, "fbtrace_id": "x"}})
	}
	if f.Fail5xx {
		writeJSON(w, 503, map[string]any{"error": map[string]any{"message": "Service temporarily unavailable", "code": 2}})
		return
	}
	if q.Get("client_id") != MetaAppID || q.Get("client_secret") != MetaAppSecret {
		metaErr(100, "Error validating client secret.")
		return
	}
	if q.Get("grant_type") == "fb_exchange_token" {
		old := q.Get("fb_exchange_token")
		if _, ok := f.tokens[old]; !ok {
			metaErr(190, "Error validating access token: Session has expired")
			return
		}
		writeJSON(w, 200, map[string]any{"access_token": f.issue("meta-long-", oauth.Meta), "token_type": "bearer", "expires_in": 5183944})
		return
	}
	if q.Has("grant_type") {
		metaErr(100, "Unsupported grant_type")
		return
	}
	if _, ok := f.useCode(q.Get("code"), oauth.Meta, q.Get("redirect_uri")); !ok {
		metaErr(100, "Invalid verification code format.")
		return
	}
	writeJSON(w, 200, map[string]any{"access_token": f.issue("meta-short-", oauth.Meta), "token_type": "bearer", "expires_in": 3600})
}

func (f *Fake) googleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || f.Fail5xx {
		writeJSON(w, 503, map[string]string{"error": "backend_error"})
		return
	}
	q := r.PostForm
	if q.Get("client_id") != GoogleClientID || q.Get("client_secret") != GoogleSecret {
		writeJSON(w, 401, map[string]string{"error": "invalid_client", "error_description": "Unauthorized"})
		return
	}
	switch q.Get("grant_type") {
	case "authorization_code":
		rec, ok := f.codes[q.Get("code")]
		delete(f.codes, q.Get("code"))
		sum := sha256.Sum256([]byte(q.Get("code_verifier")))
		if !ok || !strings.HasPrefix(rec.provider, "g") || rec.redirectURI != q.Get("redirect_uri") ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != rec.challenge {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "Malformed auth code."})
			return
		}
		writeJSON(w, 200, map[string]any{"access_token": f.issue("ya29.", "google"), "expires_in": 3599,
			"refresh_token": f.issue("1//refresh-", "google"), "scope": "https://www.googleapis.com/auth/adwords", "token_type": "Bearer"})
	case "refresh_token":
		if _, ok := f.tokens[q.Get("refresh_token")]; !ok {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
			return
		}
		// Like Google: no refresh_token in a refresh answer.
		writeJSON(w, 200, map[string]any{"access_token": f.issue("ya29.", "google"), "expires_in": 3599, "token_type": "Bearer"})
	default:
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type"})
	}
}

func (f *Fake) shopifyToken(w http.ResponseWriter, r *http.Request) {
	var b map[string]string
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil || f.Fail5xx {
		writeJSON(w, 503, map[string]string{"error": "unavailable"})
		return
	}
	if b["client_id"] != ShopifyClientID || b["client_secret"] != ShopifySecret {
		writeJSON(w, 400, map[string]string{"error": "invalid_client"})
		return
	}
	expiring := func() map[string]any {
		return map[string]any{"access_token": f.issue("shpat_", oauth.Shopify), "scope": oauth.ShopifyScopes,
			"expires_in": 3600, "refresh_token": f.issue("shprt_", oauth.Shopify), "refresh_token_expires_in": 7776000}
	}
	if b["grant_type"] == "refresh_token" {
		if _, ok := f.tokens[b["refresh_token"]]; !ok {
			writeJSON(w, 400, map[string]string{"error": "invalid_request", "error_description": "refresh token is invalid"})
			return
		}
		delete(f.tokens, b["refresh_token"]) // rotates
		writeJSON(w, 200, expiring())
		return
	}
	if _, ok := f.useCode(b["code"], oauth.Shopify, ""); !ok {
		writeJSON(w, 400, map[string]string{"error": "invalid_request",
			"error_description": "The authorization code was not found or was already used"})
		return
	}
	if b["expiring"] == "1" {
		writeJSON(w, 200, expiring())
		return
	}
	writeJSON(w, 200, map[string]any{"access_token": f.issue("shpat_", oauth.Shopify), "scope": oauth.ShopifyScopes})
}

func (f *Fake) shopifyWebhooks(w http.ResponseWriter, r *http.Request) {
	if _, ok := f.tokens[r.Header.Get("X-Shopify-Access-Token")]; !ok {
		writeJSON(w, 401, map[string]string{"errors": "[API] Invalid API key or access token"})
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/shopify/admin/api/"+ShopVer)
	switch {
	case rest == "/webhooks.json" && r.Method == http.MethodPost:
		var b struct {
			Webhook map[string]string `json:"webhook"`
		}
		_ = json.NewDecoder(r.Body).Decode(&b)
		for _, h := range f.webhooks {
			if h["topic"] == b.Webhook["topic"] && h["address"] == b.Webhook["address"] {
				writeJSON(w, 422, map[string]any{"errors": map[string]any{"address": []string{"for this topic has already been taken"}}})
				return
			}
		}
		f.n++
		id := strconv.Itoa(1000 + f.n)
		f.webhooks[id] = map[string]string{"topic": b.Webhook["topic"], "address": b.Webhook["address"]}
		writeJSON(w, 201, map[string]any{"webhook": map[string]any{"id": 1000 + f.n, "topic": b.Webhook["topic"],
			"address": b.Webhook["address"], "format": "json"}})
	case rest == "/webhooks.json" && r.Method == http.MethodGet:
		var list []map[string]any
		for id, h := range f.webhooks {
			n, _ := strconv.Atoi(id)
			list = append(list, map[string]any{"id": n, "topic": h["topic"], "address": h["address"], "format": "json"})
		}
		writeJSON(w, 200, map[string]any{"webhooks": list})
	case strings.HasPrefix(rest, "/webhooks/") && r.Method == http.MethodDelete:
		id := strings.TrimSuffix(strings.TrimPrefix(rest, "/webhooks/"), ".json")
		if _, ok := f.webhooks[id]; !ok {
			writeJSON(w, 404, map[string]string{"errors": "Not Found"})
			return
		}
		delete(f.webhooks, id)
		writeJSON(w, 200, map[string]any{})
	default:
		http.Error(w, fmt.Sprintf("no route %s %s", r.Method, r.URL.Path), 404)
	}
}
