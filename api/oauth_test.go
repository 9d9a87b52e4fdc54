package api_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/apikey"
	"github.com/omnitrackiq/omnitrackiq/internal/auth"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/config"
	"github.com/omnitrackiq/omnitrackiq/internal/oauth"
	"github.com/omnitrackiq/omnitrackiq/internal/oauth/oauthtest"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

const (
	oauthJWTSecret = "oauth-test-jwt-secret-0123456789abcdef"
	oauthPublicURL = "https://api.omnitrackiq.test"
	oauthAppURL    = "https://app.omnitrackiq.test"
)

// oauthReader answers AccountInfo for tokens the fake provider issued, as a connector would.
type oauthReader struct {
	ch   channels.Channel
	fake *oauthtest.Fake
}

func (r oauthReader) AccountInfo(_ context.Context, acct channels.Account) (channels.AccountInfo, error) {
	if !r.fake.Live(acct.Token) && !r.fake.Live(acct.RefreshToken) {
		return channels.AccountInfo{}, &channels.Error{Channel: r.ch, Kind: channels.KindAuth, HTTPStatus: 401, Message: "token not accepted"}
	}
	return channels.AccountInfo{ID: acct.ID, Name: string(r.ch) + " account " + acct.ID, Currency: "EUR", Timezone: "Europe/Paris"}, nil
}

func (oauthReader) ReadPage(context.Context, channels.Account, channels.ReadRequest, string) (channels.Page, error) {
	return channels.Page{}, fmt.Errorf("not used")
}

func (oauthReader) ReadOrders(context.Context, channels.Account, channels.OrdersRequest, string) (channels.OrdersPage, error) {
	return channels.OrdersPage{}, fmt.Errorf("not used")
}

func (oauthReader) ReadSessions(context.Context, channels.Account, channels.ReadRequest, string) (channels.SessionsPage, error) {
	return channels.SessionsPage{}, fmt.Errorf("not used")
}

// oauthEnv is the API with OAuth connect against the fake providers, a workspace and users.
type oauthEnv struct {
	t      *testing.T
	st     *store.Store
	box    *secretbox.Box
	syncs  *fakeSyncs
	fake   *oauthtest.Fake
	h      http.Handler
	logs   *syncBuffer
	mu     sync.Mutex
	now    time.Time
	ws     store.Workspace
	other  store.Workspace
	owner  store.User
	viewer store.User
	tokens *auth.Tokens
	apiKey string
}

func (e *oauthEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *oauthEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func newOAuthEnv(t *testing.T) *oauthEnv {
	t.Helper()
	ctx := context.Background()
	st, _ := testdb.New(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	e := &oauthEnv{t: t, st: st, box: box, syncs: newFakeSyncs(), fake: oauthtest.New(t), logs: &syncBuffer{}, now: time.Now()}
	if e.ws, err = st.CreateWorkspace(ctx, "Acme", "USD", "America/New_York"); err != nil {
		t.Fatal(err)
	}
	if e.other, err = st.CreateWorkspace(ctx, "Other", "USD", "UTC"); err != nil {
		t.Fatal(err)
	}
	e.owner = e.user("owner@example.test", e.ws.ID, "owner")
	e.viewer = e.user("viewer@example.test", e.ws.ID, "viewer")
	if err := store.AddMember(ctx, st.Pool, e.other.ID, e.owner.ID, "owner"); err != nil {
		t.Fatal(err)
	}
	if e.tokens, err = auth.NewTokens([]byte(oauthJWTSecret), nil); err != nil {
		t.Fatal(err)
	}
	e.apiKey = apiKeyFor(t, st, e.ws.ID)
	cfg := e.fake.Config(oauthPublicURL, []byte(oauthJWTSecret))
	cfg.Now = e.clock
	oc, err := oauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	readers := map[channels.Channel]channels.AdReader{}
	for _, ch := range []channels.Channel{channels.Meta, channels.GoogleAds, channels.TikTok} {
		readers[ch] = oauthReader{ch: ch, fake: e.fake}
	}
	e.h = api.NewRouter(api.Deps{
		Store: st, Syncs: e.syncs, Box: box, Tokens: e.tokens, OAuth: oc,
		Connectors: channels.Registry{Ads: readers,
			Orders:   map[channels.Channel]channels.OrderReader{channels.Shopify: oauthReader{ch: channels.Shopify, fake: e.fake}},
			Sessions: map[channels.Channel]channels.SessionReader{channels.GA4: oauthReader{ch: channels.GA4, fake: e.fake}}},
		ShopifyWebhookSecret: []byte(oauthtest.ShopifySecret),
		Identity:             config.Identity{PublicURL: oauthPublicURL, AppURL: oauthAppURL},
		Logger:               slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	t.Cleanup(e.checkNoTokensLogged)
	return e
}

func (e *oauthEnv) user(email, ws, role string) store.User {
	e.t.Helper()
	ctx := context.Background()
	u, err := store.CreateUser(ctx, e.st.Pool, email, "", "x")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := store.AddMember(ctx, e.st.Pool, ws, u.ID, role); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// bearer issues an access token of a fresh session of u.
func (e *oauthEnv) bearer(u store.User) string {
	e.t.Helper()
	family := mustUUID(e.t, e.st)
	if _, err := e.st.Pool.Exec(context.Background(), `INSERT INTO refresh_families (id, user_id) VALUES ($1, $2)`, family, u.ID); err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.tokens.Issue(u.ID, family)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func mustUUID(t *testing.T, st *store.Store) string {
	var id string
	if err := st.Pool.QueryRow(context.Background(), `SELECT gen_random_uuid()::text`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func apiKeyFor(t *testing.T, st *store.Store, ws string) string {
	t.Helper()
	key, _, err := apikey.Issue(context.Background(), st, ws, "oauth")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// checkNoTokensLogged fails if a token the fake issued appears in the log.
func (e *oauthEnv) checkNoTokensLogged() {
	logs := e.logs.String()
	for _, s := range []string{"meta-long-", "meta-short-", "ya29.", "1//refresh-", "tiktok-token-", "shpat_", "code-",
		oauthtest.MetaAppSecret, oauthtest.GoogleSecret, oauthtest.TikTokSecret, oauthtest.ShopifySecret} {
		if strings.Contains(logs, s) {
			e.t.Errorf("the log contains a secret starting %q", s)
		}
	}
}

// req sends a request as the user's bearer token (or an API key) naming the workspace.
func (e *oauthEnv) req(method, path, bearer, ws, body string, header ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	if ws != "" {
		r.Header.Set(api.WorkspaceHeader, ws)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	for _, s := range []string{"meta-long-", "ya29.", "1//refresh-", "tiktok-token-", "shpat_"} {
		if strings.Contains(rec.Body.String(), s) {
			e.t.Fatalf("%s %s: the response contains a provider token: %s", method, path, rec.Body)
		}
	}
	return rec
}

// start begins a consent as the owner and returns its authorize URL.
func (e *oauthEnv) start(provider, body string) string {
	e.t.Helper()
	var out api.OAuthStartResponse
	decode(e.t, e.req("POST", "/v1/connections/oauth/"+provider+"/start", e.bearer(e.owner), e.ws.ID, body), http.StatusOK, &out)
	if d := time.Until(out.StateExpiresAt); d < 9*time.Minute || d > 11*time.Minute {
		e.t.Fatalf("state expires at %v", out.StateExpiresAt)
	}
	return out.AuthorizeURL
}

func (e *oauthEnv) callback(provider string, q url.Values, header ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.req("GET", "/v1/oauth/callback/"+provider+"?"+q.Encode(), "", "", "", header...)
}

func (e *oauthEnv) connections(rec *httptest.ResponseRecorder) []api.Connection {
	e.t.Helper()
	var out api.ConnectionList
	decode(e.t, rec, http.StatusOK, &out)
	return out.Connections
}

// counts are the rows a callback writes.
func (e *oauthEnv) counts() map[string]int {
	e.t.Helper()
	out := map[string]int{}
	for _, q := range []string{"SELECT count(*) FROM connections", "SELECT count(*) FROM oauth_states",
		"SELECT count(*) FROM oauth_states WHERE used_at IS NOT NULL", "SELECT count(*) FROM audit_log WHERE action = 'connection.connected'"} {
		var n int
		if err := e.st.Pool.QueryRow(context.Background(), q).Scan(&n); err != nil {
			e.t.Fatal(err)
		}
		out[q] = n
	}
	return out
}

func (e *oauthEnv) unchanged(t *testing.T, before map[string]int, ignoreUsed bool) {
	t.Helper()
	for q, n := range e.counts() {
		if ignoreUsed && strings.Contains(q, "used_at") {
			continue
		}
		if before[q] != n {
			t.Errorf("%s: %d before, %d after", q, before[q], n)
		}
	}
}

type oauthConnRow struct {
	token, refresh []byte
	expires        *time.Time
	connectedBy    *string
	scopes         []string
	webhooks       []string
	status, reason string
	cursor         *time.Time
}

func (e *oauthEnv) row(id string) oauthConnRow {
	e.t.Helper()
	var r oauthConnRow
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT token_ciphertext, refresh_token_ciphertext, token_expires_at,
		connected_by::text, access_scopes, provider_webhook_ids, status, status_reason, cursor_date FROM connections WHERE id = $1`, id).
		Scan(&r.token, &r.refresh, &r.expires, &r.connectedBy, &r.scopes, &r.webhooks, &r.status, &r.reason, &r.cursor); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// open opens a sealed token of the connection and checks it is not stored in plaintext.
func (e *oauthEnv) open(sealed []byte, aad []byte) string {
	e.t.Helper()
	plain, err := e.box.Open(sealed, aad)
	if err != nil {
		e.t.Fatalf("open sealed token: %v", err)
	}
	if bytes.Contains(sealed, plain) {
		e.t.Fatal("token stored in plaintext")
	}
	return string(plain)
}

func TestOAuthConnectMeta(t *testing.T) {
	e := newOAuthEnv(t)
	ctx := context.Background()
	authURL := e.start("meta", "")
	u, _ := url.Parse(authURL)
	if got := u.Query().Get("redirect_uri"); got != oauthPublicURL+"/v1/oauth/callback/meta" {
		t.Fatalf("redirect_uri %q", got)
	}
	q := e.fake.Approve("meta", authURL)
	conns := e.connections(e.callback("meta", q))
	if len(conns) != 2 || conns[0].AccountID != "1111" || conns[1].AccountID != "2222" {
		t.Fatalf("connections %+v", conns)
	}
	for _, c := range conns {
		if c.Status != "active" || c.Timezone != "Europe/Paris" || c.DisplayName != "meta account "+c.AccountID {
			t.Errorf("connection %+v", c)
		}
		r := e.row(c.ID)
		tok := e.open(r.token, secretbox.ConnectionTokenAAD(e.ws.ID, "meta", c.AccountID))
		if !strings.HasPrefix(tok, "meta-long-") || !e.fake.Live(tok) {
			t.Errorf("stored token %.10s is not the long-lived one", tok)
		}
		if r.expires == nil || time.Until(*r.expires) < 50*24*time.Hour || r.connectedBy == nil || *r.connectedBy != e.owner.ID {
			t.Errorf("expiry %v connected_by %v", r.expires, r.connectedBy)
		}
		if _, ok := e.syncs.schedules[c.ID]; !ok {
			t.Errorf("no schedule for %s", c.ID)
		}
	}
	var used int
	var actor string
	if err := e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM oauth_states WHERE used_at IS NOT NULL AND verifier_ciphertext IS NULL`).Scan(&used); err != nil || used != 1 {
		t.Fatalf("used states: %d, %v", used, err)
	}
	if err := e.st.Pool.QueryRow(ctx, `SELECT string_agg(DISTINCT actor_user_id::text || '/' || workspace_id::text, ',')
		FROM audit_log WHERE action = 'connection.connected'`).Scan(&actor); err != nil || actor != e.owner.ID+"/"+e.ws.ID {
		t.Fatalf("audit actor %q, %v", actor, err)
	}

	// Replaying the callback is refused and writes nothing.
	before := e.counts()
	problem(t, e.callback("meta", q), http.StatusBadRequest)
	e.unchanged(t, before, false)

	// Connecting again (same accounts) renews the tokens in place.
	q = e.fake.Approve("meta", e.start("meta", `{"account_ids":["act_2222"]}`))
	again := e.connections(e.callback("meta", q, "Accept", "application/json"))
	if len(again) != 1 || again[0].ID != conns[1].ID {
		t.Fatalf("renewed %+v, want the id of %+v", again, conns[1])
	}
	var n int
	_ = e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM connections`).Scan(&n)
	if n != 2 {
		t.Fatalf("%d connections after a renewal", n)
	}
}

func TestOAuthReconnectKeepsHistory(t *testing.T) {
	e := newOAuthEnv(t)
	ctx := context.Background()
	conns := e.connections(e.callback("meta", e.fake.Approve("meta", e.start("meta", `{"account_ids":["1111"]}`))))
	id := conns[0].ID
	oldTok := e.open(e.row(id).token, secretbox.ConnectionTokenAAD(e.ws.ID, "meta", "1111"))
	if _, err := e.st.Pool.Exec(ctx, `UPDATE connections SET status = 'needs_reauth', status_reason = 'expired',
		cursor_date = '2024-03-01' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	// Reconnecting names the connection; account_ids are not accepted with it.
	before := e.counts()
	problem(t, e.req("POST", "/v1/connections/oauth/meta/start", e.bearer(e.owner), e.ws.ID,
		`{"connection_id":"`+id+`","account_ids":["1111"]}`), http.StatusUnprocessableEntity)
	problem(t, e.req("POST", "/v1/connections/oauth/google_ads/start", e.bearer(e.owner), e.ws.ID,
		`{"connection_id":"`+id+`"}`), http.StatusUnprocessableEntity)
	// Another workspace's connection is not found.
	problem(t, e.req("POST", "/v1/connections/oauth/meta/start", e.bearer(e.owner), e.other.ID,
		`{"connection_id":"`+id+`"}`), http.StatusUnprocessableEntity)
	e.unchanged(t, before, false)

	got := e.connections(e.callback("meta", e.fake.Approve("meta", e.start("meta", `{"connection_id":"`+id+`"}`))))
	if len(got) != 1 || got[0].ID != id || got[0].Status != "active" || got[0].StatusReason != "" ||
		got[0].CursorDate == nil || *got[0].CursorDate != "2024-03-01" {
		t.Fatalf("reconnected %+v", got)
	}
	newTok := e.open(e.row(id).token, secretbox.ConnectionTokenAAD(e.ws.ID, "meta", "1111"))
	if newTok == oldTok {
		t.Fatal("the token was not replaced")
	}
	var n int
	_ = e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM connections`).Scan(&n)
	if n != 1 {
		t.Fatalf("%d connections after a reconnect of one", n)
	}
}

func TestOAuthConnectGoogleTikTokGA4(t *testing.T) {
	e := newOAuthEnv(t)
	ctx := context.Background()

	authURL := e.start("google_ads", `{"account_ids":["123-456-7890"]}`)
	var verifier []byte
	if err := e.st.Pool.QueryRow(ctx, `SELECT verifier_ciphertext FROM oauth_states WHERE used_at IS NULL`).Scan(&verifier); err != nil || len(verifier) == 0 {
		t.Fatalf("no sealed verifier: %v", err)
	}
	conns := e.connections(e.callback("google_ads", e.fake.Approve("google_ads", authURL)))
	if len(conns) != 1 || conns[0].AccountID != "1234567890" {
		t.Fatalf("google ads %+v", conns)
	}
	r := e.row(conns[0].ID)
	refresh := e.open(r.refresh, secretbox.ConnectionRefreshTokenAAD(e.ws.ID, "google_ads", "1234567890"))
	if !strings.HasPrefix(refresh, "1//refresh-") || r.expires != nil {
		t.Fatalf("refresh %.12s expires %v", refresh, r.expires)
	}

	// A state answered with another verifier (an attacker's code) fails at Google.
	authURL = e.start("ga4", "")
	q := e.fake.Approve("ga4", authURL)
	conns = e.connections(e.callback("ga4", q))
	if len(conns) != 1 || conns[0].AccountID != oauthtest.GA4Properties[0] {
		t.Fatalf("ga4 %+v", conns)
	}

	rec := e.callback("tiktok", e.fake.Approve("tiktok", e.start("tiktok", "")), "Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("browser callback: %d %s", rec.Code, rec.Body)
	}
	loc, _ := url.Parse(rec.Header().Get("Location"))
	ids := strings.Split(loc.Query().Get("connected"), ",")
	if loc.Host != "app.omnitrackiq.test" || loc.Path != "/connections" || len(ids) != 1 {
		t.Fatalf("Location %s", loc)
	}
	var account string
	if err := e.st.Pool.QueryRow(ctx, `SELECT external_account_id FROM connections WHERE id = $1`, ids[0]).Scan(&account); err != nil || account != oauthtest.TikTokIDs[0] {
		t.Fatalf("tiktok connection %q, %v", account, err)
	}
}

func TestOAuthConnectShopify(t *testing.T) {
	e := newOAuthEnv(t)
	ctx := context.Background()
	before := e.counts()
	for _, body := range []string{"", `{}`, `{"shop":"evil.com"}`, `{"shop":"-x.myshopify.com"}`,
		`{"shop":"demo-store.myshopify.com","account_ids":["x"]}`} {
		problem(t, e.req("POST", "/v1/connections/oauth/shopify/start", e.bearer(e.owner), e.ws.ID, body), http.StatusUnprocessableEntity)
	}
	e.unchanged(t, before, false)

	authURL := e.start("shopify", `{"shop":"Demo-Store.myshopify.com"}`)
	q := e.fake.Approve("shopify", authURL)
	resign := func(v url.Values) url.Values {
		v.Set("hmac", oauth.SignShopifyQuery([]byte(oauthtest.ShopifySecret), v))
		return v
	}
	clone := func() url.Values {
		v := url.Values{}
		for k, vs := range q {
			v[k] = slices.Clone(vs)
		}
		return v
	}
	before = e.counts()
	bad := clone()
	bad.Set("hmac", strings.Repeat("ab", 32))
	problem(t, e.callback("shopify", bad), http.StatusBadRequest)
	bad = clone()
	bad.Set("shop", "other-shop.myshopify.com")
	problem(t, e.callback("shopify", bad), http.StatusBadRequest) // hmac no longer matches
	// A correctly signed callback for another shop than the consent's.
	problem(t, e.callback("shopify", resign(bad)), http.StatusBadRequest)
	e.unchanged(t, before, true)

	// The foreign-shop attempt consumed the state: a fresh consent connects.
	q = e.fake.Approve("shopify", e.start("shopify", `{"shop":"demo-store.myshopify.com"}`))
	conns := e.connections(e.callback("shopify", q))
	if len(conns) != 1 || conns[0].AccountID != oauthtest.Shop || conns[0].HistoryFrom != nil {
		t.Fatalf("shopify %+v", conns)
	}
	r := e.row(conns[0].ID)
	if !slices.Equal(r.scopes, []string{"read_orders", "read_all_orders"}) || len(r.webhooks) != 4 {
		t.Fatalf("scopes %v webhooks %v", r.scopes, r.webhooks)
	}
	if hooks := e.fake.Webhooks(); hooks["app/uninstalled"] != oauthPublicURL+"/webhooks/shopify" || len(hooks) != 4 {
		t.Fatalf("registered webhooks %v", hooks)
	}
	tok := e.open(r.token, secretbox.ConnectionTokenAAD(e.ws.ID, "shopify", oauthtest.Shop))

	// The Disconnector removes what connect registered.
	d := oauth.Disconnector{Client: mustOAuth(t, e), StillConnected: e.st.AccountConnectedElsewhere}
	conn, err := e.st.GetConnection(ctx, e.ws.ID, conns[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Disconnect(ctx, conn, tok); err != nil || len(e.fake.Webhooks()) != 0 {
		t.Fatalf("disconnect: %v, left %v", err, e.fake.Webhooks())
	}

	// app/uninstalled disables the shop's connections and erases their tokens.
	body := []byte(`{"id":1,"domain":"demo-store.myshopify.com"}`)
	send := func(sig string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/webhooks/shopify", bytes.NewReader(body))
		req.Header.Set("X-Shopify-Hmac-Sha256", sig)
		req.Header.Set("X-Shopify-Topic", "app/uninstalled")
		req.Header.Set("X-Shopify-Shop-Domain", oauthtest.Shop)
		req.Header.Set("X-Shopify-Webhook-Id", "wh-1")
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		return rec
	}
	problem(t, send(signWebhook([]byte("wrong-secret"), body)), http.StatusUnauthorized)
	if e.row(conns[0].ID).status != "active" {
		t.Fatal("an unsigned uninstall disabled the connection")
	}
	if rec := send(signWebhook([]byte(oauthtest.ShopifySecret), body)); rec.Code != http.StatusOK {
		t.Fatalf("uninstall: %d %s", rec.Code, rec.Body)
	}
	r = e.row(conns[0].ID)
	if r.status != "disabled" || r.reason == "" || len(r.token) != 0 || r.refresh != nil {
		t.Fatalf("after uninstall: status %q reason %q token %d bytes", r.status, r.reason, len(r.token))
	}
	// Reinstalling through OAuth brings the same connection back.
	q = e.fake.Approve("shopify", e.start("shopify", `{"connection_id":"`+conns[0].ID+`"}`))
	back := e.connections(e.callback("shopify", q))
	if len(back) != 1 || back[0].ID != conns[0].ID || back[0].Status != "active" {
		t.Fatalf("reinstalled %+v", back)
	}
}

func mustOAuth(t *testing.T, e *oauthEnv) *oauth.Client {
	t.Helper()
	c, err := oauth.New(e.fake.Config(oauthPublicURL, []byte(oauthJWTSecret)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOAuthStateAttacks(t *testing.T) {
	e := newOAuthEnv(t)
	ctx := context.Background()
	signer, err := oauth.NewStateSigner([]byte(oauthJWTSecret), nil)
	if err != nil {
		t.Fatal(err)
	}
	stateOf := func(authURL string) oauth.StateClaims {
		u, _ := url.Parse(authURL)
		c, err := signer.Verify(u.Query().Get("state"), "meta")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	with := func(q url.Values, state string) url.Values {
		v := url.Values{}
		for k, vs := range q {
			v[k] = slices.Clone(vs)
		}
		v.Set("state", state)
		return v
	}
	authURL := e.start("meta", "")
	q := e.fake.Approve("meta", authURL)
	claims := stateOf(authURL)
	before := e.counts()

	// Forged: signed with another key.
	other, _ := oauth.NewStateSigner([]byte("attacker-secret-attacker-secret-!!"), nil)
	forged, _ := other.Sign(claims)
	problem(t, e.callback("meta", with(q, forged)), http.StatusBadRequest)
	// Tampered: one character of the signature changed.
	st := q.Get("state")
	tampered := st[:len(st)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(st, "AA")]
	problem(t, e.callback("meta", with(q, tampered)), http.StatusBadRequest)
	// Cross-workspace: a validly signed state naming this row but another workspace.
	cross := claims
	cross.WorkspaceID = e.other.ID
	crossState, _ := signer.Sign(cross)
	// Missing and for another provider.
	problem(t, e.callback("meta", with(q, "")), http.StatusBadRequest)
	problem(t, e.callback("tiktok", with(q, st)), http.StatusBadRequest)
	e.unchanged(t, before, false)

	problem(t, e.callback("meta", with(q, crossState)), http.StatusBadRequest)
	// The row was consumed by the cross-workspace attempt: the real state is now replayed.
	problem(t, e.callback("meta", q), http.StatusBadRequest)
	e.unchanged(t, before, true)

	// Expired: consent takes longer than 10 minutes.
	authURL = e.start("meta", "")
	q = e.fake.Approve("meta", authURL)
	e.advance(11 * time.Minute)
	if p := problem(t, e.callback("meta", q), http.StatusBadRequest); !strings.Contains(p.Detail, "expired") {
		t.Fatalf("expired: %+v", p)
	}
	e.advance(-11 * time.Minute)

	// Denied consent: a clear problem, nothing connected.
	authURL = e.start("meta", "")
	denied := url.Values{"error": {"access_denied"}, "error_reason": {"user_denied"}, "error_description": {"Permissions error"},
		"state": {stateOf(authURL).ID}}
	u, _ := url.Parse(authURL)
	denied.Set("state", u.Query().Get("state"))
	if p := problem(t, e.callback("meta", denied), http.StatusForbidden); !strings.Contains(p.Detail, "access_denied") {
		t.Fatalf("denied: %+v", p)
	}

	// A member who lost the right to connect cannot finish a consent they started.
	authURL = e.start("meta", "")
	if _, err := e.st.Pool.Exec(ctx, `UPDATE memberships SET role = 'viewer' WHERE user_id = $1 AND workspace_id = $2`,
		e.owner.ID, e.ws.ID); err != nil {
		t.Fatal(err)
	}
	problem(t, e.callback("meta", e.fake.Approve("meta", authURL)), http.StatusForbidden)
	var n int
	if err := e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM connections`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d connections after refused callbacks, %v", n, err)
	}
}

func TestOAuthStartRejects(t *testing.T) {
	e := newOAuthEnv(t)
	before := e.counts()
	owner := e.bearer(e.owner)
	cases := []struct {
		name, path, bearer, ws, body string
		status                       int
	}{
		{"unknown provider", "/v1/connections/oauth/myspace/start", owner, e.ws.ID, "", http.StatusNotFound},
		{"api key", "/v1/connections/oauth/meta/start", e.apiKey, "", "", http.StatusForbidden},
		{"viewer", "/v1/connections/oauth/meta/start", e.bearer(e.viewer), e.ws.ID, "", http.StatusForbidden},
		{"no credentials", "/v1/connections/oauth/meta/start", "", e.ws.ID, "", http.StatusUnauthorized},
		{"no workspace", "/v1/connections/oauth/meta/start", owner, "", "", http.StatusBadRequest},
		{"bad json", "/v1/connections/oauth/meta/start", owner, e.ws.ID, `{"account_ids":`, http.StatusBadRequest},
		{"unknown field", "/v1/connections/oauth/meta/start", owner, e.ws.ID, `{"scope":"all"}`, http.StatusBadRequest},
		{"bad account", "/v1/connections/oauth/meta/start", owner, e.ws.ID, `{"account_ids":["abc"]}`, http.StatusUnprocessableEntity},
		{"shop for meta", "/v1/connections/oauth/meta/start", owner, e.ws.ID, `{"shop":"a.myshopify.com"}`, http.StatusUnprocessableEntity},
		{"bad connection id", "/v1/connections/oauth/meta/start", owner, e.ws.ID, `{"connection_id":"nope"}`, http.StatusUnprocessableEntity},
		{"callback unknown provider", "/v1/oauth/callback/myspace?state=x&code=y", "", "", "", http.StatusNotFound},
		{"callback no state", "/v1/oauth/callback/meta?code=y", "", "", "", http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := "POST"
			if strings.Contains(tc.path, "callback") {
				method = "GET"
			}
			problem(t, e.req(method, tc.path, tc.bearer, tc.ws, tc.body), tc.status)
		})
	}
	e.unchanged(t, before, false)

	// A provider without an OAuth client configured.
	e2 := newOAuthEnv(t)
	cfg := e2.fake.Config(oauthPublicURL, []byte(oauthJWTSecret))
	cfg.TikTokAppID = ""
	oc, err := oauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := api.NewRouter(api.Deps{Store: e2.st, Syncs: e2.syncs, Box: e2.box, Tokens: e2.tokens, OAuth: oc})
	req := httptest.NewRequest("POST", "/v1/connections/oauth/tiktok/start", nil)
	req.Header.Set("Authorization", "Bearer "+e2.bearer(e2.owner))
	req.Header.Set(api.WorkspaceHeader, e2.ws.ID)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	problem(t, rec, http.StatusNotImplemented)

	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
}

func signWebhook(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
