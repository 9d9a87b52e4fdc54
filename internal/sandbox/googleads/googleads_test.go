package googleads_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	gads "github.com/omnitrackiq/omnitrackiq/internal/channels/googleads"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/catalog"
	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/googleads"
)

// fixed clock: 2025-03-15 03:00 UTC is still 2025-03-14 in New York.
var testNow = time.Date(2025, 3, 15, 3, 0, 0, 0, time.UTC)

const today = "2025-03-14"

type env struct {
	sb  *sandbox.Server
	srv *httptest.Server
	c   *gads.Client
	now *atomic.Int64 // unix nanos of the shared clock
}

func newEnv(t *testing.T, cfg sandbox.Config, o gads.Options) *env {
	t.Helper()
	e := &env{now: &atomic.Int64{}}
	e.now.Store(testNow.UnixNano())
	clock := func() time.Time { return time.Unix(0, e.now.Load()).UTC() }
	if cfg.Now == nil {
		cfg.Now = clock
	}
	e.sb = sandbox.New(cfg)
	mux := http.NewServeMux()
	mux.Handle("/googleads/", http.StripPrefix("/googleads", e.sb))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	o.BaseURL = e.srv.URL + "/googleads"
	o.TokenURL = e.srv.URL + "/googleads/token"
	if o.DeveloperToken == "" {
		o.DeveloperToken = sandbox.DefaultDeveloperToken
	}
	if o.ClientID == "" {
		o.ClientID = "sandbox-client"
	}
	if o.Now == nil {
		o.Now = clock
	}
	e.c = gads.New(o)
	return e
}

func (e *env) advance(d time.Duration) { e.now.Add(int64(d)) }

var (
	demo        = channels.Account{ID: "123-456-7890", Token: sandbox.DefaultToken}
	demoRefresh = channels.Account{ID: sandbox.DemoCustomerID, RefreshToken: sandbox.DefaultRefreshToken}
)

func win(t *testing.T, from, to string) channels.Window {
	t.Helper()
	w, err := channels.ParseWindow(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// readAll runs a read to the end.
func readAll(t *testing.T, c *gads.Client, acct channels.Account, req channels.ReadRequest) ([]channels.AdRow, int, error) {
	t.Helper()
	var rows []channels.AdRow
	cur := ""
	for pages := 1; pages < 1000; pages++ {
		p, err := c.ReadPage(context.Background(), acct, req, cur)
		if err != nil {
			return rows, pages, err
		}
		for _, secret := range []string{sandbox.DefaultToken, sandbox.DefaultRefreshToken, "ya29."} {
			if strings.Contains(p.Next, secret) {
				t.Fatalf("cursor contains a credential: %s", p.Next)
			}
		}
		rows = append(rows, p.Rows...)
		if p.Next == "" {
			return rows, pages, nil
		}
		cur = p.Next
	}
	t.Fatal("read does not end")
	return nil, 0, nil
}

func sum(rows []channels.AdRow) sandbox.Totals {
	var t sandbox.Totals
	for _, r := range rows {
		t.Rows++
		t.CostMicros += r.SpendMicros
		t.Impressions += r.Impressions
		t.Clicks += r.Clicks
		t.ConversionsMicros += r.ConversionsMicros
		t.ConversionsValueMicros += r.ConversionValueMicros
	}
	return t
}

func kindOf(err error) string {
	if pe, ok := channels.AsError(err); ok {
		return pe.Kind.String()
	}
	return fmt.Sprintf("not a channels.Error: %v", err)
}

func TestDemoCustomer(t *testing.T) {
	c := sandbox.DemoCustomer()
	if c.ID != "1234567890" || c.Name != "Demo Store (sandbox)" || c.Currency != "USD" || c.Timezone != "America/New_York" {
		t.Fatalf("demo customer = %+v", c)
	}
	var want []string
	for _, ch := range catalog.AdChannels() {
		if ch.Channel == string(channels.GoogleAds) {
			for _, camp := range ch.Campaigns {
				want = append(want, camp.Name)
			}
		}
	}
	var names []string
	ids := map[string]bool{}
	ads := 0
	for _, camp := range c.Campaigns {
		names = append(names, camp.Name)
		ids[camp.ID] = true
		wantGroups := 2
		if camp.ChannelType == sandbox.ChannelPerformanceMax {
			wantGroups = 0 // delivers at campaign level only
		}
		if len(camp.ID) != 11 || len(camp.AdGroups) != wantGroups {
			t.Errorf("campaign %s: id %s, %d ad groups", camp.Name, camp.ID, len(camp.AdGroups))
		}
		for _, g := range camp.AdGroups {
			ids[g.ID] = true
			if len(g.Ads) != 2 {
				t.Errorf("ad group %s has %d ads", g.Name, len(g.Ads))
			}
			for _, ad := range g.Ads {
				ids[ad.ID] = true
				ads++
			}
		}
	}
	if strings.Join(names, "|") != strings.Join(want, "|") || len(want) != 4 || ads != 12 || len(ids) != 4+6+12 {
		t.Errorf("tree: campaigns %v (want %v), %d ads, %d distinct ids", names, want, ads, len(ids))
	}
	if fmt.Sprint(sandbox.DemoCustomer()) != fmt.Sprint(c) {
		t.Error("DemoCustomer is not deterministic")
	}
}

func TestMultiPageReadsMatchSandboxTotals(t *testing.T) {
	e := newEnv(t, sandbox.Config{PageSize: 97}, gads.Options{})
	from, to := "2024-12-15", today // 90 days
	pmax := pmaxCampaign(t, e.sb)
	// Every level adds up to the campaign-level report: the ad and ad set levels read the
	// Performance Max campaign, which has no ad groups, at campaign level.
	account, err := e.sb.Totals(sandbox.DemoCustomerID, from, to, "campaign")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		level    channels.Level
		objects  int
		sbxLevel string
		pmaxRows int // campaign-level rows of Performance Max the read adds
	}{
		{channels.LevelAd, 12, "ad", 90},
		{channels.LevelAdSet, 6, "adset", 90},
		{channels.LevelCampaign, 4, "campaign", 0},
	} {
		t.Run(string(tc.level), func(t *testing.T) {
			rows, pages, err := readAll(t, e.c, demoRefresh, channels.ReadRequest{Window: win(t, from, to), Level: tc.level})
			if err != nil {
				t.Fatal(err)
			}
			atLevel, err := e.sb.Totals(sandbox.DemoCustomerID, from, to, tc.sbxLevel)
			if err != nil {
				t.Fatal(err)
			}
			want := account
			want.Rows = atLevel.Rows + tc.pmaxRows
			if got := sum(rows); got != want {
				t.Fatalf("connector totals %+v\n   sandbox totals %+v", got, want)
			}
			wantPages := (atLevel.Rows + 96) / 97
			if tc.pmaxRows > 0 {
				wantPages += (tc.pmaxRows + 96) / 97
			}
			if atLevel.Rows != 90*tc.objects || pages != wantPages {
				t.Errorf("%d rows in %d pages; want %d pages", atLevel.Rows, pages, wantPages)
			}
			seen := map[string]bool{}
			for _, r := range rows {
				key := r.CampaignID + "/" + r.AdSetID + "/" + r.AdID + "/" + r.Date.Format(channels.DateLayout)
				if seen[key] {
					t.Fatalf("duplicate row %s", key)
				}
				seen[key] = true
				if r.Channel != channels.GoogleAds || r.AccountID != sandbox.DemoCustomerID || r.Currency != "USD" || r.CampaignName == "" {
					t.Fatalf("row %+v", r)
				}
				campaignRow := tc.level == channels.LevelCampaign || r.CampaignID == pmax
				if campaignRow != (r.AdSetID == "" && r.AdID == "") || (tc.level == channels.LevelAd && !campaignRow) != (r.AdID != "" && r.AdName != "") {
					t.Fatalf("ids at level %s: %+v", tc.level, r)
				}
			}
		})
	}
	// One token for the whole read, many API calls.
	grants := 0
	for _, r := range e.sb.Requests() {
		if r.Path == "/token" {
			grants++
		}
	}
	if grants != 1 {
		t.Errorf("%d token calls; want 1", grants)
	}
}

func TestDataIsRealisticAndDeterministic(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, gads.Options{})
	tot, err := e.sb.Totals(sandbox.DemoCustomerID, "2025-01-01", "2025-01-31", "campaign")
	if err != nil {
		t.Fatal(err)
	}
	dailyCost := tot.CostMicros / 31 / 1_000_000
	roas := float64(tot.ConversionsValueMicros) / float64(tot.CostMicros)
	if dailyCost < 300 || dailyCost > 10_000 || roas < 1 || roas > 8 || tot.Clicks*100 < tot.Impressions || tot.Clicks*5 > tot.Impressions {
		t.Errorf("unrealistic: $%d/day, ROAS %.2f, %+v", dailyCost, roas, tot)
	}
	again, _ := sandbox.New(sandbox.Config{Now: func() time.Time { return testNow }}).Totals(sandbox.DemoCustomerID, "2025-01-01", "2025-01-31", "campaign")
	if again != tot {
		t.Error("data is not deterministic")
	}
	// History: 120 days ending today in New York; nothing after.
	rows, _, err := readAll(t, e.c, demo, channels.ReadRequest{Window: win(t, "2024-01-01", "2025-12-31")})
	if err != nil {
		t.Fatal(err)
	}
	first, last := rows[0].Date.Format(channels.DateLayout), rows[len(rows)-1].Date.Format(channels.DateLayout)
	if first != "2024-11-15" || last != today || len(rows) != 120*4 {
		t.Errorf("history %s..%s, %d rows", first, last, len(rows))
	}
	if d, _ := e.sb.Today(sandbox.DemoCustomerID); d != today {
		t.Errorf("Today = %s", d)
	}
}

func TestAccountInfo(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, gads.Options{})
	for _, acct := range []channels.Account{demo, demoRefresh} {
		info, err := e.c.AccountInfo(context.Background(), acct)
		if err != nil {
			t.Fatal(err)
		}
		if info != (channels.AccountInfo{ID: "1234567890", Name: "Demo Store (sandbox)", Currency: "USD", Timezone: "America/New_York"}) {
			t.Errorf("info %+v", info)
		}
	}
}

func TestOAuthRefresh(t *testing.T) {
	e := newEnv(t, sandbox.Config{AccessTokenTTL: 10 * time.Minute, PageSize: 50}, gads.Options{})
	req := channels.ReadRequest{Window: win(t, "2025-03-01", today), Level: channels.LevelAd}
	grants := func() int {
		n := 0
		for _, r := range e.sb.Requests() {
			if r.Path == "/token" && r.Status == 200 && r.GrantType == "refresh_token" {
				n++
			}
		}
		return n
	}
	p, err := e.c.ReadPage(context.Background(), demoRefresh, req, "")
	if err != nil || grants() != 1 {
		t.Fatalf("first page: %v, %d grants", err, grants())
	}
	// The sandbox expires its tokens before the connector expects: one 401, one refresh.
	e.sb.ExpireAccessTokens()
	p, err = e.c.ReadPage(context.Background(), demoRefresh, req, p.Next)
	if err != nil || grants() != 2 {
		t.Fatalf("after expiry: %v, %d grants", err, grants())
	}
	// The clock passes the token's lifetime: the cache refreshes before calling.
	e.advance(10 * time.Minute)
	before := len(e.sb.Requests())
	if _, err = e.c.ReadPage(context.Background(), demoRefresh, req, p.Next); err != nil || grants() != 3 {
		t.Fatalf("after lifetime: %v, %d grants", err, grants())
	}
	for _, r := range e.sb.Requests()[before:] {
		if r.Status != 200 {
			t.Errorf("refresh before expiry still got %+v", r)
		}
	}
	for _, r := range e.sb.Requests() {
		b, _ := json.Marshal(r)
		if strings.Contains(string(b), "ya29.") || strings.Contains(string(b), sandbox.DefaultRefreshToken) {
			t.Errorf("request log holds a token: %s", b)
		}
	}
}

func TestFaultsAreClassified(t *testing.T) {
	req := channels.ReadRequest{Window: win(t, "2025-03-01", today), Level: channels.LevelAd}
	for _, tc := range []struct {
		name   string
		faults sandbox.Faults
		acct   channels.Account
		kind   string
		status int
		retry  time.Duration
		msg    string
	}{
		{"quota", sandbox.Faults{RateLimit: &sandbox.RateLimitFault{}}, demo, "rate_limited", 429, time.Second, "quotaError=RESOURCE_EXHAUSTED"},
		{"quota 2s temporarily", sandbox.Faults{RateLimit: &sandbox.RateLimitFault{RetryDelay: "2s", QuotaError: "RESOURCE_TEMPORARILY_EXHAUSTED"}}, demoRefresh, "rate_limited", 429, 2 * time.Second, "RESOURCE_TEMPORARILY_EXHAUSTED"},
		{"internal", sandbox.Faults{ServerErrors: 1}, demo, "transient", 500, 0, "INTERNAL"},
		{"unavailable", sandbox.Faults{Unavailable: 1}, demo, "transient", 503, 0, "UNAVAILABLE"},
		{"revoked grant with refresh token", sandbox.Faults{ExpiredToken: true}, demoRefresh, "auth", 400, 0, "invalid_grant"},
		{"revoked grant with access token", sandbox.Faults{ExpiredToken: true}, demo, "auth", 401, 0, "OAUTH_TOKEN_REVOKED"},
		{"unknown access token", sandbox.Faults{}, channels.Account{ID: sandbox.DemoCustomerID, Token: "ya29.unknown"}, "auth", 401, 0, "OAUTH_TOKEN_INVALID"},
		{"unknown refresh token", sandbox.Faults{}, channels.Account{ID: sandbox.DemoCustomerID, RefreshToken: "1//nope"}, "auth", 400, 0, "invalid_grant"},
		{"unknown customer", sandbox.Faults{}, channels.Account{ID: "9999999999", Token: sandbox.DefaultToken}, "auth", 403, 0, "USER_PERMISSION_DENIED"},
		{"wrong login customer", sandbox.Faults{}, channels.Account{ID: sandbox.DemoCustomerID, Token: sandbox.DefaultToken, LoginCustomerID: "1112223333"}, "auth", 403, 0, "USER_PERMISSION_DENIED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{}, gads.Options{})
			if err := e.sb.SetFaults(tc.faults); err != nil {
				t.Fatal(err)
			}
			_, err := e.c.ReadPage(context.Background(), tc.acct, req, "")
			pe, ok := channels.AsError(err)
			if !ok || pe.Kind.String() != tc.kind || pe.HTTPStatus != tc.status || pe.RetryAfter != tc.retry || !strings.Contains(pe.Message, tc.msg) {
				t.Fatalf("err %#v; want %s HTTP %d retry %v containing %q", pe, tc.kind, tc.status, tc.retry, tc.msg)
			}
			for _, secret := range []string{sandbox.DefaultToken, sandbox.DefaultRefreshToken, "ya29.", sandbox.DefaultDeveloperToken} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks %q: %v", secret, err)
				}
			}
			// Counted faults run out: the next call succeeds.
			if tc.faults.RateLimit != nil || tc.faults.ServerErrors > 0 || tc.faults.Unavailable > 0 {
				if _, err := e.c.ReadPage(context.Background(), tc.acct, req, ""); err != nil {
					t.Errorf("after the fault: %v", err)
				}
			}
		})
	}
}

func TestDeveloperToken(t *testing.T) {
	req := channels.ReadRequest{Window: win(t, "2025-03-01", today)}
	// No developer token: 400 DEVELOPER_TOKEN_PARAMETER_MISSING, a configuration error.
	e := newEnv(t, sandbox.Config{}, gads.Options{DeveloperToken: "-"})
	noDev := gads.New(gads.Options{BaseURL: e.srv.URL + "/googleads"})
	if _, err := noDev.ReadPage(context.Background(), demo, req, ""); kindOf(err) != "bad_request" || !strings.Contains(err.Error(), "DEVELOPER_TOKEN_PARAMETER_MISSING") {
		t.Errorf("missing developer token: %v", err)
	}
	// A configured developer token must match; a wrong one is not retried with a new access
	// token.
	e = newEnv(t, sandbox.Config{DeveloperToken: "the-real-one"}, gads.Options{DeveloperToken: "a-wrong-one"})
	_, err := e.c.ReadPage(context.Background(), demoRefresh, req, "")
	if kindOf(err) != "bad_request" || !strings.Contains(err.Error(), "DEVELOPER_TOKEN_INVALID") || strings.Contains(err.Error(), "a-wrong-one") {
		t.Errorf("wrong developer token: %v", err)
	}
	api := 0
	for _, r := range e.sb.Requests() {
		if r.Path != "/token" {
			api++
		}
	}
	if api != 1 {
		t.Errorf("%d API calls; want 1 (no refresh retry)", api)
	}
}

func TestManagerAccount(t *testing.T) {
	cust := sandbox.DemoCustomer()
	cust.ManagerID = "5556667777"
	e := newEnv(t, sandbox.Config{Customers: []sandbox.Customer{cust}}, gads.Options{})
	req := channels.ReadRequest{Window: win(t, "2025-03-10", today)}
	if _, err := e.c.ReadPage(context.Background(), demo, req, ""); kindOf(err) != "auth" {
		t.Errorf("without login-customer-id: %v", err)
	}
	acct := demo
	acct.LoginCustomerID = "555-666-7777"
	rows, _, err := readAll(t, e.c, acct, req)
	if err != nil || len(rows) != 5*4 {
		t.Fatalf("with login-customer-id: %d rows, %v", len(rows), err)
	}
	reqs := e.sb.Requests()
	if l := reqs[len(reqs)-1]; l.LoginCustomerID != "5556667777" || !l.DeveloperToken || l.Status != 200 {
		t.Errorf("request log %+v", l)
	}
}

func TestEmptyReport(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, gads.Options{})
	if err := e.sb.SetFaults(sandbox.Faults{EmptyReport: true}); err != nil {
		t.Fatal(err)
	}
	// Both queries of the read (ad groups, then campaigns without) come back empty.
	rows, pages, err := readAll(t, e.c, demo, channels.ReadRequest{Window: win(t, "2025-03-01", today), Level: channels.LevelAd})
	if err != nil || len(rows) != 0 || pages != 2 {
		t.Fatalf("empty report: %d rows in %d pages, %v", len(rows), pages, err)
	}
	if tot, _ := e.sb.Totals(sandbox.DemoCustomerID, "2025-03-01", today, "ad"); tot != (sandbox.Totals{}) {
		t.Errorf("totals %+v", tot)
	}
	// Account info still answers.
	if _, err := e.c.AccountInfo(context.Background(), demo); err != nil {
		t.Error(err)
	}
}

func TestExpiredPageTokenRestartsTheRead(t *testing.T) {
	e := newEnv(t, sandbox.Config{PageSize: 40}, gads.Options{})
	from := "2025-02-01"
	req := channels.ReadRequest{Window: win(t, from, today), Level: channels.LevelAd}
	p, err := e.c.ReadPage(context.Background(), demo, req, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sb.SetFaults(sandbox.Faults{ExpiredPageTokens: 1}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range p.Rows {
		seen[r.AdID+r.Date.Format(channels.DateLayout)] = true
	}
	rest, _, err := readAllFrom(t, e.c, demo, req, p.Next)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rest {
		seen[r.AdID+r.Date.Format(channels.DateLayout)] = true
	}
	want, _ := readTotals(t, e.sb, from, today, "ad")
	if len(seen) != want.Rows || sum(rest) != want {
		t.Fatalf("%d distinct rows, rest %+v; want %+v", len(seen), sum(rest), want)
	}
}

func readAllFrom(t *testing.T, c *gads.Client, acct channels.Account, req channels.ReadRequest, cur string) ([]channels.AdRow, int, error) {
	t.Helper()
	var rows []channels.AdRow
	for pages := 1; pages < 1000; pages++ {
		p, err := c.ReadPage(context.Background(), acct, req, cur)
		if err != nil {
			return rows, pages, err
		}
		rows = append(rows, p.Rows...)
		if p.Next == "" {
			return rows, pages, nil
		}
		cur = p.Next
	}
	t.Fatal("read does not end")
	return nil, 0, nil
}

func TestRestatementIsVisible(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, gads.Options{})
	const day = "2025-03-05"
	req := channels.ReadRequest{Window: win(t, day, day), Level: channels.LevelAd}
	before, _, err := readAll(t, e.c, demo, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sb.Restate(sandbox.DemoCustomerID, day, 150); err != nil {
		t.Fatal(err)
	}
	after, _, err := readAll(t, e.c, demo, req)
	if err != nil {
		t.Fatal(err)
	}
	b, a := sum(before), sum(after)
	if a.Rows != b.Rows || a.Impressions != b.Impressions || a.CostMicros <= b.CostMicros || a.ConversionsMicros <= b.ConversionsMicros {
		t.Fatalf("before %+v after %+v", b, a)
	}
	if diff := a.CostMicros - b.CostMicros*3/2; diff < -16 || diff > 16 {
		t.Errorf("cost %d is not 150%% of %d", a.CostMicros, b.CostMicros)
	}
	if want, _ := readTotals(t, e.sb, day, day, "ad"); want != a {
		t.Errorf("totals %+v; read %+v", want, a)
	}
	// Other days are untouched; clearing restores the day.
	other, _ := readTotals(t, e.sb, "2025-03-04", "2025-03-04", "ad")
	e.sb.ClearRestatements()
	if again, _ := readTotals(t, e.sb, day, day, "ad"); again != b {
		t.Errorf("cleared %+v; want %+v", again, b)
	}
	if o2, _ := readTotals(t, e.sb, "2025-03-04", "2025-03-04", "ad"); o2 != other {
		t.Error("restatement touched another day")
	}
	if err := e.sb.Restate(sandbox.DemoCustomerID, "2020-01-01", 150); err == nil {
		t.Error("restating outside the history succeeded")
	}
}

func TestCursorSurvivesRestart(t *testing.T) {
	cfg := sandbox.Config{PageSize: 30, Now: func() time.Time { return testNow }}
	var current atomic.Pointer[sandbox.Server]
	current.Store(sandbox.New(cfg))
	srv := httptest.NewServer(http.StripPrefix("/googleads", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		current.Load().ServeHTTP(w, r)
	})))
	defer srv.Close()
	opts := gads.Options{BaseURL: srv.URL + "/googleads", TokenURL: srv.URL + "/googleads/token",
		DeveloperToken: sandbox.DefaultDeveloperToken, ClientID: "c"}
	from := "2025-02-20"
	req := channels.ReadRequest{Window: win(t, from, today), Level: channels.LevelAdSet}
	var rows []channels.AdRow
	cur := ""
	for i := 0; i < 100; i++ {
		// A new connector (process restart) and a new sandbox (its tokens forgotten) every page:
		// the cursor alone carries the read.
		c := gads.New(opts)
		current.Store(sandbox.New(cfg))
		b, _ := json.Marshal(cur)
		var restored string
		_ = json.Unmarshal(b, &restored)
		p, err := c.ReadPage(context.Background(), demoRefresh, req, restored)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, p.Rows...)
		if cur = p.Next; cur == "" {
			break
		}
	}
	want, _ := readTotals(t, current.Load(), from, today, "adset")
	if got := sum(rows); got != want {
		t.Fatalf("got %+v want %+v", got, want)
	}
}

func post(t *testing.T, u, contentType, body string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

var apiHeaders = map[string]string{"Authorization": "Bearer " + sandbox.DefaultToken, "developer-token": "d"}

func TestWireFormat(t *testing.T) {
	e := newEnv(t, sandbox.Config{PageSize: 3}, gads.Options{})
	base := e.srv.URL + "/googleads/v23/customers/1234567890/googleAds:"
	q := `SELECT campaign.id, campaign.name, segments.date, metrics.cost_micros, metrics.impressions, metrics.clicks, metrics.conversions, metrics.conversions_value FROM campaign WHERE segments.date BETWEEN '2025-03-13' AND '2025-03-14' ORDER BY segments.date ASC`
	body, _ := json.Marshal(map[string]any{"query": q, "searchSettings": map[string]bool{"returnTotalResultsCount": true}})

	status, h, resp := post(t, base+"search", "application/json", string(body), apiHeaders)
	if status != 200 || h.Get("request-id") == "" {
		t.Fatalf("search: %d %s", status, resp)
	}
	var page map[string]json.RawMessage
	if err := json.Unmarshal([]byte(resp), &page); err != nil {
		t.Fatal(err)
	}
	var results []map[string]map[string]json.RawMessage
	_ = json.Unmarshal(page["results"], &results)
	if len(results) != 3 || string(page["totalResultsCount"]) != `"8"` || page["nextPageToken"] == nil ||
		string(page["fieldMask"]) != `"campaign.id,campaign.name,segments.date,metrics.costMicros,metrics.impressions,metrics.clicks,metrics.conversions,metrics.conversionsValue"` {
		t.Fatalf("page: %s", resp)
	}
	r0 := results[0]
	for _, c := range []struct{ obj, key, prefix string }{
		{"campaign", "resourceName", `"customers/1234567890/campaigns/`},
		{"campaign", "id", `"2`},
		{"metrics", "costMicros", `"`},
		{"metrics", "impressions", `"`},
		{"metrics", "clicks", `"`},
		{"segments", "date", `"2025-03-13"`},
	} {
		if v := string(r0[c.obj][c.key]); !strings.HasPrefix(v, c.prefix) {
			t.Errorf("%s.%s = %s; want prefix %s", c.obj, c.key, v, c.prefix)
		}
	}
	for _, k := range []string{"conversions", "conversionsValue"} {
		if v := string(r0["metrics"][k]); v == "" || v[0] == '"' || !strings.Contains(v, ".") {
			t.Errorf("metrics.%s = %s; want a JSON number", k, v)
		}
	}
	// Follow the pages: identical query plus pageToken; the last page has no nextPageToken.
	var tok string
	_ = json.Unmarshal(page["nextPageToken"], &tok)
	rows := 3
	for tok != "" {
		b, _ := json.Marshal(map[string]any{"query": q, "pageToken": tok})
		status, _, resp = post(t, base+"search", "application/json", string(b), apiHeaders)
		var p struct {
			Results       []json.RawMessage `json:"results"`
			NextPageToken *string           `json:"nextPageToken"`
		}
		if err := json.Unmarshal([]byte(resp), &p); status != 200 || err != nil {
			t.Fatalf("page: %d %s", status, resp)
		}
		rows += len(p.Results)
		tok = ""
		if p.NextPageToken != nil {
			tok = *p.NextPageToken
		}
	}
	if rows != 8 {
		t.Errorf("%d rows over the pages", rows)
	}

	// searchStream: one array body of batches, no paging.
	sb, _ := json.Marshal(map[string]any{"query": q})
	status, _, resp = post(t, base+"searchStream", "application/json", string(sb), apiHeaders)
	var batches []struct {
		Results     []json.RawMessage `json:"results"`
		FieldMask   string            `json:"fieldMask"`
		RequestID   string            `json:"requestId"`
		Consumption string            `json:"queryResourceConsumption"`
	}
	if err := json.Unmarshal([]byte(resp), &batches); status != 200 || err != nil || len(batches) != 3 ||
		len(batches[0].Results)+len(batches[1].Results)+len(batches[2].Results) != 8 ||
		batches[0].RequestID == "" || batches[2].Consumption == "" || batches[0].Consumption != "" {
		t.Fatalf("searchStream: %d %s", status, resp)
	}

	// Errors.
	for _, tc := range []struct {
		name, path, body string
		header           map[string]string
		status           int
		want             []string
	}{
		{"page size", "search", `{"query":"SELECT campaign.id FROM campaign","pageSize":100}`, apiHeaders, 400,
			[]string{`"status":"INVALID_ARGUMENT"`, `"requestError":"PAGE_SIZE_NOT_SUPPORTED"`, `"@type":"type.googleapis.com/google.ads.googleads.v23.errors.GoogleAdsFailure"`}},
		{"unknown body field", "search", `{"query":"SELECT campaign.id FROM campaign","foo":1}`, apiHeaders, 400, []string{`Unknown name \"foo\"`}},
		{"unrecognized field", "search", `{"query":"SELECT campaign.foo FROM campaign"}`, apiHeaders, 400, []string{`"queryError":"UNRECOGNIZED_FIELD"`, "campaign.foo"}},
		{"date without range", "search", `{"query":"SELECT segments.date FROM campaign"}`, apiHeaders, 400, []string{`"queryError":"EXPECTED_FILTERS_ON_DATE_RANGE"`}},
		{"invalid page token", "search", `{"query":"SELECT campaign.id FROM campaign","pageToken":"xyz"}`, apiHeaders, 400, []string{`"requestError":"INVALID_PAGE_TOKEN"`}},
		{"stream error is an array", "searchStream", `{"query":"SELECT campaign.foo FROM campaign"}`, apiHeaders, 400, []string{`[{"error":{`}},
		{"no auth", "search", `{"query":"SELECT campaign.id FROM campaign"}`, map[string]string{"developer-token": "d"}, 401, []string{`"status":"UNAUTHENTICATED"`, "missing required authentication credential"}},
		{"no developer token", "search", `{"query":"SELECT campaign.id FROM campaign"}`, map[string]string{"Authorization": "Bearer " + sandbox.DefaultToken}, 400, []string{"DEVELOPER_TOKEN_PARAMETER_MISSING", "developer-token parameter is missing."}},
		{"login customer with dashes", "search", `{"query":"SELECT campaign.id FROM campaign"}`, map[string]string{"Authorization": "Bearer " + sandbox.DefaultToken, "developer-token": "d", "login-customer-id": "123-456-7890"}, 400, []string{`"headerError":"INVALID_LOGIN_CUSTOMER_ID"`}},
	} {
		status, _, resp := post(t, base+tc.path, "application/json", tc.body, tc.header)
		if status != tc.status {
			t.Errorf("%s: status %d; want %d: %s", tc.name, status, tc.status, resp)
		}
		for _, w := range tc.want {
			if !strings.Contains(resp, w) {
				t.Errorf("%s: %s does not contain %s", tc.name, resp, w)
			}
		}
	}
	status, _, resp = post(t, e.srv.URL+"/googleads/v23/customers/12345/googleAds:search", "application/json", `{"query":"SELECT campaign.id FROM campaign"}`, apiHeaders)
	if status != 400 || !strings.Contains(resp, "INVALID_CUSTOMER_ID") {
		t.Errorf("bad customer id: %d %s", status, resp)
	}

	// listAccessibleCustomers.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/googleads/v23/customers:listAccessibleCustomers", nil)
	for k, v := range apiHeaders {
		req.Header.Set(k, v)
	}
	lr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := io.ReadAll(lr.Body)
	lr.Body.Close()
	if lr.StatusCode != 200 || strings.TrimSpace(string(lb)) != `{"resourceNames":["customers/1234567890"]}` {
		t.Errorf("listAccessibleCustomers: %d %s", lr.StatusCode, lb)
	}
}

func TestTokenEndpoint(t *testing.T) {
	e := newEnv(t, sandbox.Config{ClientID: "cid", ClientSecret: "csecret", AccessTokenTTL: 90 * time.Second}, gads.Options{})
	tokenURL := e.srv.URL + "/googleads/token"
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	const ct = "application/x-www-form-urlencoded"
	ok := form("grant_type", "refresh_token", "refresh_token", sandbox.DefaultRefreshToken, "client_id", "cid", "client_secret", "csecret")
	status, h, resp := post(t, tokenURL, ct, ok, nil)
	var tr struct {
		AccessToken  string `json:"access_token"`
		ExpiresIn    int    `json:"expires_in"`
		Scope        string `json:"scope"`
		TokenType    string `json:"token_type"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal([]byte(resp), &tr); status != 200 || err != nil || !strings.HasPrefix(tr.AccessToken, "ya29.") ||
		tr.ExpiresIn != 90 || tr.TokenType != "Bearer" || tr.Scope != "https://www.googleapis.com/auth/adwords" || tr.RefreshToken != "" ||
		!strings.Contains(h.Get("Cache-Control"), "no-store") {
		t.Fatalf("token: %d %s", status, resp)
	}
	// The minted token works until it expires, then answers 401 OAUTH_TOKEN_EXPIRED.
	call := func() (int, string) {
		s, _, r := post(t, e.srv.URL+"/googleads/v23/customers/1234567890/googleAds:search", "application/json",
			`{"query":"SELECT customer.id FROM customer"}`, map[string]string{"Authorization": "Bearer " + tr.AccessToken, "developer-token": "d"})
		return s, r
	}
	if s, r := call(); s != 200 {
		t.Fatalf("minted token: %d %s", s, r)
	}
	e.advance(90 * time.Second)
	if s, r := call(); s != 401 || !strings.Contains(r, "OAUTH_TOKEN_EXPIRED") {
		t.Fatalf("expired token: %d %s", s, r)
	}
	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"no client id", form("grant_type", "refresh_token", "refresh_token", sandbox.DefaultRefreshToken), 400, `"error":"invalid_request"`},
		{"wrong client", form("grant_type", "refresh_token", "refresh_token", sandbox.DefaultRefreshToken, "client_id", "x", "client_secret", "csecret"), 401, `"error":"invalid_client"`},
		{"wrong secret", form("grant_type", "refresh_token", "refresh_token", sandbox.DefaultRefreshToken, "client_id", "cid", "client_secret", "x"), 401, `"error":"invalid_client"`},
		{"unknown refresh token", form("grant_type", "refresh_token", "refresh_token", "nope", "client_id", "cid", "client_secret", "csecret"), 400, `"error":"invalid_grant"`},
		{"other grant", form("grant_type", "authorization_code", "code", "x", "client_id", "cid", "client_secret", "csecret"), 400, `"error":"unsupported_grant_type"`},
	} {
		if s, _, r := post(t, tokenURL, ct, tc.body, nil); s != tc.status || !strings.Contains(r, tc.want) {
			t.Errorf("%s: %d %s", tc.name, s, r)
		}
	}
	if err := e.sb.SetFaults(sandbox.Faults{ExpiredToken: true}); err != nil {
		t.Fatal(err)
	}
	if s, _, r := post(t, tokenURL, ct, ok, nil); s != 400 || !strings.Contains(r, `"error_description":"Token has been expired or revoked."`) {
		t.Errorf("revoked: %d %s", s, r)
	}
}

func TestAdminOverHTTP(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, gads.Options{})
	admin := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, e.srv.URL+"/googleads/_sandbox/"+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	if s, b := admin("POST", "faults", `{"rate_limit":{"times":2},"server_errors":1,"empty_report":true}`); s != 200 ||
		b != `{"rate_limit":{"times":2,"retry_delay":"1s","quota_error":"RESOURCE_EXHAUSTED","rate_scope":"DEVELOPER"},"server_errors":1,"empty_report":true}` {
		t.Errorf("POST faults: %d %s", s, b)
	}
	if s, b := admin("POST", "faults", `{"rate_limit":null,"expired_page_tokens":3}`); s != 200 || b != `{"server_errors":1,"empty_report":true,"expired_page_tokens":3}` {
		t.Errorf("patch faults: %d %s", s, b)
	}
	for _, bad := range []string{`{"nope":1}`, `{"server_errors":-1}`, `{"rate_limit":{"retry_delay":"2m"}}`, `{"rate_limit":{"what":1}}`} {
		if s, _ := admin("POST", "faults", bad); s != 400 {
			t.Errorf("POST faults %s: %d", bad, s)
		}
	}
	if s, b := admin("GET", "faults", ""); s != 200 || !strings.Contains(b, `"expired_page_tokens":3`) {
		t.Errorf("GET faults: %d %s", s, b)
	}
	if s, b := admin("DELETE", "faults", ""); s != 200 || b != `{}` || e.sb.Faults() != (sandbox.Faults{}) {
		t.Errorf("DELETE faults: %d %s", s, b)
	}
	if s, b := admin("POST", "restate", `{"days_ago":2,"factor_percent":50}`); s != 200 || b != `{"customer_id":"1234567890","date":"2025-03-12","factor_percent":50}` {
		t.Errorf("restate: %d %s", s, b)
	}
	if s, _ := admin("POST", "restate", `{"date":"2025-03-12"}`); s != 400 {
		t.Errorf("restate without factor: %d", s)
	}
	s, b := admin("GET", "totals", "")
	if s != 400 {
		t.Errorf("totals without dates: %d %s", s, b)
	}
	s, b = admin("GET", "totals?since=2025-03-12&until=2025-03-12&level=ad", "")
	want, _ := e.sb.Totals(sandbox.DemoCustomerID, "2025-03-12", "2025-03-12", "ad")
	wb, _ := json.Marshal(want)
	if s != 200 || b != string(wb) || want.Rows != 12 {
		t.Errorf("totals: %d %s; want %s", s, b, wb)
	}
	if s, _ := admin("DELETE", "restate", ""); s != 200 {
		t.Errorf("DELETE restate: %d", s)
	}
	if s, b := admin("GET", "customers", ""); s != 200 || !strings.Contains(b, `"Search - Brand"`) {
		t.Errorf("customers: %d %s", s, b)
	}
	if _, err := e.c.ReadPage(context.Background(), demoRefresh, channels.ReadRequest{Window: win(t, today, today)}, ""); err != nil {
		t.Fatal(err)
	}
	if s, b := admin("POST", "expire_access_tokens", ""); s != 200 || b != `{"expired":1}` {
		t.Errorf("expire_access_tokens: %d %s", s, b)
	}
	s, b = admin("GET", "requests", "")
	if s != 200 || !strings.Contains(b, `"grant_type":"refresh_token"`) || !strings.Contains(b, `"query":"SELECT campaign.id`) ||
		strings.Contains(b, "ya29.") || strings.Contains(b, sandbox.DefaultRefreshToken) {
		t.Errorf("requests: %d %s", s, b)
	}
	if s, b := admin("DELETE", "requests", ""); s != 200 || b != `[]` || len(e.sb.Requests()) != 0 {
		t.Errorf("DELETE requests: %d %s", s, b)
	}
	if s, _ := admin("GET", "nope", ""); s != 404 {
		t.Errorf("unknown admin endpoint: %d", s)
	}
}

func TestConcurrentReads(t *testing.T) {
	e := newEnv(t, sandbox.Config{PageSize: 25, AccessTokenTTL: time.Hour}, gads.Options{})
	req := channels.ReadRequest{Window: win(t, "2025-03-01", today), Level: channels.LevelAd}
	want, _ := readTotals(t, e.sb, "2025-03-01", today, "ad")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows, _, err := readAll(t, e.c, demoRefresh, req)
			if err != nil {
				t.Error(err)
				return
			}
			if got := sum(rows); got != want {
				t.Errorf("got %+v want %+v", got, want)
			}
		}()
	}
	wg.Wait()
	grants := 0
	for _, r := range e.sb.Requests() {
		if r.Path == "/token" {
			grants++
		}
	}
	if grants != 1 {
		t.Errorf("%d token calls for concurrent reads of one account; want 1", grants)
	}
}

func TestCustomCustomers(t *testing.T) {
	e := newEnv(t, sandbox.Config{Customers: []sandbox.Customer{
		{ID: "111-222-3333", Currency: "EUR", Timezone: "Europe/Berlin"},
		sandbox.DemoCustomer(),
	}}, gads.Options{})
	if e.sb.Token() != sandbox.DefaultToken || e.sb.RefreshToken() != sandbox.DefaultRefreshToken {
		t.Error("default credentials")
	}
	cs := e.sb.Customers()
	if len(cs) != 2 || cs[0].ID != "1112223333" || cs[0].Name != "Sandbox customer 1112223333" || len(cs[0].Campaigns) != 3 {
		t.Fatalf("customers %+v", cs)
	}
	// 03:00 UTC on March 15 is already March 15 in Berlin.
	if d, _ := e.sb.Today("1112223333"); d != "2025-03-15" {
		t.Errorf("Berlin today = %s", d)
	}
	acct := channels.Account{ID: "1112223333", Token: sandbox.DefaultToken}
	rows, _, err := readAll(t, e.c, acct, channels.ReadRequest{Window: win(t, "2025-03-15", "2025-03-15"), Level: channels.LevelAd})
	if err != nil || len(rows) != 12 || rows[0].Currency != "EUR" || rows[0].AdName != "Ad 1.1.1" {
		t.Fatalf("rows %+v, %v", rows, err)
	}
	info, err := e.c.AccountInfo(context.Background(), acct)
	if err != nil || info.Currency != "EUR" || info.Timezone != "Europe/Berlin" {
		t.Errorf("info %+v, %v", info, err)
	}
	// A path the API does not have is a bad request, not a retry.
	nf := gads.New(gads.Options{BaseURL: e.srv.URL + "/googleads/nope", DeveloperToken: "d"})
	if _, err := nf.AccountInfo(context.Background(), acct); kindOf(err) != "bad_request" || !strings.Contains(err.Error(), "NOT_FOUND") {
		t.Errorf("unknown path: %v", err)
	}
}

// pmaxCampaign is the id of the demo customer's Performance Max campaign.
func pmaxCampaign(t *testing.T, sb *sandbox.Server) string {
	t.Helper()
	for _, c := range sb.Customers()[0].Campaigns {
		if c.ChannelType == sandbox.ChannelPerformanceMax {
			return c.ID
		}
	}
	t.Fatal("the demo customer has no Performance Max campaign")
	return ""
}

// readTotals is what a complete read at level over [since, until] adds up to: the
// campaign-level report, in the rows of the level plus, below the campaign level, the
// campaign-level rows of Performance Max.
func readTotals(t *testing.T, sb *sandbox.Server, since, until, level string) (sandbox.Totals, error) {
	t.Helper()
	account, err := sb.Totals(sandbox.DemoCustomerID, since, until, "campaign")
	if err != nil {
		return sandbox.Totals{}, err
	}
	atLevel, err := sb.Totals(sandbox.DemoCustomerID, since, until, level)
	if err != nil {
		return sandbox.Totals{}, err
	}
	account.Rows = atLevel.Rows
	if level != "campaign" {
		pmax, err := sb.CampaignTotals(sandbox.DemoCustomerID, pmaxCampaign(t, sb), since, until)
		if err != nil {
			return sandbox.Totals{}, err
		}
		account.Rows += pmax.Rows
	}
	return account, nil
}
