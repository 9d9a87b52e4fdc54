package meta

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// The sandbox Meta app (channel-apis.md §6, /work/oauth-contract.md). The Login dialog
// lives on www.facebook.com, which the sandbox serves under /www of its mount:
//
//	GET|POST /www/{ver}/dialog/oauth?client_id&redirect_uri&state&response_type=code&scope
//	         consent page; approve -> redirect_uri?code&state, deny -> redirect_uri?error=
//	         access_denied&error_reason=user_denied&error_description&state
//	GET      /{ver}/oauth/access_token?client_id&redirect_uri&client_secret&code
//	         -> {"access_token","token_type":"bearer","expires_in":3600} (short-lived)
//	GET      /{ver}/oauth/access_token?grant_type=fb_exchange_token&client_id&client_secret
//	         &fb_exchange_token -> the long-lived token, expires_in 5183944
//
// Minted tokens work on every Graph endpoint of the sandbox until they expire on the sandbox
// clock or are revoked (RevokeToken, POST /_sandbox/oauth/revoke), after which calls fail
// with code 190. Meta has no refresh tokens: a client re-exchanges a valid token.
const (
	OAuthAppID     = "sandbox-meta-app"
	OAuthAppSecret = "sandbox-meta-app-secret"
	// ShortLivedTTL is the lifetime of a token from the code exchange.
	ShortLivedTTL = 3600 * time.Second
	// LongLivedTTL is the lifetime of a token from fb_exchange_token (about 60 days).
	LongLivedTTL = 5183944 * time.Second
)

// tokenPrefix is the shape of Meta user access tokens.
const tokenPrefix = "EAAB"

// RevokeToken revokes a minted token, as a user removing the app does: Graph calls with it
// then fail with 190/458 and it can no longer be exchanged. It reports whether the token
// exists.
func (s *Server) RevokeToken(token string) bool { return s.tokens.Revoke(token) }

// Tokens lists the minted tokens.
func (s *Server) Tokens() []kit.Token { return s.tokens.All() }

// serveOAuth serves the dialog and the token endpoint; false means the request is not one
// of theirs.
func (s *Server) serveOAuth(w http.ResponseWriter, r *http.Request) bool {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(segs) == 4 && segs[0] == "www" && versionRE.MatchString(segs[1]) && segs[2] == "dialog" && segs[3] == "oauth":
		s.serveDialog(w, r)
	case len(segs) == 3 && versionRE.MatchString(segs[0]) && segs[1] == "oauth" && segs[2] == "access_token":
		s.serveAccessToken(w, r)
	default:
		return false
	}
	return true
}

func (s *Server) serveDialog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("client_id") != OAuthAppID:
		kit.ConsentError(w, http.StatusBadRequest, "Invalid App ID: the sandbox app is "+OAuthAppID)
		return
	case q.Get("redirect_uri") == "":
		kit.ConsentError(w, http.StatusBadRequest, "URL blocked: redirect_uri is required")
		return
	case q.Get("response_type") != "" && q.Get("response_type") != "code":
		kit.ConsentError(w, http.StatusBadRequest, "response_type must be code")
		return
	}
	if _, err := kit.ParseRedirectURI(q.Get("redirect_uri")); err != nil {
		kit.ConsentError(w, http.StatusBadRequest, "URL blocked: "+err.Error())
		return
	}
	acct := "your ad accounts"
	if len(s.order) > 0 {
		a := s.accounts[s.order[0]]
		acct = fmt.Sprintf("ad account %s (act_%s)", a.Name, a.ID)
	}
	c := kit.Consent{Provider: "Meta", App: OAuthAppID, Account: acct, Scope: q.Get("scope")}
	kit.ServeConsent(w, r, c, q.Get("redirect_uri"), func(approve bool) (url.Values, error) {
		if !approve {
			return url.Values{"error": {"access_denied"}, "error_reason": {"user_denied"},
				"error_description": {"Permissions error."}, "state": {q.Get("state")}}, nil
		}
		code := s.codes.Issue(kit.Grant{ClientID: OAuthAppID, RedirectURI: q.Get("redirect_uri"), Scope: q.Get("scope")})
		return url.Values{"code": {code}, "state": {q.Get("state")}}, nil
	})
}

// serveAccessToken is GET (or POST) /{ver}/oauth/access_token: the code exchange, or the
// fb_exchange_token grant.
func (s *Server) serveAccessToken(w http.ResponseWriter, r *http.Request) {
	c := &call{s: s, w: w, r: r}
	s.mu.Lock()
	s.calls++
	c.seq = s.calls
	s.mu.Unlock()
	if err := r.ParseForm(); err != nil {
		c.badParam("Could not parse the request")
		return
	}
	f := r.Form
	switch {
	case f.Get("client_id") == "":
		c.fail(http.StatusBadRequest, graphError{Message: "Missing client_id parameter.", Type: "OAuthException", Code: 101})
		return
	case f.Get("client_id") != OAuthAppID:
		c.fail(http.StatusBadRequest, graphError{Message: "Error validating application. Invalid application ID.", Type: "OAuthException", Code: 101})
		return
	case f.Get("client_secret") != OAuthAppSecret:
		c.fail(http.StatusBadRequest, graphError{Message: "Error validating client secret.", Type: "OAuthException", Code: 100})
		return
	}
	if f.Get("grant_type") == "fb_exchange_token" {
		s.exchangeLongLived(c, f.Get("fb_exchange_token"))
		return
	}
	if f.Get("grant_type") != "" {
		c.badParam("Unsupported grant_type: " + f.Get("grant_type"))
		return
	}
	if f.Get("code") == "" {
		c.badParam("Missing code parameter.")
		return
	}
	g, err := s.codes.Redeem(f.Get("code"), OAuthAppID, f.Get("redirect_uri"), "")
	switch err {
	case nil:
	case kit.ErrRedirectMismatch:
		c.badParam("Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request")
		return
	default:
		c.badParam("Invalid verification code format, or the authorization code has been used or has expired.")
		return
	}
	tok := s.tokens.Mint(tokenPrefix, kit.AccessToken, OAuthAppID, g.Scope, ShortLivedTTL)
	c.json(http.StatusOK, map[string]any{"access_token": tok.Value, "token_type": "bearer", "expires_in": int64(ShortLivedTTL / time.Second)})
}

// exchangeLongLived trades a valid token (minted, or the fixed Config.Token) for a
// long-lived one; Meta requires the token still be valid.
func (s *Server) exchangeLongLived(c *call, old string) {
	if old == "" {
		c.badParam("Missing fb_exchange_token parameter.")
		return
	}
	scope := ""
	if old != s.token {
		t, st := s.tokens.Check(old)
		if st != kit.TokenValid {
			c.fail(http.StatusBadRequest, s.tokenError(st))
			return
		}
		scope = t.Scope
	}
	tok := s.tokens.Mint(tokenPrefix, kit.AccessToken, OAuthAppID, scope, LongLivedTTL)
	c.json(http.StatusOK, map[string]any{"access_token": tok.Value, "token_type": "bearer", "expires_in": int64(LongLivedTTL / time.Second)})
}

// checkToken reports whether tok is the fixed token or a live minted one, and the Graph
// error of an invalid one.
func (s *Server) checkToken(tok string) (graphError, bool) {
	if tok == s.token {
		return graphError{}, true
	}
	_, st := s.tokens.Check(tok)
	if st == kit.TokenValid {
		return graphError{}, true
	}
	return s.tokenError(st), false
}

// tokenError is Meta's 190 for a token in state st.
func (s *Server) tokenError(st kit.TokenState) graphError {
	switch st {
	case kit.TokenExpired:
		return s.expiredTokenError()
	case kit.TokenRevoked:
		return graphError{Message: "Error validating access token: The user has not authorized application " + OAuthAppID + ".",
			Type: "OAuthException", Code: 190, ErrorSubcode: 458}
	}
	return graphError{Message: "Invalid OAuth access token - Cannot parse access token", Type: "OAuthException", Code: 190}
}

// expiredTokenError is Meta's 190/463, "Session has expired".
func (s *Server) expiredTokenError() graphError {
	pdt := time.FixedZone("PDT", -7*3600)
	exp := s.now().Add(-2 * time.Hour).In(pdt)
	return graphError{
		Message: fmt.Sprintf("Error validating access token: Session has expired on %s. The current time is %s.",
			exp.Format("Monday, 02-Jan-06 15:04:05 MST"), s.now().In(pdt).Format("Monday, 02-Jan-06 15:04:05 MST")),
		Type: "OAuthException", Code: 190, ErrorSubcode: 463}
}
