package googleads

import (
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// Grants of the sandbox Google OAuth server (package sandbox/google): a consent that grants
// the adwords scope gives a refresh token this sandbox accepts at /token and an access token
// its API accepts, besides the fixed DefaultToken and DefaultRefreshToken.

// Grant records the refresh token a consent granted to clientID and the access token issued
// with it, valid until expiry.
func (s *Server) Grant(clientID, refreshToken, accessToken string, expiry time.Time) {
	s.granted.Add(kit.Token{Value: refreshToken, Kind: kit.RefreshToken, ClientID: clientID, Scope: adwordsScope})
	s.mu.Lock()
	s.minted[accessToken] = expiry
	s.mu.Unlock()
}

// HasRefreshToken reports whether refreshToken is this sandbox's, valid or not: Google's
// shared token endpoint routes a refresh grant by it.
func (s *Server) HasRefreshToken(refreshToken string) bool {
	_, st := s.granted.Check(refreshToken)
	return refreshToken == s.refreshToken || st != kit.TokenUnknown
}

// RevokeToken revokes a granted refresh token (the token endpoint then answers 400
// invalid_grant "Token has been expired or revoked.") or forgets a minted access token
// (API calls with it answer 401). It reports whether the token exists.
func (s *Server) RevokeToken(token string) bool {
	if s.granted.Revoke(token) {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.minted[token]
	delete(s.minted, token)
	return ok
}

// checkRefreshToken is the token endpoint's verdict on a refresh token sent by clientID:
// "" when valid, else the invalid_grant description.
func (s *Server) checkRefreshToken(rt, clientID string) (errCode, desc string) {
	if rt == s.refreshToken {
		return "", ""
	}
	t, st := s.granted.Check(rt)
	switch {
	case st == kit.TokenUnknown:
		return "invalid_grant", "Bad Request"
	case st != kit.TokenValid:
		return "invalid_grant", "Token has been expired or revoked."
	case t.ClientID != clientID:
		return "unauthorized_client", "Unauthorized"
	}
	return "", ""
}
