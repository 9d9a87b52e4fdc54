package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/apikey"
	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/config"
	"github.com/omnitrackiq/omnitrackiq/internal/notify"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

// fakeMailer keeps what the API sends; err makes every send fail.
type fakeMailer struct {
	mu   sync.Mutex
	sent []notify.Message
	err  error
}

func (m *fakeMailer) Send(_ context.Context, msg notify.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.sent = append(m.sent, msg)
	return nil
}

func (m *fakeMailer) messages() []notify.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]notify.Message(nil), m.sent...)
}

// waitFor returns the first message to addr, waiting for the background send.
func (m *fakeMailer) waitFor(t *testing.T, addr string) notify.Message {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, msg := range m.messages() {
			if len(msg.To) == 1 && msg.To[0] == addr {
				return msg
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail to %s", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const jwtKey = "api-test-jwt-signing-key-0123456789abcdef"

// authEnv is an API with accounts enabled on a fresh database.
type authEnv struct {
	t       *testing.T
	st      *store.Store
	h       http.Handler
	mail    *fakeMailer
	tokens  *auth.Tokens
	logs    *syncBuffer
	secrets []string
}

func newAuthEnv(t *testing.T, mod func(*config.Identity)) *authEnv {
	t.Helper()
	st, _ := testdb.New(t)
	tokens, err := auth.NewTokens([]byte(jwtKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	id := config.Identity{PublicURL: "https://api.example.test", AppURL: "https://app.example.test", Signup: config.SignupOpen}
	if mod != nil {
		mod(&id)
	}
	e := &authEnv{t: t, st: st, mail: &fakeMailer{}, tokens: tokens, logs: &syncBuffer{}}
	e.h = api.NewRouter(api.Deps{
		Store: st, Syncs: newFakeSyncs(),
		Connectors: channels.Registry{Ads: map[channels.Channel]channels.AdReader{channels.Meta: fakeReader{}}},
		Logger:     slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Tokens:     tokens, Mailer: e.mail, Identity: id,
	})
	t.Cleanup(func() {
		logs := e.logs.String()
		for _, s := range e.secrets {
			if strings.Contains(logs, s) {
				t.Errorf("a secret (%.6s...) appears in the log", s)
			}
		}
		var audit string
		if err := st.Pool.QueryRow(context.Background(), `SELECT coalesce(string_agg(a::text, ' '), '') FROM audit_log a`).Scan(&audit); err != nil {
			t.Error(err)
		}
		for _, s := range e.secrets {
			if strings.Contains(audit, s) {
				t.Errorf("a secret (%.6s...) appears in the audit log", s)
			}
		}
	})
	return e
}

// call sends a request from ip (the peer address) with an optional bearer credential.
func (e *authEnv) call(ip, method, path, bearer string, body any, hdr ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, r)
	req.RemoteAddr = ip + ":40000"
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func (e *authEnv) do(method, path, bearer string, body any) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.call("192.0.2.1", method, path, bearer, body)
}

type m = map[string]any

func (e *authEnv) signup(email, password string) api.AuthResponse {
	e.t.Helper()
	e.secrets = append(e.secrets, password)
	rec := e.call("198.51.100.200", "POST", "/v1/auth/signup", "", m{"email": email, "password": password, "name": "Ann Example",
		"workspace_name": "Ann's Shop", "currency": "eur", "timezone": "Europe/Paris"})
	var out api.AuthResponse
	decode(e.t, rec, http.StatusCreated, &out)
	e.secrets = append(e.secrets, out.AccessToken, out.RefreshToken)
	return out
}

func (e *authEnv) login(email, password string) api.AuthResponse {
	e.t.Helper()
	rec := e.call("198.51.100.201", "POST", "/v1/auth/login", "", m{"email": email, "password": password})
	var out api.AuthResponse
	decode(e.t, rec, http.StatusOK, &out)
	e.secrets = append(e.secrets, out.AccessToken, out.RefreshToken)
	return out
}

func (e *authEnv) refresh(token string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.call("198.51.100.202", "POST", "/v1/auth/refresh", "", m{"refresh_token": token})
}

// counts are the rows a refused request must not change. Rate-limit counters and the audit
// log are left out: they record refusals by design.
func (e *authEnv) counts() map[string]int {
	e.t.Helper()
	out := map[string]int{}
	for _, table := range []string{"users", "workspaces", "memberships", "refresh_families", "refresh_tokens", "password_resets"} {
		var n int
		if err := e.st.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			e.t.Fatal(err)
		}
		out[table] = n
	}
	var n int
	if err := e.st.Pool.QueryRow(context.Background(), "SELECT count(*) FROM refresh_families WHERE revoked_at IS NOT NULL").Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	out["revoked families"] = n
	if err := e.st.Pool.QueryRow(context.Background(), "SELECT count(*) FROM users WHERE updated_at <> created_at").Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	out["updated users"] = n
	return out
}

func (e *authEnv) writesNothing(t *testing.T, fn func()) {
	t.Helper()
	before := e.counts()
	fn()
	after := e.counts()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: %d before, %d after a refused request", k, v, after[k])
		}
	}
}

func (e *authEnv) auditActions(action string) []store.AuditEntry {
	e.t.Helper()
	rows, err := e.st.Pool.Query(context.Background(), `SELECT coalesce(workspace_id::text, ''), coalesce(actor_user_id::text, ''),
		actor, ip, target_id FROM audit_log WHERE action = $1 ORDER BY id`, action)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		a := store.AuditEntry{Action: action}
		if err := rows.Scan(&a.WorkspaceID, &a.ActorUserID, &a.Actor, &a.IP, &a.TargetID); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func TestSignup(t *testing.T) {
	e := newAuthEnv(t, nil)
	out := e.signup(" Ann@Example.COM ", "correct horse battery")
	if out.User.Email != "ann@example.com" || out.User.Name != "Ann Example" || out.User.ID == "" {
		t.Fatalf("user %+v", out.User)
	}
	w := out.Workspace
	if w == nil || w.Name != "Ann's Shop" || w.Currency != "EUR" || w.Timezone != "Europe/Paris" {
		t.Fatalf("workspace %+v", w)
	}
	if out.TokenType != "Bearer" || out.ExpiresIn != 900 || !strings.HasPrefix(out.RefreshToken, "otr_") ||
		time.Until(out.RefreshExpiresAt) < api.RefreshTTL-time.Minute {
		t.Fatalf("tokens %+v", out.SessionTokens)
	}
	if len(out.Memberships) != 1 || out.Memberships[0] != (api.AccountMembership{WorkspaceID: w.ID, WorkspaceName: w.Name, Role: "owner"}) {
		t.Fatalf("memberships %+v", out.Memberships)
	}
	ctx := context.Background()
	u, err := e.st.GetUser(ctx, out.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.PasswordHash, "$2a$12$") || auth.CheckPassword(u.PasswordHash, "correct horse battery") != nil {
		t.Fatalf("stored hash %q is not bcrypt cost 12 of the password", u.PasswordHash)
	}
	if role, _ := e.st.MembershipRole(ctx, u.ID, w.ID); role != "owner" {
		t.Fatalf("role %q", role)
	}
	var stored []byte
	if err := e.st.Pool.QueryRow(ctx, `SELECT token_hash FROM refresh_tokens`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored, auth.HashOpaque(out.RefreshToken)) {
		t.Fatal("the refresh token is not stored as its hash")
	}
	if a := e.auditActions("auth.signup"); len(a) != 1 || a[0].WorkspaceID != w.ID || a[0].ActorUserID != u.ID {
		t.Fatalf("audit %+v", a)
	}

	// The access token works on Signed routes and, naming the workspace, on Scoped ones.
	if rec := e.do("GET", "/v1/me", out.AccessToken, nil); rec.Code != http.StatusOK {
		t.Fatalf("GET /v1/me: %d %s", rec.Code, rec.Body)
	}
	rec := e.call("192.0.2.1", "GET", "/v1/connections", out.AccessToken, nil, api.WorkspaceHeader, w.ID)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /v1/connections as owner: %d %s", rec.Code, rec.Body)
	}

	// Defaults: USD and UTC.
	rec = e.call("198.51.100.9", "POST", "/v1/auth/signup", "", m{"email": "bo@example.com", "password": "0123456789",
		"name": "Bo", "workspace_name": "Bo"})
	var bo api.AuthResponse
	decode(t, rec, http.StatusCreated, &bo)
	e.secrets = append(e.secrets, bo.AccessToken, bo.RefreshToken)
	if bo.Workspace.Currency != "USD" || bo.Workspace.Timezone != "UTC" {
		t.Fatalf("defaults %+v", bo.Workspace)
	}

	valid := func() m {
		return m{"email": "new@example.com", "password": "0123456789", "name": "New", "workspace_name": "New Co"}
	}
	with := func(k string, v any) m { b := valid(); b[k] = v; return b }
	without := func(k string) m { b := valid(); delete(b, k); return b }
	cases := []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"no body", nil, 400, ""},
		{"not json", "{", 400, ""},
		{"unknown field", with("role", "owner"), 400, ""},
		{"email wrong type", with("email", 5), 400, ""},
		{"no email", without("email"), 422, "email"},
		{"bad email", with("email", "not-an-email"), 422, "email"},
		{"display name email", with("email", "New <new@example.com>"), 422, "email"},
		{"two emails", with("email", "a@example.com, b@example.com"), 422, "email"},
		{"long email", with("email", strings.Repeat("a", 250)+"@example.com"), 422, "email"},
		{"no password", without("password"), 422, "password"},
		{"short password", with("password", "short"), 422, "password"},
		{"long password", with("password", strings.Repeat("x", 73)), 422, "password"},
		{"no name", without("name"), 422, "name"},
		{"blank name", with("name", "   "), 422, "name"},
		{"long name", with("name", strings.Repeat("n", 201)), 422, "name"},
		{"control in name", with("name", "a\x00b"), 422, "name"},
		{"no workspace", without("workspace_name"), 422, "workspace_name"},
		{"bad currency", with("currency", "EURO"), 422, "currency"},
		{"digit currency", with("currency", "E1R"), 422, "currency"},
		{"bad timezone", with("timezone", "Mars/Olympus"), 422, "timezone"},
		{"local timezone", with("timezone", "Local"), 422, "timezone"},
		{"taken email", with("email", "ANN@example.com"), 409, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.writesNothing(t, func() {
				// Each case from its own address, so the sign-up limit is not what answers.
				rec := e.call("203.0.113."+strconv.Itoa(i+1), "POST", "/v1/auth/signup", "", tc.body)
				p := problem(t, rec, tc.status)
				if tc.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tc.field) {
					t.Fatalf("errors %+v, want one for %s", p.Errors, tc.field)
				}
			})
		})
	}
}

func TestSignupInviteOnly(t *testing.T) {
	e := newAuthEnv(t, func(id *config.Identity) { id.Signup = config.SignupInviteOnly })
	e.writesNothing(t, func() {
		rec := e.do("POST", "/v1/auth/signup", "", m{"email": "new@example.com", "password": "0123456789", "name": "N", "workspace_name": "N"})
		p := problem(t, rec, http.StatusForbidden)
		if !strings.Contains(p.Detail, "sign-up is closed") {
			t.Fatalf("detail %q", p.Detail)
		}
	})
	// Sign-in still works for accounts made otherwise (invites, admin create-user).
	hash, _ := auth.HashPassword("0123456789")
	if _, _, err := e.st.CreateAccount(context.Background(), store.NewAccount{Email: "admin@example.com", Name: "A",
		PasswordHash: hash, Workspace: "W", Currency: "USD", Timezone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	e.login("admin@example.com", "0123456789")
}

func TestLogin(t *testing.T) {
	e := newAuthEnv(t, nil)
	acct := e.signup("ann@example.com", "correct horse battery")
	out := e.login("  ANN@example.com", "correct horse battery")
	if out.User.ID != acct.User.ID || len(out.Memberships) != 1 || out.Memberships[0].Role != "owner" || out.Workspace != nil {
		t.Fatalf("login %+v", out)
	}
	if out.RefreshToken == acct.RefreshToken {
		t.Fatal("sign-in reused the sign-up's refresh token")
	}
	var families int
	_ = e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM refresh_families WHERE user_id = $1`, acct.User.ID).Scan(&families)
	if families != 2 {
		t.Fatalf("%d sessions, want 2 (sign-up and sign-in)", families)
	}
	if a := e.auditActions("auth.login"); len(a) != 1 || a[0].WorkspaceID != "" || a[0].Actor != "ann@example.com" ||
		a[0].ActorUserID != acct.User.ID || a[0].IP != "198.51.100.201" {
		t.Fatalf("audit %+v", a)
	}

	// A wrong password and an unknown email get the same answer in about the same time.
	e.secrets = append(e.secrets, "wrong password 1", "wrong password 2")
	var details []string
	var took []time.Duration
	for _, body := range []m{
		{"email": "ann@example.com", "password": "wrong password 1"},
		{"email": "Nobody@Example.com", "password": "wrong password 2"},
	} {
		e.writesNothing(t, func() {
			start := time.Now()
			rec := e.do("POST", "/v1/auth/login", "", body)
			took = append(took, time.Since(start))
			details = append(details, problem(t, rec, http.StatusUnauthorized).Detail)
		})
	}
	if details[0] != details[1] {
		t.Fatalf("different answers: %q vs %q", details[0], details[1])
	}
	// Both spend a bcrypt comparison (~100 ms+ at cost 12); an unknown email answered
	// without one would take well under a tenth of that.
	if took[1] < took[0]/4 {
		t.Fatalf("unknown email answered in %s, wrong password in %s", took[1], took[0])
	}
	failed := e.auditActions("auth.login_failed")
	if len(failed) != 2 || failed[0].Actor != "ann@example.com" || failed[1].Actor != "nobody@example.com" ||
		failed[1].ActorUserID != "" || failed[0].WorkspaceID != "" {
		t.Fatalf("failed audit %+v", failed)
	}

	for _, tc := range []struct {
		name   string
		body   any
		status int
	}{
		{"no body", nil, 400},
		{"array", "[]", 400},
		{"unknown field", m{"email": "a@b.c", "password": "x", "remember": true}, 400},
		{"no email", m{"password": "x"}, 422},
		{"no password", m{"email": "ann@example.com"}, 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.writesNothing(t, func() { problem(t, e.do("POST", "/v1/auth/login", "", tc.body), tc.status) })
		})
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	e := newAuthEnv(t, nil)
	acct := e.signup("ann@example.com", "correct horse battery")
	first := acct.SessionTokens

	var second api.SessionTokens
	decode(t, e.refresh(first.RefreshToken), http.StatusOK, &second)
	e.secrets = append(e.secrets, second.AccessToken, second.RefreshToken)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken || second.TokenType != "Bearer" {
		t.Fatalf("refresh %+v", second)
	}
	// The session keeps its absolute end.
	if !second.RefreshExpiresAt.Equal(first.RefreshExpiresAt) {
		t.Fatalf("refresh moved the session end from %s to %s", first.RefreshExpiresAt, second.RefreshExpiresAt)
	}
	var third api.SessionTokens
	decode(t, e.refresh(second.RefreshToken), http.StatusOK, &third)
	e.secrets = append(e.secrets, third.AccessToken, third.RefreshToken)
	for _, tok := range []string{first.AccessToken, second.AccessToken, third.AccessToken} {
		if rec := e.do("GET", "/v1/me", tok, nil); rec.Code != http.StatusOK {
			t.Fatalf("access token of the live session refused: %d %s", rec.Code, rec.Body)
		}
	}
	// An unrelated session of the same user, which reuse must leave alone.
	other := e.login("ann@example.com", "correct horse battery")

	// The first token again: someone kept a copy. The whole family ends.
	p := problem(t, e.refresh(first.RefreshToken), http.StatusUnauthorized)
	if !strings.Contains(p.Detail, "already used") {
		t.Fatalf("detail %q", p.Detail)
	}
	var live int
	_ = e.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
		WHERE t.user_id = $1 AND (t.revoked_at IS NULL OR f.revoked_at IS NULL)`, acct.User.ID).Scan(&live)
	if live != 1 {
		t.Fatalf("%d live tokens after reuse, want 1 (the other session's)", live)
	}
	for _, tok := range []string{first.AccessToken, third.AccessToken} {
		problem(t, e.do("GET", "/v1/me", tok, nil), http.StatusUnauthorized)
	}
	problem(t, e.refresh(third.RefreshToken), http.StatusUnauthorized)
	if rec := e.do("GET", "/v1/me", other.AccessToken, nil); rec.Code != http.StatusOK {
		t.Fatalf("the other session ended too: %d", rec.Code)
	}
	if a := e.auditActions("auth.refresh_reused"); len(a) != 1 || a[0].ActorUserID != acct.User.ID {
		t.Fatalf("audit %+v", a)
	}

	// Expired session.
	if _, err := e.st.Pool.Exec(context.Background(), `UPDATE refresh_tokens SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	problem(t, e.refresh(other.RefreshToken), http.StatusUnauthorized)

	for _, tc := range []struct {
		name   string
		body   any
		status int
	}{
		{"no body", nil, 400},
		{"no token", m{}, 422},
		{"not a token", m{"refresh_token": "abc"}, 401},
		{"unknown token", m{"refresh_token": "otr_" + strings.Repeat("A", 43)}, 401},
		{"access token", m{"refresh_token": third.AccessToken}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.writesNothing(t, func() { problem(t, e.call("192.0.2.9", "POST", "/v1/auth/refresh", "", tc.body), tc.status) })
		})
	}
}

func TestLogout(t *testing.T) {
	e := newAuthEnv(t, nil)
	acct := e.signup("ann@example.com", "correct horse battery")
	phone := e.login("ann@example.com", "correct horse battery")
	laptop := e.login("ann@example.com", "correct horse battery")

	rec := e.do("POST", "/v1/auth/logout", acct.AccessToken, nil)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("logout: %d %s", rec.Code, rec.Body)
	}
	problem(t, e.do("GET", "/v1/me", acct.AccessToken, nil), http.StatusUnauthorized)
	problem(t, e.refresh(acct.RefreshToken), http.StatusUnauthorized)

	// Logging out the phone with the phone's refresh token, from the laptop.
	rec = e.do("POST", "/v1/auth/logout", laptop.AccessToken, m{"refresh_token": phone.RefreshToken})
	if rec.Code != http.StatusNoContent {
		t.Fatalf("logout with token: %d %s", rec.Code, rec.Body)
	}
	problem(t, e.refresh(phone.RefreshToken), http.StatusUnauthorized)
	problem(t, e.do("GET", "/v1/me", laptop.AccessToken, nil), http.StatusUnauthorized)
	if a := e.auditActions("auth.logout"); len(a) != 2 || a[0].ActorUserID != acct.User.ID {
		t.Fatalf("audit %+v", a)
	}

	// Another user's refresh token in the body ends nothing of theirs.
	bob := e.signup("bob@example.com", "bob's long password")
	mine := e.login("ann@example.com", "correct horse battery")
	if rec := e.do("POST", "/v1/auth/logout", mine.AccessToken, m{"refresh_token": bob.RefreshToken}); rec.Code != http.StatusNoContent {
		t.Fatalf("logout: %d", rec.Code)
	}
	if rec := e.do("GET", "/v1/me", bob.AccessToken, nil); rec.Code != http.StatusOK {
		t.Fatalf("bob's session ended by ann's logout: %d", rec.Code)
	}

	fresh := e.login("ann@example.com", "correct horse battery")
	key, _, err := apikey.Issue(context.Background(), e.st, bob.Workspace.ID, "k")
	if err != nil {
		t.Fatal(err)
	}
	e.secrets = append(e.secrets, key)
	for _, tc := range []struct {
		name, bearer string
		body         any
		status       int
	}{
		{"no credentials", "", nil, 401},
		{"API key", key, nil, 403},
		{"bad token in body", fresh.AccessToken, m{"refresh_token": "nope"}, 422},
		{"unknown field", fresh.AccessToken, m{"all": true}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.writesNothing(t, func() { problem(t, e.do("POST", "/v1/auth/logout", tc.bearer, tc.body), tc.status) })
		})
	}
}

// TestAccessTokenForgeries signs tokens by hand: every one that is not HS256 with our key,
// issuer, audience and a live expiry is refused on a Signed route.
func TestAccessTokenForgeries(t *testing.T) {
	e := newAuthEnv(t, nil)
	acct := e.signup("ann@example.com", "correct horse battery")
	claims, err := e.tokens.Verify(acct.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	build := func(mod func(*auth.Claims)) auth.Claims {
		c := auth.Claims{Session: claims.Session, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: auth.TokenIssuer, Subject: acct.User.ID, Audience: jwt.ClaimStrings{auth.TokenAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: "jti-1",
		}}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	sign := func(method jwt.SigningMethod, key any, c auth.Claims) string {
		s, err := jwt.NewWithClaims(method, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// The control: a hand-made token done right is accepted, so each refusal below is for
	// the one thing changed.
	if rec := e.do("GET", "/v1/me", sign(jwt.SigningMethodHS256, []byte(jwtKey), build(nil)), nil); rec.Code != http.StatusOK {
		t.Fatalf("well-formed token refused: %d %s", rec.Code, rec.Body)
	}
	cases := map[string]string{
		"alg none":  sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, build(nil)),
		"HS512":     sign(jwt.SigningMethodHS512, []byte(jwtKey), build(nil)),
		"HS384":     sign(jwt.SigningMethodHS384, []byte(jwtKey), build(nil)),
		"RS256":     sign(jwt.SigningMethodRS256, rsaKey, build(nil)),
		"wrong key": sign(jwt.SigningMethodHS256, []byte("another-key-another-key-another-key!"), build(nil)),
		"expired": sign(jwt.SigningMethodHS256, []byte(jwtKey), build(func(c *auth.Claims) {
			c.IssuedAt = jwt.NewNumericDate(now.Add(-time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute))
		})),
		"no expiry":   sign(jwt.SigningMethodHS256, []byte(jwtKey), build(func(c *auth.Claims) { c.ExpiresAt = nil })),
		"future iat":  sign(jwt.SigningMethodHS256, []byte(jwtKey), build(func(c *auth.Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour)) })),
		"wrong aud":   sign(jwt.SigningMethodHS256, []byte(jwtKey), build(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"someone-else"} })),
		"wrong iss":   sign(jwt.SigningMethodHS256, []byte(jwtKey), build(func(c *auth.Claims) { c.Issuer = "evil" })),
		"no session":  sign(jwt.SigningMethodHS256, []byte(jwtKey), build(func(c *auth.Claims) { c.Session = "" })),
		"other sid":   sign(jwt.SigningMethodHS256, []byte(jwtKey), build(func(c *auth.Claims) { c.Session = "00000000-0000-4000-8000-000000000001" })),
		"other user":  sign(jwt.SigningMethodHS256, []byte(jwtKey), build(func(c *auth.Claims) { c.Subject = "00000000-0000-4000-8000-000000000002" })),
		"tampered":    acct.AccessToken[:len(acct.AccessToken)-2] + "xx",
		"refresh tok": acct.RefreshToken,
		"garbage":     "a.b.c",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/v1/me", "/v1/connections"} {
				rec := e.call("192.0.2.1", "GET", path, tok, nil, api.WorkspaceHeader, acct.Workspace.ID)
				problem(t, rec, http.StatusUnauthorized)
			}
		})
	}
}

func TestMe(t *testing.T) {
	e := newAuthEnv(t, nil)
	acct := e.signup("ann@example.com", "correct horse battery")
	var me api.MeResponse
	decode(t, e.do("GET", "/v1/me", acct.AccessToken, nil), http.StatusOK, &me)
	if me.User != acct.User || len(me.Memberships) != 1 || me.Memberships[0].WorkspaceID != acct.Workspace.ID {
		t.Fatalf("me %+v", me)
	}
	decode(t, e.do("PATCH", "/v1/me", acct.AccessToken, m{"name": "  Ann B.  "}), http.StatusOK, &me)
	if me.User.Name != "Ann B." {
		t.Fatalf("renamed %+v", me.User)
	}
	if u, _ := e.st.GetUser(context.Background(), acct.User.ID); u.Name != "Ann B." {
		t.Fatalf("stored name %q", u.Name)
	}
	key, _, err := apikey.Issue(context.Background(), e.st, acct.Workspace.ID, "k")
	if err != nil {
		t.Fatal(err)
	}
	e.secrets = append(e.secrets, key)
	for _, tc := range []struct {
		name, method, bearer string
		body                 any
		status               int
		field                string
	}{
		{"get without token", "GET", "", nil, 401, ""},
		{"get with API key", "GET", key, nil, 403, ""},
		{"patch with API key", "PATCH", key, m{"name": "x"}, 403, ""},
		{"patch no body", "PATCH", acct.AccessToken, nil, 400, ""},
		{"patch empty", "PATCH", acct.AccessToken, m{}, 422, "name"},
		{"patch blank name", "PATCH", acct.AccessToken, m{"name": " "}, 422, "name"},
		{"patch long name", "PATCH", acct.AccessToken, m{"name": strings.Repeat("x", 201)}, 422, "name"},
		{"patch email", "PATCH", acct.AccessToken, m{"email": "new@example.com"}, 422, "email"},
		{"patch unknown", "PATCH", acct.AccessToken, m{"password": "x"}, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.writesNothing(t, func() {
				p := problem(t, e.do(tc.method, "/v1/me", tc.bearer, tc.body), tc.status)
				if tc.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tc.field) {
					t.Fatalf("errors %+v", p.Errors)
				}
			})
		})
	}
	if u, _ := e.st.GetUser(context.Background(), acct.User.ID); u.Name != "Ann B." || u.Email != "ann@example.com" {
		t.Fatalf("refused patches changed the user: %+v", u)
	}
}

func TestPasswordChange(t *testing.T) {
	e := newAuthEnv(t, nil)
	acct := e.signup("ann@example.com", "correct horse battery")
	other := e.login("ann@example.com", "correct horse battery")
	e.secrets = append(e.secrets, "a brand new password", "not my password")

	for _, tc := range []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"no body", nil, 400, ""},
		{"no current", m{"new_password": "a brand new password"}, 422, "current_password"},
		{"short new", m{"current_password": "correct horse battery", "new_password": "short"}, 422, "new_password"},
		{"wrong current", m{"current_password": "not my password", "new_password": "a brand new password"}, 422, "current_password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.writesNothing(t, func() {
				p := problem(t, e.do("POST", "/v1/me/password", acct.AccessToken, tc.body), tc.status)
				if tc.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tc.field) {
					t.Fatalf("errors %+v", p.Errors)
				}
			})
		})
	}

	var fresh api.SessionTokens
	decode(t, e.do("POST", "/v1/me/password", acct.AccessToken,
		m{"current_password": "correct horse battery", "new_password": "a brand new password"}), http.StatusOK, &fresh)
	e.secrets = append(e.secrets, fresh.AccessToken, fresh.RefreshToken)
	// Every earlier session is over, the caller's included; the new one works.
	for _, tok := range []string{acct.AccessToken, other.AccessToken} {
		problem(t, e.do("GET", "/v1/me", tok, nil), http.StatusUnauthorized)
	}
	for _, tok := range []string{acct.RefreshToken, other.RefreshToken} {
		problem(t, e.refresh(tok), http.StatusUnauthorized)
	}
	if rec := e.do("GET", "/v1/me", fresh.AccessToken, nil); rec.Code != http.StatusOK {
		t.Fatalf("new session refused: %d", rec.Code)
	}
	problem(t, e.do("POST", "/v1/auth/login", "", m{"email": "ann@example.com", "password": "correct horse battery"}), http.StatusUnauthorized)
	e.login("ann@example.com", "a brand new password")
	if a := e.auditActions("user.password_changed"); len(a) != 1 || a[0].ActorUserID != acct.User.ID || a[0].TargetID != acct.User.ID {
		t.Fatalf("audit %+v", a)
	}
}

func TestPasswordReset(t *testing.T) {
	e := newAuthEnv(t, nil)
	acct := e.signup("ann@example.com", "correct horse battery")
	ctx := context.Background()

	// Unknown email: the same 202, no mail, no row.
	e.writesNothing(t, func() {
		rec := e.do("POST", "/v1/auth/password-reset", "", m{"email": "nobody@example.com"})
		if rec.Code != http.StatusAccepted {
			t.Fatalf("unknown email: %d %s", rec.Code, rec.Body)
		}
	})
	rec := e.do("POST", "/v1/auth/password-reset", "", m{"email": "ANN@example.com"})
	if rec.Code != http.StatusAccepted {
		t.Fatalf("reset: %d %s", rec.Code, rec.Body)
	}
	msg := e.mail.waitFor(t, "ann@example.com")
	if msg.Subject != api.ResetSubject {
		t.Fatalf("subject %q", msg.Subject)
	}
	if n := len(e.mail.messages()); n != 1 {
		t.Fatalf("%d mails sent, want 1", n)
	}
	i := strings.Index(msg.Text, "https://app.example.test/reset-password?token=")
	if i < 0 {
		t.Fatalf("no reset link in %q", msg.Text)
	}
	link, err := url.Parse(strings.Fields(msg.Text[i:])[0])
	if err != nil {
		t.Fatal(err)
	}
	token := link.Query().Get("token")
	e.secrets = append(e.secrets, token, "the new password!")
	var stored []byte
	if err := e.st.Pool.QueryRow(ctx, `SELECT token_hash FROM password_resets`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored, auth.HashOpaque(token)) {
		t.Fatal("reset token not stored as its hash")
	}

	for _, tc := range []struct {
		name   string
		body   any
		status int
	}{
		{"request no body", nil, 400},
		{"request bad email", m{"email": "nope"}, 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.writesNothing(t, func() { problem(t, e.do("POST", "/v1/auth/password-reset", "", tc.body), tc.status) })
		})
	}
	for _, tc := range []struct {
		name   string
		body   any
		status int
	}{
		{"no body", nil, 400},
		{"no token", m{"new_password": "the new password!"}, 422},
		{"short password", m{"token": token, "new_password": "short"}, 422},
		{"garbage token", m{"token": "nope", "new_password": "the new password!"}, 400},
		{"unknown token", m{"token": "otp_" + strings.Repeat("B", 43), "new_password": "the new password!"}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.writesNothing(t, func() { problem(t, e.do("POST", "/v1/auth/password-reset/confirm", "", tc.body), tc.status) })
		})
	}

	rec = e.do("POST", "/v1/auth/password-reset/confirm", "", m{"token": token, "new_password": "the new password!"})
	if rec.Code != http.StatusNoContent {
		t.Fatalf("confirm: %d %s", rec.Code, rec.Body)
	}
	problem(t, e.do("GET", "/v1/me", acct.AccessToken, nil), http.StatusUnauthorized)
	problem(t, e.refresh(acct.RefreshToken), http.StatusUnauthorized)
	e.login("ann@example.com", "the new password!")
	e.writesNothing(t, func() {
		problem(t, e.do("POST", "/v1/auth/password-reset/confirm", "", m{"token": token, "new_password": "yet another password"}), http.StatusGone)
	})

	// An expired link.
	if rec := e.do("POST", "/v1/auth/password-reset", "", m{"email": "ann@example.com"}); rec.Code != http.StatusAccepted {
		t.Fatalf("reset: %d", rec.Code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(e.mail.messages()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	msgs := e.mail.messages()
	second := msgs[len(msgs)-1].Text
	j := strings.Index(second, "token=")
	tok2, _ := url.QueryUnescape(strings.Fields(second[j+len("token="):])[0])
	e.secrets = append(e.secrets, tok2)
	if _, err := e.st.Pool.Exec(ctx, `UPDATE password_resets SET expires_at = now() - interval '1 second' WHERE used_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	e.writesNothing(t, func() {
		p := problem(t, e.do("POST", "/v1/auth/password-reset/confirm", "", m{"token": tok2, "new_password": "yet another password"}), http.StatusGone)
		if !strings.Contains(p.Detail, "expired") {
			t.Fatalf("detail %q", p.Detail)
		}
	})
	if a := e.auditActions("user.password_reset"); len(a) != 1 || a[0].ActorUserID != acct.User.ID {
		t.Fatalf("audit %+v", a)
	}
}

func TestAuthRateLimits(t *testing.T) {
	e := newAuthEnv(t, func(id *config.Identity) {
		id.Limits = config.RateLimits{
			LoginPerIP:            config.Limit{Max: 3, Window: time.Hour},
			LoginFailuresPerEmail: config.Limit{Max: 2, Window: time.Hour},
			SignupPerIP:           config.Limit{Max: 1, Window: time.Hour},
			ResetPerIP:            config.Limit{Max: 2, Window: time.Hour},
			ResetPerEmail:         config.Limit{Max: 1, Window: time.Hour},
		}
	})
	e.signup("ann@example.com", "correct horse battery") // from the sign-up helper's address
	e.secrets = append(e.secrets, "bad password 123")

	retryAfter := func(t *testing.T, rec *httptest.ResponseRecorder) {
		t.Helper()
		p := problem(t, rec, http.StatusTooManyRequests)
		if p.Type != "/problems/rate-limited" {
			t.Fatalf("type %q", p.Type)
		}
		s, err := strconv.Atoi(rec.Header().Get("Retry-After"))
		if err != nil || s < 1 || s > 3600 {
			t.Fatalf("Retry-After %q", rec.Header().Get("Retry-After"))
		}
	}

	t.Run("sign-up per IP", func(t *testing.T) {
		body := m{"email": "x@example.com", "password": "0123456789", "name": "X", "workspace_name": "X"}
		e.writesNothing(t, func() { retryAfter(t, e.call("198.51.100.200", "POST", "/v1/auth/signup", "", body)) })
		// X-Forwarded-For is not trusted by default: it cannot buy a fresh budget.
		e.writesNothing(t, func() {
			retryAfter(t, e.call("198.51.100.200", "POST", "/v1/auth/signup", "", body, "X-Forwarded-For", "10.9.9.9"))
		})
	})

	t.Run("login per IP", func(t *testing.T) {
		const ip = "192.0.2.50"
		for i := range 3 {
			problem(t, e.call(ip, "POST", "/v1/auth/login", "", m{"email": "nobody" + strconv.Itoa(i) + "@example.com", "password": "x"}), http.StatusUnauthorized)
		}
		retryAfter(t, e.call(ip, "POST", "/v1/auth/login", "", m{"email": "ann@example.com", "password": "correct horse battery"}))
		// Another address is not limited.
		if rec := e.call("192.0.2.51", "POST", "/v1/auth/login", "", m{"email": "ann@example.com", "password": "correct horse battery"}); rec.Code != http.StatusOK {
			t.Fatalf("other address: %d %s", rec.Code, rec.Body)
		}
	})

	t.Run("login failures per email", func(t *testing.T) {
		// Successes do not count; two failures from two addresses lock the email.
		for i := range 2 {
			problem(t, e.call("192.0.2."+strconv.Itoa(60+i), "POST", "/v1/auth/login", "", m{"email": "ann@example.com", "password": "bad password 123"}), http.StatusUnauthorized)
		}
		before := e.counts()
		retryAfter(t, e.call("192.0.2.70", "POST", "/v1/auth/login", "", m{"email": "Ann@example.com", "password": "correct horse battery"}))
		if after := e.counts(); after["refresh_families"] != before["refresh_families"] {
			t.Fatal("a locked email got a session")
		}
	})

	t.Run("reset per email and IP", func(t *testing.T) {
		if rec := e.call("192.0.2.80", "POST", "/v1/auth/password-reset", "", m{"email": "bo@example.com"}); rec.Code != http.StatusAccepted {
			t.Fatalf("first reset: %d", rec.Code)
		}
		retryAfter(t, e.call("192.0.2.81", "POST", "/v1/auth/password-reset", "", m{"email": "bo@example.com"}))
		if rec := e.call("192.0.2.80", "POST", "/v1/auth/password-reset", "", m{"email": "cy@example.com"}); rec.Code != http.StatusAccepted {
			t.Fatalf("second address use: %d", rec.Code)
		}
		retryAfter(t, e.call("192.0.2.80", "POST", "/v1/auth/password-reset", "", m{"email": "dee@example.com"}))
	})
}

// TestTrustedProxies: with a proxy configured, its X-Forwarded-For names the client.
func TestTrustedProxies(t *testing.T) {
	e := newAuthEnv(t, func(id *config.Identity) {
		id.TrustedProxies = []string{"10.0.0.0/8"}
		id.Limits.SignupPerIP = config.Limit{Max: 1, Window: time.Hour}
	})
	body := func(email string) m {
		return m{"email": email, "password": "0123456789", "name": "X", "workspace_name": "X"}
	}
	if rec := e.call("10.0.0.1", "POST", "/v1/auth/signup", "", body("a@example.com"), "X-Forwarded-For", "203.0.113.7"); rec.Code != http.StatusCreated {
		t.Fatalf("first: %d %s", rec.Code, rec.Body)
	}
	problem(t, e.call("10.0.0.2", "POST", "/v1/auth/signup", "", body("b@example.com"), "X-Forwarded-For", "203.0.113.7"), http.StatusTooManyRequests)
	if rec := e.call("10.0.0.1", "POST", "/v1/auth/signup", "", body("c@example.com"), "X-Forwarded-For", "203.0.113.8"); rec.Code != http.StatusCreated {
		t.Fatalf("another client behind the proxy: %d %s", rec.Code, rec.Body)
	}
	if a := e.auditActions("auth.signup"); len(a) != 2 || a[0].IP != "203.0.113.7" {
		t.Fatalf("audit %+v", a)
	}
}
