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
	switch code, desc := s.checkRefreshToken(f.Get("refresh_token"), f.Get("client_id")); {
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
	defer s.mu.Unlock()
	s.mintSeq++
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%d|%d", s.refreshToken, s.mintSeq, now.UnixNano()))
	tok := fmt.Sprintf("ya29.sandbox-%d-%s", s.mintSeq, hex.EncodeToString(sum[:12]))
	for t, exp := range s.minted {
		if now.Sub(exp) > time.Hour {
			delete(s.minted, t)
		}
	}
	s.minted[tok] = now.Add(s.ttl)
	return tok
}

// ExpireAccessTokens makes every minted access token expired now, as if the clock had
// passed their expiry: the next API call with one answers 401 and a client must refresh.
func (s *Server) ExpireAccessTokens() int {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.minted {
		s.minted[t] = now
	}
	return len(s.minted)
}

func tokenJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
