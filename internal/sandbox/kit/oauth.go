package kit

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// The OAuth machinery every sandbox provider shares: authorization codes, minted tokens and
// the consent page. Each provider keeps only its wire format (parameter names, callback
// parameters, error bodies) and maps the errors below onto it.

// CodeTTL is how long an authorization code lives, as the providers' codes do (Google and
// Meta document 10 minutes; TikTok and Shopify are shorter or undocumented).
const CodeTTL = 10 * time.Minute

// maxOAuthEntries bounds the codes and tokens a sandbox keeps, so that a long-running dev
// stack does not grow without end; expired entries go first.
const maxOAuthEntries = 10_000

// Errors of a code redemption or token check. Providers translate them into their own error
// bodies.
var (
	// ErrUnknownCode: the code was never issued, was already used, or expired.
	ErrUnknownCode = errors.New("authorization code not found, used or expired")
	// ErrClientMismatch: the code was issued to another client.
	ErrClientMismatch = errors.New("authorization code was issued to another client")
	// ErrRedirectMismatch: redirect_uri differs from the one given at consent.
	ErrRedirectMismatch = errors.New("redirect_uri does not match the one of the authorization request")
	// ErrPKCEMismatch: the code_verifier does not match the code_challenge, or is missing.
	ErrPKCEMismatch = errors.New("code_verifier does not match the code_challenge")
)

// Grant is what a user approved on a consent page, kept with its code until the exchange.
type Grant struct {
	ClientID    string
	RedirectURI string
	// Scope is as the provider writes it (space- or comma-separated).
	Scope string
	// Challenge and ChallengeMethod ("S256" or "plain") are the PKCE parameters, if any.
	Challenge       string
	ChallengeMethod string
	expires         time.Time
}

// CodeStore keeps the authorization codes of one provider: single-use, expiring after
// CodeTTL on the sandbox clock, bound to the client, redirect URI and PKCE challenge of the
// consent. It is safe for concurrent use.
type CodeStore struct {
	now    func() time.Time
	prefix string
	mu     sync.Mutex
	codes  map[string]Grant
}

// NewCodeStore returns an empty store whose codes start with prefix (providers' codes have
// recognisable shapes, e.g. Google's "4/0A...").
func NewCodeStore(now func() time.Time, prefix string) *CodeStore {
	return &CodeStore{now: now, prefix: prefix, codes: map[string]Grant{}}
}

// Issue records an approved grant and returns its new code.
func (s *CodeStore) Issue(g Grant) string {
	code := RandomToken(s.prefix, 24)
	now := s.now()
	g.expires = now.Add(CodeTTL)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.codes) >= maxOAuthEntries {
		for c, old := range s.codes {
			if !now.Before(old.expires) || len(s.codes) >= maxOAuthEntries {
				delete(s.codes, c)
			}
		}
	}
	s.codes[code] = g
	return code
}

// Redeem consumes code for clientID at redirectURI with the PKCE verifier (empty when the
// client sends none). A code is consumed by its first successful redemption; a request
// rejected for a client, redirect or PKCE mismatch leaves it in place, so that the test of
// one mismatch does not hide another. An expired code is forgotten.
func (s *CodeStore) Redeem(code, clientID, redirectURI, verifier string) (Grant, error) {
	return s.redeem(code, clientID, &redirectURI, verifier)
}

// RedeemWithoutRedirect is Redeem for providers whose exchange carries no redirect_uri
// (TikTok, Shopify): the code is bound to the client only.
func (s *CodeStore) RedeemWithoutRedirect(code, clientID string) (Grant, error) {
	return s.redeem(code, clientID, nil, "")
}

func (s *CodeStore) redeem(code, clientID string, redirectURI *string, verifier string) (Grant, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.codes[code]
	switch {
	case !ok || code == "":
		return Grant{}, ErrUnknownCode
	case !now.Before(g.expires):
		delete(s.codes, code)
		return Grant{}, ErrUnknownCode
	case g.ClientID != clientID:
		return Grant{}, ErrClientMismatch
	case redirectURI != nil && g.RedirectURI != *redirectURI:
		return Grant{}, ErrRedirectMismatch
	case !PKCEMatches(g.Challenge, g.ChallengeMethod, verifier):
		return Grant{}, ErrPKCEMismatch
	}
	delete(s.codes, code)
	return g, nil
}

// PKCEMatches checks a code_verifier against the challenge of the authorization request
// (RFC 7636): S256 is BASE64URL(SHA256(verifier)) without padding, plain (the default
// method) the verifier itself. Without a challenge there is nothing to check.
func PKCEMatches(challenge, method, verifier string) bool {
	if challenge == "" {
		return true
	}
	if verifier == "" {
		return false
	}
	want := verifier
	if strings.EqualFold(method, "S256") {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// RandomToken is prefix followed by n random bytes, base64url-encoded: codes and tokens
// must be unguessable and unique, unlike the deterministic demo data.
func RandomToken(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// RandomHex is n random bytes in hex, for ids such as request ids and trace ids.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ---- minted tokens ----

// Token kinds.
const (
	AccessToken  = "access"
	RefreshToken = "refresh"
)

// Token is a token minted by a sandbox's OAuth flow.
type Token struct {
	Value    string `json:"token"`
	Kind     string `json:"kind"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope,omitempty"`
	// Expires is zero for a token that does not expire.
	Expires time.Time `json:"expires,omitzero"`
	Revoked bool      `json:"revoked,omitempty"`
}

// TokenState is the outcome of a token check.
type TokenState int

// Token states.
const (
	TokenUnknown TokenState = iota
	TokenValid
	TokenExpired
	TokenRevoked
)

// TokenStore keeps the tokens one provider minted. Expiry follows the sandbox clock, so a
// test moves the clock to expire a token. It is safe for concurrent use.
type TokenStore struct {
	now    func() time.Time
	mu     sync.Mutex
	tokens map[string]*Token
}

// NewTokenStore returns an empty store on the clock now.
func NewTokenStore(now func() time.Time) *TokenStore {
	return &TokenStore{now: now, tokens: map[string]*Token{}}
}

// Mint creates a token of kind for clientID and scope, valid for ttl (0: no expiry), whose
// value starts with prefix.
func (s *TokenStore) Mint(prefix, kind, clientID, scope string, ttl time.Duration) Token {
	t := Token{Value: RandomToken(prefix, 24), Kind: kind, ClientID: clientID, Scope: scope}
	if ttl > 0 {
		t.Expires = s.now().Add(ttl)
	}
	s.Add(t)
	return t
}

// Add records a token minted elsewhere (a Google token another sandbox must accept too).
func (s *TokenStore) Add(t Token) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tokens) >= maxOAuthEntries {
		for v, old := range s.tokens {
			if !old.Expires.IsZero() && !now.Before(old.Expires) || len(s.tokens) >= maxOAuthEntries {
				delete(s.tokens, v)
			}
		}
	}
	s.tokens[t.Value] = &t
}

// Check returns a token and its state.
func (s *TokenStore) Check(value string) (Token, TokenState) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[value]
	switch {
	case !ok || value == "":
		return Token{}, TokenUnknown
	case t.Revoked:
		return *t, TokenRevoked
	case !t.Expires.IsZero() && !now.Before(t.Expires):
		return *t, TokenExpired
	}
	return *t, TokenValid
}

// Valid reports whether value is a valid token of kind.
func (s *TokenStore) Valid(value, kind string) bool {
	t, st := s.Check(value)
	return st == TokenValid && t.Kind == kind
}

// Revoke revokes one token; it reports whether the token exists.
func (s *TokenStore) Revoke(value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[value]
	if ok {
		t.Revoked = true
	}
	return ok
}

// RevokeAll revokes every token of kind ("" for every kind) and returns how many it revoked.
func (s *TokenStore) RevokeAll(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.tokens {
		if (kind == "" || t.Kind == kind) && !t.Revoked {
			t.Revoked = true
			n++
		}
	}
	return n
}

// ExpireAll makes every live (unexpired, unrevoked) token of kind ("" for every kind) expire now, as if the
// clock had passed its expiry, and returns how many it expired.
func (s *TokenStore) ExpireAll(kind string) int {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.tokens {
		if (kind == "" || t.Kind == kind) && !t.Revoked && (t.Expires.IsZero() || now.Before(t.Expires)) {
			t.Expires = now
			n++
		}
	}
	return n
}

// Consume removes a token, for refresh tokens that rotate on use: the old one is then
// unknown. It reports whether the token was valid.
func (s *TokenStore) Consume(value, kind string) (Token, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[value]
	if !ok || t.Kind != kind || t.Revoked || !t.Expires.IsZero() && !now.Before(t.Expires) {
		return Token{}, false
	}
	delete(s.tokens, value)
	return *t, true
}

// All lists the tokens, sorted by value; never nil.
func (s *TokenStore) All() []Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Token, 0, len(s.tokens))
	for _, t := range s.tokens {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out
}

// ServeAdmin serves a sandbox's OAuth admin endpoints, relative to /_sandbox/oauth:
//
//	GET  /_sandbox/oauth/tokens   every minted token
//	POST /_sandbox/oauth/revoke   {"token":"..."} revokes one token, {"kind":"refresh"|"access"}
//	                              or {} every token of the kind -> {"revoked":N}
//	POST /_sandbox/oauth/expire   {"kind":...} expires every token of the kind now -> {"expired":N}
//
// A revoked token fails as the provider fails a revoked grant (Google invalid_grant, Meta
// 190, Shopify 401 or a rejected refresh, TikTok 40105).
func (s *TokenStore) ServeAdmin(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + strings.TrimSuffix(r.URL.Path, "/")
	switch route {
	case "GET /_sandbox/oauth/tokens":
		WriteJSON(w, http.StatusOK, s.All())
	case "POST /_sandbox/oauth/revoke", "POST /_sandbox/oauth/expire":
		var body struct {
			Token string `json:"token"`
			Kind  string `json:"kind"`
		}
		if err := DecodeStrict(r.Body, &body); err != nil {
			WriteError(w, http.StatusBadRequest, "oauth: "+err.Error())
			return
		}
		if body.Kind != "" && body.Kind != AccessToken && body.Kind != RefreshToken {
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("oauth: kind %q is not access or refresh", body.Kind))
			return
		}
		if strings.HasSuffix(route, "/expire") {
			WriteJSON(w, http.StatusOK, map[string]int{"expired": s.ExpireAll(body.Kind)})
			return
		}
		n := 0
		if body.Token != "" {
			if !s.Revoke(body.Token) {
				WriteError(w, http.StatusNotFound, "oauth: unknown token")
				return
			}
			n = 1
		} else {
			n = s.RevokeAll(body.Kind)
		}
		WriteJSON(w, http.StatusOK, map[string]int{"revoked": n})
	default:
		WriteError(w, http.StatusNotFound, "unknown sandbox admin endpoint "+route)
	}
}

// IsOAuthAdmin reports whether an admin path belongs to ServeAdmin.
func IsOAuthAdmin(path string) bool { return strings.HasPrefix(path, "/_sandbox/oauth/") }

// ---- consent page ----

// Consent describes a consent page.
type Consent struct {
	// Provider and App name who asks ("Meta", "sandbox-meta-app").
	Provider, App string
	// Account is what the app gets access to ("ad account act_123").
	Account string
	// Scope is shown as asked.
	Scope string
}

// Decide answers an approval or a denial with the parameters of the redirect to the
// callback; an error answers a 400 page instead.
type Decide func(approve bool) (url.Values, error)

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Provider}} (sandbox): authorize {{.App}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}
button{font-size:1rem;padding:.5rem 1.5rem;margin-right:.5rem}</style></head>
<body><p><small>{{.Provider}} OAuth sandbox</small></p>
<h1>{{.App}} wants to access {{.Account}}</h1>
{{if .Scope}}<p>Permissions: <code>{{.Scope}}</code></p>{{end}}
<form method="post">
<button type="submit" name="decision" value="approve" autofocus>Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></body></html>
`))

// ServeConsent serves a consent URL whose parameters the provider has already validated:
// GET shows the page with Approve and Deny buttons, whose form POSTs to the same URL (query
// included, as a form without action does), and a POST with decision=approve or deny
// answers 303 See Other to redirectURI with the parameters decide returns. Tests POST the
// decision without a browser.
func ServeConsent(w http.ResponseWriter, r *http.Request, c Consent, redirectURI string, decide Decide) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = consentPage.Execute(w, c)
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		if err := r.ParseForm(); err != nil {
			ConsentError(w, http.StatusBadRequest, "could not parse the form: "+err.Error())
			return
		}
		var approve bool
		switch d := r.PostForm.Get("decision"); d {
		case "approve":
			approve = true
		case "deny":
		default:
			ConsentError(w, http.StatusBadRequest, fmt.Sprintf("decision %q is not approve or deny", d))
			return
		}
		params, err := decide(approve)
		if err != nil {
			ConsentError(w, http.StatusBadRequest, err.Error())
			return
		}
		loc, err := CallbackURL(redirectURI, params)
		if err != nil {
			ConsentError(w, http.StatusBadRequest, err.Error())
			return
		}
		http.Redirect(w, r, loc, http.StatusSeeOther)
	default:
		w.Header().Set("Allow", "GET, POST")
		ConsentError(w, http.StatusMethodNotAllowed, r.Method+" is not GET or POST")
	}
}

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>OAuth sandbox error</title></head>
<body><h1>Error {{.Status}}</h1><p>{{.Message}}</p></body></html>
`))

// ConsentError answers a consent request the sandbox cannot redirect (unknown client, no
// redirect_uri) with a small HTML page, as providers do rather than redirect to an
// unverified URI.
func ConsentError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = errorPage.Execute(w, struct {
		Status  int
		Message string
	}{status, msg})
}

// CallbackURL adds params to the query of redirectURI, which must be an absolute http(s)
// URL.
func CallbackURL(redirectURI string, params url.Values) (string, error) {
	u, err := ParseRedirectURI(redirectURI)
	if err != nil {
		return "", err
	}
	q := u.Query()
	for k, vs := range params {
		q.Del(k)
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// ParseRedirectURI checks that a redirect_uri is an absolute http(s) URL without fragment.
func ParseRedirectURI(redirectURI string) (*url.URL, error) {
	u, err := url.Parse(redirectURI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return nil, fmt.Errorf("redirect_uri %q is not an absolute http(s) URL without fragment", redirectURI)
	}
	return u, nil
}
