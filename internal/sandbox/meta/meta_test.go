package meta_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	metaconn "github.com/omnitrackiq/omnitrackiq/internal/channels/meta"
	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/meta"
)

// fixed clock: 2025-03-15 03:00 UTC is still 2025-03-14 in New York.
var testNow = time.Date(2025, 3, 15, 3, 0, 0, 0, time.UTC)

const today = "2025-03-14"

type env struct {
	sb  *sandbox.Server
	srv *httptest.Server
	c   *metaconn.Client
}

func newEnv(t *testing.T, cfg sandbox.Config, o metaconn.Options) *env {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	sb := sandbox.New(cfg)
	mux := http.NewServeMux()
	mux.Handle("/meta/", http.StripPrefix("/meta", sb))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	o.BaseURL = srv.URL + "/meta"
	if o.PollInterval == 0 {
		o.PollInterval = time.Millisecond
	}
	return &env{sb: sb, srv: srv, c: metaconn.New(o)}
}

var demo = channels.Account{ID: "act_" + sandbox.DemoAccountID, Token: sandbox.DefaultToken}

func win(t *testing.T, from, to string) channels.Window {
	t.Helper()
	w, err := channels.ParseWindow(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// readAll runs a read to the end (without sleeping: the test clock does not matter).
func readAll(t *testing.T, c *metaconn.Client, acct channels.Account, req channels.ReadRequest) ([]channels.AdRow, []channels.Page, error) {
	t.Helper()
	var rows []channels.AdRow
	var pages []channels.Page
	cur := ""
	for i := 0; i < 1000; i++ {
		p, err := c.ReadPage(context.Background(), acct, req, cur)
		if err != nil {
			return rows, pages, err
		}
		if strings.Contains(p.Next, acct.Token) {
			t.Fatalf("cursor contains the token: %s", p.Next)
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

func TestDemoAccount(t *testing.T) {
	a := sandbox.DemoAccount()
	if a.ID != "100200300" || a.Name != "Demo Store (sandbox)" || a.Currency != "USD" || a.Timezone != "America/New_York" {
		t.Fatalf("demo account = %+v", a)
	}
	var names []string
	ids := map[string]bool{}
	ads := 0
	for _, c := range a.Campaigns {
		names = append(names, c.Name)
		ids[c.ID] = true
		if len(c.AdSets) != 2 {
			t.Errorf("campaign %s has %d ad sets", c.Name, len(c.AdSets))
		}
		for _, s := range c.AdSets {
			ids[s.ID] = true
			for _, ad := range s.Ads {
				ids[ad.ID] = true
				ads++
			}
		}
	}
	if strings.Join(names, "|") != "Prospecting - Broad|Retargeting - 30d|Brand Awareness" || ads != 12 || len(ids) != 3+6+12 {
		t.Errorf("tree: campaigns %v, %d ads, %d distinct ids", names, ads, len(ids))
	}
	if b := sandbox.DemoAccount(); fmt.Sprint(b) != fmt.Sprint(a) {
		t.Error("DemoAccount is not deterministic")
	}
}

func TestNinetyDaysAtAdLevelMatchSandboxTotals(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, metaconn.Options{PageSize: 100})
	from, to := "2024-12-15", today // 90 days
	req := channels.ReadRequest{Window: win(t, from, to), Level: channels.LevelAd}
	rows, pages, err := readAll(t, e.c, demo, req)
	if err != nil {
		t.Fatal(err)
	}
	if req.Window.Days() != 90 || len(rows) != 90*12 {
		t.Fatalf("%d rows over %d days; want %d", len(rows), req.Window.Days(), 90*12)
	}
	want, err := e.sb.Totals(sandbox.DemoAccountID, from, to, "ad")
	if err != nil {
		t.Fatal(err)
	}
	var got sandbox.Totals
	seen := map[string]bool{}
	for _, r := range rows {
		got.Rows++
		got.SpendMicros += r.SpendMicros
		got.Impressions += r.Impressions
		got.Clicks += r.Clicks
		got.ConversionsMicros += r.ConversionsMicros
		got.ConversionValueMicros += r.ConversionValueMicros
		key := r.AdID + r.Date.Format(channels.DateLayout)
		if seen[key] {
			t.Fatalf("duplicate row %s", key)
		}
		seen[key] = true
		if r.Channel != channels.Meta || r.AccountID != sandbox.DemoAccountID || r.Currency != "USD" ||
			r.CampaignID == "" || r.CampaignName == "" || r.AdSetID == "" || r.AdID == "" || r.AdName == "" {
			t.Fatalf("row = %+v", r)
		}
		if r.SpendMicros <= 0 || r.SpendMicros%10_000 != 0 || r.Clicks >= r.Impressions || r.Impressions <= 0 {
			t.Fatalf("implausible row %+v", r)
		}
	}
	got.Spend = want.Spend
	if got != want {
		t.Errorf("connector totals %+v\nsandbox totals   %+v", got, want)
	}
	if got.ConversionsMicros == 0 || got.ConversionValueMicros == 0 {
		t.Error("no purchases in 90 days")
	}
	// start, first poll (running), second poll (completed + page 1), pages 2..11
	if len(pages) != 2+11 {
		t.Errorf("%d ReadPage calls; want 13", len(pages))
	}
	var afters int
	for _, l := range e.sb.Requests() {
		if l.After != "" {
			afters++
		}
		if l.Status != 200 {
			t.Errorf("request %+v failed", l)
		}
	}
	if afters != 10 {
		t.Errorf("%d requests with after; want 10", afters)
	}

	// Coarser levels aggregate exactly to the same totals.
	for _, level := range []channels.Level{channels.LevelCampaign, channels.LevelAdSet} {
		rows, _, err := readAll(t, e.c, demo, channels.ReadRequest{Window: req.Window, Level: level})
		if err != nil {
			t.Fatal(err)
		}
		var spend, conv int64
		for _, r := range rows {
			spend += r.SpendMicros
			conv += r.ConversionsMicros
			if r.AdID != "" || (level == channels.LevelCampaign && r.AdSetID != "") {
				t.Fatalf("%s row carries finer ids: %+v", level, r)
			}
		}
		wantRows := map[channels.Level]int{channels.LevelCampaign: 90 * 3, channels.LevelAdSet: 90 * 6}[level]
		if len(rows) != wantRows || spend != want.SpendMicros || conv != want.ConversionsMicros {
			t.Errorf("%s: %d rows, spend %d, conv %d; want %d, %d, %d", level, len(rows), spend, conv, wantRows, want.SpendMicros, want.ConversionsMicros)
		}
	}
}

func TestHistoryBoundsAndDeterminism(t *testing.T) {
	e := newEnv(t, sandbox.Config{Days: 10}, metaconn.Options{PageSize: 500})
	// The window reaches before the history and past today: only the 10 days exist.
	rows, _, err := readAll(t, e.c, demo, channels.ReadRequest{Window: win(t, "2025-02-01", "2025-03-20"), Level: channels.LevelAd})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 10*12 || rows[0].Date.Format(channels.DateLayout) != "2025-03-05" || rows[len(rows)-1].Date.Format(channels.DateLayout) != today {
		t.Fatalf("%d rows from %s to %s", len(rows), rows[0].Date, rows[len(rows)-1].Date)
	}
	e2 := newEnv(t, sandbox.Config{Days: 10}, metaconn.Options{PageSize: 7})
	rows2, _, err := readAll(t, e2.c, demo, channels.ReadRequest{Window: win(t, "2025-02-01", "2025-03-20"), Level: channels.LevelAd})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rows) != fmt.Sprint(rows2) {
		t.Error("same data differs between servers or page sizes")
	}
}

func TestAccountInfo(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, metaconn.Options{})
	info, err := e.c.AccountInfo(context.Background(), demo)
	if err != nil {
		t.Fatal(err)
	}
	want := channels.AccountInfo{ID: "100200300", Name: "Demo Store (sandbox)", Currency: "USD", Timezone: "America/New_York"}
	if info != want {
		t.Errorf("info = %+v", info)
	}
	_, err = e.c.AccountInfo(context.Background(), channels.Account{ID: "999", Token: sandbox.DefaultToken})
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindBadRequest || pe.Code != 100 {
		t.Errorf("unknown account: %v", err)
	}
}

func kindOf(t *testing.T, err error) *channels.Error {
	t.Helper()
	pe, ok := channels.AsError(err)
	if !ok {
		t.Fatalf("error %v is not classified", err)
	}
	return pe
}

func TestFaultsAreClassified(t *testing.T) {
	req := func(t *testing.T) channels.ReadRequest {
		return channels.ReadRequest{Window: win(t, "2025-03-01", "2025-03-02"), Level: channels.LevelCampaign}
	}
	ctx := context.Background()

	t.Run("rate limits", func(t *testing.T) {
		for _, tc := range []struct {
			code, regain int
			retry        time.Duration
		}{{17, 1, time.Minute}, {613, 0, 45 * time.Second}, {80004, 3, 3 * time.Minute}, {80000, 2, 2 * time.Minute}, {4, 1, time.Minute}} {
			e := newEnv(t, sandbox.Config{}, metaconn.Options{DefaultRateLimitBackoff: 45 * time.Second})
			if err := e.sb.SetFaults(sandbox.Faults{RateLimit: &sandbox.RateLimitFault{Code: tc.code, Times: 2, RegainMinutes: tc.regain}}); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				_, err := e.c.ReadPage(ctx, demo, req(t), "")
				pe := kindOf(t, err)
				if pe.Kind != channels.KindRateLimited || pe.Code != tc.code || pe.HTTPStatus != 400 || pe.RetryAfter != tc.retry {
					t.Errorf("code %d call %d: %+v; want rate limited, retry %v", tc.code, i, pe, tc.retry)
				}
			}
			if _, _, err := readAll(t, e.c, demo, req(t)); err != nil {
				t.Errorf("code %d: after the fault ran out: %v", tc.code, err)
			}
		}
	})

	t.Run("server errors", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, metaconn.Options{})
		if err := e.sb.SetFaults(sandbox.Faults{ServerErrors: 1}); err != nil {
			t.Fatal(err)
		}
		_, err := e.c.AccountInfo(ctx, demo)
		pe := kindOf(t, err)
		if pe.Kind != channels.KindTransient || pe.HTTPStatus != 500 || pe.Code != 1 || !strings.Contains(pe.Message, "An unknown error occurred") {
			t.Errorf("server error: %+v", pe)
		}
		if _, err := e.c.AccountInfo(ctx, demo); err != nil {
			t.Errorf("after the fault: %v", err)
		}
	})

	t.Run("expired token", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, metaconn.Options{})
		if err := e.sb.SetFaults(sandbox.Faults{ExpiredToken: true}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			_, err := e.c.ReadPage(ctx, demo, req(t), "")
			pe := kindOf(t, err)
			if pe.Kind != channels.KindAuth || pe.Code != 190 || !strings.Contains(pe.Message, "Error validating access token: Session has expired") ||
				!strings.Contains(pe.Message, "subcode 463") {
				t.Errorf("expired: %+v", pe)
			}
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, metaconn.Options{})
		_, err := e.c.AccountInfo(ctx, channels.Account{ID: sandbox.DemoAccountID, Token: "nope"})
		if pe := kindOf(t, err); pe.Kind != channels.KindAuth || pe.Code != 190 {
			t.Errorf("wrong token: %+v", pe)
		}
	})

	t.Run("failed report jobs are restarted", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, metaconn.Options{})
		if err := e.sb.SetFaults(sandbox.Faults{FailReportJobs: 2}); err != nil {
			t.Fatal(err)
		}
		rows, _, err := readAll(t, e.c, demo, req(t))
		if err != nil || len(rows) != 2*3 {
			t.Fatalf("%d rows, %v", len(rows), err)
		}
		starts := 0
		for _, l := range e.sb.Requests() {
			if l.Method == "POST" {
				starts++
			}
		}
		if starts != 3 {
			t.Errorf("%d report runs; want 3", starts)
		}
	})

	t.Run("report jobs that always fail end in a transient error", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, metaconn.Options{})
		if err := e.sb.SetFaults(sandbox.Faults{FailReportJobs: 10}); err != nil {
			t.Fatal(err)
		}
		_, _, err := readAll(t, e.c, demo, req(t))
		if pe := kindOf(t, err); pe.Kind != channels.KindTransient || !strings.Contains(pe.Message, "Job Failed") {
			t.Errorf("always failing: %+v", pe)
		}
		if f := e.sb.Faults(); f.FailReportJobs != 10-(metaconn.MaxReportRestarts+1) {
			t.Errorf("%d failing runs left; want %d", f.FailReportJobs, 10-(metaconn.MaxReportRestarts+1))
		}
	})

	t.Run("high usage asks to wait", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, metaconn.Options{})
		if err := e.sb.SetFaults(sandbox.Faults{HighUsage: true}); err != nil {
			t.Fatal(err)
		}
		_, pages, err := readAll(t, e.c, demo, req(t))
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range pages {
			if p.Wait < time.Minute {
				t.Errorf("page %d wait %v; want >= 1m", i, p.Wait)
			}
		}
	})

	t.Run("normal usage does not wait", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, metaconn.Options{PollInterval: 3 * time.Second})
		_, pages, err := readAll(t, e.c, demo, req(t))
		if err != nil {
			t.Fatal(err)
		}
		waits := fmt.Sprint(pages[0].Wait, pages[1].Wait, pages[2].Wait)
		if waits != "0s 3s 0s" {
			t.Errorf("waits = %s; want start 0, running poll 3s, completed 0", waits)
		}
	})

	t.Run("page delay and cancellation", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, metaconn.Options{})
		_, pages, err := readAll(t, e.c, demo, req(t))
		if err != nil {
			t.Fatal(err)
		}
		_ = pages
		if err := e.sb.SetFaults(sandbox.Faults{PageDelayMS: 300}); err != nil {
			t.Fatal(err)
		}
		// Start and poll until the run completes; the rows page is then slow.
		p, err := e.c.ReadPage(ctx, demo, req(t), "")
		if err != nil {
			t.Fatal(err)
		}
		p, err = e.c.ReadPage(ctx, demo, req(t), p.Next) // running
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err = e.c.ReadPage(cctx, demo, req(t), p.Next)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("slow page with a short deadline: %v", err)
		}
		start := time.Now()
		if _, err := e.c.ReadPage(ctx, demo, req(t), p.Next); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) < 300*time.Millisecond {
			t.Error("page was not delayed")
		}
	})
}

func adminDo(t *testing.T, method, u, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminOverHTTP(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, metaconn.Options{})
	admin := e.srv.URL + "/meta/_sandbox"

	code, body := adminDo(t, "POST", admin+"/faults", `{"rate_limit":{"code":613,"times":1,"regain_minutes":2}}`)
	if code != 200 {
		t.Fatalf("POST faults: %d %s", code, body)
	}
	code, body = adminDo(t, "POST", admin+"/faults", `{"server_errors":1}`)
	if code != 200 || !strings.Contains(body, `"code":613`) || !strings.Contains(body, `"server_errors":1`) {
		t.Fatalf("faults do not merge: %d %s", code, body)
	}
	_, err := e.c.AccountInfo(context.Background(), demo)
	if pe := kindOf(t, err); pe.Kind != channels.KindRateLimited || pe.Code != 613 || pe.RetryAfter != 2*time.Minute {
		t.Errorf("first call: %+v", pe)
	}
	_, err = e.c.AccountInfo(context.Background(), demo)
	if pe := kindOf(t, err); pe.Kind != channels.KindTransient || pe.HTTPStatus != 500 {
		t.Errorf("second call: %+v", pe)
	}
	if _, err = e.c.AccountInfo(context.Background(), demo); err != nil {
		t.Errorf("third call: %v", err)
	}

	for _, bad := range []string{`{"rate_limit":{"code":190}}`, `{"server_errors":-1}`, `{"nope":1}`, `not json`} {
		if code, body := adminDo(t, "POST", admin+"/faults", bad); code != 400 {
			t.Errorf("POST faults %s: %d %s", bad, code, body)
		}
	}
	adminDo(t, "POST", admin+"/faults", `{"expired_token":true,"high_usage":true,"page_delay_ms":5,"fail_report_jobs":1}`)
	if f := e.sb.Faults(); !f.ExpiredToken || !f.HighUsage || f.PageDelayMS != 5 || f.FailReportJobs != 1 {
		t.Errorf("faults = %+v", f)
	}
	if code, body := adminDo(t, "DELETE", admin+"/faults", ""); code != 200 || e.sb.Faults() != (sandbox.Faults{}) {
		t.Errorf("DELETE faults: %d %s, left %+v", code, body, e.sb.Faults())
	}

	// The request log never shows the token.
	code, body = adminDo(t, "GET", admin+"/requests", "")
	var logs []sandbox.RequestLog
	if err := json.Unmarshal([]byte(body), &logs); code != 200 || err != nil || len(logs) != 3 {
		t.Fatalf("GET requests: %d %s", code, body)
	}
	if strings.Contains(body, sandbox.DefaultToken) || strings.Contains(body, "access_token") {
		t.Errorf("request log leaks the token: %s", body)
	}
	if logs[0].Method != "GET" || logs[0].Path != "/v23.0/act_100200300" || logs[0].Status != 400 || logs[1].Status != 500 || logs[2].Status != 200 {
		t.Errorf("logs = %+v", logs)
	}
	adminDo(t, "DELETE", admin+"/requests", "")
	if len(e.sb.Requests()) != 0 {
		t.Error("DELETE requests did not clear")
	}

	code, body = adminDo(t, "GET", admin+"/totals?account_id=act_100200300&since=2025-03-01&until=2025-03-02&level=campaign", "")
	var tot sandbox.Totals
	if err := json.Unmarshal([]byte(body), &tot); code != 200 || err != nil || tot.Rows != 6 || tot.SpendMicros <= 0 {
		t.Errorf("totals: %d %s", code, body)
	}
	if code, _ := adminDo(t, "GET", admin+"/accounts", ""); code != 200 {
		t.Errorf("accounts: %d", code)
	}
	if code, _ := adminDo(t, "GET", admin+"/nope", ""); code != 404 {
		t.Errorf("unknown admin endpoint: %d", code)
	}
}

func TestRestatementIsVisible(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, metaconn.Options{})
	req := channels.ReadRequest{Window: win(t, "2025-03-08", "2025-03-10"), Level: channels.LevelCampaign}
	before, _, err := readAll(t, e.c, demo, req)
	if err != nil {
		t.Fatal(err)
	}
	beforeAd, err := e.sb.Totals(sandbox.DemoAccountID, "2025-03-09", "2025-03-09", "ad")
	if err != nil {
		t.Fatal(err)
	}
	// 2025-03-09 is 5 days before the sandbox's today (2025-03-14 in New York).
	code, body := adminDo(t, "POST", e.srv.URL+"/meta/_sandbox/restate", `{"account_id":"100200300","days_ago":5,"spend_factor_percent":150}`)
	if code != 200 || !strings.Contains(body, `"date":"2025-03-09"`) {
		t.Fatalf("restate: %d %s", code, body)
	}
	after, _, err := readAll(t, e.c, demo, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("%d rows after, %d before", len(after), len(before))
	}
	afterAd, _ := e.sb.Totals(sandbox.DemoAccountID, "2025-03-09", "2025-03-09", "ad")
	var spendBefore, spendAfter, convBefore, convAfter int64
	for i := range after {
		b, a := before[i], after[i]
		day := a.Date.Format(channels.DateLayout)
		if day != "2025-03-09" {
			if a != b {
				t.Errorf("day %s changed: %+v -> %+v", day, b, a)
			}
			continue
		}
		spendBefore += b.SpendMicros
		spendAfter += a.SpendMicros
		convBefore += b.ConversionsMicros
		convAfter += a.ConversionsMicros
		if a.Impressions != b.Impressions || a.Clicks != b.Clicks {
			t.Errorf("restatement changed delivery: %+v -> %+v", b, a)
		}
	}
	if spendAfter != afterAd.SpendMicros || spendBefore != beforeAd.SpendMicros {
		t.Errorf("spend %d -> %d; sandbox totals %d -> %d", spendBefore, spendAfter, beforeAd.SpendMicros, afterAd.SpendMicros)
	}
	// Per-ad rounding to cents: within half a cent per ad of exactly 1.5x.
	if diff := spendAfter - spendBefore*3/2; diff < -12*5_000 || diff > 12*5_000 {
		t.Errorf("spend %d -> %d is not 150%%", spendBefore, spendAfter)
	}
	if convAfter != convBefore*3/2 {
		t.Errorf("purchases %d -> %d; want exactly 150%%", convBefore, convAfter)
	}

	// The Go method too, and 100% undoes it.
	if err := e.sb.Restate("act_100200300", "2025-03-09", 100); err != nil {
		t.Fatal(err)
	}
	undone, _, _ := readAll(t, e.c, demo, req)
	if fmt.Sprint(undone) != fmt.Sprint(before) {
		t.Error("restating to 100% did not restore the day")
	}
	for _, bad := range []string{
		`{"account_id":"100200300","date":"2020-01-01","spend_factor_percent":150}`,
		`{"account_id":"100200300","spend_factor_percent":150}`,
		`{"account_id":"1","days_ago":1,"spend_factor_percent":150}`,
		`{"account_id":"100200300","days_ago":1}`,
	} {
		if code, body := adminDo(t, "POST", e.srv.URL+"/meta/_sandbox/restate", bad); code != 400 {
			t.Errorf("restate %s: %d %s", bad, code, body)
		}
	}
}

// graph calls the sandbox directly and decodes the JSON answer.
func graph(t *testing.T, e *env, method, path string, params url.Values) (int, http.Header, map[string]any) {
	t.Helper()
	u := e.srv.URL + "/meta" + path
	var body io.Reader
	if method == "GET" {
		u += "?" + params.Encode()
	} else {
		body = strings.NewReader(params.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, m
}

func vals(kv ...string) url.Values {
	v := url.Values{"access_token": {sandbox.DefaultToken}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func errCode(m map[string]any) float64 {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return c
}

func TestWireFormat(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, metaconn.Options{})

	code, h, m := graph(t, e, "GET", "/v19.0/act_100200300", vals("fields", "name,currency,timezone_name"))
	if code != 200 || m["id"] != "act_100200300" || m["name"] != "Demo Store (sandbox)" || m["timezone_name"] != "America/New_York" || m["currency"] != "USD" {
		t.Errorf("account: %d %v", code, m)
	}
	if h.Get("x-app-usage") == "" || h.Get("x-business-use-case-usage") == "" || metaconn.ParseUsage(h).Wait() != 0 {
		t.Errorf("usage headers: %v", h)
	}
	for _, p := range []string{"/v23/act_100200300", "/act_100200300", "/latest/act_100200300"} {
		if code, _, m := graph(t, e, "GET", p, vals()); code != 400 || errCode(m) == 0 {
			t.Errorf("%s: %d %v", p, code, m)
		}
	}
	if code, _, m := graph(t, e, "GET", "/v23.0/act_100200300", url.Values{}); code != 400 || errCode(m) != 104 {
		t.Errorf("no token: %d %v", code, m)
	}
	if code, _, m := graph(t, e, "GET", "/v23.0/act_100200300", url.Values{"access_token": {"x"}}); code != 400 || errCode(m) != 190 {
		t.Errorf("bad token: %d %v", code, m)
	}

	// Start-call validation.
	good := map[string]string{"level": "ad", "time_increment": "1", "time_range": `{"since":"2025-03-01","until":"2025-03-03"}`,
		"fields": `["campaign_id","ad_id","spend","actions","action_values"]`}
	for name, mut := range map[string][2]string{
		"bad level":          {"level", "creative"},
		"bad time_range":     {"time_range", `{"since":"2025-3-1","until":"2025-03-03"}`},
		"inverted range":     {"time_range", `{"since":"2025-03-04","until":"2025-03-03"}`},
		"not json":           {"time_range", `since=2025-03-01`},
		"too old":            {"time_range", `{"since":"2020-01-01","until":"2020-01-02"}`},
		"bad time_increment": {"time_increment", "0"},
		"unknown field":      {"fields", `["spend","cost"]`},
	} {
		p := vals()
		for k, v := range good {
			p.Set(k, v)
		}
		p.Set(mut[0], mut[1])
		if code, _, m := graph(t, e, "POST", "/v23.0/act_100200300/insights", p); code != 400 || errCode(m) == 0 {
			t.Errorf("%s: %d %v", name, code, m)
		}
	}

	p := vals()
	for k, v := range good {
		p.Set(k, v)
	}
	code, _, m = graph(t, e, "POST", "/v23.0/act_100200300/insights", p)
	run, _ := m["report_run_id"].(string)
	if code != 200 || run == "" {
		t.Fatalf("start: %d %v", code, m)
	}
	// Rows before the run completes are refused.
	if code, _, _ := graph(t, e, "GET", "/v23.0/"+run+"/insights", vals()); code != 400 {
		t.Errorf("rows of a running job: %d", code)
	}
	_, _, m = graph(t, e, "GET", "/v23.0/"+run, vals())
	if m["async_status"] != "Job Running" || m["async_percent_completion"].(float64) >= 100 {
		t.Errorf("first poll: %v", m)
	}
	_, _, m = graph(t, e, "GET", "/v23.0/"+run, vals())
	if m["async_status"] != "Job Completed" || m["async_percent_completion"].(float64) != 100 || m["id"] != run {
		t.Errorf("second poll: %v", m)
	}

	// Paging: 3 days x 12 ads = 36 rows, default limit 25.
	code, h, m = graph(t, e, "GET", "/v23.0/"+run+"/insights", vals())
	data := m["data"].([]any)
	paging := m["paging"].(map[string]any)
	next, _ := paging["next"].(string)
	after := paging["cursors"].(map[string]any)["after"].(string)
	if code != 200 || len(data) != 25 || next == "" || after == "" || h.Get("x-fb-ads-insights-throttle") == "" {
		t.Fatalf("page 1: %d, %d rows, paging %v", code, len(data), paging)
	}
	nu, err := url.Parse(next)
	if err != nil || nu.Path != "/meta/v23.0/"+run+"/insights" || nu.Query().Get("after") != after || nu.Host != strings.TrimPrefix(e.srv.URL, "http://") {
		t.Errorf("paging.next = %s", next)
	}
	row := data[0].(map[string]any)
	for _, k := range []string{"campaign_id", "ad_id", "spend", "date_start", "date_stop"} {
		if _, ok := row[k].(string); !ok {
			t.Errorf("row field %s = %v (%T); want a string", k, row[k], row[k])
		}
	}
	if _, ok := row["impressions"]; ok {
		t.Error("unrequested field impressions returned")
	}
	var types []string
	for _, d := range data {
		acts, _ := d.(map[string]any)["actions"].([]any)
		for _, a := range acts {
			types = append(types, a.(map[string]any)["action_type"].(string))
		}
	}
	if !strings.Contains(strings.Join(types, ","), "link_click") || !strings.Contains(strings.Join(types, ","), "omni_purchase") {
		t.Errorf("actions = %v", types)
	}
	code, _, m = graph(t, e, "GET", "/v23.0/"+run+"/insights", nu.Query())
	if code != 200 || len(m["data"].([]any)) != 11 {
		t.Fatalf("page 2: %d %v", code, m)
	}
	if _, ok := m["paging"].(map[string]any)["next"]; ok {
		t.Error("last page has paging.next")
	}
	if code, _, _ := graph(t, e, "GET", "/v23.0/"+run+"/insights", vals("after", "garbage")); code != 400 {
		t.Errorf("bad after: %d", code)
	}
	if code, _, m := graph(t, e, "GET", "/v23.0/123/insights", vals()); code != 400 || errCode(m) != 100 {
		t.Errorf("unknown run: %d %v", code, m)
	}

	// The synchronous variant, all_days at account level: one row.
	code, _, m = graph(t, e, "GET", "/v23.0/act_100200300/insights", vals("level", "account", "time_range", `{"since":"2025-03-01","until":"2025-03-03"}`, "fields", "spend,impressions,account_currency"))
	if code != 200 || len(m["data"].([]any)) != 1 {
		t.Fatalf("sync: %d %v", code, m)
	}
	tot, _ := e.sb.Totals(sandbox.DemoAccountID, "2025-03-01", "2025-03-03", "account")
	r0 := m["data"].([]any)[0].(map[string]any)
	if r0["spend"] != tot.Spend || r0["date_start"] != "2025-03-01" || r0["date_stop"] != "2025-03-03" || r0["account_currency"] != "USD" {
		t.Errorf("sync row %v; want spend %s", r0, tot.Spend)
	}
	code, _, m = graph(t, e, "GET", "/v23.0/me/adaccounts", vals("fields", "name,currency"))
	if code != 200 || len(m["data"].([]any)) != 1 {
		t.Errorf("me/adaccounts: %d %v", code, m)
	}
}

func TestConcurrentReads(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, metaconn.Options{PageSize: 50})
	want, _ := e.sb.Totals(sandbox.DemoAccountID, "2025-02-01", "2025-03-14", "ad")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows, _, err := readAll(t, e.c, demo, channels.ReadRequest{Window: win(t, "2025-02-01", "2025-03-14"), Level: channels.LevelAd})
			if err == nil && len(rows) != want.Rows {
				err = fmt.Errorf("%d rows; want %d", len(rows), want.Rows)
			}
			errs <- err
		}()
	}
	go func() {
		for i := 0; i < 20; i++ {
			_ = e.sb.Restate(sandbox.DemoAccountID, "2025-01-01", 100+i)
			e.sb.Faults()
			e.sb.Requests()
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestCustomAccounts(t *testing.T) {
	e := newEnv(t, sandbox.Config{Token: "tok", Days: 3, Accounts: []sandbox.Account{
		{ID: "act_555", Name: "EU Shop", Currency: "EUR", Timezone: "Europe/Berlin"},
	}}, metaconn.Options{})
	acct := channels.Account{ID: "555", Token: "tok"}
	info, err := e.c.AccountInfo(context.Background(), acct)
	if err != nil || info.Currency != "EUR" || info.Timezone != "Europe/Berlin" {
		t.Fatalf("info %+v, %v", info, err)
	}
	rows, _, err := readAll(t, e.c, acct, channels.ReadRequest{Window: win(t, "2025-03-01", "2025-03-31"), Level: channels.LevelCampaign})
	if err != nil || len(rows) != 3*3 || rows[0].Currency != "EUR" || rows[0].CampaignName != "Campaign 1" {
		t.Fatalf("%d rows, %v: %+v", len(rows), err, rows)
	}
	// Berlin is already on 2025-03-15 at 03:00 UTC.
	if got := rows[len(rows)-1].Date.Format(channels.DateLayout); got != "2025-03-15" {
		t.Errorf("last day %s; want 2025-03-15", got)
	}
}
