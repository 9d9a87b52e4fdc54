package shopify_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	conn "github.com/omnitrackiq/omnitrackiq/internal/channels/shopify"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit/kittest"
	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
)

// TestSignQueryHushVector: the sandbox signs callbacks with Shopify's documented algorithm,
// checked against Shopify's own example (channel-apis.md §6).
func TestSignQueryHushVector(t *testing.T) {
	q, err := url.ParseQuery("code=0907a61c0c8d55e99db179b68161bc00&hmac=ignored&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173")
	if err != nil {
		t.Fatal(err)
	}
	if got := sandbox.SignQuery("hush", q); got != "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf" {
		t.Errorf("hush vector: %s", got)
	}
}

const cb = "https://app.example.com/oauth/shopify/callback"

func authorizeURL(e *env) string {
	return e.srv.URL + "/shopify/admin/oauth/authorize?" + url.Values{"client_id": {sandbox.OAuthClientID},
		"scope": {"read_orders,read_all_orders"}, "redirect_uri": {cb}, "state": {"nonce-1"}}.Encode()
}

// postToken posts a token request, as JSON when asJSON, else as a form.
func postToken(t *testing.T, e *env, fields map[string]string, asJSON bool) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	ct := "application/x-www-form-urlencoded"
	if asJSON {
		b, _ := json.Marshal(fields)
		body, ct = strings.NewReader(string(b)), "application/json"
	} else {
		v := url.Values{}
		for k, x := range fields {
			v.Set(k, x)
		}
		body = strings.NewReader(v.Encode())
	}
	resp, err := http.Post(e.srv.URL+"/shopify/admin/oauth/access_token", ct, body)
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

func apiGet(t *testing.T, e *env, tok, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/shopify/admin/api/2024-10/"+path, nil)
	req.Header.Set("X-Shopify-Access-Token", tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestOAuthFlow walks the authorize page, the approval and its signed callback, the code
// exchange (classic and expiring, JSON and form), shop.json and orders.json with the
// minted token, and the ways an exchange fails.
func TestOAuthFlow(t *testing.T) {
	for _, tc := range []struct {
		name     string
		secret   string
		code     string // "" uses the callback's
		reuse    bool
		advance  time.Duration
		expiring bool
		asJSON   bool
		wantErr  string // error of a 400 answer
	}{
		{name: "classic form", secret: sandbox.OAuthClientSecret},
		{name: "classic json", secret: sandbox.OAuthClientSecret, asJSON: true},
		{name: "expiring", secret: sandbox.OAuthClientSecret, expiring: true, asJSON: true},
		{name: "reused code", secret: sandbox.OAuthClientSecret, reuse: true, wantErr: "invalid_request"},
		{name: "expired code", secret: sandbox.OAuthClientSecret, advance: 10 * time.Minute, wantErr: "invalid_request"},
		{name: "unknown code", secret: sandbox.OAuthClientSecret, code: "nope", wantErr: "invalid_request"},
		{name: "wrong secret", secret: "nope", wantErr: "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{}, conn.Options{})
			resp, err := http.Get(authorizeURL(e))
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(page), sandbox.DemoShopDomain) {
				t.Fatalf("authorize page: %d %s", resp.StatusCode, page)
			}
			loc := kittest.Consent(t, authorizeURL(e), "approve")
			q := loc.Query()
			for _, k := range []string{"code", "hmac", "host", "shop", "state", "timestamp"} {
				if q.Get(k) == "" {
					t.Errorf("callback %s lacks %s", loc, k)
				}
			}
			if q.Get("shop") != sandbox.DemoShopDomain || q.Get("state") != "nonce-1" || q.Get("timestamp") != "1742007600" {
				t.Errorf("callback %s", loc)
			}
			if q.Get("hmac") != sandbox.SignQuery(sandbox.OAuthClientSecret, q) {
				t.Errorf("callback hmac %s does not verify", q.Get("hmac"))
			}
			code := q.Get("code")
			if tc.reuse {
				if st, m := postToken(t, e, map[string]string{"client_id": sandbox.OAuthClientID, "client_secret": sandbox.OAuthClientSecret, "code": code}, false); st != 200 {
					t.Fatalf("first exchange: %d %v", st, m)
				}
			}
			if tc.code != "" {
				code = tc.code
			}
			e.advance(tc.advance)
			fields := map[string]string{"client_id": sandbox.OAuthClientID, "client_secret": tc.secret, "code": code}
			if tc.expiring {
				fields["expiring"] = "1"
			}
			st, m := postToken(t, e, fields, tc.asJSON)
			if tc.wantErr != "" {
				if st != 400 || m["error"] != tc.wantErr || m["error_description"] == "" {
					t.Errorf("exchange: %d %v, want 400 %s", st, m, tc.wantErr)
				}
				return
			}
			tok, _ := m["access_token"].(string)
			if st != 200 || !strings.HasPrefix(tok, "shpat_") || m["scope"] != "read_orders,read_all_orders" {
				t.Fatalf("exchange: %d %v", st, m)
			}
			if _, has := m["refresh_token"]; has != tc.expiring {
				t.Errorf("refresh_token present %v, want %v: %v", has, tc.expiring, m)
			}
			if tc.expiring && (m["expires_in"] != 3600.0 || m["refresh_token_expires_in"] != 7776000.0) {
				t.Errorf("expiring answer %v", m)
			}
			if st, b := apiGet(t, e, tok, "shop.json"); st != 200 || !strings.Contains(b, sandbox.DemoShopDomain) {
				t.Errorf("shop.json: %d %s", st, b)
			}
			// read_all_orders: an order from 100 days ago is visible.
			if st, b := apiGet(t, e, tok, "orders/count.json?status=any&created_at_max=2024-12-10T00:00:00Z"); st != 200 || b == `{"count":0}`+"\n" {
				t.Errorf("old orders with read_all_orders: %d %s", st, b)
			}
		})
	}
}

func TestOAuthDenyAndBadClient(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, conn.Options{})
	loc := kittest.Consent(t, authorizeURL(e), "deny")
	q := loc.Query()
	if q.Get("error") != "access_denied" || q.Has("code") || q.Get("hmac") != sandbox.SignQuery(sandbox.OAuthClientSecret, q) {
		t.Errorf("denial callback %s", loc)
	}
	resp, err := http.Get(strings.Replace(authorizeURL(e), sandbox.OAuthClientID, "other", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("unknown client: %d", resp.StatusCode)
	}
}

// TestOAuthLimitedScope: a token granted read_orders only reads the last 60 days.
func TestOAuthLimitedScope(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, conn.Options{})
	u := strings.Replace(authorizeURL(e), "read_orders%2Cread_all_orders", "read_orders", 1)
	code := kittest.Consent(t, u, "approve").Query().Get("code")
	_, m := postToken(t, e, map[string]string{"client_id": sandbox.OAuthClientID, "client_secret": sandbox.OAuthClientSecret, "code": code}, true)
	tok := m["access_token"].(string)
	if st, b := apiGet(t, e, tok, "orders/count.json?status=any&created_at_max=2024-12-10T00:00:00Z"); st != 200 || b != `{"count":0}`+"\n" {
		t.Errorf("old orders without read_all_orders: %d %s", st, b)
	}
}

// TestOAuthExpiringRefresh: an expiring token stops working after an hour of sandbox time;
// the refresh token mints a new pair and is then rejected; a revoked refresh token is
// rejected too.
func TestOAuthExpiringRefresh(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, conn.Options{})
	code := kittest.Consent(t, authorizeURL(e), "approve").Query().Get("code")
	_, m := postToken(t, e, map[string]string{"client_id": sandbox.OAuthClientID, "client_secret": sandbox.OAuthClientSecret, "code": code, "expiring": "1"}, false)
	tok, rt := m["access_token"].(string), m["refresh_token"].(string)
	e.advance(59 * time.Minute)
	if st, _ := apiGet(t, e, tok, "shop.json"); st != 200 {
		t.Fatalf("token before expiry: %d", st)
	}
	e.advance(time.Minute)
	if st, b := apiGet(t, e, tok, "shop.json"); st != 401 || !strings.Contains(b, "Invalid API key or access token") {
		t.Errorf("expired token: %d %s", st, b)
	}
	refresh := func(rt, secret string) (int, map[string]any) {
		return postToken(t, e, map[string]string{"client_id": sandbox.OAuthClientID, "client_secret": secret, "grant_type": "refresh_token", "refresh_token": rt}, false)
	}
	if st, m := refresh(rt, "nope"); st != 400 || m["error"] != "invalid_client" {
		t.Errorf("refresh with a wrong secret: %d %v", st, m)
	}
	st, m := refresh(rt, sandbox.OAuthClientSecret)
	tok2, rt2 := m["access_token"].(string), m["refresh_token"].(string)
	if st != 200 || tok2 == "" || rt2 == "" || rt2 == rt || m["expires_in"] != 3600.0 || m["scope"] != "read_orders,read_all_orders" {
		t.Fatalf("refresh: %d %v", st, m)
	}
	if st, _ := apiGet(t, e, tok2, "shop.json"); st != 200 {
		t.Errorf("refreshed token: %d", st)
	}
	if st, m := refresh(rt, sandbox.OAuthClientSecret); st != 400 || m["error"] != "invalid_request" {
		t.Errorf("reused refresh token: %d %v", st, m)
	}
	if !e.sb.RevokeToken(rt2) {
		t.Fatal("RevokeToken: unknown token")
	}
	if st, m := refresh(rt2, sandbox.OAuthClientSecret); st != 400 || m["error"] != "invalid_request" {
		t.Errorf("revoked refresh token: %d %v", st, m)
	}
	kittest.Admin(t, e.sb, "POST", "/_sandbox/oauth/revoke", `{"kind":"access"}`)
	if st, _ := apiGet(t, e, tok2, "shop.json"); st != 401 {
		t.Errorf("revoked access token: %d", st)
	}
	if st, _ := apiGet(t, e, sandbox.DefaultToken, "shop.json"); st != 200 {
		t.Errorf("fixed token: %d", st)
	}
}

// TestWebhookSubscriptions: the topics registered on connect, the duplicate 422, listing,
// deletion, and what tests read back.
func TestWebhookSubscriptions(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, conn.Options{})
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, e.srv.URL+"/shopify/admin/api/2024-10/"+path, strings.NewReader(body))
		req.Header.Set("X-Shopify-Access-Token", sandbox.DefaultToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	hook := func(topic, addr string) string {
		return `{"webhook":{"topic":"` + topic + `","address":"` + addr + `","format":"json"}}`
	}
	const addr = "https://app.example.com/webhooks/shopify"
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"create orders/create", "POST", "webhooks.json", hook("orders/create", addr), 201, `"id":1100000000001,"address":"` + addr + `","topic":"orders/create"`},
		{"create orders/updated", "POST", "webhooks.json", hook("orders/updated", addr), 201, `"topic":"orders/updated"`},
		{"create refunds/create", "POST", "webhooks.json", hook("refunds/create", addr), 201, `"format":"json"`},
		{"create app/uninstalled", "POST", "webhooks.json", hook("app/uninstalled", addr), 201, `"api_version":"2024-10"`},
		{"duplicate", "POST", "webhooks.json", hook("orders/create", addr), 422, `{"errors":{"address":["for this topic has already been taken"]}}`},
		{"same topic elsewhere", "POST", "webhooks.json", hook("orders/create", addr+"/2"), 201, `"id":1100000000005`},
		{"bad topic", "POST", "webhooks.json", hook("orders/nope", addr), 422, `"topic":["Invalid topic specified: orders/nope`},
		{"no address", "POST", "webhooks.json", hook("orders/create", ""), 422, `"address":["can't be blank"]`},
		{"no webhook", "POST", "webhooks.json", `{}`, 400, `"errors"`},
		{"list", "GET", "webhooks.json", "", 200, `"topic":"app/uninstalled"`},
		{"delete", "DELETE", "webhooks/1100000000005.json", "", 200, `{}`},
		{"delete again", "DELETE", "webhooks/1100000000005.json", "", 404, `{"errors":"Not Found"}`},
	} {
		if st, b := do(tc.method, tc.path, tc.body); st != tc.status || !strings.Contains(b, tc.want) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, st, b, tc.status, tc.want)
		}
	}
	var topics []string
	for _, s := range e.sb.WebhookSubscriptions() {
		topics = append(topics, s.Topic)
	}
	if strings.Join(topics, ",") != "orders/create,orders/updated,refunds/create,app/uninstalled" {
		t.Errorf("subscriptions %v", topics)
	}
	if b := kittest.Admin(t, e.sb, "GET", "/_sandbox/webhook_subscriptions", ""); strings.Count(b, `"id":`) != 4 {
		t.Errorf("admin subscriptions: %s", b)
	}
	kittest.Admin(t, e.sb, "DELETE", "/_sandbox/webhook_subscriptions", "")
	if st, b := do("GET", "webhooks.json", ""); st != 200 || b != `{"webhooks":[]}` {
		t.Errorf("after reset: %d %s", st, b)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/shopify/admin/api/2024-10/webhooks.json", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("webhooks.json without a token: %d", resp.StatusCode)
	}
}
