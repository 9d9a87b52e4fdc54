package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/apikey"
	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/report"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// isoActor is one way of calling the API in the tenant-isolation test.
type isoActor struct {
	name   string
	bearer string // "" for no credentials
	header string // X-Workspace-ID, "" for none
	// What the actor is in workspace A: a user's role, or an API key's scope.
	role     auth.Role
	scope    auth.KeyScope
	outsider bool // a signed-in user who is not a member of A, naming A
}

func (a isoActor) isUser() bool { return a.role != "" || a.outsider }

// isoUser is a signed-in user with an access token.
type isoUser struct {
	ID, Email, Password, Token string
}

// isoFixture holds two workspaces: A, which every actor calls, and B, whose ids are used
// to try to reach across. B's rows are digested before and after.
type isoFixture struct {
	e     *env
	A, B  string
	users map[auth.Role]isoUser // members of A
	userB isoUser               // owner of B, outsider to A
	keyA  map[auth.KeyScope]string
	keyB  string
	connA string
	connB string
	syncA string // a sync workflow id of A
	syncB string // a sync workflow id of B
	// reportA/B are on-demand reports, each with one rendered run (runA/B).
	reportA, reportB string
	runA, runB       string
	actors           []isoActor
	// foreign are B's ids by kind, for paths that name a resource.
	foreign map[string]string
	seq     int // numbers unique values in bodies
	// markers are strings only B's data contains; no answer to A's actors may hold one.
	markers []string
}

const isoPassword = "correct horse battery staple"

func (e *env) newUser(email string) isoUser {
	e.t.Helper()
	hash, err := auth.HashPassword(isoPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := store.CreateUser(e.ctx, e.Store.Pool, email, strings.Split(email, "@")[0], hash)
	if err != nil {
		e.t.Fatal(err)
	}
	return isoUser{ID: u.ID, Email: u.Email, Password: isoPassword, Token: e.sessionToken(u.ID)}
}

// sessionToken signs an access token for a new session of the user, as login would.
func (e *env) sessionToken(userID string) string {
	e.t.Helper()
	var family string
	if err := e.Store.Pool.QueryRow(e.ctx,
		`INSERT INTO refresh_families (id, user_id) VALUES (gen_random_uuid(), $1) RETURNING id`, userID).Scan(&family); err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.Tokens.Issue(userID, family)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *env) addMember(ws, userID string, role auth.Role) {
	e.t.Helper()
	if err := store.AddMember(e.ctx, e.Store.Pool, ws, userID, string(role)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) issueKey(ws string, scope auth.KeyScope) string {
	e.t.Helper()
	secret, k, err := apikey.Issue(e.ctx, e.Store, ws, "iso-"+string(scope))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.Store.Pool.Exec(e.ctx, `UPDATE api_keys SET scope = $1 WHERE id = $2`, string(scope), k.ID); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// as sends a request as the actor and returns the status and raw body.
func (f *isoFixture) as(a isoActor, method, path string, body any) (int, []byte) {
	f.e.t.Helper()
	return f.e.send(method, path, creds{bearer: a.bearer, workspace: a.header}, body)
}

func newIsoFixture(e *env) *isoFixture {
	f := &isoFixture{e: e, A: e.Workspace, users: map[auth.Role]isoUser{}, keyA: map[auth.KeyScope]string{}}
	for _, r := range auth.Roles {
		u := e.newUser(string(r) + "@a.example")
		e.addMember(f.A, u.ID, r)
		f.users[r] = u
	}
	f.keyA[auth.ScopeWrite] = e.APIKey
	f.keyA[auth.ScopeRead] = e.issueKey(f.A, auth.ScopeRead)

	wsB, err := e.Store.CreateWorkspace(e.ctx, "Workspace B secret-name-7f3a", "EUR", "Europe/Berlin")
	if err != nil {
		e.t.Fatal(err)
	}
	f.B = wsB.ID
	if err := e.Store.SetPlan(e.ctx, f.B, billing.Agency, "active"); err != nil {
		e.t.Fatal(err)
	}
	f.userB = e.newUser("owner@b.example")
	e.addMember(f.B, f.userB.ID, auth.Owner)
	f.keyB = e.issueKey(f.B, auth.ScopeWrite)

	f.connA = e.connectMeta()
	f.syncA = e.triggerSync(f.connA)
	keyA := e.APIKey
	e.APIKey = f.keyB
	f.connB = e.connectMeta()
	f.syncB = e.triggerSync(f.connB)
	e.APIKey = keyA
	f.reportA, f.runA = f.reportWithRun(f.A, "A report")
	f.reportB, f.runB = f.reportWithRun(f.B, "B report secret-report-9c1e")
	f.foreign = map[string]string{"connection": f.connB, "sync": f.syncB, "user": f.userB.ID, "workspace": f.B,
		"report": f.reportB}
	f.markers = []string{f.connB, f.syncB, f.userB.Email, "secret-name-7f3a", f.reportB, f.runB, "secret-report-9c1e"}

	f.actors = []isoActor{
		{name: "anonymous"},
		{name: "key-read", bearer: f.keyA[auth.ScopeRead], scope: auth.ScopeRead},
		{name: "key-write", bearer: f.keyA[auth.ScopeWrite], scope: auth.ScopeWrite},
	}
	for i := len(auth.Roles) - 1; i >= 0; i-- { // least powerful first
		r := auth.Roles[i]
		f.actors = append(f.actors, isoActor{name: string(r), bearer: f.users[r].Token, header: f.A, role: r})
	}
	f.actors = append(f.actors, isoActor{name: "outsider", bearer: f.userB.Token, header: f.A, outsider: true})
	return f
}

// spareConnection adds a TikTok connection to A for a call that consumes one.
func (f *isoFixture) spareConnection() string {
	f.e.t.Helper()
	f.seq++
	acct := fmt.Sprintf("7000%09d", f.seq)
	sealed, err := f.e.Box.Seal([]byte("spare-token"), secretbox.ConnectionTokenAAD(f.A, "tiktok", acct))
	if err != nil {
		f.e.t.Fatal(err)
	}
	c, err := f.e.Store.CreateConnection(f.e.ctx, store.NewConnection{
		WorkspaceID: f.A, Channel: "tiktok", ExternalAccountID: acct, DisplayName: "spare",
		TokenCiphertext: sealed, Timezone: "UTC", Currency: "USD", TokenKeyID: f.e.Box.KeyID(),
	})
	if err != nil {
		f.e.t.Fatal(err)
	}
	return c.ID
}

// reportWithRun stores an on-demand report of ws and one rendered run of it.
func (f *isoFixture) reportWithRun(ws, name string) (reportID, runID string) {
	f.e.t.Helper()
	r, err := f.e.Store.CreateReport(f.e.ctx, store.SaveReport{ID: uuid.NewString(), WorkspaceID: ws, Definition: report.Definition{
		Name: name, Metrics: []string{"spend"}, Range: report.Range{Relative: report.RangeYesterday},
		Formats: []string{"csv"}, Timezone: "UTC", Limit: report.DefaultRows,
	}}, nil)
	if err != nil {
		f.e.t.Fatal(err)
	}
	run, err := f.e.Store.StartReportRun(f.e.ctx, store.StartReportRunParams{WorkspaceID: ws, ReportID: r.ID,
		WorkflowID: "iso-" + r.ID, Trigger: "manual", From: "2026-01-01", To: "2026-01-01"})
	if err != nil {
		f.e.t.Fatal(err)
	}
	err = f.e.Store.SetReportRunRendered(f.e.ctx, run.ID, 1, nil, report.Document{Title: name},
		[]report.Artifact{{Format: "csv", ContentType: "text/csv", Filename: "r.csv", Content: []byte("Spend\r\n1\r\n")}})
	if err != nil {
		f.e.t.Fatal(err)
	}
	return r.ID, run.ID
}

// spareReport adds an on-demand report to A for a call that consumes one.
func (f *isoFixture) spareReport() string {
	f.e.t.Helper()
	f.seq++
	id, _ := f.reportWithRun(f.A, fmt.Sprintf("spare %d", f.seq))
	return id
}

// digestB is a summary of everything in workspace B an attack could change.
func (f *isoFixture) digestB() string {
	f.e.t.Helper()
	var d string
	err := f.e.Store.Pool.QueryRow(f.e.ctx, `
		SELECT concat_ws('|',
			(SELECT string_agg(concat_ws(',', id, status, display_name, md5(token_ciphertext), coalesce(md5(refresh_token_ciphertext), '')), ';' ORDER BY id) FROM connections WHERE workspace_id = $1),
			(SELECT string_agg(concat_ws(',', user_id, role), ';' ORDER BY user_id) FROM memberships WHERE workspace_id = $1),
			(SELECT string_agg(concat_ws(',', id, coalesce(revoked_at::text, ''), scope), ';' ORDER BY id) FROM api_keys WHERE workspace_id = $1),
			(SELECT string_agg(concat_ws(',', id, coalesce(revoked_at::text, ''), coalesce(accepted_at::text, '')), ';' ORDER BY id) FROM invites WHERE workspace_id = $1),
			(SELECT concat_ws(',', name, currency, timezone) FROM workspaces WHERE id = $1),
			(SELECT count(*) FROM audit_log WHERE workspace_id = $1)::text,
			(SELECT string_agg(concat_ws(',', id, name, paused, md5(definition::text), coalesce(md5(webhook_secret_ciphertext), '')), ';' ORDER BY id) FROM reports WHERE workspace_id = $1),
			(SELECT string_agg(concat_ws(',', id, status), ';' ORDER BY id) FROM report_runs WHERE workspace_id = $1),
			-- B's owner is also the outsider, who may rename themselves: the name is theirs.
			(SELECT string_agg(concat_ws(',', email, password_hash), ';' ORDER BY id) FROM users WHERE id = $2)
		)`, f.B, f.userB.ID).Scan(&d)
	if err != nil {
		f.e.t.Fatal(err)
	}
	return d
}

// isoCase says how to call one route: its path with A's own ids (fresh ones where the call
// consumes them), its path with B's ids, and its body.
type isoCase struct {
	// own fills the route's path with A's ids; it may create a fresh target per call.
	own func(f *isoFixture) string
	// foreign fills it with B's ids; nil for routes that name no resource.
	foreign func(f *isoFixture) string
	body    func(f *isoFixture) any
	// foreignBody, when set, is the body of the foreign call: B's ids inside the body.
	foreignBody func(f *isoFixture) any
	// ok lists the statuses an allowed caller may get besides 2xx (say 409 for a second
	// connect of the same account).
	ok []int
	// after runs after an allowed call succeeded, to restore what the call changed.
	after func(f *isoFixture, a isoActor)
}

func path(s string) func(*isoFixture) string { return func(*isoFixture) string { return s } }

func (c isoCase) allowedStatus(status int) bool {
	if status >= 200 && status < 300 {
		return true
	}
	for _, s := range c.ok {
		if s == status {
			return true
		}
	}
	return false
}

// expect is what the permission matrix says the actor gets on a route: "ok", or a status.
func expect(a isoActor, p api.Policy) (allowed bool, status int) {
	switch {
	case p.Access == api.Public:
		return true, 0
	case a.bearer == "":
		return false, http.StatusUnauthorized
	case p.Access == api.Signed:
		if a.isUser() {
			return true, 0
		}
		return false, http.StatusForbidden
	case a.outsider:
		return false, http.StatusNotFound
	case !a.isUser() && p.UsersOnly:
		return false, http.StatusForbidden
	case !a.isUser():
		if auth.KeyAllowed(a.scope, p.Action) {
			return true, 0
		}
		return false, http.StatusForbidden
	case auth.Allowed(a.role, p.Action):
		return true, 0
	}
	return false, http.StatusForbidden
}

// TestTenantIsolation calls every route the router has, as every role, API-key scope, an
// outsider and nobody, and with another workspace's ids: each answer is what the permission
// matrix says, and nothing of workspace B is ever shown or changed. A route added without a
// case here fails the test.
func TestTenantIsolation(t *testing.T) {
	e := newEnv(t, envOptions{billing: true})
	f := newIsoFixture(e)
	before := f.digestB()
	cases := isolationCases()
	seen := map[string]bool{}
	for _, rp := range e.Router.Policies() {
		key := rp.Method + " " + rp.Path
		seen[key] = true
		c, ok := cases[key]
		if !ok {
			t.Errorf("route %s has no case in isolationCases: add one", key)
			continue
		}
		t.Run(strings.ReplaceAll(key, "/", "_"), func(t *testing.T) {
			for _, a := range f.actors {
				var body any
				if c.body != nil {
					body = c.body(f)
				}
				p := c.own(f)
				status, raw := f.as(a, rp.Method, p, body)
				allowed, want := expect(a, rp.Policy)
				switch {
				case status >= 500:
					t.Errorf("%s %s as %s: %d %s", rp.Method, p, a.name, status, raw)
				case allowed && !c.allowedStatus(status):
					t.Errorf("%s %s as %s: got %d, want success: %s", rp.Method, p, a.name, status, raw)
				case !allowed && status != want:
					t.Errorf("%s %s as %s: got %d, want %d: %s", rp.Method, p, a.name, status, want, raw)
				}
				// A signed-in route answers about the caller, and the outsider owns B.
				if !(a.outsider && rp.Policy.Access == api.Signed) {
					f.noMarkers(t, a, rp.Method, p, raw)
				}
				if allowed && c.after != nil && c.allowedStatus(status) {
					c.after(f, a)
				}
			}
			if c.foreign != nil {
				// The most powerful callers of A, naming B's resources.
				for _, a := range []isoActor{f.actors[len(f.actors)-2], f.actors[2]} {
					var body any
					if c.body != nil {
						body = c.body(f)
					}
					if c.foreignBody != nil {
						body = c.foreignBody(f)
					}
					p := c.foreign(f)
					status, raw := f.as(a, rp.Method, p, body)
					refused := status == http.StatusNotFound || status == http.StatusForbidden ||
						// an id of B inside a body is an invalid field of this workspace's request
						(c.foreignBody != nil && status == http.StatusUnprocessableEntity)
					if rp.Policy.Access != api.Public && !refused {
						t.Errorf("%s %s (B's ids) as %s: got %d, want 404: %s", rp.Method, p, a.name, status, raw)
					}
					f.noMarkers(t, a, rp.Method, p, raw)
				}
			}
		})
	}
	for key := range cases {
		if !seen[key] {
			t.Errorf("isolationCases has %s, which the router does not serve", key)
		}
	}
	if after := f.digestB(); after != before {
		t.Errorf("workspace B changed:\nbefore %s\nafter  %s", before, after)
	}
}

func (f *isoFixture) noMarkers(t *testing.T, a isoActor, method, p string, raw []byte) {
	t.Helper()
	for _, m := range f.markers {
		if strings.Contains(string(raw), m) && !strings.Contains(p, m) {
			t.Errorf("%s %s as %s: the answer shows workspace B's %q: %s", method, p, a.name, m, raw)
		}
	}
}

func isolationCases() map[string]isoCase {
	day := func(offset int) string { return time.Now().AddDate(0, 0, offset).Format("2006-01-02") }
	rangeQ := "?from=" + day(-30) + "&to=" + day(0)
	conn := func(suffix string) isoCase {
		return isoCase{
			own:     func(f *isoFixture) string { return "/v1/connections/" + f.connA + suffix },
			foreign: func(f *isoFixture) string { return "/v1/connections/" + f.connB + suffix },
		}
	}
	withOK := func(c isoCase, ok ...int) isoCase { c.ok = ok; return c }
	withBody := func(c isoCase, b func(*isoFixture) any) isoCase { c.body = b; return c }
	cases := map[string]isoCase{
		"GET /healthz": {own: path("/healthz")},
		"GET /readyz":  {own: path("/readyz")},
		// Unsigned bodies are refused: 401 is what every caller gets.
		"POST /webhooks/shopify": {own: path("/webhooks/shopify"), ok: []int{401},
			body: func(*isoFixture) any { return map[string]any{"id": 1} }},

		"POST /v1/connections": {own: path("/v1/connections"), ok: []int{409},
			body: func(*isoFixture) any {
				return map[string]any{"channel": "meta", "account_id": "act_100200300", "access_token": "sandbox-meta-token"}
			}},
		"GET /v1/connections":       {own: path("/v1/connections")},
		"GET /v1/connections/:id":   conn(""),
		"PATCH /v1/connections/:id": withBody(conn(""), func(*isoFixture) any { return map[string]any{"display_name": "Renamed"} }),
		// Each call disconnects a connection of its own, so later callers still find one.
		"DELETE /v1/connections/:id": {
			own:     func(f *isoFixture) string { return "/v1/connections/" + f.spareConnection() },
			foreign: func(f *isoFixture) string { return "/v1/connections/" + f.connB },
		},
		"POST /v1/connections/:id/syncs":            conn("/syncs"),
		"POST /v1/connections/:id/backfills":        withOK(withBody(conn("/backfills"), func(*isoFixture) any { return map[string]any{"from": day(-10), "to": day(-9)} }), 409),
		"GET /v1/connections/:id/schedule":          conn("/schedule"),
		"PATCH /v1/connections/:id/schedule":        withBody(conn("/schedule"), func(*isoFixture) any { return map[string]any{"cron": "17 */6 * * *"} }),
		"POST /v1/connections/:id/schedule/trigger": conn("/schedule/trigger"),
		"POST /v1/syncs":                            {own: path("/v1/syncs")},
		"GET /v1/syncs/:workflow_id": {
			own:     func(f *isoFixture) string { return "/v1/syncs/" + f.syncA },
			foreign: func(f *isoFixture) string { return "/v1/syncs/" + f.syncB },
		},
		"GET /v1/metrics/summary":    {own: path("/v1/metrics/summary" + rangeQ)},
		"GET /v1/metrics/campaigns":  {own: path("/v1/metrics/campaigns" + rangeQ)},
		"GET /v1/metrics/timeseries": {own: path("/v1/metrics/timeseries" + rangeQ)},
		"GET /v1/metrics/channels":   {own: path("/v1/metrics/channels" + rangeQ)},
		"GET /v1/orders":             {own: path("/v1/orders" + rangeQ)},

		// Sessions: bodies that are refused before anything changes, so the actors' sessions
		// survive (a logout or password change would end them).
		"POST /v1/auth/signup": {own: path("/v1/auth/signup"), ok: []int{422},
			body: func(*isoFixture) any { return map[string]any{"email": "someone@new.example"} }},
		"POST /v1/auth/login": {own: path("/v1/auth/login"), ok: []int{401},
			body: func(f *isoFixture) any { return map[string]any{"email": f.userB.Email, "password": "not-the-password"} }},
		"POST /v1/auth/refresh": {own: path("/v1/auth/refresh"), ok: []int{401, 422},
			body: func(*isoFixture) any { return map[string]any{"refresh_token": "otr_forged"} }},
		"POST /v1/auth/logout": {own: path("/v1/auth/logout"), ok: []int{422},
			body: func(*isoFixture) any { return map[string]any{"refresh_token": "not-a-token"} }},
		"POST /v1/auth/password-reset": {own: path("/v1/auth/password-reset"),
			// One address per call: resets are limited per email.
			body: func(f *isoFixture) any {
				f.seq++
				return map[string]any{"email": fmt.Sprintf("nobody-%d@nowhere.example", f.seq)}
			}},
		"POST /v1/auth/password-reset/confirm": {own: path("/v1/auth/password-reset/confirm"), ok: []int{400, 422},
			body: func(*isoFixture) any {
				return map[string]any{"token": "otp_forged", "new_password": "a-new-password-123"}
			}},
		"GET /v1/me": {own: path("/v1/me")},
		"PATCH /v1/me": {own: path("/v1/me"),
			body: func(*isoFixture) any { return map[string]any{"name": "Same Person"} }},
		"POST /v1/me/password": {own: path("/v1/me/password"), ok: []int{422},
			body: func(*isoFixture) any {
				return map[string]any{"current_password": "not-the-password", "new_password": "a-new-password-123"}
			}},

		"POST /v1/connections/oauth/:provider/start": {
			own: path("/v1/connections/oauth/meta/start"), body: func(*isoFixture) any { return map[string]any{} },
			foreign:     path("/v1/connections/oauth/meta/start"),
			foreignBody: func(f *isoFixture) any { return map[string]any{"connection_id": f.connB} },
		},
		// Workspace A is on agency already (no Stripe subscription): a checkout creates a
		// customer and a session; the portal then finds that customer.
		"POST /v1/billing/checkout": {own: path("/v1/billing/checkout"), ok: []int{409},
			body: func(*isoFixture) any { return map[string]any{"plan": "starter"} }},
		"POST /v1/billing/portal": {own: path("/v1/billing/portal"), ok: []int{409},
			body: func(*isoFixture) any { return map[string]any{} }},
		"GET /v1/billing": {own: path("/v1/billing")},
		// Unsigned bodies are refused whoever sends them.
		"POST /webhooks/stripe": {own: path("/webhooks/stripe"), ok: []int{400},
			body: func(*isoFixture) any { return map[string]any{"id": "evt_1"} }},
		// A forged state is refused whoever calls.
		"GET /v1/oauth/callback/:provider": {own: path("/v1/oauth/callback/meta?state=s1.forged.sig&code=abc"), ok: []int{400}},
	}
	rep := func(suffix string) isoCase {
		return isoCase{
			own:     func(f *isoFixture) string { return "/v1/reports/" + f.reportA + suffix },
			foreign: func(f *isoFixture) string { return "/v1/reports/" + f.reportB + suffix },
		}
	}
	run := func(suffix string) isoCase {
		return isoCase{
			own:     func(f *isoFixture) string { return "/v1/reports/" + f.reportA + "/runs/" + f.runA + suffix },
			foreign: func(f *isoFixture) string { return "/v1/reports/" + f.reportB + "/runs/" + f.runB + suffix },
		}
	}
	definition := func(f *isoFixture) any {
		f.seq++
		return map[string]any{"name": fmt.Sprintf("Report %d", f.seq), "metrics": []string{"spend", "revenue"},
			"range": map[string]any{"relative": "last_7_days"}}
	}
	cases["POST /v1/reports"] = isoCase{own: path("/v1/reports"), body: definition}
	cases["GET /v1/reports"] = isoCase{own: path("/v1/reports")}
	cases["POST /v1/reports/preview"] = isoCase{own: path("/v1/reports/preview"), body: definition}
	cases["GET /v1/reports/:id"] = rep("")
	cases["PUT /v1/reports/:id"] = withBody(rep(""), definition)
	cases["DELETE /v1/reports/:id"] = isoCase{
		own:     func(f *isoFixture) string { return "/v1/reports/" + f.spareReport() },
		foreign: func(f *isoFixture) string { return "/v1/reports/" + f.reportB },
	}
	cases["POST /v1/reports/:id/pause"] = rep("/pause")
	cases["POST /v1/reports/:id/resume"] = rep("/resume")
	cases["POST /v1/reports/:id/run"] = rep("/run")
	cases["POST /v1/reports/:id/webhook-secret"] = rep("/webhook-secret")
	cases["GET /v1/reports/:id/runs"] = rep("/runs")
	cases["GET /v1/reports/:id/runs/:run"] = run("")
	cases["GET /v1/reports/:id/runs/:run/download"] = run("/download?format=csv")
	for k, c := range teamIsolationCases() {
		cases[k] = c
	}
	return cases
}
