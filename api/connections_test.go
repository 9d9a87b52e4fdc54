package api_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

func TestCreateConnection(t *testing.T) {
	e := newEnv(t)
	rec := e.do("POST", "/v1/connections", e.key1,
		`{"channel":"meta","account_id":"act_123","access_token":"`+goodToken+`"}`)
	var c api.Connection
	decode(t, rec, http.StatusCreated, &c)
	want := api.Connection{ID: c.ID, Channel: "meta", AccountID: "123", DisplayName: "Acme Ads 123",
		Status: "active", Timezone: "Europe/Paris", Currency: "EUR", CreatedAt: c.CreatedAt}
	if c != want || c.ID == "" || c.CreatedAt.IsZero() {
		t.Fatalf("created %+v, want %+v", c, want)
	}
	if loc := rec.Header().Get("Location"); loc != "/v1/connections/"+c.ID {
		t.Fatalf("Location %q", loc)
	}
	if body := rec.Body.String(); strings.Contains(body, "token") || strings.Contains(body, "cipher") {
		t.Fatalf("response mentions the token: %s", body)
	}

	// The token is stored sealed, bound to its workspace, channel and account.
	var sealed []byte
	if err := e.st.Pool.QueryRow(context.Background(),
		`SELECT token_ciphertext FROM connections WHERE id = $1`, c.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(goodToken)) {
		t.Fatal("token stored in plaintext")
	}
	plain, err := e.box.Open(sealed, secretbox.ConnectionTokenAAD(e.w1.ID, "meta", "123"))
	if err != nil || string(plain) != goodToken {
		t.Fatalf("open sealed token: %q, %v", plain, err)
	}
	if _, err := e.box.Open(sealed, secretbox.ConnectionTokenAAD(e.w2.ID, "meta", "123")); err == nil {
		t.Fatal("sealed token opens with another workspace's additional data")
	}
	if got := e.syncs.schedules[c.ID]; got.Timezone != "Europe/Paris" {
		t.Fatalf("schedule not ensured in the account's zone: %+v", got)
	}

	// Reads: list, get, and 404 for other workspaces and non-ids.
	var list api.ConnectionList
	decode(t, e.do("GET", "/v1/connections", e.key1, ""), http.StatusOK, &list)
	if len(list.Connections) != 1 || list.Connections[0] != c {
		t.Fatalf("list = %+v", list)
	}
	var got api.Connection
	decode(t, e.do("GET", "/v1/connections/"+c.ID, e.key1, ""), http.StatusOK, &got)
	if got != c {
		t.Fatalf("get = %+v, want %+v", got, c)
	}
	var other api.ConnectionList
	decode(t, e.do("GET", "/v1/connections", e.key2, ""), http.StatusOK, &other)
	if len(other.Connections) != 0 {
		t.Fatalf("workspace two sees %+v", other)
	}
	for _, path := range []string{
		"/v1/connections/" + c.ID,
		"/v1/connections/not-a-uuid",
		"/v1/connections/00000000-0000-0000-0000-000000000000",
	} {
		problem(t, e.do("GET", path, e.key2, ""), http.StatusNotFound)
	}

	// The same account may be connected by another workspace; "123" equals "act_123".
	e.connect(e.key2, "123")
}

func TestCreateConnectionRejects(t *testing.T) {
	e := newEnv(t)
	existing := e.connect(e.key1, "777")
	body := func(channel, account, token string) string {
		return fmt.Sprintf(`{"channel":%q,"account_id":%q,"access_token":%q}`, channel, account, token)
	}
	cases := []struct {
		name   string
		body   string
		status int
		field  string // the validation error's field, if any
		detail string // a substring of the detail
	}{
		{"empty body", "", 400, "", "JSON object"},
		{"malformed JSON", `{"channel":`, 400, "", "JSON"},
		{"not an object", `["meta"]`, 400, "", "JSON object"},
		{"wrong type", `{"channel":1}`, 400, "", "channel"},
		{"unknown field", `{"channel":"meta","account_id":"1","access_token":"x","scope":"all"}`, 400, "", `unknown field "scope"`},
		{"trailing data", body("meta", "1", goodToken) + `{}`, 400, "", "after the JSON object"},
		{"too large", `{"channel":"meta","account_id":"1","access_token":"` + strings.Repeat("a", 20<<10) + `"}`, 413, "", "larger"},
		{"missing channel", body("", "1", goodToken), 422, "channel", ""},
		{"unknown channel", body("myspace", "1", goodToken), 422, "channel", ""},
		{"channel not supported yet", body("google_ads", "1", goodToken), 422, "channel", ""},
		{"missing account", body("meta", "", goodToken), 422, "account_id", ""},
		{"act_ only", body("meta", "act_", goodToken), 422, "account_id", ""},
		{"non-digit account", body("meta", "act_12x", goodToken), 422, "account_id", ""},
		{"missing token", body("meta", "1", ""), 422, "access_token", ""},
		{"blank token", body("meta", "1", "   "), 422, "access_token", ""},
		{"token of 4 KiB", body("meta", "1", strings.Repeat("a", 4096)), 422, "access_token", ""},
		{"token with newline", body("meta", "1", "abc\ndef"), 422, "access_token", ""},
		{"expired token", body("meta", "1", expiredToken), 422, "", "the provider rejected the access token: "},
		{"unknown account", body("meta", "act_999", badRequestToken), 422, "", "does not exist"},
		{"rate limited", body("meta", "1", rateLimitedToken), 503, "", "retry in 90 seconds"},
		{"provider down", body("meta", "1", transientToken), 503, "", "retry"},
		{"reader failed", body("meta", "1", brokenToken), 503, "", "unavailable"},
		{"duplicate", body("meta", "act_777", goodToken), 409, "", "already connected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.writesNothing(t, func() {
				rec := e.do("POST", "/v1/connections", e.key1, tc.body)
				p := problem(t, rec, tc.status)
				if tc.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tc.field) {
					t.Errorf("errors %+v, want one on %q", p.Errors, tc.field)
				}
				if !strings.Contains(p.Detail, tc.detail) {
					t.Errorf("detail %q lacks %q", p.Detail, tc.detail)
				}
				if tc.status == 503 && rec.Header().Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
			})
		})
	}
	t.Run("expired token is scrubbed from the provider message", func(t *testing.T) {
		p := problem(t, e.do("POST", "/v1/connections", e.key1, body("meta", "1", expiredToken)), 422)
		if !strings.Contains(p.Detail, "[redacted]") {
			t.Fatalf("detail %q", p.Detail)
		}
	})

	// A schedule that cannot be created undoes the connection.
	t.Run("schedule failure", func(t *testing.T) {
		e.syncs.ensureErr = errors.New("temporal: deadline exceeded")
		defer func() { e.syncs.ensureErr = nil }()
		before := e.rowCounts()
		p := problem(t, e.do("POST", "/v1/connections", e.key1, body("meta", "888", goodToken)), 503)
		if strings.Contains(p.Detail, "deadline") {
			t.Errorf("detail leaks the cause: %q", p.Detail)
		}
		if after := e.rowCounts(); after["connections"] != before["connections"] {
			t.Fatalf("connection left behind: %d -> %d", before["connections"], after["connections"])
		}
	})

	var list api.ConnectionList
	decode(t, e.do("GET", "/v1/connections", e.key1, ""), http.StatusOK, &list)
	if len(list.Connections) != 1 || list.Connections[0].ID != existing.ID {
		t.Fatalf("connections after rejects: %+v", list)
	}
}

// fakeDisconnector records the tokens it was given and fails when told to.
type fakeDisconnector struct {
	mu     sync.Mutex
	tokens []string
	fail   bool
}

func (d *fakeDisconnector) Disconnect(_ context.Context, _ store.Connection, accessToken string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tokens = append(d.tokens, accessToken)
	if d.fail {
		return errors.New("provider said no to " + accessToken)
	}
	return nil
}

// lifecycleEnv is env with signed-in users of each role in workspace one, and a Disconnector.
type lifecycleEnv struct {
	*env
	disc   *fakeDisconnector
	tokens map[auth.Role]string
}

func newLifecycleEnv(t *testing.T) *lifecycleEnv {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	toks, err := auth.NewTokens([]byte("lifecycle-test-signing-key-0123456789"), nil)
	if err != nil {
		t.Fatal(err)
	}
	le := &lifecycleEnv{env: e, disc: &fakeDisconnector{}, tokens: map[auth.Role]string{}}
	for _, role := range auth.Roles {
		u, err := store.CreateUser(ctx, e.st.Pool, string(role)+"@example.com", string(role), "not-a-real-hash")
		if err != nil {
			t.Fatal(err)
		}
		if err := store.AddMember(ctx, e.st.Pool, e.w1.ID, u.ID, string(role)); err != nil {
			t.Fatal(err)
		}
		var family string
		if err := e.st.Pool.QueryRow(ctx, `INSERT INTO refresh_families (id, user_id) VALUES (gen_random_uuid(), $1) RETURNING id`,
			u.ID).Scan(&family); err != nil {
			t.Fatal(err)
		}
		if le.tokens[role], _, err = toks.Issue(u.ID, family); err != nil {
			t.Fatal(err)
		}
	}
	e.h = api.NewRouter(api.Deps{
		Store:        e.st,
		Syncs:        e.syncs,
		Connectors:   channels.Registry{Ads: map[channels.Channel]channels.AdReader{channels.Meta: fakeReader{}}},
		Box:          e.box,
		Logger:       slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Tokens:       toks,
		Disconnector: le.disc,
	})
	return le
}

// as sends a request as the user of role in workspace one.
func (e *lifecycleEnv) as(role auth.Role, method, path, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	req.Header.Set(api.WorkspaceHeader, e.w1.ID)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if strings.Contains(rec.Body.String(), goodToken) {
		e.t.Fatalf("%s %s: response body contains the provider token", method, path)
	}
	return rec
}

// row is what the database holds for a connection.
type connRow struct {
	status, name string
	token        []byte
	refreshNull  bool
	facts        int
}

func (e *env) connRow(id string) (connRow, bool) {
	e.t.Helper()
	var r connRow
	err := e.st.Pool.QueryRow(context.Background(), `SELECT status, display_name, token_ciphertext,
		refresh_token_ciphertext IS NULL, (SELECT count(*) FROM ad_metrics_daily WHERE connection_id = c.id)
		FROM connections c WHERE id = $1`, id).Scan(&r.status, &r.name, &r.token, &r.refreshNull, &r.facts)
	if errors.Is(err, pgx.ErrNoRows) {
		return connRow{}, false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return r, true
}

func (e *env) addFacts(conn api.Connection, days int) {
	e.t.Helper()
	for d := range days {
		if _, err := e.st.Pool.Exec(context.Background(), `INSERT INTO ad_metrics_daily (workspace_id, connection_id, channel,
			account_id, campaign_id, date, currency, spend_micros, impressions, clicks)
			SELECT workspace_id, id, channel, external_account_id, 'c1', date '2024-03-01' + $2::int, 'USD', 1000000, 10, 1
			FROM connections WHERE id = $1`, conn.ID, d); err != nil {
			e.t.Fatal(err)
		}
	}
}

func TestUpdateConnection(t *testing.T) {
	e := newLifecycleEnv(t)
	c := e.connect(e.key1, "123")

	var got api.Connection
	decode(t, e.do("PATCH", "/v1/connections/"+c.ID, e.key1, `{"display_name":"  Brand EU  ","paused":true}`), http.StatusOK, &got)
	if got.DisplayName != "Brand EU" || got.Paused == nil || !*got.Paused || got.ID != c.ID || got.Status != "active" {
		t.Fatalf("PATCH = %+v", got)
	}
	if row, _ := e.connRow(c.ID); row.name != "Brand EU" {
		t.Fatalf("stored name %q", row.name)
	}
	if !e.syncs.schedules[c.ID].Paused {
		t.Fatal("schedule not paused")
	}
	// Rename alone leaves the schedule as it is and reports it.
	decode(t, e.do("PATCH", "/v1/connections/"+c.ID, e.key1, `{"display_name":"Brand"}`), http.StatusOK, &got)
	if got.DisplayName != "Brand" || got.Paused == nil || !*got.Paused {
		t.Fatalf("rename = %+v", got)
	}
	decode(t, e.do("PATCH", "/v1/connections/"+c.ID, e.key1, `{"paused":false}`), http.StatusOK, &got)
	if got.Paused == nil || *got.Paused || e.syncs.schedules[c.ID].Paused {
		t.Fatalf("resume = %+v, schedule %+v", got, e.syncs.schedules[c.ID])
	}
	// GET shows the new name.
	var read api.Connection
	decode(t, e.do("GET", "/v1/connections/"+c.ID, e.key1, ""), http.StatusOK, &read)
	if read.DisplayName != "Brand" || read.Paused != nil {
		t.Fatalf("GET = %+v", read)
	}
}

func TestUpdateConnectionBadInput(t *testing.T) {
	e := newLifecycleEnv(t)
	c := e.connect(e.key1, "123")
	other := e.connect(e.key2, "456")
	long := strings.Repeat("x", 201)
	for _, tc := range []struct {
		name, path, key, body string
		status                int
		field                 string
	}{
		{"empty object", "/v1/connections/" + c.ID, e.key1, `{}`, 422, "display_name"},
		{"nulls only", "/v1/connections/" + c.ID, e.key1, `{"display_name":null,"paused":null}`, 422, "display_name"},
		{"blank name", "/v1/connections/" + c.ID, e.key1, `{"display_name":"   ","paused":true}`, 422, "display_name"},
		{"long name", "/v1/connections/" + c.ID, e.key1, `{"display_name":"` + long + `"}`, 422, "display_name"},
		{"control char", "/v1/connections/" + c.ID, e.key1, `{"display_name":"a\u0007b"}`, 422, "display_name"},
		{"paused not bool", "/v1/connections/" + c.ID, e.key1, `{"paused":"yes"}`, 400, ""},
		{"name not string", "/v1/connections/" + c.ID, e.key1, `{"display_name":5}`, 400, ""},
		{"unknown field", "/v1/connections/" + c.ID, e.key1, `{"name":"x"}`, 400, ""},
		{"not json", "/v1/connections/" + c.ID, e.key1, `display_name=x`, 400, ""},
		{"no body", "/v1/connections/" + c.ID, e.key1, ``, 400, ""},
		{"other workspace", "/v1/connections/" + other.ID, e.key1, `{"paused":true}`, 404, ""},
		{"not an id", "/v1/connections/nope", e.key1, `{"paused":true}`, 404, ""},
		{"no key", "/v1/connections/" + c.ID, "", `{"paused":true}`, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.writesNothing(t, func() {
				p := problem(t, e.do("PATCH", tc.path, tc.key, tc.body), tc.status)
				if tc.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tc.field) {
					t.Errorf("errors %+v do not name %s", p.Errors, tc.field)
				}
			})
			if row, _ := e.connRow(c.ID); row.name != c.DisplayName {
				t.Errorf("name changed to %q", row.name)
			}
			if row, _ := e.connRow(other.ID); row.name != other.DisplayName {
				t.Errorf("other workspace's name changed to %q", row.name)
			}
			if e.syncs.schedules[c.ID].Paused || e.syncs.schedules[other.ID].Paused {
				t.Error("a schedule was paused")
			}
		})
	}
}

func TestConnectionLifecycleRoles(t *testing.T) {
	e := newLifecycleEnv(t)
	for i, tc := range []struct {
		role        auth.Role
		patch, del  int
		deleteAllow bool
	}{
		{auth.Owner, 200, 204, true},
		{auth.Admin, 200, 204, true},
		{auth.Member, 200, 403, false},
		{auth.Viewer, 403, 403, false},
	} {
		t.Run(string(tc.role), func(t *testing.T) {
			c := e.connect(e.key1, fmt.Sprint(1000+i))
			rec := e.as(tc.role, "PATCH", "/v1/connections/"+c.ID, `{"display_name":"renamed","paused":true}`)
			row, _ := e.connRow(c.ID)
			if tc.patch == 200 {
				var got api.Connection
				decode(t, rec, 200, &got)
				if row.name != "renamed" || !e.syncs.schedules[c.ID].Paused {
					t.Fatalf("%s PATCH did not apply: %+v", tc.role, row)
				}
			} else {
				problem(t, rec, tc.patch)
				if row.name == "renamed" || e.syncs.schedules[c.ID].Paused {
					t.Fatalf("%s PATCH applied though refused", tc.role)
				}
			}
			if tc.deleteAllow {
				if rec := e.as(tc.role, "DELETE", "/v1/connections/"+c.ID, ""); rec.Code != 204 {
					t.Fatalf("%s DELETE = %d %s", tc.role, rec.Code, rec.Body)
				}
				if row, _ := e.connRow(c.ID); row.status != "disconnected" || len(row.token) != 0 {
					t.Fatalf("%s DELETE left %+v", tc.role, row)
				}
				return
			}
			e.writesNothing(t, func() {
				problem(t, e.as(tc.role, "DELETE", "/v1/connections/"+c.ID+"?purge=true", ""), tc.del)
			})
			if row, _ := e.connRow(c.ID); row.status != "active" || len(row.token) == 0 {
				t.Fatalf("%s DELETE applied though refused: %+v", tc.role, row)
			}
		})
	}
	// Another workspace's user sees nothing of workspace two's connections.
	c2 := e.connect(e.key2, "999")
	e.writesNothing(t, func() {
		problem(t, e.as(auth.Owner, "DELETE", "/v1/connections/"+c2.ID, ""), 404)
		problem(t, e.as(auth.Owner, "PATCH", "/v1/connections/"+c2.ID, `{"paused":true}`), 404)
	})
}

func TestDeleteConnection(t *testing.T) {
	e := newLifecycleEnv(t)
	ctx := context.Background()
	c := e.connect(e.key1, "123")
	keep := e.connect(e.key1, "124")
	e.addFacts(c, 3)
	e.addFacts(keep, 2)
	// A running sync holds the lock and a backfill runs.
	if _, err := e.st.Pool.Exec(ctx, `UPDATE connections SET active_sync_workflow_id = 'scheduled-sync-x',
		refresh_token_ciphertext = '\x01'::bytea WHERE id = $1`, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Pool.Exec(ctx, `INSERT INTO backfills (workflow_id, workspace_id, connection_id, day_from, day_to)
		VALUES ('backfill-b1', $1, $2, '2024-01-01', '2024-01-31')`, e.w1.ID, c.ID); err != nil {
		t.Fatal(err)
	}

	e.writesNothing(t, func() {
		p := problem(t, e.do("DELETE", "/v1/connections/"+c.ID+"?purge=maybe", e.key1, ""), 422)
		if p.Errors[0].Field != "purge" {
			t.Errorf("errors %+v", p.Errors)
		}
	})

	if rec := e.do("DELETE", "/v1/connections/"+c.ID, e.key1, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", rec.Code, rec.Body)
	}
	row, ok := e.connRow(c.ID)
	if !ok || row.status != "disconnected" || len(row.token) != 0 || !row.refreshNull || row.facts != 3 {
		t.Fatalf("after DELETE: %+v (exists %t)", row, ok)
	}
	if row, _ := e.connRow(keep.ID); row.status != "active" || row.facts != 2 || len(row.token) == 0 {
		t.Fatalf("the other connection changed: %+v", row)
	}
	if len(e.disc.tokens) != 1 || e.disc.tokens[0] != goodToken {
		t.Fatalf("Disconnector got %d tokens", len(e.disc.tokens))
	}
	if _, ok := e.syncs.schedules[c.ID]; ok {
		t.Fatal("schedule not deleted")
	}
	if !slices.Contains(e.syncs.calls, fmt.Sprintf("CancelRuns %s [scheduled-sync-x backfill-b1]", c.ID)) {
		t.Fatalf("running workflows not cancelled: %v", e.syncs.calls)
	}
	var audits int
	if err := e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'connection.removed'
		AND target_id = $1 AND details = '{"purge": false}'::jsonb AND workspace_id = $2`, c.ID, e.w1.ID).Scan(&audits); err != nil || audits != 1 {
		t.Fatalf("audit entries %d, %v", audits, err)
	}

	// Still listed, as disconnected; no more syncs, backfills, schedule runs or changes.
	var got api.Connection
	decode(t, e.do("GET", "/v1/connections/"+c.ID, e.key1, ""), http.StatusOK, &got)
	if got.Status != "disconnected" {
		t.Fatalf("GET = %+v", got)
	}
	e.writesNothing(t, func() {
		problem(t, e.do("POST", "/v1/connections/"+c.ID+"/syncs", e.key1, ""), http.StatusConflict)
		problem(t, e.do("POST", "/v1/connections/"+c.ID+"/backfills", e.key1, `{"from":"2024-01-01","to":"2024-01-02"}`), http.StatusConflict)
		problem(t, e.do("POST", "/v1/connections/"+c.ID+"/schedule/trigger", e.key1, ""), http.StatusConflict)
		problem(t, e.do("PATCH", "/v1/connections/"+c.ID, e.key1, `{"paused":false}`), http.StatusConflict)
	})

	// A second DELETE is harmless; purge removes the row and its facts, only its.
	if rec := e.do("DELETE", "/v1/connections/"+c.ID, e.key1, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("second DELETE = %d %s", rec.Code, rec.Body)
	}
	if len(e.disc.tokens) != 1 {
		t.Fatal("Disconnector called for an erased token")
	}
	if rec := e.do("DELETE", "/v1/connections/"+c.ID+"?purge=true", e.key1, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("purge = %d %s", rec.Code, rec.Body)
	}
	if _, ok := e.connRow(c.ID); ok {
		t.Fatal("purged connection still exists")
	}
	var facts int
	if err := e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM ad_metrics_daily WHERE connection_id = $1`, c.ID).Scan(&facts); err != nil || facts != 0 {
		t.Fatalf("purged facts left: %d, %v", facts, err)
	}
	if row, _ := e.connRow(keep.ID); row.facts != 2 {
		t.Fatalf("purge touched another connection's facts: %+v", row)
	}
	problem(t, e.do("GET", "/v1/connections/"+c.ID, e.key1, ""), http.StatusNotFound)
	problem(t, e.do("DELETE", "/v1/connections/"+c.ID, e.key1, ""), http.StatusNotFound)
}

func TestDeleteConnectionDisconnectorFails(t *testing.T) {
	e := newLifecycleEnv(t)
	e.disc.fail = true
	c := e.connect(e.key1, "123")
	if rec := e.do("DELETE", "/v1/connections/"+c.ID+"?purge=true", e.key1, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", rec.Code, rec.Body)
	}
	if _, ok := e.connRow(c.ID); ok {
		t.Fatal("connection kept after a failed provider disconnect")
	}
	if !strings.Contains(e.logs.String(), "removing provider registrations failed") {
		t.Fatal("the failure was not logged")
	}
	// checkNoSecretsLogged (cleanup) proves the token in the provider's message was redacted.
}
