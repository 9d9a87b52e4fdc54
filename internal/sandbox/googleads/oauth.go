package googleads

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// serveToken is Google's OAuth token endpoint for the refresh_token grant
// (channel-apis.md §6): a form POST answered with {"access_token","expires_in","scope",
// "token_type"}, or HTTP 400/401 {"error","error_description"}. It returns the grant type for
// the request log.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) string {
	oauthError := func(status int, code, desc string) {
		tokenJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		oauthError(http.StatusMethodNotAllowed, "invalid_request", "The token endpoint accepts POST only.")
		return ""
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		oauthError(http.StatusBadRequest, "invalid_request", "Could not parse the form body.")
		return ""
	}
	f := r.PostForm
	grant := f.Get("grant_type")
	switch {
	case f.Get("client_id") == "":
		oauthError(http.StatusBadRequest, "invalid_request", "Could not determine client ID from request.")
		return grant
	case s.clientID != "" && f.Get("client_id") != s.clientID:
		oauthError(http.StatusUnauthorized, "invalid_client", "The OAuth client was not found.")
		return grant
	case s.clientSecret != "" && f.Get("client_secret") != s.clientSecret:
		oauthError(http.StatusUnauthorized, "invalid_client", "Unauthorized")
		return grant
	case grant == "":
		oauthError(http.StatusBadRequest, "invalid_request", "Required parameter is missing: grant_type")
		return grant
	case grant != "refresh_token":
		oauthError(http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+grant)
		return grant
	case f.Get("refresh_token") == "":
		oauthError(http.StatusBadRequest, "invalid_request", "Missing required parameter: refresh_token")
		return grant
	}
	s.mu.Lock()
	revoked := s.faults.ExpiredToken
	s.mu.Unlock()
	switch code, desc := s.grants.CheckRefresh(f.Get("refresh_token"), f.Get("client_id")); {
	case code != "":
		oauthError(http.StatusBadRequest, code, desc)
		return grant
	case revoked:
		oauthError(http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
		return grant
	}
	tok := s.mint()
	tokenJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"expires_in":   int64(s.ttl / time.Second),
		"scope":        adwordsScope,
		"token_type":   "Bearer",
	})
	return grant
}

// mint creates an access token valid for the configured lifetime, forgetting tokens that
// expired more than an hour ago.
func (s *Server) mint() string {
	now := s.now()
	s.mu.Lock()
	s.mintSeq++
	seq := s.mintSeq
	s.mu.Unlock()
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%d|%d", s.grants.RefreshToken(), seq, now.UnixNano()))
	tok := fmt.Sprintf("ya29.sandbox-%d-%s", seq, hex.EncodeToString(sum[:12]))
	s.grants.EditAccess(func(minted map[string]time.Time) {
		for t, exp := range minted {
			if now.Sub(exp) > time.Hour {
				delete(minted, t)
			}
		}
		minted[tok] = now.Add(s.ttl)
	})
	return tok
}

// ExpireAccessTokens makes every minted access token expired now, as if the clock had
// passed their expiry: the next API call with one answers 401 and a client must refresh.
func (s *Server) ExpireAccessTokens() int {
	now := s.now()
	n := 0
	s.grants.EditAccess(func(minted map[string]time.Time) {
		for t := range minted {
			minted[t] = now
		}
		n = len(minted)
	})
	return n
}

func tokenJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Grant, HasRefreshToken and RevokeToken are the server's side of the sandbox Google OAuth
// server (package sandbox/google), which records a consent granting adwordsScope here.

// Grant records the refresh token a consent granted to clientID and the access token issued
// with it, valid until expiry.
func (s *Server) Grant(clientID, refreshToken, accessToken string, expiry time.Time) {
	s.grants.Grant(clientID, refreshToken, accessToken, expiry)
}

// HasRefreshToken reports whether refreshToken is this sandbox's, valid or not: Google's
// shared token endpoint routes a refresh grant by it.
func (s *Server) HasRefreshToken(refreshToken string) bool {
	return s.grants.HasRefreshToken(refreshToken)
}

// RevokeToken revokes a granted refresh token or forgets a minted access token; it reports
// whether the token exists.
func (s *Server) RevokeToken(token string) bool { return s.grants.RevokeToken(token) }
