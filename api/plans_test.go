package api_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/billingsvc"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/config"
	"github.com/omnitrackiq/omnitrackiq/internal/oauth"
	"github.com/omnitrackiq/omnitrackiq/internal/oauth/oauthtest"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// fakeBilling turns billing on for the router; these tests never call Stripe.
type fakeBilling struct{}

var errNoStripe = errors.New("fakeBilling: not used by these tests")

func (fakeBilling) Checkout(context.Context, billingsvc.CheckoutRequest) (billingsvc.CheckoutResult, error) {
	return billingsvc.CheckoutResult{}, errNoStripe
}
func (fakeBilling) Portal(context.Context, string, string) (string, error) { return "", errNoStripe }
func (fakeBilling) Overview(context.Context, string) (billingsvc.Overview, error) {
	return billingsvc.Overview{}, errNoStripe
}
func (fakeBilling) VerifyEvent([]byte, string) (billingsvc.Event, error) {
	return billingsvc.Event{}, errNoStripe
}
func (fakeBilling) ApplyEvent(context.Context, billingsvc.Event) (string, error) {
	return "", errNoStripe
}

// newPlansEnv is the team env (w1: owner, admin, member, viewer) with billing on.
func newPlansEnv(t *testing.T) *teamEnv {
	t.Helper()
	te := newTeamEnv(t)
	te.h = api.NewRouter(api.Deps{
		Store:      te.st,
		Syncs:      te.syncs,
		Connectors: channels.Registry{Ads: map[channels.Channel]channels.AdReader{channels.Meta: fakeReader{}}},
		Box:        te.box,
		Ready:      func(context.Context) error { return nil },
		Logger:     slog.New(slog.NewJSONHandler(te.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Tokens:     te.tokens,
		Mailer:     te.mail,
		Identity:   config.Identity{PublicURL: "https://api.example.test", AppURL: te.appURL, Signup: config.SignupOpen},
		Billing:    fakeBilling{},
	})
	return te
}

func setPlan(t *testing.T, st *store.Store, ws string, plan billing.PlanID) {
	t.Helper()
	if err := st.SetPlan(context.Background(), ws, plan, "active"); err != nil {
		t.Fatal(err)
	}
}

func setDunning(t *testing.T, st *store.Store, ws string, state billing.DunningState) {
	t.Helper()
	if err := st.SetDunning(context.Background(), ws, state, "dunning-test"); err != nil {
		t.Fatal(err)
	}
}

// planProblem checks a 402 plan-limit problem's members. usage < 0 means not counted;
// upgrade "" means no plan allows the request.
func planProblem(t *testing.T, rec *httptest.ResponseRecorder, limit billing.Limit, plan billing.PlanID, usage int, upgrade billing.PlanID) api.Problem {
	t.Helper()
	p := problem(t, rec, http.StatusPaymentRequired)
	pl, _ := billing.PlanByID(plan)
	if p.Type != "/problems/plan-limit" || p.Limit != string(limit) || p.Plan != string(plan) || p.LimitValue != pl.Value(limit) ||
		p.UpgradeTo != string(upgrade) {
		t.Fatalf("plan-limit problem %+v, want limit %s plan %s value %s upgrade %q", p, limit, plan, pl.Value(limit), upgrade)
	}
	switch {
	case usage < 0 && p.Usage != nil:
		t.Fatalf("usage %d on an uncounted limit", *p.Usage)
	case usage >= 0 && (p.Usage == nil || *p.Usage != usage):
		t.Fatalf("usage %v, want %d", p.Usage, usage)
	}
	if upgrade != "" && !strings.Contains(p.Detail, fmt.Sprintf("the %s plan ", upgrade)) {
		t.Fatalf("detail %q does not name the plan that lifts the limit", p.Detail)
	}
	if upgrade == "" && !strings.Contains(p.Detail, "no plan allows") {
		t.Fatalf("detail %q does not say that no plan allows it", p.Detail)
	}
	return p
}

// wantGates is the gate of every workspace route (README "Billing standing"). Routes under
// /v1/billing are billing's own and must use GateBilling.
var wantGates = map[string]billing.Gate{
	"POST /v1/connections":                       billing.GateCreate,
	"GET /v1/connections":                        billing.GateRead,
	"GET /v1/connections/:id":                    billing.GateRead,
	"POST /v1/connections/:id/syncs":             billing.GateSync,
	"POST /v1/connections/:id/backfills":         billing.GateSync,
	"GET /v1/connections/:id/schedule":           billing.GateRead,
	"PATCH /v1/connections/:id/schedule":         billing.GateWrite,
	"POST /v1/connections/:id/schedule/trigger":  billing.GateSync,
	"POST /v1/syncs":                             billing.GateSync,
	"GET /v1/syncs/:workflow_id":                 billing.GateRead,
	"GET /v1/metrics/summary":                    billing.GateRead,
	"GET /v1/metrics/campaigns":                  billing.GateRead,
	"GET /v1/metrics/timeseries":                 billing.GateRead,
	"GET /v1/metrics/channels":                   billing.GateRead,
	"GET /v1/orders":                             billing.GateExport,
	"POST /v1/connections/oauth/:provider/start": billing.GateCreate,
	"GET /v1/workspace":                          billing.GateRead,
	"PATCH /v1/workspace":                        billing.GateWrite,
	"POST /v1/workspace/leave":                   billing.GateReduce,
	"POST /v1/workspace/transfer-ownership":      billing.GateBilling,
	"GET /v1/members":                            billing.GateBilling,
	"PATCH /v1/members/:user_id":                 billing.GateWrite,
	"DELETE /v1/members/:user_id":                billing.GateReduce,
	"POST /v1/invites":                           billing.GateWrite,
	"GET /v1/invites":                            billing.GateRead,
	"DELETE /v1/invites/:id":                     billing.GateReduce,
	"POST /v1/api-keys":                          billing.GateWrite,
	"GET /v1/api-keys":                           billing.GateRead,
	"DELETE /v1/api-keys/:id":                    billing.GateReduce,
	"GET /v1/audit":                              billing.GateRead,
	"PATCH /v1/connections/:id":                  billing.GateWrite,
	"DELETE /v1/connections/:id":                 billing.GateReduce,
	"POST /v1/reports":                           billing.GateCreate,
	"GET /v1/reports":                            billing.GateRead,
	"POST /v1/reports/preview":                   billing.GateRead,
	"GET /v1/reports/:id":                        billing.GateRead,
	"PUT /v1/reports/:id":                        billing.GateWrite,
	"DELETE /v1/reports/:id":                     billing.GateReduce,
	"POST /v1/reports/:id/pause":                 billing.GateReduce,
	"POST /v1/reports/:id/resume":                billing.GateWrite,
	"POST /v1/reports/:id/run":                   billing.GateCreate,
	"POST /v1/reports/:id/webhook-secret":        billing.GateWrite,
	"GET /v1/reports/:id/runs":                   billing.GateRead,
	"GET /v1/reports/:id/runs/:run":              billing.GateRead,
	"GET /v1/reports/:id/runs/:run/download":     billing.GateRead,
}

func TestRouteGates(t *testing.T) {
	seen := map[string]bool{}
	for _, rp := range api.NewRouter(api.Deps{}).Policies() {
		route := rp.Method + " " + rp.Path
		if rp.Policy.Access != api.Scoped {
			continue
		}
		seen[route] = true
		want, ok := wantGates[route]
		if strings.HasPrefix(rp.Path, "/v1/billing") {
			want, ok = billing.GateBilling, true
		}
		if !ok {
			t.Errorf("%s has no gate in wantGates (and the README's Billing standing table)", route)
			continue
		}
		if rp.Policy.Gate != want {
			t.Errorf("%s has gate %s, want %s", route, rp.Policy.Gate, want)
		}
	}
	for route := range wantGates {
		if !seen[route] {
			t.Errorf("wantGates names %s, which is not a workspace route", route)
		}
	}
}

// gateRequest is a request on the route that passes authorization: path parameters filled
// with ids that do not exist, an empty JSON object as body.
func gateRequest(method, path string) (string, string) {
	const id = "00000000-0000-4000-8000-000000000001"
	r := strings.NewReplacer(":user_id", id, ":id", id, ":provider", "meta", ":workflow_id", "sync-"+id)
	body := ""
	if method == "POST" || method == "PATCH" {
		body = "{}"
	}
	return r.Replace(path), body
}

// Every workspace route, in every dunning state: 402 exactly when the state does not permit
// the route's gate, and then nothing changes.
func TestDunningStandingGatesEveryRoute(t *testing.T) {
	te := newPlansEnv(t)
	policies := api.NewRouter(api.Deps{}).Policies()
	for _, state := range []billing.DunningState{billing.DunningNone, billing.DunningGrace, billing.DunningRestricted, billing.DunningSuspended} {
		setDunning(t, te.st, te.w1.ID, state)
		for _, rp := range policies {
			if rp.Policy.Access != api.Scoped {
				continue
			}
			path, body := gateRequest(rp.Method, rp.Path)
			if !state.Permits(rp.Policy.Gate) {
				te.unchanged(t, func() {
					p := problem(t, te.call(te.owner, rp.Method, path, body), http.StatusPaymentRequired)
					if p.Type != "/problems/payment-required" || p.DunningState != string(state) ||
						!strings.Contains(p.Detail, "POST /v1/billing/portal") || !strings.Contains(p.Detail, string(state)) {
						t.Errorf("%s %s while %s: problem %+v", rp.Method, rp.Path, state, p)
					}
				})
				continue
			}
			if rec := te.call(te.owner, rp.Method, path, body); rec.Code == http.StatusPaymentRequired {
				t.Errorf("%s %s while %s: 402 for a permitted gate %s: %s", rp.Method, rp.Path, state, rp.Policy.Gate, rec.Body)
			}
		}
	}

	// API keys are held to the same standing; the role check comes first.
	setDunning(t, te.st, te.w1.ID, billing.DunningSuspended)
	problem(t, te.call(te.writeKey, "POST", "/v1/syncs", ""), http.StatusPaymentRequired)
	recent := time.Now().AddDate(0, 0, -5).Format("2006-01-02")
	if rec := te.call(te.writeKey, "GET", "/v1/orders?from="+recent+"&to="+recent, ""); rec.Code != http.StatusOK {
		t.Fatalf("orders export refused while suspended: %s", rec.Body)
	}
	problem(t, te.call(te.viewer, "POST", "/v1/syncs", ""), http.StatusForbidden)
	// Another workspace is not affected.
	own := te.outside
	own.ws = te.w2.ID
	if rec := te.call(own, "GET", "/v1/workspace", ""); rec.Code != http.StatusOK {
		t.Fatalf("w2 while w1 is suspended: %d %s", rec.Code, rec.Body)
	}

	// Recovery restores everything at once.
	setDunning(t, te.st, te.w1.ID, billing.DunningRecovered)
	decode(t, te.call(te.writeKey, "POST", "/v1/syncs", ""), http.StatusAccepted, &api.SyncHandle{})
}

// Without billing configured (a self-hosted install), neither standing nor limits apply.
func TestNoBillingNoLimits(t *testing.T) {
	e := newEnv(t)
	setDunning(t, e.st, e.w1.ID, billing.DunningSuspended)
	for _, acct := range []string{"1", "2", "3", "4"} {
		e.connect(e.key1, acct)
	}
	c := e.connect(e.key1, "5")
	// Every 15 minutes, which the free plan refuses; the floor under every plan still holds.
	decode(t, e.do("PATCH", "/v1/connections/"+c.ID+"/schedule", e.key1, `{"cron":"*/15 * * * *"}`), http.StatusOK, new(map[string]any))
	problem(t, e.do("PATCH", "/v1/connections/"+c.ID+"/schedule", e.key1, `{"cron":"* * * * *"}`), http.StatusUnprocessableEntity)
	rec := e.do("GET", "/v1/metrics/summary?from=2000-01-01&to=2002-01-01", e.key1, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("old history without billing: %d %s", rec.Code, rec.Body)
	}
}

func TestPlanLimitConnections(t *testing.T) {
	te := newPlansEnv(t)
	create := func(account string) *httptest.ResponseRecorder {
		return te.call(te.writeKey, "POST", "/v1/connections",
			fmt.Sprintf(`{"channel":"meta","account_id":%q,"access_token":%q}`, account, goodToken))
	}
	// A workspace without a billing account is on free: 2 connections.
	var first api.Connection
	decode(t, create("1"), http.StatusCreated, &first)
	decode(t, create("2"), http.StatusCreated, &api.Connection{})
	te.writesNothing(t, func() {
		p := planProblem(t, create("3"), billing.LimitConnections, billing.Free, 2, billing.Starter)
		want := "the free plan allows 2 connections and this workspace has 2; the starter plan allows 5 connections: upgrade with POST /v1/billing/checkout"
		if p.Detail != want {
			t.Fatalf("detail %q, want %q", p.Detail, want)
		}
	})
	// An account already connected is a conflict, not a new connection.
	problem(t, create("2"), http.StatusConflict)

	// Disconnecting frees a slot; the disconnected connection no longer counts.
	if rec := te.call(te.writeKey, "DELETE", "/v1/connections/"+first.ID, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("disconnect: %d %s", rec.Code, rec.Body)
	}
	decode(t, create("3"), http.StatusCreated, &api.Connection{})

	// A bigger plan has room for more.
	setPlan(t, te.st, te.w1.ID, billing.Starter)
	for _, a := range []string{"4", "5", "6"} {
		decode(t, create(a), http.StatusCreated, &api.Connection{})
	}
	planProblem(t, create("7"), billing.LimitConnections, billing.Starter, 5, billing.Pro)

	// At the top plan's limit nothing lifts it.
	setPlan(t, te.st, te.w1.ID, billing.Agency)
	if _, err := te.st.Pool.Exec(context.Background(), `INSERT INTO connections (workspace_id, channel, external_account_id,
		display_name, token_ciphertext, timezone, currency)
		SELECT $1, 'tiktok', 'bulk' || i, 'bulk', '\x00', 'UTC', 'USD' FROM generate_series(1, 95) i`, te.w1.ID); err != nil {
		t.Fatal(err)
	}
	p := planProblem(t, create("8"), billing.LimitConnections, billing.Agency, 100, "")
	if !strings.Contains(p.Detail, "disconnect a connection first") {
		t.Fatalf("detail %q", p.Detail)
	}
}

// Two requests racing for the last slot cannot both take it.
func TestPlanLimitConnectionsRace(t *testing.T) {
	te := newPlansEnv(t)
	decode(t, te.call(te.writeKey, "POST", "/v1/connections",
		fmt.Sprintf(`{"channel":"meta","account_id":"1","access_token":%q}`, goodToken)), http.StatusCreated, &api.Connection{})
	const racers = 6
	codes := make([]int, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest("POST", "/v1/connections",
				strings.NewReader(fmt.Sprintf(`{"channel":"meta","account_id":"%d","access_token":%q}`, 100+i, goodToken)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+te.writeKey.cred)
			rec := httptest.NewRecorder()
			te.h.ServeHTTP(rec, req)
			codes[i] = rec.Code
		}()
	}
	wg.Wait()
	created, refused := 0, 0
	for _, c := range codes {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusPaymentRequired:
			refused++
		default:
			t.Errorf("status %d", c)
		}
	}
	if created != 1 || refused != racers-1 {
		t.Fatalf("%d created and %d refused of %d racing for one slot (%v)", created, refused, racers, codes)
	}
	if n := te.count(`SELECT count(*) FROM connections WHERE workspace_id = $1`, te.w1.ID); n != 2 {
		t.Fatalf("%d connections on free", n)
	}
}

func TestPlanLimitMembers(t *testing.T) {
	te := newPlansEnv(t)
	// w1 has 4 members; free allows 2, so no invite goes out, and none is stored.
	te.unchanged(t, func() {
		planProblem(t, te.call(te.admin, "POST", "/v1/invites", `{"email":"new@example.com","role":"member"}`),
			billing.LimitMembers, billing.Free, 4, billing.Starter)
	})
	if n := len(te.mail.messages()); n != 0 {
		t.Fatalf("%d mails sent for a refused invite", n)
	}

	// Starter allows 5: one invite fits, a second does not; replacing the pending invite to
	// the same email is not one more.
	setPlan(t, te.st, te.w1.ID, billing.Starter)
	te.invite(te.admin, "a@example.com", "member")
	te.invite(te.admin, "a@example.com", "viewer")
	te.unchanged(t, func() {
		planProblem(t, te.call(te.admin, "POST", "/v1/invites", `{"email":"b@example.com","role":"member"}`),
			billing.LimitMembers, billing.Starter, 5, billing.Pro)
	})
	// Revoking frees the seat (revoking is allowed whatever the plan).
	var pendingID string
	if err := te.st.Pool.QueryRow(context.Background(), `SELECT id FROM invites WHERE workspace_id = $1 AND revoked_at IS NULL`,
		te.w1.ID).Scan(&pendingID); err != nil {
		t.Fatal(err)
	}
	if rec := te.call(te.admin, "DELETE", "/v1/invites/"+pendingID, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("revoke: %d", rec.Code)
	}
	_, tokB := te.invite(te.admin, "b@example.com", "member")

	// Accepting checks members only: invites sent under pro, accepted after a downgrade.
	setPlan(t, te.st, te.w1.ID, billing.Pro)
	_, tokC := te.invite(te.admin, "c@example.com", "member")
	_, tokD := te.invite(te.admin, "d@example.com", "member")
	setPlan(t, te.st, te.w1.ID, billing.Starter)
	accept := func(tok, name string) *httptest.ResponseRecorder {
		return te.call(anonymous, "POST", "/v1/invites/accept",
			fmt.Sprintf(`{"token":%q,"name":%q,"password":"long enough pw"}`, tok, name))
	}
	decode(t, accept(tokB, "B"), http.StatusCreated, &api.AcceptedInvite{}) // 5 members
	te.unchanged(t, func() {
		p := planProblem(t, accept(tokC, "C"), billing.LimitMembers, billing.Starter, 5, billing.Pro)
		if !strings.Contains(p.Detail, "ask the workspace's owner to upgrade") {
			t.Fatalf("detail %q", p.Detail)
		}
	})
	// A signed-in user is held to the same seat count.
	d := te.user("d@example.com", te.w2.ID, auth.Member)
	te.unchanged(t, func() {
		planProblem(t, te.call(caller{cred: d.cred}, "POST", "/v1/invites/accept-as-me", fmt.Sprintf(`{"token":%q}`, tokD)),
			billing.LimitMembers, billing.Starter, 5, billing.Pro)
	})
	// The refused invites stay usable: after an upgrade they are accepted.
	setPlan(t, te.st, te.w1.ID, billing.Pro)
	decode(t, accept(tokC, "C"), http.StatusCreated, &api.AcceptedInvite{})
	decode(t, te.call(caller{cred: d.cred}, "POST", "/v1/invites/accept-as-me", fmt.Sprintf(`{"token":%q}`, tokD)), http.StatusOK, &api.AcceptedInvite{})
	if n := te.count(`SELECT count(*) FROM memberships WHERE workspace_id = $1`, te.w1.ID); n != 7 {
		t.Fatalf("%d members, want 7", n)
	}
}

func TestPlanLimitHistory(t *testing.T) {
	te := newPlansEnv(t)
	loc, err := time.LoadLocation(te.w1.Timezone)
	if err != nil {
		t.Fatal(err)
	}
	y, m, d := time.Now().In(loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	day := func(back int) string { return today.AddDate(0, 0, -back).Format("2006-01-02") }
	routes := []string{"/v1/metrics/summary", "/v1/metrics/timeseries", "/v1/metrics/channels", "/v1/metrics/campaigns", "/v1/orders"}
	for _, r := range routes {
		// Free reads 90 days back.
		if rec := te.call(te.readKey, "GET", r+"?from="+day(90)+"&to="+day(0), ""); rec.Code != http.StatusOK {
			t.Fatalf("%s from 90 days back: %d %s", r, rec.Code, rec.Body)
		}
		p := planProblem(t, te.call(te.readKey, "GET", r+"?from="+day(91)+"&to="+day(0), ""), billing.LimitHistoryDays, billing.Free, -1, billing.Starter)
		if !strings.Contains(p.Detail, "the free plan reads 90 days of history (from "+day(90)+" on) and from "+day(91)+" is 91 days back") {
			t.Fatalf("%s detail %q", r, p.Detail)
		}
		planProblem(t, te.call(te.readKey, "GET", r+"?from="+day(400)+"&to="+day(300), ""), billing.LimitHistoryDays, billing.Free, -1, billing.Pro)
		// 300 days: within every endpoint's longest window (api/metrics.go).
		planProblem(t, te.call(te.readKey, "GET", r+"?from="+day(2000)+"&to="+day(1700), ""), billing.LimitHistoryDays, billing.Free, -1, "")
		// Validation comes first.
		problem(t, te.call(te.readKey, "GET", r+"?from="+day(2000), ""), http.StatusUnprocessableEntity)
	}
	setPlan(t, te.st, te.w1.ID, billing.Pro)
	if rec := te.call(te.readKey, "GET", "/v1/metrics/summary?from="+day(400)+"&to="+day(300), ""); rec.Code != http.StatusOK {
		t.Fatalf("pro reading 400 days back: %d %s", rec.Code, rec.Body)
	}
}

func TestPlanLimitSyncInterval(t *testing.T) {
	te := newPlansEnv(t)
	var conn api.Connection
	decode(t, te.call(te.writeKey, "POST", "/v1/connections",
		fmt.Sprintf(`{"channel":"meta","account_id":"1","access_token":%q}`, goodToken)), http.StatusCreated, &conn)
	patch := func(cron string) *httptest.ResponseRecorder {
		return te.call(te.writeKey, "PATCH", "/v1/connections/"+conn.ID+"/schedule", fmt.Sprintf(`{"cron":%q}`, cron))
	}
	calls := te.syncs.callCount()
	p := planProblem(t, patch("0 * * * *"), billing.LimitSyncInterval, billing.Free, -1, billing.Starter)
	want := `the free plan syncs a connection at most every 6h and "0 * * * *" fires every 1h at the shortest; ` +
		`the starter plan syncs a connection at most every 1h: upgrade with POST /v1/billing/checkout`
	if p.Detail != want {
		t.Fatalf("detail %q, want %q", p.Detail, want)
	}
	planProblem(t, patch("*/15 * * * *"), billing.LimitSyncInterval, billing.Free, -1, billing.Agency)
	planProblem(t, patch("*/5 * * * *"), billing.LimitSyncInterval, billing.Free, -1, "")
	bad := problem(t, patch("0 0 30 2 *"), http.StatusUnprocessableEntity)
	if bad.Errors[0].Field != "cron" || !strings.Contains(bad.Errors[0].Message, "never fires") {
		t.Fatalf("bad cron %+v", bad.Errors)
	}
	if got := te.syncs.callCount(); got != calls {
		t.Fatalf("refused schedules reached Temporal: %v", te.syncs.calls[calls:])
	}
	decode(t, patch("17 */6 * * *"), http.StatusOK, new(map[string]any))
	// Pausing or moving the timezone needs no interval check.
	decode(t, te.call(te.writeKey, "PATCH", "/v1/connections/"+conn.ID+"/schedule", `{"paused":true}`), http.StatusOK, new(map[string]any))
	setPlan(t, te.st, te.w1.ID, billing.Starter)
	decode(t, patch("0 * * * *"), http.StatusOK, new(map[string]any))
}

// oauthWithBilling rebuilds the OAuth env's router with billing on.
func oauthWithBilling(e *oauthEnv) {
	cfg := e.fake.Config(oauthPublicURL, []byte(oauthJWTSecret))
	cfg.Now = e.clock
	oc, err := oauth.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	readers := map[channels.Channel]channels.AdReader{}
	for _, ch := range []channels.Channel{channels.Meta, channels.GoogleAds, channels.TikTok} {
		readers[ch] = oauthReader{ch: ch, fake: e.fake}
	}
	e.h = api.NewRouter(api.Deps{
		Store: e.st, Syncs: e.syncs, Box: e.box, Tokens: e.tokens, OAuth: oc,
		Connectors:           channels.Registry{Ads: readers},
		ShopifyWebhookSecret: []byte(oauthtest.ShopifySecret),
		Identity:             config.Identity{PublicURL: oauthPublicURL, AppURL: oauthAppURL},
		Logger:               slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Billing:              fakeBilling{},
	})
}

func TestPlanLimitOAuthConnect(t *testing.T) {
	e := newOAuthEnv(t)
	oauthWithBilling(e)
	ctx := context.Background()
	if _, err := e.st.CreateConnection(ctx, store.NewConnection{WorkspaceID: e.ws.ID, Channel: "tiktok",
		ExternalAccountID: "9", TokenCiphertext: []byte{0}, Timezone: "UTC", Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	// The Meta consent grants two accounts; free has room for one more: nothing is connected.
	q := e.fake.Approve("meta", e.start("meta", ""))
	before := e.counts()
	planProblem(t, e.callback("meta", q), billing.LimitConnections, billing.Free, 1, billing.Starter)
	e.unchanged(t, before, true)

	// One account fits.
	conns := e.connections(e.callback("meta", e.fake.Approve("meta", e.start("meta", `{"account_ids":["1111"]}`))))
	if len(conns) != 1 {
		t.Fatalf("connections %+v", conns)
	}
	// Renewing it at the limit is not a new connection.
	if got := e.connections(e.callback("meta", e.fake.Approve("meta", e.start("meta", `{"connection_id":"`+conns[0].ID+`"}`)))); len(got) != 1 || got[0].ID != conns[0].ID {
		t.Fatalf("renewed %+v", got)
	}
	// Bringing a disconnected one back is.
	if _, err := e.st.DisconnectConnection(ctx, e.ws.ID, conns[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CreateConnection(ctx, store.NewConnection{WorkspaceID: e.ws.ID, Channel: "tiktok",
		ExternalAccountID: "8", TokenCiphertext: []byte{0}, Timezone: "UTC", Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	q = e.fake.Approve("meta", e.start("meta", `{"connection_id":"`+conns[0].ID+`"}`))
	planProblem(t, e.callback("meta", q), billing.LimitConnections, billing.Free, 2, billing.Starter)
	if r := e.row(conns[0].ID); r.status != "disconnected" {
		t.Fatalf("refused reconnect changed the connection: %s", r.status)
	}

	// A workspace restricted after the consent started cannot finish it.
	setPlan(t, e.st, e.ws.ID, billing.Starter)
	q = e.fake.Approve("meta", e.start("meta", `{"account_ids":["2222"]}`))
	setDunning(t, e.st, e.ws.ID, billing.DunningRestricted)
	before = e.counts()
	p := problem(t, e.callback("meta", q), http.StatusPaymentRequired)
	if p.Type != "/problems/payment-required" || p.DunningState != "restricted" {
		t.Fatalf("problem %+v", p)
	}
	e.unchanged(t, before, true)
	// And cannot start one.
	problem(t, e.req("POST", "/v1/connections/oauth/meta/start", e.bearer(e.owner), e.ws.ID, ""), http.StatusPaymentRequired)
}

// readmeTable returns the rows of the first table after the heading (its header first),
// cells trimmed of spaces and backquotes.
func readmeTable(t *testing.T, heading string) [][]string {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	in := false
	for line := range strings.SplitSeq(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			if in && len(rows) > 0 {
				break
			}
			in = line == heading
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if len(rows) > 0 {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		if strings.HasPrefix(cells[0], "---") {
			continue
		}
		rows = append(rows, cells)
	}
	if len(rows) < 2 {
		t.Fatalf("README has no table under %q", heading)
	}
	return rows
}

// TestREADMEPlans checks the README's plan table against the catalog, cell by cell.
func TestREADMEPlans(t *testing.T) {
	rows := readmeTable(t, "## Plans and limits")
	header := strings.Join(rows[0], "|")
	if header != "plan|per month|connections|members|history days|scheduled reports|shortest sync interval" {
		t.Fatalf("plan table header %q", header)
	}
	plans := billing.Plans()
	if len(rows)-1 != len(plans) {
		t.Fatalf("README lists %d plans, the catalog %d", len(rows)-1, len(plans))
	}
	for i, p := range plans {
		row := rows[i+1]
		want := []string{string(p.ID), fmt.Sprintf("$%d", p.MonthlyCents/100), fmt.Sprint(p.Limits.Connections),
			fmt.Sprint(p.Limits.Members), fmt.Sprint(p.Limits.HistoryDays), fmt.Sprint(p.Limits.ScheduledReports)}
		if p.MonthlyCents%100 != 0 {
			want[1] = fmt.Sprintf("$%d.%02d", p.MonthlyCents/100, p.MonthlyCents%100)
		}
		if got := row[:len(want)]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("README row %v, catalog %v", got, want)
		}
		if d, err := time.ParseDuration(row[len(want)]); err != nil || d != p.Limits.MinSyncInterval {
			t.Errorf("%s: README interval %q, catalog %s", p.ID, row[len(want)], p.Limits.MinSyncInterval)
		}
	}
}

// TestREADMEBillingStanding checks the README's standing table against
// billing.DunningState.Permits, and that it lists every gate in order.
func TestREADMEBillingStanding(t *testing.T) {
	rows := readmeTable(t, "### Billing standing")
	states := []billing.DunningState{billing.DunningNone, billing.DunningGrace, billing.DunningRestricted, billing.DunningSuspended}
	col := map[billing.DunningState]int{}
	for i, h := range rows[0] {
		for _, s := range states {
			if h == string(s) {
				col[s] = i
			}
		}
	}
	if len(col) != len(states) || rows[0][0] != "gate" {
		t.Fatalf("standing table header %v: want gate, then a column per state %v", rows[0], states)
	}
	if len(rows)-1 != len(billing.Gates) {
		t.Fatalf("README lists %d gates, billing.Gates %d", len(rows)-1, len(billing.Gates))
	}
	for i, g := range billing.Gates {
		row := rows[i+1]
		if row[0] != g.String() {
			t.Fatalf("row %d is gate %q, want %q", i+1, row[0], g)
		}
		for _, s := range states {
			cell := row[col[s]]
			if cell != "yes" && cell != "no" {
				t.Fatalf("%s / %s: cell %q is not yes or no", g, s, cell)
			}
			if (cell == "yes") != s.Permits(g) {
				t.Errorf("README says %s / %s = %s, the code says %v", g, s, cell, s.Permits(g))
			}
		}
	}
}
