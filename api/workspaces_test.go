package api_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/apikey"
	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/config"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// caller is one way of calling the API: a signed-in user naming a workspace, or an API key.
type caller struct {
	name   string
	userID string
	email  string
	cred   string // access token or API key
	ws     string // X-Workspace-ID, "" for none
	// role in the team workspace ("" for keys and outsiders); scope for keys.
	role  auth.Role
	scope auth.KeyScope
}

// teamEnv is the API env with users and access tokens: w1 has an owner, an admin, a
// member and a viewer; outsider owns w2 and is no member of w1; readKey and writeKey are
// keys of w1.
type teamEnv struct {
	*env
	tokens                                *auth.Tokens
	mail                                  *fakeMailer
	appURL                                string
	owner, admin, member, viewer, outside caller
	readKey, writeKey                     caller
}

func newTeamEnv(t *testing.T) *teamEnv {
	t.Helper()
	e := newEnv(t)
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewTokens(secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	te := &teamEnv{env: e, tokens: tokens, mail: &fakeMailer{}, appURL: "https://app.example.test"}
	e.h = api.NewRouter(api.Deps{
		Store:      e.st,
		Syncs:      e.syncs,
		Connectors: channels.Registry{Ads: map[channels.Channel]channels.AdReader{channels.Meta: fakeReader{}}},
		Box:        e.box,
		Ready:      func(context.Context) error { return nil },
		Logger:     slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Tokens:     tokens,
		Mailer:     te.mail,
		Identity:   config.Identity{PublicURL: "https://api.example.test", AppURL: te.appURL, Signup: config.SignupOpen},
	})
	te.owner = te.user("owner@example.com", e.w1.ID, auth.Owner)
	te.admin = te.user("admin@example.com", e.w1.ID, auth.Admin)
	te.member = te.user("member@example.com", e.w1.ID, auth.Member)
	te.viewer = te.user("viewer@example.com", e.w1.ID, auth.Viewer)
	te.outside = te.user("outsider@example.com", e.w2.ID, auth.Owner)
	te.outside.ws, te.outside.role = e.w1.ID, ""
	te.readKey = te.key(auth.ScopeRead)
	te.writeKey = te.key(auth.ScopeWrite)
	return te
}

// user creates a user with a membership in ws and signs them in.
func (te *teamEnv) user(email, ws string, role auth.Role) caller {
	te.t.Helper()
	ctx := context.Background()
	u, err := store.CreateUser(ctx, te.st.Pool, email, strings.Split(email, "@")[0], "not-a-real-hash")
	if err != nil {
		te.t.Fatal(err)
	}
	if err := store.AddMember(ctx, te.st.Pool, ws, u.ID, string(role)); err != nil {
		te.t.Fatal(err)
	}
	return caller{name: string(role), userID: u.ID, email: u.Email, cred: te.signIn(u.ID), ws: ws, role: role}
}

// signIn starts a session (a refresh family) for the user and returns an access token.
func (te *teamEnv) signIn(userID string) string {
	te.t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		te.t.Fatal(err)
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	family := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	if _, err := te.st.Pool.Exec(context.Background(),
		`INSERT INTO refresh_families (id, user_id) VALUES ($1, $2)`, family, userID); err != nil {
		te.t.Fatal(err)
	}
	tok, _, err := te.tokens.Issue(userID, family)
	if err != nil {
		te.t.Fatal(err)
	}
	return tok
}

func (te *teamEnv) key(scope auth.KeyScope) caller {
	te.t.Helper()
	secret, _, err := apikey.IssueWith(context.Background(), te.st, te.w1.ID, "key "+string(scope), apikey.Options{Scope: string(scope)})
	if err != nil {
		te.t.Fatal(err)
	}
	return caller{name: "key " + string(scope), cred: secret, scope: scope}
}

// callers lists every kind of caller of w1.
func (te *teamEnv) callers() []caller {
	return []caller{te.owner, te.admin, te.member, te.viewer, te.outside, te.readKey, te.writeKey}
}

// allowed says whether the matrix lets the caller do the action in w1.
func (c caller) allowed(a auth.Action) bool {
	if c.scope != "" {
		return auth.KeyAllowed(c.scope, a)
	}
	return c.role != "" && auth.Allowed(c.role, a)
}

// denial is the status a caller refused the action gets: 404 for a user who is no member
// (the workspace does not exist for them), 403 otherwise.
func (c caller) denial() int {
	if c.scope == "" && c.role == "" {
		return http.StatusNotFound
	}
	return http.StatusForbidden
}

// call sends a request as the caller.
func (te *teamEnv) call(c caller, method, path, body string) *httptest.ResponseRecorder {
	te.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cred != "" {
		req.Header.Set("Authorization", "Bearer "+c.cred)
	}
	if c.ws != "" {
		req.Header.Set(api.WorkspaceHeader, c.ws)
	}
	rec := httptest.NewRecorder()
	te.h.ServeHTTP(rec, req)
	return rec
}

// anonymous is a caller without credentials.
var anonymous = caller{name: "anonymous"}

// snapshot fingerprints the identity tables (api_keys without last_used_at, which every
// first use of a key touches), so a test can prove a request changed nothing.
func (te *teamEnv) snapshot() map[string]string {
	te.t.Helper()
	out := map[string]string{}
	queries := map[string]string{
		"users":       `SELECT id, email, name FROM users`,
		"workspaces":  `SELECT * FROM workspaces`,
		"memberships": `SELECT * FROM memberships`,
		"invites":     `SELECT * FROM invites`,
		"api_keys":    `SELECT id, workspace_id, name, prefix, scope, created_by, revoked_at FROM api_keys`,
		"audit_log":   `SELECT * FROM audit_log`,
		"connections": `SELECT id FROM connections`,
	}
	for table, q := range queries {
		var sum string
		err := te.st.Pool.QueryRow(context.Background(),
			`SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM (`+q+`) t`).Scan(&sum)
		if err != nil {
			te.t.Fatal(err)
		}
		out[table] = sum
	}
	return out
}

// unchanged runs fn and fails if it changed any identity table.
func (te *teamEnv) unchanged(t *testing.T, fn func()) {
	t.Helper()
	before := te.snapshot()
	fn()
	after := te.snapshot()
	for table, sum := range before {
		if after[table] != sum {
			t.Errorf("%s changed by a request that should change nothing", table)
		}
	}
}

// count runs a count query.
func (te *teamEnv) count(q string, args ...any) int {
	te.t.Helper()
	var n int
	if err := te.st.Pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		te.t.Fatal(err)
	}
	return n
}

// audits counts the workspace's audit entries of an action.
func (te *teamEnv) audits(ws, action string) int {
	return te.count(`SELECT count(*) FROM audit_log WHERE workspace_id = $1 AND action = $2`, ws, action)
}

func (te *teamEnv) role(ws, userID string) string {
	te.t.Helper()
	r, err := te.st.MembershipRole(context.Background(), userID, ws)
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		te.t.Fatal(err)
	}
	return r
}

func TestWorkspaces(t *testing.T) {
	te := newTeamEnv(t)
	ctx := context.Background()

	t.Run("list is the caller's workspaces with role", func(t *testing.T) {
		// The outsider joins w1 as viewer too, so it has two.
		if err := store.AddMember(ctx, te.st.Pool, te.w1.ID, te.outside.userID, "viewer"); err != nil {
			t.Fatal(err)
		}
		defer te.st.Pool.Exec(ctx, `DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2`, te.w1.ID, te.outside.userID)
		var l api.WorkspaceList
		decode(t, te.call(caller{cred: te.outside.cred}, "GET", "/v1/workspaces", ""), http.StatusOK, &l)
		got := map[string]string{}
		for _, w := range l.Workspaces {
			got[w.ID] = w.Role
		}
		if len(got) != 2 || got[te.w2.ID] != "owner" || got[te.w1.ID] != "viewer" {
			t.Fatalf("workspaces %+v", l.Workspaces)
		}
		decode(t, te.call(caller{cred: te.member.cred}, "GET", "/v1/workspaces", ""), http.StatusOK, &l)
		if len(l.Workspaces) != 1 || l.Workspaces[0].ID != te.w1.ID || l.Workspaces[0].Role != "member" || l.Workspaces[0].Name != "One" {
			t.Fatalf("member's workspaces %+v", l.Workspaces)
		}
	})

	t.Run("signed routes refuse keys and anonymous callers", func(t *testing.T) {
		te.unchanged(t, func() {
			for _, c := range []caller{te.readKey, te.writeKey} {
				problem(t, te.call(c, "GET", "/v1/workspaces", ""), http.StatusForbidden)
				problem(t, te.call(c, "POST", "/v1/workspaces", `{"name":"K"}`), http.StatusForbidden)
			}
			problem(t, te.call(anonymous, "GET", "/v1/workspaces", ""), http.StatusUnauthorized)
			problem(t, te.call(anonymous, "POST", "/v1/workspaces", `{"name":"A"}`), http.StatusUnauthorized)
		})
	})

	t.Run("create makes the caller owner", func(t *testing.T) {
		var w api.WorkspaceInfo
		decode(t, te.call(caller{cred: te.viewer.cred}, "POST", "/v1/workspaces", `{"name":"  Side project ","currency":"eur","timezone":"Europe/Paris"}`),
			http.StatusCreated, &w)
		if w.Name != "Side project" || w.Currency != "EUR" || w.Timezone != "Europe/Paris" || w.Role != "owner" {
			t.Fatalf("created %+v", w)
		}
		if te.role(w.ID, te.viewer.userID) != "owner" || te.count(`SELECT count(*) FROM memberships WHERE workspace_id = $1`, w.ID) != 1 {
			t.Fatal("the creator is not the only member and owner")
		}
		if te.audits(w.ID, "workspace.created") != 1 {
			t.Fatal("workspace.created not audited")
		}
		decode(t, te.call(caller{cred: te.viewer.cred}, "POST", "/v1/workspaces", `{"name":"Defaults"}`), http.StatusCreated, &w)
		if w.Currency != "USD" || w.Timezone != "UTC" {
			t.Fatalf("defaults %+v", w)
		}
		// The viewer of w1 owns the new one and may manage it.
		vc := te.viewer
		vc.ws = w.ID
		var got api.WorkspaceInfo
		decode(t, te.call(vc, "PATCH", "/v1/workspace", `{"name":"Renamed"}`), http.StatusOK, &got)
		if got.Name != "Renamed" || got.Role != "owner" {
			t.Fatalf("patched %+v", got)
		}
	})

	t.Run("create with bad input writes nothing", func(t *testing.T) {
		cases := []struct{ body, field string }{
			{`{}`, "name"},
			{`{"name":"   "}`, "name"},
			{`{"name":"` + strings.Repeat("x", 101) + `"}`, "name"},
			{`{"name":"a\u0000b"}`, "name"},
			{`{"name":"X","currency":"EURO"}`, "currency"},
			{`{"name":"X","timezone":"Mars/Olympus"}`, "timezone"},
			{`{"name":"X","timezone":"Local"}`, "timezone"},
			{`{"name":"X","extra":1}`, ""},
			{`{"name":1}`, ""},
			{`not json`, ""},
		}
		for _, tc := range cases {
			te.unchanged(t, func() {
				rec := te.call(caller{cred: te.member.cred}, "POST", "/v1/workspaces", tc.body)
				if tc.field == "" {
					problem(t, rec, http.StatusBadRequest)
					return
				}
				p := problem(t, rec, http.StatusUnprocessableEntity)
				if p.Errors[0].Field != tc.field {
					t.Errorf("%s: errors %+v", tc.body, p.Errors)
				}
			})
		}
	})

	t.Run("get answers every member and key", func(t *testing.T) {
		for _, c := range te.callers() {
			rec := te.call(c, "GET", "/v1/workspace", "")
			if !c.allowed(auth.ReadData) {
				problem(t, rec, c.denial())
				continue
			}
			var w api.WorkspaceInfo
			decode(t, rec, http.StatusOK, &w)
			if w.ID != te.w1.ID || w.Role != string(c.role) {
				t.Fatalf("%s: %+v", c.name, w)
			}
		}
		// A user naming no workspace, or one they are not in, gets no data.
		problem(t, te.call(caller{cred: te.owner.cred}, "GET", "/v1/workspace", ""), http.StatusBadRequest)
		o := te.owner
		o.ws = te.w2.ID
		problem(t, te.call(o, "GET", "/v1/workspace", ""), http.StatusNotFound)
		o.ws = "not-a-uuid"
		problem(t, te.call(o, "GET", "/v1/workspace", ""), http.StatusNotFound)
	})

	t.Run("patch by role", func(t *testing.T) {
		for _, c := range te.callers() {
			name := "Renamed by " + c.name
			body := fmt.Sprintf(`{"name":%q}`, name)
			if !c.allowed(auth.ManageWorkspace) {
				te.unchanged(t, func() { problem(t, te.call(c, "PATCH", "/v1/workspace", body), c.denial()) })
				continue
			}
			before := te.audits(te.w1.ID, "workspace.updated")
			var w api.WorkspaceInfo
			decode(t, te.call(c, "PATCH", "/v1/workspace", body), http.StatusOK, &w)
			got, err := te.st.GetWorkspace(ctx, te.w1.ID)
			if err != nil || got.Name != name || w.Name != name {
				t.Fatalf("%s: name %q (%v)", c.name, got.Name, err)
			}
			if te.audits(te.w1.ID, "workspace.updated") != before+1 {
				t.Fatalf("%s: not audited", c.name)
			}
		}
		var w api.WorkspaceInfo
		decode(t, te.call(te.admin, "PATCH", "/v1/workspace", `{"currency":"gbp","timezone":"Europe/London"}`), http.StatusOK, &w)
		if w.Currency != "GBP" || w.Timezone != "Europe/London" || !strings.HasPrefix(w.Name, "Renamed by") {
			t.Fatalf("patched %+v", w)
		}
		// The other workspace is untouched.
		if w2, _ := te.st.GetWorkspace(ctx, te.w2.ID); w2.Name != "Two" || w2.Timezone != "UTC" {
			t.Fatalf("w2 changed: %+v", w2)
		}
		// An empty patch changes nothing and audits nothing.
		te.unchanged(t, func() { decode(t, te.call(te.admin, "PATCH", "/v1/workspace", `{}`), http.StatusOK, &w) })
		for _, body := range []string{`{"name":""}`, `{"currency":"xx"}`, `{"timezone":"Nowhere/City"}`, `{"name":"ok","timezone":""}`} {
			te.unchanged(t, func() { problem(t, te.call(te.admin, "PATCH", "/v1/workspace", body), http.StatusUnprocessableEntity) })
		}
		te.unchanged(t, func() {
			problem(t, te.call(te.admin, "PATCH", "/v1/workspace", `{"name":null,"x":1}`), http.StatusBadRequest)
		})
	})
}
