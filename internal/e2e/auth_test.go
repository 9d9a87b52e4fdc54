package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/api"
)

// authDo sends a request to the API as a person (bearer is an access token or "") and
// decodes the JSON answer.
func authDo(e *env, method, path, bearer string, body any) (int, map[string]any) {
	e.t.Helper()
	return e.request(method, path, creds{bearer: bearer}, body)
}

// TestAuthJourney: sign up, sign in, forget the password, reset it from the email mailpit
// caught, sign in with the new one; every session from before the reset is over.
func TestAuthJourney(t *testing.T) {
	e := newEnv(t, envOptions{})
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	email := "journey-" + hex.EncodeToString(suffix) + "@example.com"
	const oldPassword, newPassword = "first password 123", "second password 456"

	code, signup := authDo(e, "POST", "/v1/auth/signup", "", map[string]any{"email": email, "password": oldPassword,
		"name": "Jo Journey", "workspace_name": "Journey Shop", "currency": "EUR", "timezone": "Europe/Berlin"})
	if code != http.StatusCreated {
		t.Fatalf("signup: %d %v", code, signup)
	}
	ws := signup["workspace"].(map[string]any)["id"].(string)
	oldRefresh := signup["refresh_token"].(string)

	code, login := authDo(e, "POST", "/v1/auth/login", "", map[string]any{"email": strings.ToUpper(email), "password": oldPassword})
	if code != http.StatusOK {
		t.Fatalf("login: %d %v", code, login)
	}
	access := login["access_token"].(string)
	code, me := authDo(e, "GET", "/v1/me", access, nil)
	if code != http.StatusOK || me["user"].(map[string]any)["email"] != email {
		t.Fatalf("me: %d %v", code, me)
	}
	ms := me["memberships"].([]any)
	if len(ms) != 1 || ms[0].(map[string]any)["workspace_id"] != ws || ms[0].(map[string]any)["role"] != "owner" {
		t.Fatalf("memberships %v", ms)
	}

	// Forgotten password: the link arrives by real SMTP.
	if code, body := authDo(e, "POST", "/v1/auth/password-reset", "", map[string]any{"email": email}); code != http.StatusAccepted {
		t.Fatalf("reset request: %d %v", code, body)
	}
	msg, err := e.Mail.WaitFor(e.ctx, email, api.ResetSubject, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(https?://\S+/reset-password\?token=\S+)`).FindStringSubmatch(msg.Text)
	if m == nil {
		t.Fatalf("no reset link in %q", msg.Text)
	}
	link, err := url.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m[1], e.Identity.AppURL+"/") {
		t.Fatalf("link %s is not on APP_URL %s", m[1], e.Identity.AppURL)
	}
	token := link.Query().Get("token")
	if code, body := authDo(e, "POST", "/v1/auth/password-reset/confirm", "",
		map[string]any{"token": token, "new_password": newPassword}); code != http.StatusNoContent {
		t.Fatalf("reset confirm: %d %v", code, body)
	}
	// The link works once.
	if code, _ := authDo(e, "POST", "/v1/auth/password-reset/confirm", "",
		map[string]any{"token": token, "new_password": "third password 789"}); code != http.StatusGone {
		t.Fatalf("second use of the link: %d", code)
	}

	if code, _ := authDo(e, "POST", "/v1/auth/login", "", map[string]any{"email": email, "password": oldPassword}); code != http.StatusUnauthorized {
		t.Fatalf("old password: %d", code)
	}
	code, relogin := authDo(e, "POST", "/v1/auth/login", "", map[string]any{"email": email, "password": newPassword})
	if code != http.StatusOK {
		t.Fatalf("login with the new password: %d %v", code, relogin)
	}
	if code, _ := authDo(e, "POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": oldRefresh}); code != http.StatusUnauthorized {
		t.Fatalf("refresh token from before the reset: %d", code)
	}
	if code, _ := authDo(e, "GET", "/v1/me", access, nil); code != http.StatusUnauthorized {
		t.Fatalf("access token from before the reset: %d", code)
	}
	// The new session refreshes, and the signed-in owner reads the workspace's connections.
	code, next := authDo(e, "POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": relogin["refresh_token"]})
	if code != http.StatusOK {
		t.Fatalf("refresh: %d %v", code, next)
	}
	req, _ := http.NewRequestWithContext(e.ctx, "GET", e.API.URL+"/v1/connections", nil)
	req.Header.Set("Authorization", "Bearer "+next["access_token"].(string))
	req.Header.Set(api.WorkspaceHeader, ws)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("connections as owner: %d", resp.StatusCode)
	}

	// Nothing secret reached the database in the clear.
	var dump string
	if err := e.Store.Pool.QueryRow(e.ctx, `SELECT concat_ws(' ',
		(SELECT string_agg(u::text, ' ') FROM users u), (SELECT string_agg(a::text, ' ') FROM audit_log a),
		(SELECT string_agg(encode(token_hash, 'escape'), ' ') FROM refresh_tokens),
		(SELECT string_agg(encode(token_hash, 'escape'), ' ') FROM password_resets))`).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{oldPassword, newPassword, token, oldRefresh, access, relogin["refresh_token"].(string)} {
		if strings.Contains(dump, s) {
			t.Errorf("a secret (%.6s...) is stored in the clear", s)
		}
	}
}
