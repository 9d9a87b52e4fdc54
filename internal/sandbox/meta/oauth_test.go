package meta_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit/kittest"
	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/meta"
)

// oauthEnv is a Meta sandbox mounted at /meta with a clock the test moves.
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
	mux.Handle("/meta/", http.StripPrefix("/meta", e.sb))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *oauthEnv) advance(d time.Duration) { e.mu.Lock(); e.now = e.now.Add(d); e.mu.Unlock() }

func (e *oauthEnv) dialogURL(redirect string) string {
	return e.srv.URL + "/meta/www/v21.0/dialog/oauth?" + url.Values{
		"client_id": {sandbox.OAuthAppID}, "redirect_uri": {redirect}, "state": {"st-1"},
		"response_type": {"code"}, "scope": {"ads_read,ads_management,business_management"},
	}.Encode()
}

// getJSON GETs a sandbox path with params and decodes the JSON answer.
func (e *oauthEnv) getJSON(t *testing.T, path string, params url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(e.srv.URL + "/meta" + path + "?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, m
}

func (e *oauthEnv) exchange(t *testing.T, code, redirect, secret string) (int, map[string]any) {
	t.Helper()
	return e.getJSON(t, "/v21.0/oauth/access_token", url.Values{
		"client_id": {sandbox.OAuthAppID}, "redirect_uri": {redirect}, "client_secret": {secret}, "code": {code}})
}

func errSub(m map[string]any) float64 {
	e, _ := m["error"].(map[string]any)
	c, _ := e["error_subcode"].(float64)
	return c
}

const cb = "https://app.example.com/oauth/meta/callback"

// TestOAuthFlow walks the dialog, the approval, the code exchange, the account listing and
// an Insights call with the minted token, and the ways an exchange fails.
func TestOAuthFlow(t *testing.T) {
	for _, tc := range []struct {
		name             string
		redirect, secret string
		code             string // "" uses the consent's code
		reuse            bool   // exchange the code once before
		advance          time.Duration
		wantStatus       int
		wantCode         float64
		wantMsg          string
	}{
		{name: "ok", redirect: cb, secret: sandbox.OAuthAppSecret, wantStatus: 200},
		{name: "code near expiry", redirect: cb, secret: sandbox.OAuthAppSecret, advance: 9 * time.Minute, wantStatus: 200},
		{name: "code expired", redirect: cb, secret: sandbox.OAuthAppSecret, advance: 10 * time.Minute, wantStatus: 400, wantCode: 100, wantMsg: "has been used or has expired"},
		{name: "reused code", redirect: cb, secret: sandbox.OAuthAppSecret, reuse: true, wantStatus: 400, wantCode: 100, wantMsg: "has been used"},
		{name: "unknown code", redirect: cb, secret: sandbox.OAuthAppSecret, code: "AQnope", wantStatus: 400, wantCode: 100},
		{name: "wrong redirect_uri", redirect: cb + "/other", secret: sandbox.OAuthAppSecret, wantStatus: 400, wantCode: 100, wantMsg: "redirect_uri is identical"},
		{name: "wrong secret", redirect: cb, secret: "nope", wantStatus: 400, wantCode: 100, wantMsg: "client secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newOAuthEnv(t)
			page, err := http.Get(e.dialogURL(cb))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(page.Body)
			page.Body.Close()
			if page.StatusCode != 200 || !strings.Contains(string(body), sandbox.OAuthAppID+" wants to access") || !strings.Contains(string(body), `value="approve"`) {
				t.Fatalf("consent page: %d %s", page.StatusCode, body)
			}
			loc := kittest.Consent(t, e.dialogURL(cb), "approve")
			q := loc.Query()
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != cb || q.Get("state") != "st-1" || !strings.HasPrefix(q.Get("code"), "AQ") {
				t.Fatalf("callback %s", loc)
			}
			code := q.Get("code")
			if tc.reuse {
				if st, m := e.exchange(t, code, cb, sandbox.OAuthAppSecret); st != 200 {
					t.Fatalf("first exchange: %d %v", st, m)
				}
			}
			if tc.code != "" {
				code = tc.code
			}
			e.advance(tc.advance)
			st, m := e.exchange(t, code, tc.redirect, tc.secret)
			if st != tc.wantStatus {
				t.Fatalf("exchange: %d %v, want %d", st, m, tc.wantStatus)
			}
			if tc.wantStatus != 200 {
				msg, _ := m["error"].(map[string]any)["message"].(string)
				if errCode(m) != tc.wantCode || !strings.Contains(msg, tc.wantMsg) || m["error"].(map[string]any)["type"] != "OAuthException" {
					t.Errorf("error %v, want code %v with %q", m, tc.wantCode, tc.wantMsg)
				}
				return
			}
			tok, _ := m["access_token"].(string)
			if !strings.HasPrefix(tok, "EAAB") || m["token_type"] != "bearer" || m["expires_in"] != 3600.0 {
				t.Fatalf("token answer %v", m)
			}
			st, m = e.getJSON(t, "/v21.0/me/adaccounts", url.Values{"access_token": {tok}, "fields": {"account_id,name,currency,timezone_name"}, "limit": {"100"}})
			data, _ := m["data"].([]any)
			if st != 200 || len(data) != 1 {
				t.Fatalf("adaccounts: %d %v", st, m)
			}
			a := data[0].(map[string]any)
			if a["account_id"] != sandbox.DemoAccountID || a["id"] != "act_"+sandbox.DemoAccountID || a["currency"] != "USD" || a["timezone_name"] != "America/New_York" || a["name"] == nil {
				t.Errorf("account %v", a)
			}
			if p, _ := m["paging"].(map[string]any); p["cursors"] == nil || p["next"] != nil {
				t.Errorf("paging %v", p)
			}
			st, m = e.getJSON(t, "/v21.0/act_"+sandbox.DemoAccountID+"/insights", url.Values{"access_token": {tok},
				"level": {"account"}, "time_range": {`{"since":"2025-03-01","until":"2025-03-03"}`}, "fields": {"spend"}})
			if st != 200 || len(m["data"].([]any)) != 1 {
				t.Errorf("insights with the minted token: %d %v", st, m)
			}
		})
	}
}

func TestOAuthDeny(t *testing.T) {
	e := newOAuthEnv(t)
	loc := kittest.Consent(t, e.dialogURL(cb), "deny")
	q := loc.Query()
	if q.Get("error") != "access_denied" || q.Get("error_reason") != "user_denied" || q.Get("error_description") == "" || q.Get("state") != "st-1" || q.Has("code") {
		t.Errorf("denial callback %s", loc)
	}
}

func TestOAuthDialogRejectsUnknownClient(t *testing.T) {
	e := newOAuthEnv(t)
	for _, u := range []string{
		strings.Replace(e.dialogURL(cb), sandbox.OAuthAppID, "other-app", 1),
		e.srv.URL + "/meta/www/v21.0/dialog/oauth?client_id=" + sandbox.OAuthAppID,
	} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s", u, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

// TestOAuthLongLivedAndExpiry: the short-lived token expires after an hour on the sandbox
// clock (190/463); the long-lived one it was exchanged for keeps working; a revoked token
// fails with 190/458 and cannot be exchanged.
func TestOAuthLongLivedAndExpiry(t *testing.T) {
	e := newOAuthEnv(t)
	code := kittest.Consent(t, e.dialogURL(cb), "approve").Query().Get("code")
	_, m := e.exchange(t, code, cb, sandbox.OAuthAppSecret)
	short := m["access_token"].(string)
	exch := func(tok, secret string) (int, map[string]any) {
		return e.getJSON(t, "/v21.0/oauth/access_token", url.Values{"grant_type": {"fb_exchange_token"},
			"client_id": {sandbox.OAuthAppID}, "client_secret": {secret}, "fb_exchange_token": {tok}})
	}
	if st, m := exch(short, "nope"); st != 400 || errCode(m) != 100 {
		t.Errorf("long-lived exchange with a wrong secret: %d %v", st, m)
	}
	st, m := exch(short, sandbox.OAuthAppSecret)
	long, _ := m["access_token"].(string)
	if st != 200 || long == "" || long == short || m["expires_in"] != 5183944.0 || m["token_type"] != "bearer" {
		t.Fatalf("long-lived exchange: %d %v", st, m)
	}
	account := func(tok string) (int, map[string]any) {
		return e.getJSON(t, "/v21.0/act_"+sandbox.DemoAccountID, url.Values{"access_token": {tok}, "fields": {"name"}})
	}
	e.advance(time.Hour)
	if st, m := account(short); st != 400 || errCode(m) != 190 || errSub(m) != 463 {
		t.Errorf("expired short-lived token: %d %v", st, m)
	}
	if st, m := exch(short, sandbox.OAuthAppSecret); st != 400 || errCode(m) != 190 {
		t.Errorf("exchange of an expired token: %d %v", st, m)
	}
	if st, m := account(long); st != 200 {
		t.Errorf("long-lived token after an hour: %d %v", st, m)
	}
	if st, _ := account(sandbox.DefaultToken); st != 200 {
		t.Errorf("the fixed token stopped working: %d", st)
	}
	if !e.sb.RevokeToken(long) {
		t.Fatal("RevokeToken: unknown token")
	}
	if st, m := account(long); st != 400 || errCode(m) != 190 || errSub(m) != 458 {
		t.Errorf("revoked token: %d %v", st, m)
	}
	if st, m := exch(long, sandbox.OAuthAppSecret); st != 400 || errCode(m) != 190 {
		t.Errorf("exchange of a revoked token: %d %v", st, m)
	}
	// The admin endpoint revokes too.
	_, m = exch(sandbox.DefaultToken, sandbox.OAuthAppSecret)
	fresh := m["access_token"].(string)
	if got := kittest.Admin(t, e.sb, "POST", "/_sandbox/oauth/revoke", `{"token":"`+fresh+`"}`); strings.TrimSpace(got) != `{"revoked":1}` {
		t.Errorf("admin revoke: %s", got)
	}
	if st, m := account(fresh); st != 400 || errSub(m) != 458 {
		t.Errorf("token revoked over admin: %d %v", st, m)
	}
}

// TestOAuthExpiredTokenFault: the expired_token fault fails minted tokens as the fixed one.
func TestOAuthExpiredTokenFault(t *testing.T) {
	e := newOAuthEnv(t)
	code := kittest.Consent(t, e.dialogURL(cb), "approve").Query().Get("code")
	_, m := e.exchange(t, code, cb, sandbox.OAuthAppSecret)
	if err := e.sb.SetFaults(sandbox.Faults{ExpiredToken: true}); err != nil {
		t.Fatal(err)
	}
	if st, m := e.getJSON(t, "/v21.0/me/adaccounts", url.Values{"access_token": {m["access_token"].(string)}}); st != 400 || errSub(m) != 463 {
		t.Errorf("minted token under expired_token: %d %v", st, m)
	}
}

// TestAdAccountsPaging: limit and after page /me/adaccounts, with paging.next while more.
func TestAdAccountsPaging(t *testing.T) {
	sb := sandbox.New(sandbox.Config{Now: func() time.Time { return testNow }, Accounts: []sandbox.Account{{ID: "1"}, {ID: "2"}, {ID: "3"}}})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	next := srv.URL + "/v21.0/me/adaccounts?" + url.Values{"access_token": {sandbox.DefaultToken}, "limit": {"2"}, "fields": {"account_id"}}.Encode()
	var ids []string
	for pages := 0; next != ""; pages++ {
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		resp, err := http.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Data []struct {
				AccountID string `json:"account_id"`
			}
			Paging struct{ Next string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		for _, d := range m.Data {
			ids = append(ids, d.AccountID)
		}
		next = m.Paging.Next
	}
	if strings.Join(ids, ",") != "1,2,3" {
		t.Errorf("accounts %v", ids)
	}
}
