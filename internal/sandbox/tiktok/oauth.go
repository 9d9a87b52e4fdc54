package tiktok

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// The sandbox TikTok app (channel-apis.md §6, /work/oauth-contract.md):
//
//	GET|POST /portal/auth?app_id&state&redirect_uri
//	         consent page; approve -> redirect_uri?auth_code=X&code=X&state, deny ->
//	         redirect_uri?error=access_denied&error_description&state
//	POST     /open_api/v1.3/oauth2/access_token/  JSON {"app_id","secret","auth_code"}
//	         -> {"code":0,"data":{"access_token","advertiser_ids","scope":[4,5,6]}};
//	         40101 for an app_id/secret mismatch, 40110 for a used or expired auth_code
//	GET      /open_api/v1.3/oauth2/advertiser/get/?app_id&secret, header Access-Token
//	         -> {"code":0,"data":{"list":[{"advertiser_id","advertiser_name"}]}}
//
// TikTok's exchange carries no redirect_uri, so an auth_code is bound to the app only.
// Marketing API tokens are long-term with no refresh: a minted token works on the report
// API until revoked (RevokeToken, POST /_sandbox/oauth/revoke), then fails with 40105.
const (
	OAuthAppID     = "sandbox-tiktok-app"
	OAuthAppSecret = "sandbox-tiktok-app-secret"
)

// OAuth paths, with TikTok's trailing slash.
const (
	PathPortalAuth         = "/portal/auth"
	PathOAuthAccessToken   = "/open_api/v1.3/oauth2/access_token/"
	PathOAuthAdvertiserGet = "/open_api/v1.3/oauth2/advertiser/get/"
)

// Envelope codes of the OAuth endpoints.
const (
	CodeAppMismatch  = 40101
	CodeAuthCodeUsed = 40110
)

// oauthScopes are the permission scope ids TikTok lists for an authorization (4, 5 and 6:
// ad account management, ads management, reporting).
var oauthScopes = []int{4, 5, 6}

// RevokeToken revokes a minted token, as an advertiser cancelling the authorization does:
// API calls with it then fail with 40105. It reports whether the token exists.
func (s *Server) RevokeToken(token string) bool { return s.tokens.Revoke(token) }

// Tokens lists the minted tokens.
func (s *Server) Tokens() []kit.Token { return s.tokens.All() }

// validToken reports whether tok is the fixed token or a live minted one.
func (s *Server) validToken(tok string) bool {
	return tok == s.token || s.tokens.Valid(tok, kit.AccessToken)
}

// serveOAuth serves the consent page and the OAuth endpoints; false means the request is
// not one of theirs.
func (c *call) serveOAuth() bool {
	switch c.r.URL.Path {
	case PathPortalAuth:
		c.s.serveConsent(c.w, c.r)
	case PathOAuthAccessToken:
		if c.r.Method != http.MethodPost {
			http.Error(c.w, "405 method not allowed", http.StatusMethodNotAllowed)
			return true
		}
		c.accessToken()
	case PathOAuthAdvertiserGet:
		if c.r.Method != http.MethodGet {
			http.Error(c.w, "405 method not allowed", http.StatusMethodNotAllowed)
			return true
		}
		c.advertiserGet()
	default:
		return false
	}
	return true
}

func (s *Server) serveConsent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	switch {
	case q.Get("app_id") != OAuthAppID:
		kit.ConsentError(w, http.StatusBadRequest, "Invalid app_id: the sandbox app is "+OAuthAppID)
		return
	case redirect == "":
		kit.ConsentError(w, http.StatusBadRequest, "redirect_uri is required")
		return
	}
	if _, err := kit.ParseRedirectURI(redirect); err != nil {
		kit.ConsentError(w, http.StatusBadRequest, err.Error())
		return
	}
	acct := "your advertiser accounts"
	if len(s.order) > 0 {
		a := s.advertisers[s.order[0]]
		acct = fmt.Sprintf("advertiser %s (%s)", a.Name, a.ID)
	}
	c := kit.Consent{Provider: "TikTok For Business", App: OAuthAppID, Account: acct}
	kit.ServeConsent(w, r, c, redirect, func(approve bool) (url.Values, error) {
		if !approve {
			return url.Values{"error": {"access_denied"}, "error_description": {"The user cancelled the authorization."}, "state": {q.Get("state")}}, nil
		}
		code := s.codes.Issue(kit.Grant{ClientID: OAuthAppID, RedirectURI: redirect})
		return url.Values{"auth_code": {code}, "code": {code}, "state": {q.Get("state")}}, nil
	})
}

// accessToken exchanges an auth_code; TikTok answers HTTP 200 with the envelope whatever
// happens.
func (c *call) accessToken() {
	c.next()
	var body struct {
		AppID     string `json:"app_id"`
		Secret    string `json:"secret"`
		AuthCode  string `json:"auth_code"`
		GrantType string `json:"grant_type"` // sent by older clients; ignored
	}
	if err := json.NewDecoder(io.LimitReader(c.r.Body, kit.MaxBodyBytes)).Decode(&body); err != nil {
		c.badParam("Request body must be JSON: " + err.Error())
		return
	}
	switch {
	case body.AppID == "" || body.Secret == "" || body.AuthCode == "":
		c.badParam("app_id, secret and auth_code are required.")
		return
	case body.AppID != OAuthAppID || body.Secret != OAuthAppSecret:
		c.fail(CodeAppMismatch, "The app_id and secret do not match.")
		return
	}
	if _, err := c.s.codes.RedeemWithoutRedirect(body.AuthCode, OAuthAppID); err != nil {
		c.fail(CodeAuthCodeUsed, "Auth_code is used, expired or cancelled.")
		return
	}
	tok := c.s.tokens.Mint("", kit.AccessToken, OAuthAppID, "", 0)
	c.ok(map[string]any{"access_token": tok.Value, "advertiser_ids": c.s.order, "scope": oauthScopes})
}

// advertiserGet lists the advertisers that authorized the app.
func (c *call) advertiserGet() {
	c.next()
	q := c.r.URL.Query()
	tok := c.r.Header.Get("Access-Token")
	switch {
	case tok == "":
		c.fail(CodeTokenMissing, "Access token is null, you should set it in http header with key Access-Token.")
		return
	case !c.s.validToken(tok):
		c.fail(CodeTokenInvalid, "Access token is incorrect or has been revoked.")
		return
	case q.Get("app_id") == "" || q.Get("secret") == "":
		c.badParam("app_id and secret are required.")
		return
	case q.Get("app_id") != OAuthAppID || q.Get("secret") != OAuthAppSecret:
		c.fail(CodeAppMismatch, "The app_id and secret do not match.")
		return
	}
	list := []map[string]string{}
	for _, id := range c.s.order {
		list = append(list, map[string]string{"advertiser_id": id, "advertiser_name": c.s.advertisers[id].Name})
	}
	c.ok(map[string]any{"list": list})
}

// next numbers the call, for its request_id.
func (c *call) next() {
	c.s.mu.Lock()
	c.s.calls++
	c.seq = c.s.calls
	c.s.mu.Unlock()
}
