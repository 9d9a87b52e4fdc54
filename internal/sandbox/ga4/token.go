package ga4

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"
)

// oauthError is the error body of Google's token endpoint.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// serveToken implements the refresh_token grant of https://oauth2.googleapis.com/token:
// a form POST answered with {"access_token","expires_in","scope","token_type"} (no new
// refresh_token), or 400 invalid_grant for an unknown, expired or revoked refresh token.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, l *RequestLog) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, oauthError{"invalid_request", "The token endpoint only accepts POST."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "Malformed form body."})
		return
	}
	f := r.PostForm
	l.Grant = f.Get("grant_type")
	clientID := f.Get("client_id")
	switch {
	case clientID == "":
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "Could not determine client ID from request."})
		return
	case s.clientID != "" && clientID != s.clientID:
		writeJSON(w, http.StatusUnauthorized, oauthError{"invalid_client", "The OAuth client was not found."})
		return
	case s.clientSecret != "" && f.Get("client_secret") != s.clientSecret:
		writeJSON(w, http.StatusUnauthorized, oauthError{"invalid_client", "Unauthorized"})
		return
	}
	if l.Grant != "refresh_token" {
		writeJSON(w, http.StatusBadRequest, oauthError{"unsupported_grant_type", "Invalid grant_type: " + l.Grant})
		return
	}
	s.mu.Lock()
	revoked := s.faults.RevokeRefreshToken
	s.mu.Unlock()
	rt := f.Get("refresh_token")
	code, desc := s.grants.CheckRefresh(rt, clientID)
	switch {
	case rt == "":
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "Missing required parameter: refresh_token"})
		return
	case code != "":
		writeJSON(w, http.StatusBadRequest, oauthError{code, desc})
		return
	case revoked:
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_grant", "Token has been expired or revoked."})
		return
	}
	token, ttl := s.mint()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token,
		"expires_in":   int64(ttl / time.Second),
		"scope":        analyticsScope,
		"token_type":   "Bearer",
	})
}

// mint issues a new access token valid for the token TTL.
func (s *Server) mint() (string, time.Duration) {
	now := s.now()
	s.mu.Lock()
	s.mintSeq++
	seq := s.mintSeq
	s.mu.Unlock()
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%d|%d", s.grants.RefreshToken(), seq, now.UnixNano()))
	token := "ya29.sandbox-" + hex.EncodeToString(sum[:12])
	s.grants.EditAccess(func(minted map[string]time.Time) {
		if len(minted) >= maxMinted {
			for t, exp := range minted {
				if !now.Before(exp) || len(minted) >= maxMinted {
					delete(minted, t)
				}
			}
		}
		minted[token] = now.Add(s.tokenTTL)
	})
	return token, s.tokenTTL
}

// Grant, HasRefreshToken and RevokeToken are the server's side of the sandbox Google OAuth
// server (package sandbox/google), which records a consent granting analyticsScope here.

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
