package google_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/google"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit/kittest"
)

// audience records the grants it is handed.
type audience struct {
	mu     sync.Mutex
	grants []string // refresh tokens
}

func (a *audience) Grant(clientID, refresh, access string, expiry time.Time) {
	a.mu.Lock()
	a.grants = append(a.grants, refresh)
	a.mu.Unlock()
}

type env struct {
	srv      *httptest.Server
	ads, ga4 *audience
	mu       sync.Mutex
	now      time.Time
}

func newEnv(t *testing.T) *env {
	e := &env{ads: &audience{}, ga4: &audience{}, now: time.Date(2025, 3, 15, 3, 0, 0, 0, time.UTC)}
	s := google.New(google.Config{Now: func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now },
		Audiences: map[string]google.Audience{google.ScopeAdWords: e.ads, google.ScopeAnalyticsReadOnly: e.ga4}})
	e.srv = httptest.NewServer(http.StripPrefix("/google", s))
	t.Cleanup(e.srv.Close)
	return e
}

const cb = "http://localhost:8080/oauth/google/callback"

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (e *env) authURL(scope string) string {
	return e.srv.URL + "/google/o/oauth2/v2/auth?" + url.Values{
		"client_id": {google.ClientID}, "redirect_uri": {cb}, "response_type": {"code"}, "scope": {scope},
		"access_type": {"offline"}, "prompt": {"consent"}, "include_granted_scopes": {"true"}, "state": {"st-1"},
		"code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"},
	}.Encode()
}

func (e *env) token(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(e.srv.URL+"/google/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, m
}

func TestAuthorizationCodeGrant(t *testing.T) {
	for _, tc := range []struct {
		name              string
		scope             string
		mod               func(url.Values)
		reuse             bool
		advance           time.Duration
		status            int
		wantErr, wantDesc string
		wantAds, wantGA4  int
	}{
		{name: "ads", scope: google.ScopeAdWords, status: 200, wantAds: 1},
		{name: "ga4", scope: google.ScopeAnalyticsReadOnly, status: 200, wantGA4: 1},
		{name: "both", scope: google.ScopeAdWords + " " + google.ScopeAnalyticsReadOnly, status: 200, wantAds: 1, wantGA4: 1},
		{name: "reused code", scope: google.ScopeAdWords, reuse: true, status: 400, wantErr: "invalid_grant", wantDesc: "Bad Request", wantAds: 1},
		{name: "expired code", scope: google.ScopeAdWords, advance: 10 * time.Minute, status: 400, wantErr: "invalid_grant", wantDesc: "Bad Request"},
		{name: "malformed code", scope: google.ScopeAdWords, mod: func(f url.Values) { f.Set("code", "garbage") }, status: 400, wantErr: "invalid_grant", wantDesc: "Malformed auth code."},
		{name: "wrong redirect_uri", scope: google.ScopeAdWords, mod: func(f url.Values) { f.Set("redirect_uri", cb+"x") }, status: 400, wantErr: "invalid_grant"},
		{name: "PKCE mismatch", scope: google.ScopeAdWords, mod: func(f url.Values) { f.Set("code_verifier", verifier+"x") }, status: 400, wantErr: "invalid_grant", wantDesc: "Invalid code verifier."},
		{name: "PKCE verifier missing", scope: google.ScopeAdWords, mod: func(f url.Values) { f.Del("code_verifier") }, status: 400, wantErr: "invalid_grant", wantDesc: "Missing code verifier."},
		{name: "wrong secret", scope: google.ScopeAdWords, mod: func(f url.Values) { f.Set("client_secret", "nope") }, status: 401, wantErr: "invalid_client"},
		{name: "wrong client", scope: google.ScopeAdWords, mod: func(f url.Values) { f.Set("client_id", "nope") }, status: 401, wantErr: "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			resp, err := http.Get(e.authURL(tc.scope))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("consent page: %d", resp.StatusCode)
			}
			loc := kittest.Consent(t, e.authURL(tc.scope), "approve")
			q := loc.Query()
			if q.Get("state") != "st-1" || !strings.HasPrefix(q.Get("code"), "4/0") || q.Get("scope") != tc.scope {
				t.Fatalf("callback %s", loc)
			}
			form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "client_id": {google.ClientID},
				"client_secret": {google.ClientSecret}, "redirect_uri": {cb}, "code_verifier": {verifier}}
			if tc.reuse {
				if st, m := e.token(t, form); st != 200 {
					t.Fatalf("first exchange: %d %v", st, m)
				}
			}
			if tc.mod != nil {
				tc.mod(form)
			}
			e.mu.Lock()
			e.now = e.now.Add(tc.advance)
			e.mu.Unlock()
			st, m := e.token(t, form)
			if st != tc.status || m["error"] != nilIfEmpty(tc.wantErr) || tc.wantDesc != "" && m["error_description"] != tc.wantDesc {
				t.Errorf("exchange: %d %v, want %d %s %s", st, m, tc.status, tc.wantErr, tc.wantDesc)
			}
			if st == 200 {
				if !strings.HasPrefix(m["access_token"].(string), "ya29.") || !strings.HasPrefix(m["refresh_token"].(string), "1//") ||
					m["expires_in"] != 3599.0 || m["token_type"] != "Bearer" || m["scope"] != tc.scope {
					t.Errorf("token answer %v", m)
				}
			}
			if len(e.ads.grants) != tc.wantAds || len(e.ga4.grants) != tc.wantGA4 {
				t.Errorf("grants: ads %d, ga4 %d", len(e.ads.grants), len(e.ga4.grants))
			}
		})
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestConsent(t *testing.T) {
	e := newEnv(t)
	loc := kittest.Consent(t, e.authURL(google.ScopeAdWords), "deny")
	if q := loc.Query(); q.Get("error") != "access_denied" || q.Get("state") != "st-1" || q.Has("code") {
		t.Errorf("denial callback %s", loc)
	}
	for name, u := range map[string]string{
		"unknown client": strings.Replace(e.authURL(google.ScopeAdWords), google.ClientID, "other", 1),
		"no redirect":    strings.Replace(e.authURL(google.ScopeAdWords), "redirect_uri=", "x=", 1),
		"no scope":       e.authURL(""),
		"bad method":     strings.Replace(e.authURL(google.ScopeAdWords), "S256", "S512", 1),
	} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
}
