package sandbox_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/ga4"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/googleads"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit/kittest"
)

type env struct {
	sb  *sandbox.Server
	srv *httptest.Server
	mu  sync.Mutex
	now time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{now: time.Date(2025, 3, 15, 3, 0, 0, 0, time.UTC)}
	e.sb = sandbox.New(sandbox.Config{Now: func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }})
	e.srv = httptest.NewServer(e.sb)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) advance(d time.Duration) { e.mu.Lock(); e.now = e.now.Add(d); e.mu.Unlock() }

// do sends a request and decodes a JSON answer into a map.
func (e *env) do(t *testing.T, method, path, ctype, body string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

func (e *env) token(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	return e.do(t, "POST", sandbox.GoogleTokenPath, "application/x-www-form-urlencoded", form.Encode(), nil)
}

const cb = "http://localhost:8080/oauth/google/callback"

// connect walks the Google consent for scope, with PKCE, and exchanges the code.
func (e *env) connect(t *testing.T, scope string) (access, refresh string) {
	t.Helper()
	verifier := "verifier-" + strings.Repeat("x", 40)
	sum := sha256.Sum256([]byte(verifier))
	authURL := e.srv.URL + sandbox.GoogleAuthPath + "?" + url.Values{
		"client_id": {sandbox.GoogleClientID}, "redirect_uri": {cb}, "response_type": {"code"}, "scope": {scope},
		"access_type": {"offline"}, "prompt": {"consent"}, "include_granted_scopes": {"true"}, "state": {"s"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}.Encode()
	resp, err := http.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("consent page: %d", resp.StatusCode)
	}
	q := kittest.Consent(t, authURL, "approve").Query()
	st, m := e.token(t, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "client_id": {sandbox.GoogleClientID},
		"client_secret": {sandbox.GoogleClientSecret}, "redirect_uri": {cb}, "code_verifier": {verifier}})
	if st != 200 || m["refresh_token"] == nil || m["scope"] != scope {
		t.Fatalf("exchange: %d %v", st, m)
	}
	return m["access_token"].(string), m["refresh_token"].(string)
}

func (e *env) refresh(t *testing.T, rt string) (int, map[string]any) {
	t.Helper()
	return e.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt},
		"client_id": {sandbox.GoogleClientID}, "client_secret": {sandbox.GoogleClientSecret}})
}

func adsHeaders(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok, "developer-token": googleads.DefaultDeveloperToken}
}

func ga4Headers(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

const (
	customerQuery = `{"query":"SELECT customer.id, customer.descriptive_name, customer.currency_code, customer.time_zone FROM customer"}`
	ga4Report     = `{"dateRanges":[{"startDate":"2025-03-01","endDate":"2025-03-02"}],"metrics":[{"name":"sessions"}]}`
)

// TestGoogleOAuth: for each audience, consent, exchange, account listing, a data API call
// with the minted token, a refresh at the shared token endpoint (answered without a
// refresh_token by the sandbox of the granted scope), and invalid_grant once revoked.
func TestGoogleOAuth(t *testing.T) {
	for _, tc := range []struct {
		name    string
		scope   string
		list    func(e *env, tok string) (int, map[string]any)
		data    func(e *env, tok string) (int, map[string]any)
		listOK  func(m map[string]any) bool
		revoke  func(e *env, rt string) bool
		wrongAP func(e *env, tok string) int // the other API's status with the token
	}{
		{
			name:  "google ads",
			scope: "https://www.googleapis.com/auth/adwords",
			list: func(e *env, tok string) (int, map[string]any) {
				return e.do(t, "GET", "/googleads/v23/customers:listAccessibleCustomers", "", "", adsHeaders(tok))
			},
			listOK: func(m map[string]any) bool {
				rn, _ := m["resourceNames"].([]any)
				return len(rn) == 1 && rn[0] == "customers/"+googleads.DemoCustomerID
			},
			data: func(e *env, tok string) (int, map[string]any) {
				return e.do(t, "POST", "/googleads/v23/customers/"+googleads.DemoCustomerID+"/googleAds:search", "application/json", customerQuery, adsHeaders(tok))
			},
			revoke: func(e *env, rt string) bool { return e.sb.GoogleAds.RevokeToken(rt) },
			wrongAP: func(e *env, tok string) int {
				st, _ := e.do(t, "POST", "/ga4/v1beta/properties/"+ga4.DemoPropertyID+":runReport", "application/json", ga4Report, ga4Headers(tok))
				return st
			},
		},
		{
			name:  "ga4",
			scope: "https://www.googleapis.com/auth/analytics.readonly",
			list: func(e *env, tok string) (int, map[string]any) {
				return e.do(t, "GET", "/ga4admin/v1beta/accountSummaries", "", "", ga4Headers(tok))
			},
			listOK: func(m map[string]any) bool {
				as, _ := m["accountSummaries"].([]any)
				if len(as) != 1 || m["nextPageToken"] != "" {
					return false
				}
				a := as[0].(map[string]any)
				ps, _ := a["propertySummaries"].([]any)
				return a["account"] == "accounts/1" && a["name"] == "accountSummaries/1" && len(ps) == 1 &&
					ps[0].(map[string]any)["property"] == "properties/"+ga4.DemoPropertyID &&
					ps[0].(map[string]any)["propertyType"] == "PROPERTY_TYPE_ORDINARY" && ps[0].(map[string]any)["parent"] == "accounts/1"
			},
			data: func(e *env, tok string) (int, map[string]any) {
				return e.do(t, "POST", "/ga4/v1beta/properties/"+ga4.DemoPropertyID+":runReport", "application/json", ga4Report, ga4Headers(tok))
			},
			revoke: func(e *env, rt string) bool { return e.sb.GA4.RevokeToken(rt) },
			wrongAP: func(e *env, tok string) int {
				st, _ := e.do(t, "GET", "/googleads/v23/customers:listAccessibleCustomers", "", "", adsHeaders(tok))
				return st
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			access, rt := e.connect(t, tc.scope)
			if st, m := tc.list(e, access); st != 200 || !tc.listOK(m) {
				t.Errorf("account listing: %d %v", st, m)
			}
			if st, m := tc.data(e, access); st != 200 {
				t.Errorf("data API with the minted token: %d %v", st, m)
			}
			if st := tc.wrongAP(e, access); st != 401 {
				t.Errorf("the other API accepted the token: %d", st)
			}
			e.advance(time.Hour)
			if st, m := tc.data(e, access); st != 401 {
				t.Errorf("data API after the token expired: %d %v", st, m)
			}
			st, m := e.refresh(t, rt)
			if _, has := m["refresh_token"]; st != 200 || has || m["scope"] != tc.scope || m["token_type"] != "Bearer" {
				t.Fatalf("refresh: %d %v", st, m)
			}
			if st, m := tc.data(e, m["access_token"].(string)); st != 200 {
				t.Errorf("data API with the refreshed token: %d %v", st, m)
			}
			if st, m := e.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt},
				"client_id": {"other-client"}, "client_secret": {sandbox.GoogleClientSecret}}); st != 400 || m["error"] != "unauthorized_client" {
				t.Errorf("refresh by another client: %d %v", st, m)
			}
			if !tc.revoke(e, rt) {
				t.Fatal("RevokeToken: unknown refresh token")
			}
			if st, m := e.refresh(t, rt); st != 400 || m["error"] != "invalid_grant" || m["error_description"] != "Token has been expired or revoked." {
				t.Errorf("refresh after revocation: %d %v", st, m)
			}
		})
	}
}

// TestGoogleFixedRefreshTokensStillRoute: the fixed refresh tokens of both sandboxes keep
// working at the shared endpoint, and unknown ones get invalid_grant.
func TestGoogleFixedRefreshTokensStillRoute(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		rt, scope string
		status    int
	}{
		{googleads.DefaultRefreshToken, "https://www.googleapis.com/auth/adwords", 200},
		{ga4.DefaultRefreshToken, "https://www.googleapis.com/auth/analytics.readonly", 200},
		{"1//unknown", "", 400},
	} {
		st, m := e.refresh(t, tc.rt)
		if st != tc.status || tc.scope != "" && m["scope"] != tc.scope || st == 400 && m["error"] != "invalid_grant" {
			t.Errorf("%s: %d %v", tc.rt, st, m)
		}
	}
}

// TestGoogleRevokeOverAdmin: the admin endpoint of the sandbox that holds a granted refresh
// token revokes it, and the expired_token / revoke_refresh_token faults fail it as well.
func TestGoogleRevokeOverAdmin(t *testing.T) {
	e := newEnv(t)
	_, adsRT := e.connect(t, "https://www.googleapis.com/auth/adwords")
	_, ga4RT := e.connect(t, "https://www.googleapis.com/auth/analytics.readonly")
	if err := e.sb.GoogleAds.SetFaults(googleads.Faults{ExpiredToken: true}); err != nil {
		t.Fatal(err)
	}
	if st, m := e.refresh(t, adsRT); st != 400 || m["error"] != "invalid_grant" {
		t.Errorf("ads refresh under expired_token: %d %v", st, m)
	}
	e.sb.GoogleAds.ClearFaults()
	if err := e.sb.GA4.SetFaults(ga4.Faults{RevokeRefreshToken: true}); err != nil {
		t.Fatal(err)
	}
	if st, m := e.refresh(t, ga4RT); st != 400 || m["error"] != "invalid_grant" {
		t.Errorf("ga4 refresh under revoke_refresh_token: %d %v", st, m)
	}
	e.sb.GA4.ClearFaults()
	kittest.Admin(t, e.sb, "POST", "/ga4/_sandbox/oauth/revoke", `{"token":"`+ga4RT+`"}`)
	if st, m := e.refresh(t, ga4RT); st != 400 || m["error_description"] != "Token has been expired or revoked." {
		t.Errorf("ga4 refresh after admin revoke: %d %v", st, m)
	}
	if st, _ := e.refresh(t, adsRT); st != 200 {
		t.Errorf("ads refresh token revoked with the GA4 one: %d", st)
	}
}

func TestIndexListsOAuth(t *testing.T) {
	e := newEnv(t)
	st, m := e.do(t, "GET", "/", "", "", nil)
	oauth, _ := m["oauth"].(map[string]any)
	if st != 200 || len(oauth) != 4 {
		t.Fatalf("index: %d %v", st, m)
	}
	for name, id := range map[string]string{"meta": "sandbox-meta-app", "google": "sandbox-google-client", "tiktok": "sandbox-tiktok-app", "shopify": "sandbox-shopify-client"} {
		if p, _ := oauth[name].(map[string]any); p["client_id"] != id || p["authorize"] == "" || p["token"] == "" {
			t.Errorf("%s: %v", name, p)
		}
	}
}
