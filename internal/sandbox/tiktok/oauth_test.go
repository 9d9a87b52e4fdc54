package tiktok_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit/kittest"
	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/tiktok"
)

type oauthEnv struct {
	sb  *sandbox.Server
	srv *httptest.Server
	mu  sync.Mutex
	now time.Time
}

func newOAuthEnv(t *testing.T) *oauthEnv {
	t.Helper()
	e := &oauthEnv{now: testNow}
	e.sb = sandbox.New(sandbox.Config{Now: func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }})
	mux := http.NewServeMux()
	mux.Handle("/tiktok/", http.StripPrefix("/tiktok", e.sb))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *oauthEnv) advance(d time.Duration) { e.mu.Lock(); e.now = e.now.Add(d); e.mu.Unlock() }

const cb = "https://app.example.com/oauth/tiktok/callback"

func (e *oauthEnv) authURL() string {
	return e.srv.URL + "/tiktok" + sandbox.PathPortalAuth + "?" + url.Values{
		"app_id": {sandbox.OAuthAppID}, "state": {"st-1"}, "redirect_uri": {cb}}.Encode()
}

type envelope struct {
	Code      int             `json:"code"`
	Message   string          `json:"message"`
	RequestID string          `json:"request_id"`
	Data      json.RawMessage `json:"data"`
}

func (e *oauthEnv) do(t *testing.T, method, path, body string, hdr map[string]string) envelope {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+"/tiktok"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env envelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, err)
	}
	return env
}

func (e *oauthEnv) exchange(t *testing.T, appID, secret, code string) envelope {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"app_id": appID, "secret": secret, "auth_code": code})
	return e.do(t, "POST", sandbox.PathOAuthAccessToken, string(b), nil)
}

// TestOAuthFlow walks consent, approval, the auth_code exchange, the authorized
// advertisers and a report call with the minted token, and the ways an exchange fails.
func TestOAuthFlow(t *testing.T) {
	for _, tc := range []struct {
		name          string
		appID, secret string
		code          string // "" uses the consent's
		reuse         bool
		advance       time.Duration
		wantCode      int
	}{
		{name: "ok", appID: sandbox.OAuthAppID, secret: sandbox.OAuthAppSecret},
		{name: "reused auth_code", appID: sandbox.OAuthAppID, secret: sandbox.OAuthAppSecret, reuse: true, wantCode: sandbox.CodeAuthCodeUsed},
		{name: "expired auth_code", appID: sandbox.OAuthAppID, secret: sandbox.OAuthAppSecret, advance: 10 * time.Minute, wantCode: sandbox.CodeAuthCodeUsed},
		{name: "unknown auth_code", appID: sandbox.OAuthAppID, secret: sandbox.OAuthAppSecret, code: "nope", wantCode: sandbox.CodeAuthCodeUsed},
		{name: "wrong secret", appID: sandbox.OAuthAppID, secret: "nope", wantCode: sandbox.CodeAppMismatch},
		{name: "wrong app", appID: "other-app", secret: sandbox.OAuthAppSecret, wantCode: sandbox.CodeAppMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newOAuthEnv(t)
			resp, err := http.Get(e.authURL())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("consent page: %d", resp.StatusCode)
			}
			loc := kittest.Consent(t, e.authURL(), "approve")
			q := loc.Query()
			if q.Get("auth_code") == "" || q.Get("code") != q.Get("auth_code") || q.Get("state") != "st-1" || !strings.HasPrefix(loc.String(), cb+"?") {
				t.Fatalf("callback %s", loc)
			}
			code := q.Get("auth_code")
			if tc.reuse {
				if env := e.exchange(t, sandbox.OAuthAppID, sandbox.OAuthAppSecret, code); env.Code != 0 {
					t.Fatalf("first exchange: %+v", env)
				}
			}
			if tc.code != "" {
				code = tc.code
			}
			e.advance(tc.advance)
			env := e.exchange(t, tc.appID, tc.secret, code)
			if env.Code != tc.wantCode || env.RequestID == "" {
				t.Fatalf("exchange: %+v, want code %d", env, tc.wantCode)
			}
			if tc.wantCode != 0 {
				return
			}
			var data struct {
				AccessToken   string   `json:"access_token"`
				AdvertiserIDs []string `json:"advertiser_ids"`
				Scope         []int    `json:"scope"`
			}
			if err := json.Unmarshal(env.Data, &data); err != nil || data.AccessToken == "" ||
				len(data.AdvertiserIDs) != 1 || data.AdvertiserIDs[0] != sandbox.DemoAdvertiserID || len(data.Scope) != 3 {
				t.Fatalf("token data %s", env.Data)
			}
			hdr := map[string]string{"Access-Token": data.AccessToken}
			env = e.do(t, "GET", sandbox.PathOAuthAdvertiserGet+"?"+url.Values{"app_id": {sandbox.OAuthAppID}, "secret": {sandbox.OAuthAppSecret}}.Encode(), "", hdr)
			if env.Code != 0 || !strings.Contains(string(env.Data), `"advertiser_id":"`+sandbox.DemoAdvertiserID+`"`) || !strings.Contains(string(env.Data), `"advertiser_name":`) {
				t.Fatalf("advertiser/get: %+v %s", env, env.Data)
			}
			env = e.do(t, "GET", sandbox.PathReport+"?"+oauthReportQuery(), "", hdr)
			if env.Code != 0 || !strings.Contains(string(env.Data), `"list":[{`) {
				t.Errorf("report with the minted token: %+v %s", env, env.Data)
			}
		})
	}
}

func oauthReportQuery() string {
	return url.Values{"advertiser_id": {sandbox.DemoAdvertiserID}, "report_type": {"BASIC"}, "data_level": {"AUCTION_CAMPAIGN"},
		"dimensions": {`["campaign_id","stat_time_day"]`}, "metrics": {`["spend"]`},
		"start_date": {"2025-03-01"}, "end_date": {"2025-03-03"}}.Encode()
}

func TestOAuthDenyAndBadClient(t *testing.T) {
	e := newOAuthEnv(t)
	loc := kittest.Consent(t, e.authURL(), "deny")
	if q := loc.Query(); q.Get("error") != "access_denied" || q.Get("state") != "st-1" || q.Has("auth_code") {
		t.Errorf("denial callback %s", loc)
	}
	resp, err := http.Get(strings.Replace(e.authURL(), sandbox.OAuthAppID, "other", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("unknown app: %d", resp.StatusCode)
	}
}

// TestOAuthRevokedToken: a revoked token fails with 40105 on the report API and on
// advertiser/get; the fixed token keeps working, and the expired_token fault fails minted
// tokens too.
func TestOAuthRevokedToken(t *testing.T) {
	e := newOAuthEnv(t)
	code := kittest.Consent(t, e.authURL(), "approve").Query().Get("auth_code")
	var data struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(e.exchange(t, sandbox.OAuthAppID, sandbox.OAuthAppSecret, code).Data, &data)
	report := func(tok string) int {
		return e.do(t, "GET", sandbox.PathReport+"?"+oauthReportQuery(), "", map[string]string{"Access-Token": tok}).Code
	}
	if c := report(data.AccessToken); c != 0 {
		t.Fatalf("fresh token: %d", c)
	}
	if err := e.sb.SetFaults(sandbox.Faults{ExpiredToken: true}); err != nil {
		t.Fatal(err)
	}
	if c := report(data.AccessToken); c != sandbox.CodeTokenExpired {
		t.Errorf("minted token under expired_token: %d", c)
	}
	e.sb.ClearFaults()
	kittest.Admin(t, e.sb, "POST", "/_sandbox/oauth/revoke", `{}`)
	if c := report(data.AccessToken); c != sandbox.CodeTokenInvalid {
		t.Errorf("revoked token: %d", c)
	}
	adv := e.do(t, "GET", sandbox.PathOAuthAdvertiserGet+"?app_id="+sandbox.OAuthAppID+"&secret="+sandbox.OAuthAppSecret, "", map[string]string{"Access-Token": data.AccessToken})
	if adv.Code != sandbox.CodeTokenInvalid {
		t.Errorf("advertiser/get with a revoked token: %+v", adv)
	}
	if c := report(sandbox.DefaultToken); c != 0 {
		t.Errorf("fixed token: %d", c)
	}
	if e.sb.RevokeToken("nope") {
		t.Error("RevokeToken of an unknown token")
	}
}
