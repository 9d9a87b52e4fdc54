package kit

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestCodeStoreRedeem(t *testing.T) {
	sum := sha256.Sum256([]byte("verifier"))
	s256 := base64.RawURLEncoding.EncodeToString(sum[:])
	for _, tc := range []struct {
		name                       string
		grant                      Grant
		client, redirect, verifier string
		advance                    time.Duration
		want                       error
		reuse                      bool
	}{
		{name: "ok", grant: Grant{ClientID: "c", RedirectURI: "https://x/cb"}, client: "c", redirect: "https://x/cb"},
		{name: "reused", grant: Grant{ClientID: "c", RedirectURI: "https://x/cb"}, client: "c", redirect: "https://x/cb", reuse: true, want: ErrUnknownCode},
		{name: "expired", grant: Grant{ClientID: "c", RedirectURI: "https://x/cb"}, client: "c", redirect: "https://x/cb", advance: CodeTTL, want: ErrUnknownCode},
		{name: "just in time", grant: Grant{ClientID: "c", RedirectURI: "https://x/cb"}, client: "c", redirect: "https://x/cb", advance: CodeTTL - time.Second},
		{name: "other client", grant: Grant{ClientID: "c", RedirectURI: "https://x/cb"}, client: "d", redirect: "https://x/cb", want: ErrClientMismatch},
		{name: "other redirect", grant: Grant{ClientID: "c", RedirectURI: "https://x/cb"}, client: "c", redirect: "https://x/cb2", want: ErrRedirectMismatch},
		{name: "pkce S256", grant: Grant{ClientID: "c", RedirectURI: "r", Challenge: s256, ChallengeMethod: "S256"}, client: "c", redirect: "r", verifier: "verifier"},
		{name: "pkce S256 wrong", grant: Grant{ClientID: "c", RedirectURI: "r", Challenge: s256, ChallengeMethod: "S256"}, client: "c", redirect: "r", verifier: "other", want: ErrPKCEMismatch},
		{name: "pkce missing verifier", grant: Grant{ClientID: "c", RedirectURI: "r", Challenge: s256, ChallengeMethod: "S256"}, client: "c", redirect: "r", want: ErrPKCEMismatch},
		{name: "pkce plain", grant: Grant{ClientID: "c", RedirectURI: "r", Challenge: "verifier"}, client: "c", redirect: "r", verifier: "verifier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)}
			s := NewCodeStore(c.now, "code-")
			code := s.Issue(tc.grant)
			if !strings.HasPrefix(code, "code-") {
				t.Fatalf("code %q", code)
			}
			if tc.reuse {
				if _, err := s.Redeem(code, tc.client, tc.redirect, tc.verifier); err != nil {
					t.Fatal(err)
				}
			}
			c.t = c.t.Add(tc.advance)
			g, err := s.Redeem(code, tc.client, tc.redirect, tc.verifier)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if err == nil && g.ClientID != tc.grant.ClientID {
				t.Errorf("grant %+v", g)
			}
		})
	}
}

func TestCodeStoreMismatchKeepsCode(t *testing.T) {
	c := &clock{t: time.Now()}
	s := NewCodeStore(c.now, "")
	code := s.Issue(Grant{ClientID: "c", RedirectURI: "r"})
	if _, err := s.Redeem(code, "c", "wrong", ""); !errors.Is(err, ErrRedirectMismatch) {
		t.Fatal(err)
	}
	if _, err := s.Redeem(code, "c", "r", ""); err != nil {
		t.Fatalf("after a mismatch: %v", err)
	}
}

func TestCodeStoreRedeemWithoutRedirect(t *testing.T) {
	s := NewCodeStore(time.Now, "")
	code := s.Issue(Grant{ClientID: "c", RedirectURI: "r"})
	if _, err := s.RedeemWithoutRedirect(code, "d"); !errors.Is(err, ErrClientMismatch) {
		t.Fatalf("other client: %v", err)
	}
	if _, err := s.RedeemWithoutRedirect(code, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemWithoutRedirect(code, "c"); !errors.Is(err, ErrUnknownCode) {
		t.Fatalf("reuse: %v", err)
	}
}

func TestTokenStore(t *testing.T) {
	c := &clock{t: time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)}
	s := NewTokenStore(c.now)
	acc := s.Mint("at-", AccessToken, "c", "read", time.Hour)
	forever := s.Mint("rt-", RefreshToken, "c", "read", 0)
	if _, st := s.Check(acc.Value); st != TokenValid || !s.Valid(acc.Value, AccessToken) || s.Valid(acc.Value, RefreshToken) {
		t.Fatalf("fresh access token: %v", st)
	}
	if _, st := s.Check("nope"); st != TokenUnknown {
		t.Fatalf("unknown token: %v", st)
	}
	c.t = c.t.Add(time.Hour)
	if _, st := s.Check(acc.Value); st != TokenExpired {
		t.Fatalf("after an hour: %v", st)
	}
	if !s.Valid(forever.Value, RefreshToken) {
		t.Fatal("a token without expiry expired")
	}
	if !s.Revoke(forever.Value) || s.Revoke("nope") {
		t.Fatal("Revoke")
	}
	if _, st := s.Check(forever.Value); st != TokenRevoked {
		t.Fatalf("revoked: %v", st)
	}
	rt := s.Mint("rt-", RefreshToken, "c", "read", 0)
	if _, ok := s.Consume(rt.Value, AccessToken); ok {
		t.Fatal("consumed a refresh token as an access token")
	}
	if _, ok := s.Consume(rt.Value, RefreshToken); !ok {
		t.Fatal("Consume")
	}
	if _, ok := s.Consume(rt.Value, RefreshToken); ok {
		t.Fatal("consumed twice")
	}
	if n := s.ExpireAll(""); n != 0 {
		t.Fatalf("ExpireAll expired %d already expired or revoked-only tokens", n)
	}
}

func TestTokenStoreAdmin(t *testing.T) {
	s := NewTokenStore(time.Now)
	a := s.Mint("a-", AccessToken, "c", "", time.Hour)
	s.Mint("r-", RefreshToken, "c", "", 0)
	do := func(method, path, body string) (int, string) {
		w := httptest.NewRecorder()
		s.ServeAdmin(w, httptest.NewRequest(method, path, strings.NewReader(body)))
		return w.Code, strings.TrimSpace(w.Body.String())
	}
	for _, tc := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"POST", "/_sandbox/oauth/expire", `{"kind":"access"}`, 200, `{"expired":1}`},
		{"POST", "/_sandbox/oauth/revoke", `{"token":"` + a.Value + `"}`, 200, `{"revoked":1}`},
		{"POST", "/_sandbox/oauth/revoke", `{"token":"nope"}`, 404, `{"error":"oauth: unknown token"}`},
		{"POST", "/_sandbox/oauth/revoke", `{"kind":"refresh"}`, 200, `{"revoked":1}`},
		{"POST", "/_sandbox/oauth/revoke", `{"kind":"bogus"}`, 400, `{"error":"oauth: kind \"bogus\" is not access or refresh"}`},
		{"GET", "/_sandbox/oauth/nope", ``, 404, `{"error":"unknown sandbox admin endpoint GET /_sandbox/oauth/nope"}`},
	} {
		if code, got := do(tc.method, tc.path, tc.body); code != tc.code || got != tc.want {
			t.Errorf("%s %s %s = %d %s, want %d %s", tc.method, tc.path, tc.body, code, got, tc.code, tc.want)
		}
	}
	if code, got := do("GET", "/_sandbox/oauth/tokens", ""); code != 200 || strings.Count(got, `"revoked":true`) != 2 {
		t.Errorf("tokens: %d %s", code, got)
	}
}

func TestServeConsent(t *testing.T) {
	decide := func(approve bool) (url.Values, error) {
		if approve {
			return url.Values{"code": {"c1"}, "state": {"s"}}, nil
		}
		return url.Values{"error": {"access_denied"}, "state": {"s"}}, nil
	}
	c := Consent{Provider: "Meta", App: "<app>", Account: "act_1", Scope: "ads_read"}
	for _, tc := range []struct {
		method, body string
		redirect     string
		code         int
		want         string // Location, or a body substring
	}{
		{"GET", "", "https://app/cb?x=1", 200, `&lt;app&gt; wants to access act_1`},
		{"POST", "decision=approve", "https://app/cb?x=1", 303, "https://app/cb?code=c1&state=s&x=1"},
		{"POST", "decision=deny", "https://app/cb", 303, "https://app/cb?error=access_denied&state=s"},
		{"POST", "decision=maybe", "https://app/cb", 400, `decision &#34;maybe&#34; is not approve or deny`},
		{"POST", "decision=approve", "/relative", 400, `is not an absolute http(s) URL`},
		{"PUT", "", "https://app/cb", 405, "PUT is not GET or POST"},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(tc.method, "/dialog?client_id=x", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		ServeConsent(w, r, c, tc.redirect, decide)
		got := w.Body.String()
		if tc.code == http.StatusSeeOther {
			got = w.Header().Get("Location")
		}
		if w.Code != tc.code || !strings.Contains(got, tc.want) {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.body, w.Code, got, tc.code, tc.want)
		}
	}
}
