package ga4_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	ga4conn "github.com/omnitrackiq/omnitrackiq/internal/channels/ga4"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/catalog"
	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/ga4"
)

// fixed clock: 2025-03-15 03:00 UTC is still 2025-03-14 in New York.
var testNow = time.Date(2025, 3, 15, 3, 0, 0, 0, time.UTC)

const today = "2025-03-14"

// clock is a settable test clock shared by the sandbox and the connector.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	sb    *sandbox.Server
	srv   *httptest.Server
	c     *ga4conn.Client
	clock *clock
	opts  ga4conn.Options
}

// newEnv mounts the sandbox under /ga4 as the dev stack does and points a connector at it
// with the sandbox's OAuth client.
func newEnv(t *testing.T, cfg sandbox.Config, o ga4conn.Options) *env {
	t.Helper()
	clk := &clock{now: testNow}
	if cfg.Now == nil {
		cfg.Now = clk.Now
	}
	cfg.ClientID, cfg.ClientSecret = sandbox.DefaultClientID, sandbox.DefaultClientSecret
	sb := sandbox.New(cfg)
	mux := http.NewServeMux()
	mux.Handle("/ga4/", http.StripPrefix("/ga4", sb))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	o.BaseURL = srv.URL + "/ga4"
	o.TokenURL = srv.URL + "/ga4/token"
	o.ClientID, o.ClientSecret = sandbox.DefaultClientID, sandbox.DefaultClientSecret
	if o.Now == nil {
		o.Now = clk.Now
	}
	if o.QuotaBackoff == nil {
		o.QuotaBackoff = map[string]time.Duration{ga4conn.QuotaConcurrentRequests: time.Second}
	}
	return &env{sb: sb, srv: srv, c: ga4conn.New(o), clock: clk, opts: o}
}

// oauth is the demo property connected with a refresh token (the production shape).
var oauth = channels.Account{ID: sandbox.DemoPropertyID, RefreshToken: sandbox.DefaultRefreshToken}

// static is the demo property with a long-lived access token and no refresh token.
var static = channels.Account{ID: "properties/" + sandbox.DemoPropertyID, Token: sandbox.DefaultToken}

func win(t *testing.T, from, to string) channels.ReadRequest {
	t.Helper()
	w, err := channels.ParseWindow(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return channels.ReadRequest{Window: w}
}

// readAll runs a read to the end (without sleeping on Wait).
func readAll(t *testing.T, c *ga4conn.Client, acct channels.Account, req channels.ReadRequest) ([]channels.SessionRow, []channels.SessionsPage, error) {
	t.Helper()
	var rows []channels.SessionRow
	var pages []channels.SessionsPage
	cur := ""
	for range 1000 {
		p, err := c.ReadSessions(context.Background(), acct, req, cur)
		if err != nil {
			return rows, pages, err
		}
		for _, secret := range []string{sandbox.DefaultRefreshToken, sandbox.DefaultToken, "ya29.", sandbox.DefaultClientSecret} {
			if strings.Contains(p.Next, secret) {
				t.Fatalf("cursor contains a secret: %s", p.Next)
			}
		}
		pages = append(pages, p)
		rows = append(rows, p.Rows...)
		if p.Next == "" {
			return rows, pages, nil
		}
		cur = p.Next
	}
	t.Fatal("read does not end")
	return nil, nil, nil
}

func sum(rows []channels.SessionRow) sandbox.Totals {
	var t sandbox.Totals
	for _, r := range rows {
		t.Rows++
		t.Sessions += r.Sessions
		t.ConversionsMicros += r.ConversionsMicros
		t.RevenueMicros += r.RevenueMicros
	}
	return t
}

func wantKind(t *testing.T, err error, kind channels.ErrorKind) *channels.Error {
	t.Helper()
	pe, ok := channels.AsError(err)
	if !ok || pe.Kind != kind {
		t.Fatalf("err = %v; want a %s error", err, kind)
	}
	if pe.Channel != channels.GA4 {
		t.Errorf("error channel = %s", pe.Channel)
	}
	for _, secret := range []string{sandbox.DefaultRefreshToken, sandbox.DefaultToken, "ya29.", sandbox.DefaultClientSecret} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks a secret: %v", err)
		}
	}
	return pe
}

func TestFullHistoryMatchesSandboxTotals(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{PageSize: 500})
	from := "2024-11-15" // 120 days ending today
	req := win(t, from, today)
	rows, pages, err := readAll(t, e.c, oauth, req)
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.sb.Totals(sandbox.DemoPropertyID, from, today)
	if err != nil {
		t.Fatal(err)
	}
	got := sum(rows)
	got.Revenue = want.Revenue
	if got != want {
		t.Fatalf("connector totals %+v\nsandbox totals   %+v", got, want)
	}
	if wantPages := (want.Rows + 499) / 500; len(pages) != wantPages {
		t.Errorf("%d pages; want %d", len(pages), wantPages)
	}
	seen := map[string]bool{}
	days := map[string]bool{}
	for _, r := range rows {
		key := fmt.Sprint(r.Date.Format(channels.DateLayout), r.Source, r.Medium, r.Campaign)
		if seen[key] {
			t.Fatalf("duplicate row %s", key)
		}
		seen[key] = true
		days[r.Date.Format(channels.DateLayout)] = true
		if r.PropertyID != sandbox.DemoPropertyID || r.Currency != "USD" || r.Sessions <= 0 ||
			r.ConversionsMicros%1_000_000 != 0 || r.RevenueMicros%10_000 != 0 || r.RevenueMicros < 0 {
			t.Fatalf("implausible row %+v", r)
		}
		if r.ConversionsMicros > 0 && r.RevenueMicros == 0 || r.ConversionsMicros/1_000_000 > r.Sessions {
			t.Fatalf("incoherent row %+v", r)
		}
	}
	if len(days) != 120 {
		t.Errorf("rows on %d days; want 120", len(days))
	}
	// Pages are consecutive offsets of the same report.
	var offsets []string
	grants := 0
	for _, l := range e.sb.Requests() {
		if l.Status != 200 {
			t.Errorf("request %+v failed", l)
		}
		if l.Grant != "" {
			grants++
			continue
		}
		offsets = append(offsets, l.Offset)
		if l.Limit != "500" || strings.Join(l.Metrics, ",") != "sessions,keyEvents,totalRevenue" {
			t.Errorf("request %+v", l)
		}
	}
	if grants != 1 {
		t.Errorf("%d token requests; want 1 (the access token is cached)", grants)
	}
	if offsets[0] != "0" || offsets[1] != "500" {
		t.Errorf("offsets %v", offsets)
	}
}

func TestTrafficIsCoherentWithCatalog(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{})
	rows, _, err := readAll(t, e.c, static, win(t, "2025-02-01", "2025-02-28"))
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ source, medium, campaign string }
	sessions := map[key]int64{}
	for _, r := range rows {
		sessions[key{r.Source, r.Medium, r.Campaign}] += r.Sessions
	}
	for _, ch := range catalog.AdChannels() {
		for _, c := range ch.Campaigns {
			if sessions[key{ch.UTMSources[0], ch.UTMMedium, c.UTMCampaign}] == 0 {
				t.Errorf("no %s/%s sessions for %s campaign %q", ch.UTMSources[0], ch.UTMMedium, ch.Channel, c.UTMCampaign)
			}
			if c.UTMCampaign != channels.CampaignSlug(c.Name) {
				t.Errorf("campaign %q has utm %q", c.Name, c.UTMCampaign)
			}
		}
	}
	for _, want := range []key{{"(direct)", "(none)", "(direct)"}, {"google", "organic", "(organic)"}, {"newsletter", "email", "(not set)"}} {
		if n := sessions[want]; n < 28*10 {
			t.Errorf("%v: %d sessions in February", want, n)
		}
	}
	for k := range sessions {
		if !known(k.source, k.medium) {
			t.Errorf("unexpected source %v", k)
		}
	}
	// A plausible store: tens of thousands of sessions a month, 1-4% converting.
	tot := sum(rows)
	rate := float64(tot.ConversionsMicros) / 1e6 / float64(tot.Sessions)
	if tot.Sessions < 40_000 || tot.Sessions > 200_000 || rate < 0.01 || rate > 0.04 {
		t.Errorf("February: %d sessions, conversion rate %.3f", tot.Sessions, rate)
	}
	aov := float64(tot.RevenueMicros) / float64(tot.ConversionsMicros)
	if aov < 40 || aov > 120 {
		t.Errorf("average order value %.2f", aov)
	}
}

func known(source, medium string) bool {
	for _, ch := range catalog.AdChannels() {
		for _, s := range ch.UTMSources {
			if s == source && ch.UTMMedium == medium {
				return true
			}
		}
	}
	for _, u := range catalog.Unpaid {
		if u[0] == source && u[1] == medium {
			return true
		}
	}
	return false
}

func TestDeterministicAndBoundedByHistory(t *testing.T) {
	e1 := newEnv(t, sandbox.Config{Days: 10}, ga4conn.Options{})
	e2 := newEnv(t, sandbox.Config{Days: 10}, ga4conn.Options{PageSize: 7})
	req := win(t, "2025-01-01", "2025-03-31") // reaches before the history and past today
	r1, _, err1 := readAll(t, e1.c, static, req)
	r2, _, err2 := readAll(t, e2.c, static, req)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if fmt.Sprint(r1) != fmt.Sprint(r2) {
		t.Error("two sandboxes (and two page sizes) disagree")
	}
	first, last := r1[0].Date.Format(channels.DateLayout), r1[len(r1)-1].Date.Format(channels.DateLayout)
	if first != "2025-03-05" || last != today {
		t.Errorf("rows span %s..%s; want 2025-03-05..%s", first, last, today)
	}
}

func TestAccountInfo(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{})
	for _, acct := range []channels.Account{oauth, static} {
		info, err := e.c.AccountInfo(context.Background(), acct)
		if err != nil {
			t.Fatal(err)
		}
		want := channels.AccountInfo{ID: "400500600", Name: "GA4 property 400500600", Currency: "USD", Timezone: "America/New_York"}
		if info != want {
			t.Errorf("info = %+v", info)
		}
	}
	// A property the user cannot see: 403 PERMISSION_DENIED.
	_, err := e.c.AccountInfo(context.Background(), channels.Account{ID: "999", Token: sandbox.DefaultToken})
	pe := wantKind(t, err, channels.KindAuth)
	if pe.HTTPStatus != 403 || !strings.Contains(pe.Message, "PERMISSION_DENIED") {
		t.Errorf("unknown property: %+v", pe)
	}
}

func TestRateLimitFaults(t *testing.T) {
	cases := []struct {
		quota, message string
		want           time.Duration
	}{
		{"concurrentRequests", "", time.Second}, // the test's QuotaBackoff
		{"tokensPerProjectPerHour", "", 1800 * time.Second},
		{"potentiallyThresholdedRequestsPerHour", "", 1800 * time.Second},
		{"serverErrorsPerProjectPerHour", "", 3600 * time.Second},
		{"tokensPerHour", "", time.Hour},
		// The test clock is 2025-03-14 20:00 PDT: four hours before the daily quota refills.
		{"tokensPerDay", "", 4 * time.Hour},
		{"concurrentRequests", "Something else is exhausted.", 60 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.quota+tc.message, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{}, ga4conn.Options{})
			if err := e.sb.SetFaults(sandbox.Faults{RateLimit: &sandbox.RateLimitFault{Quota: tc.quota, Message: tc.message, Times: 2}}); err != nil {
				t.Fatal(err)
			}
			req := win(t, "2025-03-01", today)
			for i := range 2 {
				_, err := e.c.ReadSessions(context.Background(), oauth, req, "")
				pe := wantKind(t, err, channels.KindRateLimited)
				if pe.RetryAfter != tc.want || pe.HTTPStatus != 429 || !strings.Contains(pe.Message, "RESOURCE_EXHAUSTED") {
					t.Fatalf("call %d: %+v; want RetryAfter %s", i, pe, tc.want)
				}
			}
			if _, _, err := readAll(t, e.c, oauth, req); err != nil {
				t.Fatalf("after the fault: %v", err)
			}
		})
	}
}

func TestServerErrorsAreTransient(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{})
	if err := e.sb.SetFaults(sandbox.Faults{ServerErrors: 1}); err != nil {
		t.Fatal(err)
	}
	req := win(t, "2025-03-01", today)
	_, err := e.c.ReadSessions(context.Background(), oauth, req, "")
	if pe := wantKind(t, err, channels.KindTransient); pe.HTTPStatus != 500 {
		t.Errorf("%+v", pe)
	}
	p, err := e.c.ReadSessions(context.Background(), oauth, req, "")
	if err != nil || len(p.Rows) == 0 {
		t.Fatalf("after the fault: %v", err)
	}
}

func TestExpiredAccessTokenIsRefreshed(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{})
	req := win(t, "2025-03-01", today)
	if _, err := e.c.ReadSessions(context.Background(), oauth, req, ""); err != nil {
		t.Fatal(err)
	}
	e.sb.ResetRequests()
	if err := e.sb.SetFaults(sandbox.Faults{ExpireNext: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.ReadSessions(context.Background(), oauth, req, ""); err != nil {
		t.Fatalf("with a refresh token: %v", err)
	}
	var trail []string
	for _, l := range e.sb.Requests() {
		trail = append(trail, fmt.Sprintf("%s%s %d", l.Path, l.Grant, l.Status))
	}
	if got := strings.Join(trail, ", "); got != "/v1beta/properties/400500600:runReport 401, /tokenrefresh_token 200, /v1beta/properties/400500600:runReport 200" {
		t.Errorf("requests: %s", got)
	}

	// Without a refresh token nothing can be done.
	if err := e.sb.SetFaults(sandbox.Faults{ExpireNext: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.ReadSessions(context.Background(), static, req, "")
	if pe := wantKind(t, err, channels.KindAuth); pe.HTTPStatus != 401 || !strings.Contains(pe.Message, "UNAUTHENTICATED") {
		t.Errorf("%+v", pe)
	}
}

func TestAccessTokenExpiresWithTheClock(t *testing.T) {
	e := newEnv(t, sandbox.Config{TokenTTL: 10 * time.Minute}, ga4conn.Options{})
	req := win(t, "2025-03-10", today)
	for range 3 {
		if _, err := e.c.ReadSessions(context.Background(), oauth, req, ""); err != nil {
			t.Fatal(err)
		}
		e.clock.advance(6 * time.Minute)
	}
	grants, unauthorized := 0, 0
	for _, l := range e.sb.Requests() {
		if l.Grant != "" {
			grants++
		}
		if l.Status == 401 {
			unauthorized++
		}
	}
	// Minted at 0, still cached at 6 min, renewed before use at 12 min (expiry 10 min).
	if grants != 2 || unauthorized != 0 {
		t.Errorf("%d token requests, %d 401s; want 2 and 0", grants, unauthorized)
	}
}

func TestPermanentlyRejectedTokenIsAuth(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{})
	if err := e.sb.SetFaults(sandbox.Faults{ExpiredToken: true}); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.ReadSessions(context.Background(), oauth, win(t, "2025-03-01", today), "")
	wantKind(t, err, channels.KindAuth)
	calls := 0
	for _, l := range e.sb.Requests() {
		if l.Grant == "" {
			calls++
		}
	}
	if calls != 2 {
		t.Errorf("%d report calls; want 2 (one retry after a refresh)", calls)
	}
}

func TestRevokedRefreshTokenIsAuth(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{})
	if err := e.sb.SetFaults(sandbox.Faults{RevokeRefreshToken: true}); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.AccountInfo(context.Background(), oauth)
	pe := wantKind(t, err, channels.KindAuth)
	if !strings.Contains(pe.Message, "invalid_grant") || pe.HTTPStatus != 400 {
		t.Errorf("%+v", pe)
	}
	// An unknown refresh token too.
	_, err = e.c.AccountInfo(context.Background(), channels.Account{ID: sandbox.DemoPropertyID, RefreshToken: "1//other"})
	wantKind(t, err, channels.KindAuth)
	// A wrong client secret is a configuration error, not the user's.
	o := e.opts
	o.ClientSecret = "wrong"
	e.sb.ClearFaults()
	_, err = ga4conn.New(o).AccountInfo(context.Background(), oauth)
	if pe := wantKind(t, err, channels.KindBadRequest); !strings.Contains(pe.Message, "invalid_client") {
		t.Errorf("%+v", pe)
	}
}

func TestEmptyReport(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{})
	if err := e.sb.SetFaults(sandbox.Faults{EmptyReport: true}); err != nil {
		t.Fatal(err)
	}
	p, err := e.c.ReadSessions(context.Background(), oauth, win(t, "2025-03-01", today), "")
	if err != nil || len(p.Rows) != 0 || p.Next != "" {
		t.Fatalf("page = %+v, %v", p, err)
	}
	// The wire form: no rows and no rowCount at all.
	body := rawReport(t, e, `{"dateRanges":[{"startDate":"2025-03-01","endDate":"2025-03-02"}],"dimensions":[{"name":"date"}],"metrics":[{"name":"sessions"}]}`)
	if _, ok := body["rows"]; ok {
		t.Error("rows present")
	}
	if _, ok := body["rowCount"]; ok {
		t.Error("rowCount present")
	}
	if info, err := e.c.AccountInfo(context.Background(), oauth); err != nil || info.Currency != "USD" {
		t.Errorf("account info of an empty property: %+v, %v", info, err)
	}
}

func rawReport(t *testing.T, e *env, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/ga4/v1beta/properties/"+sandbox.DemoPropertyID+":runReport", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+sandbox.DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestWireFormat(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{})
	m := rawReport(t, e, `{"dateRanges":[{"startDate":"2025-03-01","endDate":"2025-03-01"}],
		"dimensions":[{"name":"date"},{"name":"sessionSource"},{"name":"sessionMedium"},{"name":"sessionCampaignName"}],
		"metrics":[{"name":"sessions"},{"name":"conversions"},{"name":"totalRevenue"}],
		"limit":2,"offset":"1","returnPropertyQuota":true,"keepEmptyRows":false}`)
	b, _ := json.Marshal(m)
	s := string(b)
	for _, want := range []string{
		`"metricHeaders":[{"name":"sessions","type":"TYPE_INTEGER"},{"name":"conversions","type":"TYPE_INTEGER"},{"name":"totalRevenue","type":"TYPE_CURRENCY"}]`,
		`"metadata":{"currencyCode":"USD","timeZone":"America/New_York"}`,
		`"kind":"analyticsData#runReport"`,
		`"tokensPerProjectPerHour":{"consumed":1,"remaining":13999}`,
		`{"value":"20250301"}`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("response lacks %s:\n%s", want, s)
		}
	}
	if rows := m["rows"].([]any); len(rows) != 2 || m["rowCount"].(float64) < 15 {
		t.Errorf("rows %d, rowCount %v", len(rows), m["rowCount"])
	}
	// Errors use Google's envelope.
	bad := rawReport(t, e, `{"dateRanges":[{"startDate":"2025-03-01","endDate":"2025-03-01"}],"metrics":[{"name":"sessions"}],"limitt":"1"}`)
	if fmt.Sprint(bad["error"]) != `map[code:400 message:Invalid JSON payload received. Unknown name "limitt": Cannot find field. status:INVALID_ARGUMENT]` {
		t.Errorf("error = %v", bad)
	}
}

func TestKeyEventsRejectedFallsBackToConversions(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{PageSize: 100})
	if err := e.sb.SetFaults(sandbox.Faults{RejectKeyEvents: true}); err != nil {
		t.Fatal(err)
	}
	from := "2025-03-01"
	rows, pages, err := readAll(t, e.c, oauth, win(t, from, today))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := e.sb.Totals(sandbox.DemoPropertyID, from, today)
	got := sum(rows)
	got.Revenue = want.Revenue
	if got != want || len(pages) < 2 {
		t.Fatalf("got %+v over %d pages; want %+v", got, len(pages), want)
	}
	if !strings.Contains(pages[0].Next, `"metric":"conversions"`) {
		t.Errorf("cursor %s does not keep the accepted metric", pages[0].Next)
	}
	var trail []string
	for _, l := range e.sb.Requests() {
		if l.Grant == "" {
			trail = append(trail, fmt.Sprintf("%s %d", l.Metrics[1], l.Status))
		}
	}
	if trail[0] != "keyEvents 400" || strings.Count(strings.Join(trail, ","), "keyEvents") != 1 || trail[len(trail)-1] != "conversions 200" {
		t.Errorf("requests %v", trail)
	}
}

func TestInvalidInputsAreBadRequests(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{PageSize: 100})
	_, err := e.c.ReadSessions(context.Background(), channels.Account{ID: "properties/abc", Token: "x"}, win(t, "2025-03-01", today), "")
	wantKind(t, err, channels.KindBadRequest)
	p, err := e.c.ReadSessions(context.Background(), oauth, win(t, "2025-01-01", today), "")
	if err != nil || p.Next == "" {
		t.Fatalf("next = %q, %v", p.Next, err)
	}
	_, err = e.c.ReadSessions(context.Background(), oauth, win(t, "2025-01-02", today), p.Next)
	wantKind(t, err, channels.KindBadRequest)
}

func TestLowQuotaSetsWait(t *testing.T) {
	for _, tc := range []struct {
		quota string
		want  time.Duration
	}{
		{"tokensPerProjectPerHour", 1800 * time.Second},
		{"concurrentRequests", time.Second},
		{"potentiallyThresholdedRequestsPerHour", 1800 * time.Second},
	} {
		e := newEnv(t, sandbox.Config{}, ga4conn.Options{})
		if err := e.sb.SetFaults(sandbox.Faults{LowQuota: tc.quota}); err != nil {
			t.Fatal(err)
		}
		p, err := e.c.ReadSessions(context.Background(), oauth, win(t, "2025-03-01", today), "")
		if err != nil || p.Wait != tc.want || len(p.Rows) == 0 {
			t.Errorf("%s: wait %s, %d rows, %v; want wait %s", tc.quota, p.Wait, len(p.Rows), err, tc.want)
		}
	}
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{})
	if p, err := e.c.ReadSessions(context.Background(), oauth, win(t, "2025-03-01", today), ""); err != nil || p.Wait != 0 {
		t.Errorf("healthy quota: wait %s, %v", p.Wait, err)
	}
}

func TestRestatementIsVisible(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{PageSize: 50})
	day := "2025-03-12"
	req := win(t, "2025-03-10", today)
	before, _, err := readAll(t, e.c, oauth, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sb.Restate(sandbox.DemoPropertyID, day, 150); err != nil {
		t.Fatal(err)
	}
	after, _, err := readAll(t, e.c, oauth, req)
	if err != nil {
		t.Fatal(err)
	}
	byKey := func(rows []channels.SessionRow) map[string]channels.SessionRow {
		m := map[string]channels.SessionRow{}
		for _, r := range rows {
			m[r.Date.Format(channels.DateLayout)+r.Source+r.Medium+r.Campaign] = r
		}
		return m
	}
	b, a := byKey(before), byKey(after)
	changed := 0
	for k, r := range a {
		if b[k] != r {
			changed++
			if r.Date.Format(channels.DateLayout) != day || r.Sessions < b[k].Sessions {
				t.Errorf("row %s changed: %+v -> %+v", k, b[k], r)
			}
		}
	}
	if changed < 10 {
		t.Errorf("%d rows changed", changed)
	}
	want, _ := e.sb.Totals(sandbox.DemoPropertyID, "2025-03-10", today)
	got := sum(after)
	got.Revenue = want.Revenue
	if got != want {
		t.Errorf("after restatement: %+v; sandbox %+v", got, want)
	}
	if err := e.sb.Restate(sandbox.DemoPropertyID, "2024-01-01", 150); err == nil {
		t.Error("restatement outside the history accepted")
	}
}

func TestCursorSurvivesRestart(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{PageSize: 200})
	req := win(t, "2025-02-01", today)
	p, err := e.c.ReadSessions(context.Background(), oauth, req, "")
	if err != nil || p.Next == "" {
		t.Fatal(p, err)
	}
	var cur map[string]any
	if err := json.Unmarshal([]byte(p.Next), &cur); err != nil || cur["offset"] != float64(200) {
		t.Fatalf("cursor %s", p.Next)
	}
	// A new process: a new client (cold token cache) goes on from the cursor.
	rows := p.Rows
	c2 := ga4conn.New(e.opts)
	next := p.Next
	for next != "" {
		p, err := c2.ReadSessions(context.Background(), oauth, req, next)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, p.Rows...)
		next = p.Next
	}
	want, _ := e.sb.Totals(sandbox.DemoPropertyID, "2025-02-01", today)
	if got := sum(rows); got.Rows != want.Rows || got.Sessions != want.Sessions {
		t.Errorf("resumed read: %+v; want %+v", got, want)
	}
}

func TestAdminHTTP(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{})
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, e.srv.URL+"/ga4"+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := do("POST", "/_sandbox/faults", `{"rate_limit":{"times":1},"server_errors":1}`); code != 200 ||
		!strings.Contains(body, `"quota":"concurrentRequests"`) {
		t.Fatalf("%d %s", code, body)
	}
	if code, _ := do("POST", "/_sandbox/faults", `{"low_quota":"nope"}`); code != 400 {
		t.Errorf("bad quota accepted: %d", code)
	}
	_, err := e.c.ReadSessions(context.Background(), oauth, win(t, "2025-03-01", today), "")
	wantKind(t, err, channels.KindRateLimited)
	_, err = e.c.ReadSessions(context.Background(), oauth, win(t, "2025-03-01", today), "")
	wantKind(t, err, channels.KindTransient)
	if code, body := do("GET", "/_sandbox/faults", ""); code != 200 || strings.TrimSpace(body) != "{}" {
		t.Errorf("faults after firing: %d %s", code, body)
	}
	code, body := do("POST", "/_sandbox/restate", `{"days_ago":2,"percent":50}`)
	if code != 200 || !strings.Contains(body, `"date":"2025-03-12"`) {
		t.Errorf("restate: %d %s", code, body)
	}
	code, body = do("GET", "/_sandbox/totals?since=2025-03-12&until=2025-03-12", "")
	var tot sandbox.Totals
	if code != 200 || json.Unmarshal([]byte(body), &tot) != nil {
		t.Fatalf("totals: %d %s", code, body)
	}
	if want, _ := e.sb.Totals(sandbox.DemoPropertyID, "2025-03-12", "2025-03-12"); tot != want || tot.Sessions == 0 {
		t.Errorf("totals %+v; want %+v", tot, want)
	}
	if code, body := do("GET", "/_sandbox/properties", ""); code != 200 || !strings.Contains(body, `"time_zone":"America/New_York"`) ||
		!strings.Contains(body, `"campaign":"prospecting_broad"`) {
		t.Errorf("properties: %d %s", code, body)
	}
	code, body = do("GET", "/_sandbox/requests", "")
	if code != 200 || strings.Contains(body, "ya29.") || strings.Contains(body, sandbox.DefaultRefreshToken) ||
		strings.Contains(body, sandbox.DefaultClientSecret) || !strings.Contains(body, `"grant":"refresh_token"`) {
		t.Errorf("requests: %d %s", code, body)
	}
	if code, _ := do("DELETE", "/_sandbox/faults", ""); code != 200 {
		t.Error("delete faults")
	}
	if code, _ := do("DELETE", "/_sandbox/restate", ""); code != 200 {
		t.Error("delete restate")
	}
	if code, _ := do("GET", "/_sandbox/nope", ""); code != 404 {
		t.Error("unknown admin endpoint")
	}
}

func TestTokenEndpoint(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{})
	post := func(form string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(e.srv.URL+"/ga4/token", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	base := "client_id=" + sandbox.DefaultClientID + "&client_secret=" + sandbox.DefaultClientSecret
	code, m := post("grant_type=refresh_token&refresh_token=" + sandbox.DefaultRefreshToken + "&" + base)
	if code != 200 || m["token_type"] != "Bearer" || m["expires_in"] != float64(3599) || m["refresh_token"] != nil ||
		!strings.HasPrefix(fmt.Sprint(m["access_token"]), "ya29.") {
		t.Errorf("refresh: %d %v", code, m)
	}
	for _, tc := range []struct {
		form string
		code int
		err  string
	}{
		{"grant_type=refresh_token&refresh_token=nope&" + base, 400, "invalid_grant"},
		{"grant_type=authorization_code&code=x&" + base, 400, "unsupported_grant_type"},
		{"grant_type=refresh_token&refresh_token=" + sandbox.DefaultRefreshToken, 400, "invalid_request"},
		{"grant_type=refresh_token&refresh_token=" + sandbox.DefaultRefreshToken + "&client_id=other", 401, "invalid_client"},
	} {
		if code, m := post(tc.form); code != tc.code || m["error"] != tc.err {
			t.Errorf("%s: %d %v; want %d %s", tc.form, code, m, tc.code, tc.err)
		}
	}
}

func TestRequestValidation(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{})
	const day = `"dateRanges":[{"startDate":"2025-03-01","endDate":"2025-03-02"}]`
	call := func(method, path, auth, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, e.srv.URL+"/ga4"+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	const path = "/v1beta/properties/" + sandbox.DemoPropertyID + ":runReport"
	bearer := "Bearer " + sandbox.DefaultToken
	for _, tc := range []struct {
		name, method, path, auth, body string
		status                         int
		msg                            string
	}{
		{"no token", "POST", path, "", `{}`, 401, "missing required authentication credential"},
		{"wrong token", "POST", path, "Bearer nope", `{}`, 401, "invalid authentication credentials"},
		{"get", "GET", path, bearer, ``, 404, "Method not found."},
		{"bad property", "POST", "/v1beta/properties/abc:runReport", bearer, `{}`, 400, "Invalid property ID: abc"},
		{"unknown property", "POST", "/v1beta/properties/1:runReport", bearer, `{}`, 403, "sufficient permissions"},
		{"no date range", "POST", path, bearer, `{"metrics":[{"name":"sessions"}]}`, 400, "dateRanges"},
		{"two date ranges", "POST", path, bearer, `{"dateRanges":[{"startDate":"today","endDate":"today"},{"startDate":"today","endDate":"today"}],"metrics":[{"name":"sessions"}]}`, 400, "one date range"},
		{"reversed range", "POST", path, bearer, `{"dateRanges":[{"startDate":"2025-03-02","endDate":"2025-03-01"}],"metrics":[{"name":"sessions"}]}`, 400, "startDate must be before"},
		{"bad date", "POST", path, bearer, `{"dateRanges":[{"startDate":"03/01/2025","endDate":"today"}],"metrics":[{"name":"sessions"}]}`, 400, "Invalid startDate"},
		{"unknown dimension", "POST", path, bearer, `{` + day + `,"dimensions":[{"name":"country"}],"metrics":[{"name":"sessions"}]}`, 400, "Field country is not a valid dimension"},
		{"unknown metric", "POST", path, bearer, `{` + day + `,"metrics":[{"name":"bounces"}]}`, 400, "Field bounces is not a valid metric"},
		{"no metric", "POST", path, bearer, `{` + day + `}`, 400, "At least one metric"},
		{"bad limit", "POST", path, bearer, `{` + day + `,"metrics":[{"name":"sessions"}],"limit":"ten"}`, 400, `Invalid value at 'limit' (TYPE_INT64), "ten"`},
		{"negative offset", "POST", path, bearer, `{` + day + `,"metrics":[{"name":"sessions"}],"offset":"-1"}`, 400, "must not be negative"},
		{"order by other dimension", "POST", path, bearer, `{` + day + `,"metrics":[{"name":"sessions"}],"orderBys":[{"dimension":{"dimensionName":"date"}}]}`, 400, "Order by dimension date"},
		{"aggregations", "POST", path, bearer, `{` + day + `,"metrics":[{"name":"sessions"}],"metricAggregations":["TOTAL"]}`, 400, "metricAggregations"},
		{"other currency", "POST", path, bearer, `{` + day + `,"metrics":[{"name":"sessions"}],"currencyCode":"EUR"}`, 400, "does not convert currencies"},
		{"relative dates", "POST", path, bearer, `{"dateRanges":[{"startDate":"7daysAgo","endDate":"yesterday"}],"metrics":[{"name":"sessions"}]}`, 200, ""},
		{"unknown path", "POST", "/v1/properties/1:runReport", bearer, `{}`, 404, "Method not found."},
	} {
		status, m := call(tc.method, tc.path, tc.auth, tc.body)
		errObj, _ := m["error"].(map[string]any)
		msg := fmt.Sprint(errObj["message"])
		if status != tc.status || (tc.msg != "" && !strings.Contains(msg, tc.msg)) {
			t.Errorf("%s: %d %v; want %d %q", tc.name, status, m, tc.status, tc.msg)
		}
		if status != 200 && (errObj["code"] != float64(status) || errObj["status"] == "") {
			t.Errorf("%s: envelope %v", tc.name, m)
		}
	}

	// Ordering by a metric, descending, and aggregation over fewer dimensions.
	status, m := call("POST", path, bearer, `{"dateRanges":[{"startDate":"2025-03-01","endDate":"2025-03-07"}],
		"dimensions":[{"name":"sessionSourceMedium"}],"metrics":[{"name":"sessions"},{"name":"keyEvents"}],
		"orderBys":[{"metric":{"metricName":"sessions"},"desc":true}],"limit":"3"}`)
	rows, _ := m["rows"].([]any)
	if status != 200 || len(rows) != 3 || m["rowCount"] != float64(8) {
		t.Fatalf("%d %v", status, m)
	}
	var prev int64 = 1 << 62
	for _, r := range rows {
		mv := r.(map[string]any)["metricValues"].([]any)
		var n int64
		fmt.Sscan(mv[0].(map[string]any)["value"].(string), &n)
		if n > prev {
			t.Errorf("rows not in descending sessions: %v", rows)
		}
		prev = n
	}
	if first := rows[0].(map[string]any)["dimensionValues"].([]any)[0].(map[string]any)["value"]; first != "google / cpc" {
		t.Errorf("top source %v", first)
	}
}

func TestConcurrentReads(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ga4conn.Options{PageSize: 100})
	want, _ := e.sb.Totals(sandbox.DemoPropertyID, "2025-02-01", today)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rows []channels.SessionRow
			cur := ""
			for {
				p, err := e.c.ReadSessions(context.Background(), oauth, win(t, "2025-02-01", today), cur)
				if err != nil {
					errs <- err
					return
				}
				rows = append(rows, p.Rows...)
				if cur = p.Next; cur == "" {
					break
				}
			}
			if got := sum(rows); got.Sessions != want.Sessions {
				errs <- fmt.Errorf("sessions %d; want %d", got.Sessions, want.Sessions)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
