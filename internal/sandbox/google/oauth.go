// Package google is the sandbox Google OAuth server shared by the Google Ads and GA4
// sandboxes (channel-apis.md §6, /work/oauth-contract.md): the consent page of
// accounts.google.com and the authorization_code grant of oauth2.googleapis.com/token.
//
// Endpoints, relative to where the handler is mounted (the sandbox mounts it at /google):
//
//	GET|POST /o/oauth2/v2/auth?client_id&redirect_uri&response_type=code&scope&access_type=offline
//	         &prompt=consent&include_granted_scopes=true&state&code_challenge&code_challenge_method=S256
//	         consent page; approve -> redirect_uri?state&code&scope, deny -> redirect_uri?error=access_denied&state
//	POST     /token  grant_type=authorization_code (form): code, client_id, client_secret,
//	         redirect_uri, code_verifier -> {"access_token","expires_in":3599,"refresh_token",
//	         "scope","token_type":"Bearer"}; 400 {"error":"invalid_grant"} for a bad, used or
//	         expired code, a redirect_uri or a PKCE mismatch
//
// The sandbox client is ClientID / ClientSecret. The tokens of a consent are handed to the
// Audience of every granted scope (the Google Ads sandbox for adwords, the GA4 sandbox for
// analytics.readonly), which then accepts the access token on its API and the refresh token
// at the refresh_token grant; the sandbox's shared token endpoint routes a refresh to the
// audience that holds the refresh token. Revoking a refresh token is the audience's
// business (its RevokeToken and /_sandbox/oauth/revoke).
package google

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// The sandbox OAuth client.
const (
	ClientID     = "sandbox-google-client"
	ClientSecret = "sandbox-google-client-secret"
)

// Scopes of the sandbox audiences.
const (
	ScopeAdWords           = "https://www.googleapis.com/auth/adwords"
	ScopeAnalyticsReadOnly = "https://www.googleapis.com/auth/analytics.readonly"
)

// DefaultAccessTokenTTL is the lifetime of the access token of an exchange (expires_in).
const DefaultAccessTokenTTL = 3599 * time.Second

// Token shapes and error descriptions, as Google's.
const (
	codePrefix             = "4/0Asbx-"
	accessTokenPrefix      = "ya29.sandbox-"
	refreshTokenPrefix     = "1//0sbx-"
	msgMalformedCode       = "Malformed auth code."
	msgBadRequest          = "Bad Request"
	msgMissingCodeVerifier = "Missing code verifier."
	msgInvalidCodeVerifier = "Invalid code verifier."
)

// Audience is a Google API sandbox that accepts the tokens of a consent granting its scope.
type Audience interface {
	// Grant records the refresh token granted to clientID and the access token issued
	// with it, valid until expiry.
	Grant(clientID, refreshToken, accessToken string, expiry time.Time)
}

// Config configures a Server.
type Config struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Audiences are the API sandboxes by the scope they serve.
	Audiences map[string]Audience
	// Account is what the consent page says access is given to; default a demo Google
	// account.
	Account string
}

// Server is the sandbox Google OAuth server. It is safe for concurrent use.
type Server struct {
	now       func() time.Time
	audiences map[string]Audience
	account   string
	codes     *kit.CodeStore
}

// New builds a Server.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Account == "" {
		cfg.Account = "the Google account demo@omnitrackiq.example"
	}
	return &Server{now: cfg.Now, audiences: cfg.Audiences, account: cfg.Account, codes: kit.NewCodeStore(cfg.Now, codePrefix)}
}

// ServeHTTP serves the consent page and the authorization_code grant.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/o/oauth2/v2/auth", "/o/oauth2/auth":
		s.serveConsent(w, r)
	case "/token":
		s.serveToken(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveConsent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, scope := q.Get("redirect_uri"), strings.Join(strings.Fields(q.Get("scope")), " ")
	method := q.Get("code_challenge_method")
	switch {
	case q.Get("client_id") != ClientID:
		kit.ConsentError(w, http.StatusBadRequest, "Error 401: invalid_client. The OAuth client was not found; the sandbox client is "+ClientID)
		return
	case redirect == "":
		kit.ConsentError(w, http.StatusBadRequest, "Error 400: invalid_request. Missing required parameter: redirect_uri")
		return
	case q.Get("response_type") != "code":
		kit.ConsentError(w, http.StatusBadRequest, "Error 400: invalid_request. response_type must be code")
		return
	case scope == "":
		kit.ConsentError(w, http.StatusBadRequest, "Error 400: invalid_request. Missing required parameter: scope")
		return
	case q.Get("code_challenge") != "" && method != "" && method != "S256" && method != "plain":
		kit.ConsentError(w, http.StatusBadRequest, "Error 400: invalid_request. Invalid code_challenge_method: "+method)
		return
	}
	if _, err := kit.ParseRedirectURI(redirect); err != nil {
		kit.ConsentError(w, http.StatusBadRequest, "Error 400: redirect_uri_mismatch. "+err.Error())
		return
	}
	c := kit.Consent{Provider: "Google", App: ClientID, Account: s.account, Scope: scope}
	kit.ServeConsent(w, r, c, redirect, func(approve bool) (url.Values, error) {
		if !approve {
			return url.Values{"error": {"access_denied"}, "state": {q.Get("state")}}, nil
		}
		code := s.codes.Issue(kit.Grant{ClientID: ClientID, RedirectURI: redirect, Scope: scope,
			Challenge: q.Get("code_challenge"), ChallengeMethod: method})
		return url.Values{"state": {q.Get("state")}, "code": {code}, "scope": {scope}}, nil
	})
}

// serveToken is the authorization_code grant of Google's token endpoint.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, desc string) {
		kit.WriteJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		fail(http.StatusMethodNotAllowed, "invalid_request", "The token endpoint accepts POST only.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, kit.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "invalid_request", "Could not parse the form body.")
		return
	}
	f := r.PostForm
	switch {
	case f.Get("client_id") == "":
		fail(http.StatusBadRequest, "invalid_request", "Could not determine client ID from request.")
		return
	case f.Get("client_id") != ClientID:
		fail(http.StatusUnauthorized, "invalid_client", "The OAuth client was not found.")
		return
	case f.Get("client_secret") != ClientSecret:
		fail(http.StatusUnauthorized, "invalid_client", "Unauthorized")
		return
	case f.Get("grant_type") != "authorization_code":
		fail(http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+f.Get("grant_type"))
		return
	case f.Get("code") == "":
		fail(http.StatusBadRequest, "invalid_request", "Missing required parameter: code")
		return
	}
	code := f.Get("code")
	g, err := s.codes.Redeem(code, ClientID, f.Get("redirect_uri"), f.Get("code_verifier"))
	switch {
	case err == nil:
	case err == kit.ErrPKCEMismatch && f.Get("code_verifier") == "":
		fail(http.StatusBadRequest, "invalid_grant", msgMissingCodeVerifier)
		return
	case err == kit.ErrPKCEMismatch:
		fail(http.StatusBadRequest, "invalid_grant", msgInvalidCodeVerifier)
		return
	case err == kit.ErrUnknownCode && !strings.HasPrefix(code, codePrefix):
		fail(http.StatusBadRequest, "invalid_grant", msgMalformedCode)
		return
	default:
		fail(http.StatusBadRequest, "invalid_grant", msgBadRequest)
		return
	}
	access := kit.RandomToken(accessTokenPrefix, 24)
	refresh := kit.RandomToken(refreshTokenPrefix, 24)
	expiry := s.now().Add(DefaultAccessTokenTTL)
	for _, sc := range strings.Fields(g.Scope) {
		if a, ok := s.audiences[sc]; ok {
			a.Grant(ClientID, refresh, access, expiry)
		}
	}
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	kit.WriteJSON(w, http.StatusOK, map[string]any{
		"access_token": access, "expires_in": int64(DefaultAccessTokenTTL / time.Second),
		"refresh_token": refresh, "scope": g.Scope, "token_type": "Bearer",
	})
}
