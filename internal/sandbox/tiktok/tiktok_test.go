package tiktok_test

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
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	ttconn "github.com/omnitrackiq/omnitrackiq/internal/channels/tiktok"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/catalog"
	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/tiktok"
)

// fixed clock: 2025-03-15 03:00 UTC is still 2025-03-14 in New York.
var testNow = time.Date(2025, 3, 15, 3, 0, 0, 0, time.UTC)

const today = "2025-03-14"

type env struct {
	sb  *sandbox.Server
	srv *httptest.Server
	c   *ttconn.Client
}

func newEnv(t *testing.T, cfg sandbox.Config, o ttconn.Options) *env {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	sb := sandbox.New(cfg)
	mux := http.NewServeMux()
	mux.Handle("/tiktok/", http.StripPrefix("/tiktok", sb))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	o.BaseURL = srv.URL + "/tiktok"
	return &env{sb: sb, srv: srv, c: ttconn.New(o)}
}

var demo = channels.Account{ID: sandbox.DemoAdvertiserID, Token: sandbox.DefaultToken}

func win(t *testing.T, from, to string) channels.Window {
	t.Helper()
	w, err := channels.ParseWindow(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// readAll runs a read to the end.
func readAll(t *testing.T, c *ttconn.Client, acct channels.Account, req channels.ReadRequest) ([]channels.AdRow, []channels.Page, error) {
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

func sum(rows []channels.AdRow) sandbox.Totals {
	var t sandbox.Totals
	for _, r := range rows {
		t.Rows++
		t.SpendMicros += r.SpendMicros
		t.Impressions += r.Impressions
		t.Clicks += r.Clicks
		t.ConversionsMicros += r.ConversionsMicros
		t.ConversionValueMicros += r.ConversionValueMicros
	}
	return t
}

func TestDemoAdvertiser(t *testing.T) {
	a := sandbox.DemoAdvertiser()
	if a.ID != "7000000000000000001" || a.Currency != "USD" || a.Timezone != "America/New_York" {
		t.Fatalf("demo advertiser = %+v", a)
	}
	var want []string
	for _, ch := range catalog.AdChannels() {
		if ch.Channel == "tiktok" {
			for _, c := range ch.Campaigns {
				want = append(want, c.Name)
			}
		}
	}
	var names []string
	ids := map[string]bool{}
	ads := 0
	for _, c := range a.Campaigns {
		names = append(names, c.Name)
		ids[c.ID] = true
		if len(c.AdGroups) != 2 {
			t.Errorf("campaign %s has %d ad groups", c.Name, len(c.AdGroups))
		}
		for _, g := range c.AdGroups {
			ids[g.ID] = true
			for _, ad := range g.Ads {
				ids[ad.ID] = true
				ads++
				if len(ad.ID) != 16 {
					t.Errorf("ad id %s is not 16 digits", ad.ID)
				}
			}
		}
	}
	if strings.Join(names, "|") != strings.Join(want, "|") || len(want) != 2 || ads != 8 || len(ids) != 2+4+8 {
		t.Errorf("tree: campaigns %v (catalog %v), %d ads, %d distinct ids", names, want, ads, len(ids))
	}
	if fmt.Sprint(sandbox.DemoAdvertiser()) != fmt.Sprint(a) {
		t.Error("DemoAdvertiser is not deterministic")
	}
}

func TestNinetyDaysAtAdLevelMatchSandboxTotals(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ttconn.Options{PageSize: 100})
	from, to := "2024-12-15", today // 90 days: three 30-day slices
	req := channels.ReadRequest{Window: win(t, from, to), Level: channels.LevelAd}
	rows, pages, err := readAll(t, e.c, demo, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 90*8 {
		t.Fatalf("%d rows; want %d", len(rows), 90*8)
	}
	want, err := e.sb.Totals(sandbox.DemoAdvertiserID, from, to, "ad")
	if err != nil {
		t.Fatal(err)
	}
	got := sum(rows)
	got.Spend = want.Spend
	if got != want {
		t.Errorf("connector totals %+v\nsandbox totals   %+v", got, want)
	}
	if got.ConversionsMicros == 0 || got.ConversionValueMicros == 0 {
		t.Error("no conversions in 90 days")
	}
	seen := map[string]bool{}
	names := map[string]bool{}
	for _, r := range rows {
		key := r.AdID + r.Date.Format(channels.DateLayout)
		if seen[key] {
			t.Fatalf("duplicate row %s", key)
		}
		seen[key] = true
		names[r.CampaignName] = true
		if r.Channel != channels.TikTok || r.AccountID != sandbox.DemoAdvertiserID || r.Currency != "USD" ||
			r.CampaignID == "" || r.AdSetID == "" || r.AdSetName == "" || r.AdID == "" || r.AdName == "" {
			t.Fatalf("row = %+v", r)
		}
		if r.SpendMicros <= 0 || r.SpendMicros%10_000 != 0 || r.Clicks >= r.Impressions || r.Impressions <= 0 {
			t.Fatalf("implausible row %+v", r)
		}
		if d := r.Date.Format(channels.DateLayout); d < from || d > to {
			t.Fatalf("row outside the window: %+v", r)
		}
	}
	for _, c := range catalog.AdChannels()[2].Campaigns {
		if !names[c.Name] {
			t.Errorf("campaign %q missing from the rows", c.Name)
		}
	}
	// 240 rows per slice, 100 per page: 3 pages in each of 3 slices.
	if len(pages) != 9 {
		t.Errorf("%d ReadPage calls; want 9", len(pages))
	}
	var slices []string
	infos := 0
	for _, l := range e.sb.Requests() {
		if l.Status != 200 || l.Code != 0 {
			t.Errorf("request %+v failed", l)
		}
		if l.Path == sandbox.PathAdvertiserInfo {
			infos++
			continue
		}
		if l.Path != sandbox.PathReport || l.DataLevel != "AUCTION_AD" || l.PageSize != "100" {
			t.Errorf("request %+v", l)
		}
		slices = append(slices, l.StartDate+".."+l.EndDate+"#"+l.Page)
	}
	wantSlices := "2024-12-15..2025-01-13#1 2024-12-15..2025-01-13#2 2024-12-15..2025-01-13#3 " +
		"2025-01-14..2025-02-12#1 2025-01-14..2025-02-12#2 2025-01-14..2025-02-12#3 " +
		"2025-02-13..2025-03-14#1 2025-02-13..2025-03-14#2 2025-02-13..2025-03-14#3"
	if strings.Join(slices, " ") != wantSlices || infos != 1 {
		t.Errorf("report requests:\n%s\nwant\n%s\n(%d advertiser/info calls)", strings.Join(slices, " "), wantSlices, infos)
	}

	// Coarser levels aggregate exactly to the same totals.
	for _, level := range []channels.Level{channels.LevelCampaign, channels.LevelAdSet} {
		rows, _, err := readAll(t, e.c, demo, channels.ReadRequest{Window: req.Window, Level: level})
		if err != nil {
			t.Fatal(err)
		}
		g := sum(rows)
		for _, r := range rows {
			if r.AdID != "" || (level == channels.LevelCampaign && r.AdSetID != "") || r.CampaignName == "" {
				t.Fatalf("%s row: %+v", level, r)
			}
			if level == channels.LevelAdSet && (r.CampaignID == "" || r.AdSetName == "") {
				t.Fatalf("%s row lacks its parent: %+v", level, r)
			}
		}
		wantRows := map[channels.Level]int{channels.LevelCampaign: 90 * 2, channels.LevelAdSet: 90 * 4}[level]
		if g.Rows != wantRows || g.SpendMicros != want.SpendMicros || g.ConversionsMicros != want.ConversionsMicros ||
			g.ConversionValueMicros != want.ConversionValueMicros || g.Impressions != want.Impressions {
			t.Errorf("%s: %+v; want %d rows and %+v", level, g, wantRows, want)
		}
	}
}

func TestHistoryBoundsShortSlicesAndDeterminism(t *testing.T) {
	e := newEnv(t, sandbox.Config{Days: 10}, ttconn.Options{PageSize: 1000})
	// 48 days (30 + 18) reaching before the history and past today: only the 10 days exist.
	req := channels.ReadRequest{Window: win(t, "2025-02-01", "2025-03-20"), Level: channels.LevelAd}
	rows, pages, err := readAll(t, e.c, demo, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 10*8 || rows[0].Date.Format(channels.DateLayout) != "2025-03-05" || rows[len(rows)-1].Date.Format(channels.DateLayout) != today {
		t.Fatalf("%d rows from %s to %s", len(rows), rows[0].Date, rows[len(rows)-1].Date)
	}
	if len(pages) != 2 || len(pages[0].Rows) != 0 {
		t.Errorf("%d pages, first with %d rows; want 2, the first (before the history) empty", len(pages), len(pages[0].Rows))
	}
	e2 := newEnv(t, sandbox.Config{Days: 10}, ttconn.Options{PageSize: 7})
	rows2, _, err := readAll(t, e2.c, demo, req)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rows) != fmt.Sprint(rows2) {
		t.Error("same data differs between servers or page sizes")
	}
}

func TestAccountInfo(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ttconn.Options{})
	info, err := e.c.AccountInfo(context.Background(), demo)
	if err != nil {
		t.Fatal(err)
	}
	want := channels.AccountInfo{ID: sandbox.DemoAdvertiserID, Name: "Demo Store (sandbox)", Currency: "USD", Timezone: "America/New_York"}
	if info != want {
		t.Errorf("info = %+v", info)
	}
	_, err = e.c.AccountInfo(context.Background(), channels.Account{ID: "999", Token: sandbox.DefaultToken})
	if pe := kindOf(t, err); pe.Kind != channels.KindBadRequest || pe.Code != sandbox.CodeNoPermission {
		t.Errorf("unknown advertiser: %+v", pe)
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
	ctx := context.Background()
	req := channels.ReadRequest{Window: win(t, "2025-03-01", "2025-03-02"), Level: channels.LevelCampaign}

	t.Run("rate limits", func(t *testing.T) {
		for _, code := range []int{40100, 40133, 40016} {
			e := newEnv(t, sandbox.Config{}, ttconn.Options{DefaultRateLimitBackoff: 1500 * time.Millisecond})
			if err := e.sb.SetFaults(sandbox.Faults{RateLimit: &sandbox.CodeFault{Code: code, Times: 2}}); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				_, err := e.c.ReadPage(ctx, demo, req, "")
				pe := kindOf(t, err)
				if pe.Kind != channels.KindRateLimited || pe.Code != code || pe.HTTPStatus != 200 || pe.RetryAfter != 1500*time.Millisecond {
					t.Errorf("code %d call %d: %+v", code, i, pe)
				}
			}
			if rows, _, err := readAll(t, e.c, demo, req); err != nil || len(rows) != 2*2 {
				t.Errorf("code %d: after the fault ran out: %d rows, %v", code, len(rows), err)
			}
		}
	})

	t.Run("default backoff is 5s", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, ttconn.Options{})
		if err := e.sb.SetFaults(sandbox.Faults{RateLimit: &sandbox.CodeFault{}}); err != nil {
			t.Fatal(err)
		}
		_, err := e.c.AccountInfo(ctx, demo)
		if pe := kindOf(t, err); pe.Kind != channels.KindRateLimited || pe.Code != 40100 || pe.RetryAfter != 5*time.Second {
			t.Errorf("default rate limit: %+v", pe)
		}
	})

	t.Run("service errors", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, ttconn.Options{})
		if err := e.sb.SetFaults(sandbox.Faults{ServiceError: &sandbox.CodeFault{Times: 1}}); err != nil {
			t.Fatal(err)
		}
		_, err := e.c.AccountInfo(ctx, demo)
		if pe := kindOf(t, err); pe.Kind != channels.KindTransient || pe.Code != 50002 || pe.HTTPStatus != 200 ||
			!strings.Contains(pe.Message, "Internal service error") || !strings.Contains(pe.Message, "request_id") {
			t.Errorf("service error: %+v", pe)
		}
		if _, err := e.c.AccountInfo(ctx, demo); err != nil {
			t.Errorf("after the fault: %v", err)
		}
		if err := e.sb.SetFaults(sandbox.Faults{ServiceError: &sandbox.CodeFault{Code: 50000}}); err != nil {
			t.Fatal(err)
		}
		_, err = e.c.AccountInfo(ctx, demo)
		if pe := kindOf(t, err); pe.Kind != channels.KindTransient || pe.Code != 50000 || !strings.Contains(pe.Message, "System error.") {
			t.Errorf("system error: %+v", pe)
		}
	})

	t.Run("gateway errors", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, ttconn.Options{})
		if err := e.sb.SetFaults(sandbox.Faults{GatewayErrors: 1}); err != nil {
			t.Fatal(err)
		}
		_, err := e.c.ReadPage(ctx, demo, req, "")
		if pe := kindOf(t, err); pe.Kind != channels.KindTransient || pe.HTTPStatus != 503 {
			t.Errorf("gateway: %+v", pe)
		}
	})

	t.Run("expired token", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, ttconn.Options{})
		if err := e.sb.SetFaults(sandbox.Faults{ExpiredToken: true}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			_, err := e.c.ReadPage(ctx, demo, req, "")
			if pe := kindOf(t, err); pe.Kind != channels.KindAuth || pe.Code != sandbox.CodeTokenExpired || !strings.Contains(pe.Message, "expired") {
				t.Errorf("expired: %+v", pe)
			}
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, ttconn.Options{})
		_, err := e.c.AccountInfo(ctx, channels.Account{ID: sandbox.DemoAdvertiserID, Token: "nope"})
		if pe := kindOf(t, err); pe.Kind != channels.KindAuth || pe.Code != sandbox.CodeTokenInvalid {
			t.Errorf("wrong token: %+v", pe)
		}
	})

	t.Run("empty report", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, ttconn.Options{})
		if err := e.sb.SetFaults(sandbox.Faults{EmptyReport: true}); err != nil {
			t.Fatal(err)
		}
		rows, pages, err := readAll(t, e.c, demo, channels.ReadRequest{Window: win(t, "2025-01-01", today), Level: channels.LevelAd})
		if err != nil || len(rows) != 0 || len(pages) != 3 {
			t.Errorf("empty report: %d rows over %d pages, %v; want 0 over 3 (one per slice)", len(rows), len(pages), err)
		}
	})

	t.Run("page delay and cancellation", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{}, ttconn.Options{})
		if _, err := e.c.AccountInfo(ctx, demo); err != nil { // caches the currency
			t.Fatal(err)
		}
		if err := e.sb.SetFaults(sandbox.Faults{PageDelayMS: 300}); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := e.c.ReadPage(cctx, demo, req, "")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("slow page with a short deadline: %v", err)
		}
	})
}

func TestRestatementIsVisible(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ttconn.Options{})
	req := channels.ReadRequest{Window: win(t, "2025-03-01", "2025-03-10"), Level: channels.LevelCampaign}
	before, _, err := readAll(t, e.c, demo, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sb.Restate(sandbox.DemoAdvertiserID, "2025-03-05", 150); err != nil {
		t.Fatal(err)
	}
	after, _, err := readAll(t, e.c, demo, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != len(after) {
		t.Fatalf("%d rows before, %d after", len(before), len(after))
	}
	changed := 0
	for i := range before {
		b, a := before[i], after[i]
		if b.Date.Format(channels.DateLayout) != "2025-03-05" {
			if b != a {
				t.Errorf("unrestated day changed: %+v -> %+v", b, a)
			}
			continue
		}
		changed++
		// Each of the campaign's 4 ads is rounded to the cent on its own: at most 2 cents off.
		diff := a.SpendMicros - b.SpendMicros*150/100
		if diff < -20_000 || diff > 20_000 || a.SpendMicros%10_000 != 0 || a.Impressions != b.Impressions ||
			a.ConversionsMicros != b.ConversionsMicros*150/100 {
			t.Errorf("restated row %+v; before %+v", a, b)
		}
	}
	if changed != 2 {
		t.Errorf("%d restated rows; want 2", changed)
	}
	want, _ := e.sb.Totals(sandbox.DemoAdvertiserID, "2025-03-01", "2025-03-10", "campaign")
	got := sum(after)
	got.Spend = want.Spend
	if got != want {
		t.Errorf("after restatement: %+v; sandbox %+v", got, want)
	}
	e.sb.ClearRestatements()
	again, _, _ := readAll(t, e.c, demo, req)
	if fmt.Sprint(again) != fmt.Sprint(before) {
		t.Error("clearing restatements does not restore the data")
	}
	if err := e.sb.Restate(sandbox.DemoAdvertiserID, "2024-01-01", 150); err == nil {
		t.Error("restating a day outside the history is accepted")
	}
}

func TestCursorSurvivesRestart(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ttconn.Options{PageSize: 50})
	req := channels.ReadRequest{Window: win(t, "2025-01-01", today), Level: channels.LevelAd}
	want, _, err := readAll(t, e.c, demo, req)
	if err != nil {
		t.Fatal(err)
	}
	// Read two pages, then continue with new clients and a new sandbox process.
	var got []channels.AdRow
	cur := ""
	for i := 0; i < 2; i++ {
		p, err := e.c.ReadPage(context.Background(), demo, req, cur)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Rows...)
		cur = p.Next
	}
	// The new client is configured with another page size: the cursor's must win, or page 3
	// at size 1000 would skip the rest of the first slice.
	e2 := newEnv(t, sandbox.Config{}, ttconn.Options{PageSize: 1000})
	for cur != "" {
		p, err := e2.c.ReadPage(context.Background(), demo, req, cur)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Rows...)
		cur = p.Next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("resumed read has %d rows, differs from a read in one go (%d rows)", len(got), len(want))
	}
	for _, l := range e2.sb.Requests() {
		if l.Path == sandbox.PathAdvertiserInfo {
			t.Error("the resumed read asked advertiser/info again; the cursor carries the currency")
		}
	}
}

// raw calls the sandbox directly.
func raw(t *testing.T, e *env, path string, q url.Values, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/tiktok"+path+"?"+q.Encode(), nil)
	if token != "" {
		req.Header.Set("Access-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return resp.StatusCode, m
}

func reportQuery(mod func(url.Values)) url.Values {
	q := url.Values{
		"advertiser_id": {sandbox.DemoAdvertiserID}, "report_type": {"BASIC"}, "data_level": {"AUCTION_AD"},
		"dimensions": {`["ad_id","stat_time_day"]`},
		"metrics":    {`["spend","impressions","clicks","conversion","total_complete_payment_rate","cpc","complete_payment_roas","ad_name"]`},
		"start_date": {"2025-02-13"}, "end_date": {today}, "page": {"1"}, "page_size": {"1000"},
	}
	if mod != nil {
		mod(q)
	}
	return q
}

func TestWireFormat(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ttconn.Options{})
	status, m := raw(t, e, sandbox.PathReport, reportQuery(nil), sandbox.DefaultToken)
	if status != 200 || m["code"] != float64(0) || m["message"] != "OK" || m["request_id"] == "" {
		t.Fatalf("envelope: %d %v", status, m)
	}
	data := m["data"].(map[string]any)
	pi := data["page_info"].(map[string]any)
	if pi["total_number"] != float64(30*8) || pi["total_page"] != float64(1) || pi["page"] != float64(1) || pi["page_size"] != float64(1000) {
		t.Errorf("page_info %v", pi)
	}
	dashes := 0
	for _, it := range data["list"].([]any) {
		row := it.(map[string]any)
		dims := row["dimensions"].(map[string]any)
		if d, _ := dims["stat_time_day"].(string); !strings.HasSuffix(d, " 00:00:00") || len(d) != 19 {
			t.Fatalf("stat_time_day %q", d)
		}
		for k, v := range row["metrics"].(map[string]any) {
			s, ok := v.(string)
			if !ok {
				t.Fatalf("metric %s is %T, not a string", k, v)
			}
			if s == "-" {
				dashes++
			}
		}
	}
	if dashes == 0 {
		t.Error(`no "-" in 240 ad-days: the null path is never exercised`)
	}

	for _, tc := range []struct {
		name string
		mod  func(url.Values)
		code int
	}{
		{"31 days", func(q url.Values) { q.Set("start_date", "2025-02-12") }, 40002},
		{"end before start", func(q url.Values) { q.Set("end_date", "2025-02-01") }, 40002},
		{"page_size too big", func(q url.Values) { q.Set("page_size", "1001") }, 40002},
		{"unknown metric", func(q url.Values) { q.Set("metrics", `["spend","revenue"]`) }, 40002},
		{"metric below its level", func(q url.Values) {
			q.Set("data_level", "AUCTION_CAMPAIGN")
			q.Set("dimensions", `["campaign_id","stat_time_day"]`)
		}, 40002},
		{"wrong dimension", func(q url.Values) { q.Set("dimensions", `["campaign_id","stat_time_day"]`) }, 40002},
		{"no report_type", func(q url.Values) { q.Del("report_type") }, 40002},
		{"unknown advertiser", func(q url.Values) { q.Set("advertiser_id", "1") }, 40001},
	} {
		status, m := raw(t, e, sandbox.PathReport, reportQuery(tc.mod), sandbox.DefaultToken)
		if status != 200 || m["code"] != float64(tc.code) || m["message"] == "" {
			t.Errorf("%s: %d %v; want HTTP 200 code %d", tc.name, status, m, tc.code)
		}
	}
	// 30 days inclusive is the limit, not 29.
	if _, m := raw(t, e, sandbox.PathReport, reportQuery(func(q url.Values) { q.Set("start_date", "2025-02-13") }), sandbox.DefaultToken); m["code"] != float64(0) {
		t.Errorf("30 days: %v", m)
	}

	if _, m := raw(t, e, sandbox.PathReport, reportQuery(nil), ""); m["code"] != float64(40104) {
		t.Errorf("no Access-Token: %v", m)
	}
	if status, _ := raw(t, e, strings.TrimSuffix(sandbox.PathReport, "/"), reportQuery(nil), sandbox.DefaultToken); status != 404 {
		t.Errorf("no trailing slash: HTTP %d; want 404", status)
	}
	status, m = raw(t, e, sandbox.PathAdvertiserInfo, url.Values{"advertiser_ids": {`["` + sandbox.DemoAdvertiserID + `"]`}}, sandbox.DefaultToken)
	list := m["data"].(map[string]any)["list"].([]any)
	adv := list[0].(map[string]any)
	if status != 200 || adv["timezone"] != "Etc/GMT+5" || adv["display_timezone"] != "America/New_York" || adv["currency"] != "USD" {
		t.Errorf("advertiser/info: %v", m)
	}
	for _, l := range e.sb.Requests() {
		b, _ := json.Marshal(l)
		if strings.Contains(string(b), sandbox.DefaultToken) {
			t.Fatalf("request log holds the token: %s", b)
		}
	}
}

func TestAdminHTTP(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, ttconn.Options{})
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, e.srv.URL+"/tiktok"+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, b := do("POST", "/_sandbox/faults", `{"rate_limit":{"times":1},"service_error":{"code":50001,"times":1},"empty_report":true}`); st != 200 ||
		!strings.Contains(b, `"code":40100`) || !strings.Contains(b, `"code":50001`) {
		t.Fatalf("set faults: %d %s", st, b)
	}
	if st, b := do("POST", "/_sandbox/faults", `{"rate_limit":{"code":17}}`); st != 400 || !strings.Contains(b, "40100") {
		t.Errorf("bad rate-limit code: %d %s", st, b)
	}
	if st, b := do("POST", "/_sandbox/faults", `{"bogus":1}`); st != 400 {
		t.Errorf("unknown key: %d %s", st, b)
	}
	_, err := e.c.AccountInfo(context.Background(), demo)
	if pe := kindOf(t, err); pe.Code != 40100 {
		t.Errorf("first call: %+v", pe)
	}
	_, err = e.c.AccountInfo(context.Background(), demo)
	if pe := kindOf(t, err); pe.Code != 50001 {
		t.Errorf("second call: %+v", pe)
	}
	if st, b := do("GET", "/_sandbox/faults", ""); st != 200 || strings.TrimSpace(b) != `{"empty_report":true}` {
		t.Errorf("faults left: %d %s", st, b)
	}
	if st, _ := do("DELETE", "/_sandbox/faults", ""); st != 200 || e.sb.Faults() != (sandbox.Faults{}) {
		t.Error("faults not cleared")
	}
	if st, b := do("POST", "/_sandbox/restate", `{"days_ago":3,"factor_percent":50}`); st != 200 || !strings.Contains(b, `"date":"2025-03-11"`) {
		t.Errorf("restate: %d %s", st, b)
	}
	st, b := do("GET", "/_sandbox/totals?since=2025-03-11&until=2025-03-11&level=AUCTION_CAMPAIGN", "")
	restated, _ := e.sb.Totals(sandbox.DemoAdvertiserID, "2025-03-11", "2025-03-11", "campaign")
	if wantJSON, _ := json.Marshal(restated); st != 200 || strings.TrimSpace(b) != string(wantJSON) {
		t.Errorf("totals: %d %s; want %s", st, b, wantJSON)
	}
	if st, _ := do("DELETE", "/_sandbox/restate", ""); st != 200 {
		t.Error("restate delete")
	}
	plain, _ := e.sb.Totals(sandbox.DemoAdvertiserID, "2025-03-11", "2025-03-11", "campaign")
	if plain.SpendMicros <= restated.SpendMicros {
		t.Errorf("restating at 50%% did not lower spend: %d vs %d", restated.SpendMicros, plain.SpendMicros)
	}
	if st, b := do("GET", "/_sandbox/requests", ""); st != 200 || !strings.Contains(b, `"code":40100`) || strings.Contains(b, sandbox.DefaultToken) {
		t.Errorf("requests: %d %s", st, b)
	}
	if st, b := do("GET", "/_sandbox/advertisers", ""); st != 200 || !strings.Contains(b, "TikTok - Spark Ads") {
		t.Errorf("advertisers: %d %s", st, b)
	}
	if st, _ := do("DELETE", "/_sandbox/requests", ""); st != 200 || len(e.sb.Requests()) != 0 {
		t.Error("requests not cleared")
	}
	if st, _ := do("GET", "/_sandbox/nope", ""); st != 404 {
		t.Error("unknown admin endpoint")
	}
}

func TestToday(t *testing.T) {
	sb := sandbox.New(sandbox.Config{Now: func() time.Time { return testNow }})
	if d, err := sb.Today(sandbox.DemoAdvertiserID); err != nil || d != today {
		t.Errorf("Today = %s, %v", d, err)
	}
	if _, err := sb.Today("1"); err == nil {
		t.Error("unknown advertiser accepted")
	}
}
