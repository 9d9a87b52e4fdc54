package shopify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// The sandbox Shopify app (channel-apis.md §6, /work/oauth-contract.md), installed on the
// one demo shop DemoShopDomain:
//
//	GET|POST /admin/oauth/authorize?client_id&scope&redirect_uri&state
//	         consent page; approve -> redirect_uri?code&hmac&host&shop&state&timestamp, deny ->
//	         redirect_uri?error=access_denied&error_description&hmac&host&shop&state&timestamp;
//	         both signed with SignQuery and the client secret
//	POST     /admin/oauth/access_token  (JSON or form) client_id, client_secret, code [, expiring=1]
//	         -> {"access_token":"shpat_..","scope"} (+ expires_in, refresh_token,
//	         refresh_token_expires_in when expiring); grant_type=refresh_token&refresh_token
//	         rotates the refresh token (the old one is then rejected)
//
// Tokens carry the granted scope: without read_all_orders a minted token reads only the
// last 60 days of orders, as LimitedToken. Expiring tokens expire on the sandbox clock.
// RevokeToken and POST /_sandbox/oauth/revoke revoke a token (401 on the API, a rejected
// refresh). The client secret is DefaultWebhookSecret, as a Shopify app's secret signs both
// its OAuth callbacks and its webhooks.
const (
	OAuthClientID     = "sandbox-shopify-client"
	OAuthClientSecret = DefaultWebhookSecret
)

// Lifetimes of expiring offline tokens (Shopify changelog, Dec 2025).
const (
	ExpiringTokenTTL = 3600 * time.Second
	RefreshTokenTTL  = 7776000 * time.Second
)

// Error descriptions of the token endpoint.
const (
	msgCodeNotFound    = "The authorization code was not found or was already used"
	msgRefreshNotFound = "The refresh token was not found, has expired or was already used"
)

// SignQuery is Shopify's HMAC of a callback query (channel-apis.md §6): hmac and signature
// removed, the rest sorted by key and joined as k=v with &, then hex(HMAC-SHA256(secret,
// message)). Several values of one key are joined with a comma.
func SignQuery(secret string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "hmac" && k != "signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+strings.Join(params[k], ","))
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strings.Join(parts, "&")))
	return hex.EncodeToString(mac.Sum(nil))
}

// RevokeToken revokes a minted access or refresh token, as uninstalling the app does: API
// calls with the access token answer 401 and a refresh with the refresh token is rejected.
// It reports whether the token exists.
func (s *Server) RevokeToken(token string) bool { return s.tokens.Revoke(token) }

// Tokens lists the minted tokens.
func (s *Server) Tokens() []kit.Token { return s.tokens.All() }

// tokenScopes are the scopes of a valid access token; false for any other token.
func (s *Server) tokenScopes(tok string) ([]string, bool) {
	switch tok {
	case "":
		return nil, false
	case s.token, OtherShopToken:
		return []string{ScopeReadOrders, ScopeReadAllOrders, ScopeReadCustomers}, true
	case LimitedToken:
		return []string{ScopeReadOrders, ScopeReadCustomers}, true
	}
	t, st := s.tokens.Check(tok)
	if st != kit.TokenValid || t.Kind != kit.AccessToken {
		return nil, false
	}
	return splitScope(t.Scope), true
}

func splitScope(scope string) []string {
	var out []string
	for _, sc := range strings.Split(scope, ",") {
		if sc = strings.TrimSpace(sc); sc != "" {
			out = append(out, sc)
		}
	}
	return out
}

// serveOAuth serves the authorize page and the token endpoint; false means the request is
// not one of theirs.
func (c *call) serveOAuth() bool {
	switch c.r.URL.Path {
	case "/admin/oauth/authorize":
		c.s.serveAuthorize(c.w, c.r)
	case "/admin/oauth/access_token":
		c.accessToken()
	default:
		return false
	}
	return true
}

func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	switch {
	case q.Get("client_id") != OAuthClientID:
		kit.ConsentError(w, http.StatusBadRequest, "Oauth error invalid_request: The client_id is not an installed app; the sandbox app is "+OAuthClientID)
		return
	case redirect == "":
		kit.ConsentError(w, http.StatusBadRequest, "Oauth error invalid_request: The redirect_uri is missing")
		return
	}
	if _, err := kit.ParseRedirectURI(redirect); err != nil {
		kit.ConsentError(w, http.StatusBadRequest, "Oauth error invalid_request: "+err.Error())
		return
	}
	c := kit.Consent{Provider: "Shopify", App: OAuthClientID, Account: "the store " + DemoShopName + " (" + DemoShopDomain + ")", Scope: q.Get("scope")}
	kit.ServeConsent(w, r, c, redirect, func(approve bool) (url.Values, error) {
		p := url.Values{
			"host":      {base64.RawStdEncoding.EncodeToString([]byte("admin.shopify.com/store/" + strings.TrimSuffix(DemoShopDomain, ".myshopify.com")))},
			"shop":      {DemoShopDomain},
			"state":     {q.Get("state")},
			"timestamp": {strconv.FormatInt(s.now().Unix(), 10)},
		}
		if approve {
			p.Set("code", s.codes.Issue(kit.Grant{ClientID: OAuthClientID, RedirectURI: redirect, Scope: q.Get("scope")}))
		} else {
			p.Set("error", "access_denied")
			p.Set("error_description", "The merchant declined to install the app.")
		}
		p.Set("hmac", SignQuery(OAuthClientSecret, p))
		return p, nil
	})
}

// tokenRequest is the body of POST /admin/oauth/access_token, JSON or form.
type tokenRequest struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Code         string `json:"code"`
	Expiring     any    `json:"expiring"` // 1, "1" or true
	GrantType    string `json:"grant_type"`
	RefreshToken string `json:"refresh_token"`
}

func (t *tokenRequest) expiring() bool {
	switch v := t.Expiring.(type) {
	case string:
		return v == "1" || v == "true"
	case float64:
		return v == 1
	case bool:
		return v
	}
	return false
}

func (c *call) accessToken() {
	oauthError := func(status int, code, desc string) {
		c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
		c.w.WriteHeader(status)
		_ = json.NewEncoder(c.w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if c.r.Method != http.MethodPost {
		oauthError(http.StatusMethodNotAllowed, "invalid_request", "The token endpoint accepts POST only")
		return
	}
	var req tokenRequest
	c.r.Body = http.MaxBytesReader(c.w, c.r.Body, kit.MaxBodyBytes)
	if mt, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type")); mt == "application/json" {
		if err := json.NewDecoder(c.r.Body).Decode(&req); err != nil {
			oauthError(http.StatusBadRequest, "invalid_request", "The request body is not valid JSON")
			return
		}
	} else {
		if err := c.r.ParseForm(); err != nil {
			oauthError(http.StatusBadRequest, "invalid_request", "The request body could not be parsed")
			return
		}
		f := c.r.Form
		req = tokenRequest{ClientID: f.Get("client_id"), ClientSecret: f.Get("client_secret"), Code: f.Get("code"),
			Expiring: f.Get("expiring"), GrantType: f.Get("grant_type"), RefreshToken: f.Get("refresh_token")}
	}
	if req.ClientID != OAuthClientID || req.ClientSecret != OAuthClientSecret {
		oauthError(http.StatusBadRequest, "invalid_client", "Client credentials are invalid")
		return
	}
	s := c.s
	var scope string
	expiring := req.expiring()
	switch req.GrantType {
	case "", "authorization_code":
		g, err := s.codes.RedeemWithoutRedirect(req.Code, OAuthClientID)
		if err != nil {
			oauthError(http.StatusBadRequest, "invalid_request", msgCodeNotFound)
			return
		}
		scope = g.Scope
	case "refresh_token":
		old, ok := s.tokens.Consume(req.RefreshToken, kit.RefreshToken)
		if !ok {
			oauthError(http.StatusBadRequest, "invalid_request", msgRefreshNotFound)
			return
		}
		scope, expiring = old.Scope, true
	default:
		oauthError(http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("The grant_type %q is not supported", req.GrantType))
		return
	}
	body := map[string]any{"scope": scope}
	if !expiring {
		body["access_token"] = s.tokens.Mint("shpat_", kit.AccessToken, OAuthClientID, scope, 0).Value
	} else {
		body["access_token"] = s.tokens.Mint("shpat_", kit.AccessToken, OAuthClientID, scope, ExpiringTokenTTL).Value
		body["expires_in"] = int64(ExpiringTokenTTL / time.Second)
		body["refresh_token"] = s.tokens.Mint("shprt_", kit.RefreshToken, OAuthClientID, scope, RefreshTokenTTL).Value
		body["refresh_token_expires_in"] = int64(RefreshTokenTTL / time.Second)
	}
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(c.w).Encode(body)
}
