package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit/kittest"
	"github.com/omnitrackiq/omnitrackiq/workflows"
)

// session is a signed-in person calling the API over HTTP, as a browser app would.
type session struct {
	e         *env
	t         *testing.T
	token     string
	workspace string
}

func (s *session) do(method, path string, body any) (int, map[string]any) {
	s.t.Helper()
	return s.e.request(method, path, creds{bearer: s.token, workspace: s.workspace}, body)
}

func (s *session) must(want int, method, path string, body any) map[string]any {
	s.t.Helper()
	status, out := s.do(method, path, body)
	if status != want {
		s.t.Fatalf("%s %s: got %d, want %d: %v", method, path, status, want, out)
	}
	return out
}

// connectByOAuth runs a provider's consent end to end: start, approve on the sandbox's
// consent page, follow the callback. It returns the connections the callback made.
func (s *session) connectByOAuth(provider string, body map[string]any) []any {
	s.t.Helper()
	start := s.must(http.StatusOK, "POST", "/v1/connections/oauth/"+provider+"/start", body)
	authURL, _ := start["authorize_url"].(string)
	if authURL == "" {
		s.t.Fatalf("no authorize_url: %v", start)
	}
	// The consent page is a real page a person would see.
	resp, err := http.Get(authURL)
	if err != nil {
		s.t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Approve") {
		s.t.Fatalf("consent page: %d %s", resp.StatusCode, page)
	}
	callback := kittest.Consent(s.t, authURL, "approve")
	if !strings.HasPrefix(callback.String(), s.e.API.URL+"/v1/oauth/callback/"+provider) {
		s.t.Fatalf("callback goes to %s", callback)
	}
	// The browser carries no credentials to the callback: the signed state is what binds it.
	anon := &session{e: s.e, t: s.t}
	out := anon.must(http.StatusOK, "GET", callback.String(), nil)
	conns, _ := out["connections"].([]any)
	if len(conns) == 0 {
		s.t.Fatalf("callback made no connections: %v", out)
	}
	return conns
}

var inviteTokenRE = regexp.MustCompile(`oti_[A-Za-z0-9_-]{43}`)

// TestJourney walks the product as a new customer does, over HTTP only: sign up, invite a
// teammate by email, connect Meta and Shopify through OAuth, sync, read metrics, disconnect.
// Then no token, secret or password it used is anywhere in the database or the logs.
func TestJourney(t *testing.T) {
	logs := &logBuffer{}
	e := newEnv(t, envOptions{logSink: logs})
	anon := &session{e: e, t: t}

	const ownerPassword = "journey-owner-password-1"
	signup := anon.must(http.StatusCreated, "POST", "/v1/auth/signup", map[string]any{
		"email": "Founder@Brand.example", "password": ownerPassword, "name": "Fay Founder",
		"workspace_name": "Brand Co", "currency": "USD", "timezone": "America/New_York",
	})
	ws := signup["workspace"].(map[string]any)["id"].(string)
	owner := &session{e: e, t: t, token: signup["access_token"].(string), workspace: ws}
	ownerRefresh := signup["refresh_token"].(string)

	me := owner.must(http.StatusOK, "GET", "/v1/me", nil)
	if u, _ := me["user"].(map[string]any); u["email"] != "founder@brand.example" {
		t.Fatalf("me = %v", me)
	}

	// Invite a teammate; the mail arrives and its link works for a new account.
	owner.must(http.StatusCreated, "POST", "/v1/invites", map[string]any{"email": "mate@brand.example", "role": "member"})
	msg, err := e.Mail.WaitFor(e.ctx, "mate@brand.example", "invited you to", 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg.Text, e.Identity.AppURL+"/invites/accept?token=") {
		t.Fatalf("invite mail has no accept link: %s", msg.Text)
	}
	inviteToken := inviteTokenRE.FindString(msg.Text)
	if inviteToken == "" {
		t.Fatalf("no invite token in %s", msg.Text)
	}
	lookup := anon.must(http.StatusOK, "GET", "/v1/invites/lookup?token="+inviteToken, nil)
	if lookup["workspace_name"] != "Brand Co" || lookup["role"] != "member" {
		t.Fatalf("lookup = %v", lookup)
	}
	const matePassword = "journey-mate-password-2"
	anon.must(http.StatusCreated, "POST", "/v1/invites/accept", map[string]any{
		"token": inviteToken, "name": "Max Mate", "password": matePassword,
	})
	anon.must(http.StatusGone, "POST", "/v1/invites/accept", map[string]any{
		"token": inviteToken, "name": "Max Again", "password": matePassword,
	})
	login := anon.must(http.StatusOK, "POST", "/v1/auth/login", map[string]any{"email": "mate@brand.example", "password": matePassword})
	mate := &session{e: e, t: t, token: login["access_token"].(string), workspace: ws}
	members := owner.must(http.StatusOK, "GET", "/v1/members", nil)["members"].([]any)
	roles := map[string]string{}
	for _, m := range members {
		mm := m.(map[string]any)
		roles[mm["email"].(string)] = mm["role"].(string)
	}
	if roles["mate@brand.example"] != "member" || roles["founder@brand.example"] != "owner" || len(roles) != 2 {
		t.Fatalf("members = %v", roles)
	}
	// A member may not invite.
	mate.must(http.StatusForbidden, "POST", "/v1/invites", map[string]any{"email": "x@brand.example", "role": "viewer"})

	// Connect Meta and Shopify through OAuth against the sandbox providers.
	metaConns := owner.connectByOAuth("meta", map[string]any{})
	shopConns := mate.connectByOAuth("shopify", map[string]any{"shop": "demo-store.myshopify.com"})
	metaID := metaConns[0].(map[string]any)["id"].(string)
	shopID := shopConns[0].(map[string]any)["id"].(string)
	if subs := e.SB.Shopify.WebhookSubscriptions(); len(subs) != 4 {
		t.Fatalf("shopify webhooks registered on connect: %d, want 4: %+v", len(subs), subs)
	}

	list := owner.must(http.StatusOK, "GET", "/v1/connections", nil)["connections"].([]any)
	byChannel := map[string]string{}
	for _, c := range list {
		cc := c.(map[string]any)
		byChannel[cc["channel"].(string)] = cc["status"].(string)
	}
	if len(list) != len(metaConns)+len(shopConns) || byChannel["meta"] != "active" || byChannel["shopify"] != "active" {
		t.Fatalf("connections = %v", list)
	}

	// Sync both and read the numbers.
	var results []workflows.ChannelSyncResult
	for _, id := range []string{metaID, shopID} {
		started := mate.must(http.StatusAccepted, "POST", "/v1/connections/"+id+"/syncs", nil)
		var res workflows.ChannelSyncResult
		if err := e.waitWorkflow(started["workflow_id"].(string), 3*time.Minute, &res); err != nil {
			t.Fatalf("sync %s: %v", id, err)
		}
		results = append(results, res)
	}
	if results[0].Rows == 0 || results[1].Rows == 0 {
		t.Fatalf("syncs wrote nothing: %+v", results)
	}
	day := func(offset int) string { return time.Now().AddDate(0, 0, offset).Format("2006-01-02") }
	summary := mate.must(http.StatusOK, "GET", "/v1/metrics/summary?from="+day(-27)+"&to="+day(0), nil)
	cur, _ := summary["current"].(map[string]any)
	if num(cur, "spend_micros") <= 0 || num(cur, "revenue_micros") <= 0 {
		t.Fatalf("summary = %v", summary)
	}

	// Disconnect: tokens erased, provider webhooks removed, data kept.
	owner.must(http.StatusNoContent, "DELETE", "/v1/connections/"+shopID, nil)
	owner.must(http.StatusNoContent, "DELETE", "/v1/connections/"+metaID, nil)
	if subs := e.SB.Shopify.WebhookSubscriptions(); len(subs) != 0 {
		t.Fatalf("shopify webhooks left after disconnect: %+v", subs)
	}
	for _, id := range []string{metaID, shopID} {
		c := owner.must(http.StatusOK, "GET", "/v1/connections/"+id, nil)
		if c["status"] != "disconnected" {
			t.Fatalf("connection %s after disconnect: %v", id, c)
		}
		var tokenLen int
		if err := e.Store.Pool.QueryRow(e.ctx, `SELECT length(token_ciphertext) + coalesce(length(refresh_token_ciphertext), 0)
			FROM connections WHERE id = $1`, id).Scan(&tokenLen); err != nil || tokenLen != 0 {
			t.Fatalf("connection %s keeps %d token bytes (%v)", id, tokenLen, err)
		}
	}
	after := mate.must(http.StatusOK, "GET", "/v1/metrics/summary?from="+day(-27)+"&to="+day(0), nil)
	if a, _ := after["current"].(map[string]any); num(a, "spend_micros") != num(cur, "spend_micros") {
		t.Fatalf("disconnect without purge lost data: %v then %v", summary, after)
	}

	// The journey's secrets: passwords, session tokens, the invite token and every provider
	// token the sandbox minted for the grants.
	secrets := map[string]string{
		"owner password": ownerPassword, "teammate password": matePassword,
		"owner access token": owner.token, "owner refresh token": ownerRefresh,
		"teammate access token": mate.token, "teammate refresh token": login["refresh_token"].(string),
		"invite token": inviteToken,
	}
	for _, tok := range e.SB.Meta.Tokens() {
		secrets["meta token "+tok.Value[:6]] = tok.Value
	}
	for _, tok := range e.SB.Shopify.Tokens() {
		secrets["shopify token "+tok.Value[:6]] = tok.Value
	}
	e.assertNoPlaintext(t, secrets, logs.String())
}

func num(m map[string]any, key string) float64 {
	switch v := m[key].(type) {
	case float64:
		return v
	case string:
		var f float64
		_ = json.Unmarshal([]byte(v), &f)
		return f
	}
	return 0
}
