package kit

import (
	"net/http"
	"sync"
	"time"
)

// GoogleGrants is the token state a sandbox Google API (GA4, Google Ads) shares with the
// sandbox Google OAuth server (package sandbox/google): Google has one consent screen and one
// token endpoint for all its APIs, so a consent's tokens are recorded in every API whose
// scope it grants, and each API must recognise them besides its own fixed refresh token.
// It is safe for concurrent use.
type GoogleGrants struct {
	refreshToken string
	scope        string
	granted      *TokenStore // refresh tokens granted by OAuth consent

	mu     sync.Mutex
	minted map[string]time.Time // access token -> expiry
}

// NewGoogleGrants returns the grants of an API whose fixed refresh token is refreshToken and
// whose consent grants scope, on the clock now.
func NewGoogleGrants(now func() time.Time, refreshToken, scope string) *GoogleGrants {
	return &GoogleGrants{refreshToken: refreshToken, scope: scope, granted: NewTokenStore(now),
		minted: map[string]time.Time{}}
}

// RefreshToken is the fixed refresh token, valid for any client.
func (g *GoogleGrants) RefreshToken() string { return g.refreshToken }

// Grant records the refresh token a consent granted to clientID and the access token issued
// with it, valid until expiry.
func (g *GoogleGrants) Grant(clientID, refreshToken, accessToken string, expiry time.Time) {
	g.granted.Add(Token{Value: refreshToken, Kind: RefreshToken, ClientID: clientID, Scope: g.scope})
	g.mu.Lock()
	g.minted[accessToken] = expiry
	g.mu.Unlock()
}

// HasRefreshToken reports whether refreshToken is this API's, valid or not: Google's shared
// token endpoint routes a refresh grant by it.
func (g *GoogleGrants) HasRefreshToken(refreshToken string) bool {
	_, st := g.granted.Check(refreshToken)
	return refreshToken == g.refreshToken || st != TokenUnknown
}

// RevokeToken revokes a granted refresh token (the token endpoint then answers 400
// invalid_grant "Token has been expired or revoked.") or forgets a minted access token
// (API calls with it answer 401). It reports whether the token exists.
func (g *GoogleGrants) RevokeToken(token string) bool {
	if g.granted.Revoke(token) {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.minted[token]
	delete(g.minted, token)
	return ok
}

// CheckRefresh is the token endpoint's verdict on a refresh token sent by clientID: empty
// when valid, else Google's OAuth error code and description.
func (g *GoogleGrants) CheckRefresh(rt, clientID string) (code, desc string) {
	if rt == g.refreshToken {
		return "", ""
	}
	t, st := g.granted.Check(rt)
	switch {
	case st == TokenUnknown:
		return "invalid_grant", "Bad Request"
	case st != TokenValid:
		return "invalid_grant", "Token has been expired or revoked."
	case t.ClientID != clientID:
		return "unauthorized_client", "Unauthorized"
	}
	return "", ""
}

// Access returns the expiry of a minted access token; the caller judges it against its own
// clock and faults, since the APIs answer an expired token differently.
func (g *GoogleGrants) Access(token string) (expiry time.Time, minted bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	expiry, minted = g.minted[token]
	return expiry, minted
}

// EditAccess runs edit on the minted access tokens (token -> expiry) under their lock. Each
// API keeps its own token shape and pruning policy, which its tests and admin counts rely on.
func (g *GoogleGrants) EditAccess(edit func(minted map[string]time.Time)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	edit(g.minted)
}

// ServeAdmin serves the granted refresh tokens (TokenStore.ServeAdmin).
func (g *GoogleGrants) ServeAdmin(w http.ResponseWriter, r *http.Request) {
	g.granted.ServeAdmin(w, r)
}
