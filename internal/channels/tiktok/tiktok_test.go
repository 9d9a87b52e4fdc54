package tiktok

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

const testToken = "tt-secret+token/with=chars"

// fake is a scripted TikTok API: handlers are keyed by the path after the prefix.
type fake struct {
	t      *testing.T
	srv    *httptest.Server
	prefix string
	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	calls  []*http.Request
}

func newFake(t *testing.T, prefix string) *fake {
	f := &fake{t: t, prefix: prefix, routes: map[string]http.HandlerFunc{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls = append(f.calls, r.Clone(context.Background()))
	f.mu.Unlock()
	if strings.Contains(r.URL.RawQuery, url.QueryEscape(testToken)) || strings.Contains(r.URL.RawQuery, testToken) {
		f.t.Errorf("token in the query: %s", r.URL.RawQuery)
	}
	if r.Header.Get("Access-Token") != testToken {
		envelopeJSON(w, 40105, "Access token is incorrect or has been revoked.", nil)
		return
	}
	h, ok := f.routes[strings.TrimPrefix(r.URL.Path, f.prefix)]
	if !ok {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	h(w, r)
}

func (f *fake) client(o Options) *Client {
	o.BaseURL = f.srv.URL + f.prefix
	return New(o)
}

func (f *fake) requests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.calls...)
}

func envelopeJSON(w http.ResponseWriter, code int, msg string, data any) {
	if data == nil {
		data = map[string]any{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "request_id": "req-1", "data": data})
}

func infoHandler(currency string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		envelopeJSON(w, 0, "OK", map[string]any{"list": []map[string]any{{
			"advertiser_id": "7000000000000000001", "name": "Shop", "currency": currency,
			"timezone": "Etc/GMT+5", "display_timezone": "America/New_York",
		}}})
	}
}

var acct = channels.Account{ID: " 7000000000000000001 ", Token: testToken}

func win(t *testing.T, from, to string) channels.Window {
	t.Helper()
	w, err := channels.ParseWindow(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestNormalizeAdvertiserID(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"7000000000000000001", "7000000000000000001", true},
		{"  6912345678901234 ", "6912345678901234", true},
		{"", "", false},
		{"act_123", "", false},
		{"12-34", "", false},
		{"123456789012345678901", "", false},
	} {
		got, err := NormalizeAdvertiserID(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("NormalizeAdvertiserID(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestClassifyCode(t *testing.T) {
	for _, tc := range []struct {
		code int
		kind channels.ErrorKind
	}{
		{40100, channels.KindRateLimited},
		{40133, channels.KindRateLimited},
		{40016, channels.KindRateLimited},
		{40101, channels.KindAuth},
		{40102, channels.KindAuth},
		{40104, channels.KindAuth},
		{40105, channels.KindAuth},
		{40106, channels.KindAuth},
		{40110, channels.KindAuth},
		{50000, channels.KindTransient},
		{50002, channels.KindTransient},
		{51001, channels.KindTransient},
		{40001, channels.KindBadRequest},
		{40002, channels.KindBadRequest},
		{20001, channels.KindBadRequest},
	} {
		e := ClassifyCode(tc.code, "msg", "rid", 7*time.Second)
		if e.Kind != tc.kind || e.Code != tc.code || e.Channel != channels.TikTok || e.Message != "msg [request_id rid]" {
			t.Errorf("code %d: %+v; want %s", tc.code, e, tc.kind)
		}
		wantRetry := time.Duration(0)
		if tc.kind == channels.KindRateLimited {
			wantRetry = 7 * time.Second
		}
		if e.RetryAfter != wantRetry {
			t.Errorf("code %d: retry after %v; want %v", tc.code, e.RetryAfter, wantRetry)
		}
	}
}

func TestClassifyHTTP(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		kind   channels.ErrorKind
		code   int
	}{
		{502, "<html>Bad Gateway</html>", channels.KindTransient, 0},
		{503, "", channels.KindTransient, 0},
		{429, "slow down", channels.KindRateLimited, 0},
		{404, "404 page not found", channels.KindBadRequest, 0},
		{400, `{"code":40105,"message":"bad token","request_id":"x","data":{}}`, channels.KindAuth, 40105},
		{500, `{"code":40002,"message":"odd","request_id":"x","data":{}}`, channels.KindTransient, 40002},
		{500, `{"code":0,"message":"OK"}`, channels.KindTransient, 0},
	} {
		e := ClassifyHTTP(tc.status, []byte(tc.body), time.Second)
		if e.Kind != tc.kind || e.Code != tc.code || e.HTTPStatus != tc.status {
			t.Errorf("HTTP %d %q: %+v; want %s code %d", tc.status, tc.body, e, tc.kind, tc.code)
		}
	}
}

func TestNormalizeRow(t *testing.T) {
	raw := func(s string) reportRow {
		var r reportRow
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	row, err := normalizeRow("7", "EUR", channels.LevelAd, raw(`{"dimensions":{"ad_id":"1803","stat_time_day":"2024-01-05 00:00:00"},
		"metrics":{"campaign_id":"1801","campaign_name":"C","adgroup_id":"1802","adgroup_name":"G","ad_name":"A",
		"spend":"20.10","impressions":"4696","clicks":51,"conversion":"2.5","total_complete_payment_rate":"123.456"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := channels.AdRow{Channel: channels.TikTok, AccountID: "7", Currency: "EUR", CampaignID: "1801", CampaignName: "C",
		AdSetID: "1802", AdSetName: "G", AdID: "1803", AdName: "A", Date: time.Date(2024, 1, 5, 0, 0, 0, 0, time.UTC),
		SpendMicros: 20_100_000, Impressions: 4696, Clicks: 51, ConversionsMicros: 2_500_000, ConversionValueMicros: 123_456_000}
	if row != want {
		t.Errorf("row = %+v\nwant  %+v", row, want)
	}

	// "-" and missing metrics are zero; a bare date is accepted; ids may be numbers.
	row, err = normalizeRow("7", "USD", channels.LevelCampaign, raw(`{"dimensions":{"campaign_id":1801,"stat_time_day":"2024-01-06"},
		"metrics":{"campaign_name":"C","spend":"-","impressions":"-","conversion":"-","total_complete_payment_rate":"-"}}`))
	if err != nil || row.CampaignID != "1801" || row.SpendMicros != 0 || row.Impressions != 0 || row.Clicks != 0 ||
		row.ConversionValueMicros != 0 || row.Date.Format(channels.DateLayout) != "2024-01-06" {
		t.Errorf("nulls: %+v, %v", row, err)
	}

	for _, tc := range []struct{ name, body, wantErr string }{
		{"no id", `{"dimensions":{"stat_time_day":"2024-01-06 00:00:00"},"metrics":{}}`, "campaign_id is missing"},
		{"bad day", `{"dimensions":{"campaign_id":"1","stat_time_day":"06/01/2024"},"metrics":{}}`, "stat_time_day"},
		{"float spend", `{"dimensions":{"campaign_id":"1","stat_time_day":"2024-01-06 00:00:00"},"metrics":{"spend":"1e3"}}`, "metric spend"},
		{"fractional clicks", `{"dimensions":{"campaign_id":"1","stat_time_day":"2024-01-06 00:00:00"},"metrics":{"clicks":"1.5"}}`, "metric clicks"},
		{"sub-micro value", `{"dimensions":{"campaign_id":"1","stat_time_day":"2024-01-06 00:00:00"},"metrics":{"total_complete_payment_rate":"1.0000001"}}`, "total_complete_payment_rate"},
	} {
		if _, err := normalizeRow("7", "USD", channels.LevelCampaign, raw(tc.body)); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v; want it to mention %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestSlices(t *testing.T) {
	w := win(t, "2024-01-01", "2024-03-05") // 65 days: 30 + 30 + 5
	var got []string
	for i := 0; ; i++ {
		from, to, ok := slice(w, i)
		if !ok {
			break
		}
		got = append(got, from.Format("01-02")+".."+to.Format("01-02"))
	}
	if strings.Join(got, " ") != "01-01..01-30 01-31..02-29 03-01..03-05" {
		t.Errorf("slices = %v", got)
	}
	if _, _, ok := slice(w, -1); ok {
		t.Error("negative slice accepted")
	}
}

// reportHandler answers report pages from a fixed set of rows per start_date.
func reportHandler(perSlice map[string]int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		start, _ := time.Parse(channels.DateLayout, q.Get("start_date"))
		end, _ := time.Parse(channels.DateLayout, q.Get("end_date"))
		if end.Sub(start) >= 30*24*time.Hour {
			envelopeJSON(w, 40002, "The time span cannot exceed 30 days.", nil)
			return
		}
		var page, size int
		fmt.Sscan(q.Get("page"), &page)
		fmt.Sscan(q.Get("page_size"), &size)
		n := perSlice[q.Get("start_date")]
		list := []map[string]any{}
		for i := (page - 1) * size; i < min(page*size, n); i++ {
			list = append(list, map[string]any{
				"dimensions": map[string]string{"campaign_id": fmt.Sprint(100 + i), "stat_time_day": q.Get("start_date") + " 00:00:00"},
				"metrics":    map[string]string{"campaign_name": "C", "spend": "1.00", "impressions": "10", "clicks": "1", "conversion": "0", "total_complete_payment_rate": "-"},
			})
		}
		envelopeJSON(w, 0, "OK", map[string]any{"list": list,
			"page_info": map[string]int{"page": page, "page_size": size, "total_number": n, "total_page": (n + size - 1) / size}})
	}
}

func TestReadPageRequestShapeSlicesAndPages(t *testing.T) {
	f := newFake(t, "/prefix/tiktok")
	f.routes["/open_api/v1.3/advertiser/info/"] = infoHandler("EUR")
	f.routes["/open_api/v1.3/report/integrated/get/"] = reportHandler(map[string]int{"2024-01-01": 5, "2024-01-31": 0, "2024-03-01": 2})
	c := f.client(Options{PageSize: 2})
	req := channels.ReadRequest{Window: win(t, "2024-01-01", "2024-03-05")}

	var rows []channels.AdRow
	var cursors []string
	cur := ""
	for i := 0; i < 20; i++ {
		// A new client per call: the cursor alone carries the read (as after a restart), page
		// size included.
		if i > 0 {
			c = f.client(Options{PageSize: 500})
		}
		p, err := c.ReadPage(context.Background(), acct, req, cur)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(p.Next, testToken) {
			t.Fatalf("cursor holds the token: %s", p.Next)
		}
		rows = append(rows, p.Rows...)
		if p.Next == "" {
			break
		}
		cursors = append(cursors, p.Next)
		cur = p.Next
	}
	if len(rows) != 7 {
		t.Fatalf("%d rows; want 7", len(rows))
	}
	for _, r := range rows {
		if r.Currency != "EUR" || r.AccountID != "7000000000000000001" || r.Channel != channels.TikTok || r.CampaignName != "C" {
			t.Fatalf("row %+v", r)
		}
	}
	// Slice 1: pages 1-3; slice 2: page 1 (empty); slice 3: page 1.
	var pages []string
	infos := 0
	for _, r := range f.requests() {
		if r.URL.Path == "/prefix/tiktok/open_api/v1.3/advertiser/info/" {
			infos++
			continue
		}
		q := r.URL.Query()
		pages = append(pages, q.Get("start_date")+"/"+q.Get("end_date")+"#"+q.Get("page"))
		for k, want := range map[string]string{
			"advertiser_id": "7000000000000000001", "service_type": "AUCTION", "report_type": "BASIC",
			"data_level": "AUCTION_CAMPAIGN", "dimensions": `["campaign_id","stat_time_day"]`,
			"metrics":   `["campaign_name","spend","impressions","clicks","conversion","total_complete_payment_rate"]`,
			"page_size": "2",
		} {
			if got := q.Get(k); got != want {
				t.Errorf("%s = %q; want %q", k, got, want)
			}
		}
		if r.Method != http.MethodGet || r.Header.Get("Access-Token") != testToken {
			t.Errorf("request %s %v", r.Method, r.Header)
		}
	}
	want := "2024-01-01/2024-01-30#1 2024-01-01/2024-01-30#2 2024-01-01/2024-01-30#3 2024-01-31/2024-02-29#1 2024-03-01/2024-03-05#1"
	if strings.Join(pages, " ") != want {
		t.Errorf("pages:\n%s\nwant\n%s", strings.Join(pages, " "), want)
	}
	if infos != 1 {
		t.Errorf("%d advertiser/info calls; want 1 (the currency rides in the cursor)", infos)
	}

	// The cursor belongs to its request.
	_, err := c.ReadPage(context.Background(), acct, channels.ReadRequest{Window: req.Window, Level: channels.LevelAd}, cursors[0])
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindBadRequest || !strings.Contains(pe.Message, "another read") {
		t.Errorf("foreign cursor: %v", err)
	}
	for _, bad := range []string{"nope", `{"slice":-1,"page":1,"size":2,"req":"x"}`, `{"slice":0,"page":0,"size":2,"req":"x"}`,
		`{"slice":0,"page":1,"req":"x"}`, `{"slice":0,"page":1,"size":1001,"req":"x"}`} {
		_, err := c.ReadPage(context.Background(), acct, req, bad)
		if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindBadRequest {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
	_, err = c.ReadPage(context.Background(), acct, req, `{"slice":3,"page":1,"size":2,"req":"campaign:2024-01-01..2024-03-05"}`)
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindBadRequest || !strings.Contains(pe.Message, "past the window") {
		t.Errorf("slice past the window: %v", err)
	}
}

func TestLevelsRequestAttributes(t *testing.T) {
	for _, tc := range []struct {
		level           channels.Level
		dataLevel, dims string
		metrics         string
	}{
		{channels.LevelAdSet, "AUCTION_ADGROUP", `["adgroup_id","stat_time_day"]`,
			`["campaign_id","campaign_name","adgroup_name","spend","impressions","clicks","conversion","total_complete_payment_rate"]`},
		{channels.LevelAd, "AUCTION_AD", `["ad_id","stat_time_day"]`,
			`["campaign_id","campaign_name","adgroup_id","adgroup_name","ad_name","spend","impressions","clicks","conversion","total_complete_payment_rate"]`},
	} {
		f := newFake(t, "")
		f.routes["/open_api/v1.3/advertiser/info/"] = infoHandler("USD")
		var got url.Values
		f.routes["/open_api/v1.3/report/integrated/get/"] = func(w http.ResponseWriter, r *http.Request) {
			got = r.URL.Query()
			envelopeJSON(w, 0, "OK", map[string]any{"list": []any{}, "page_info": map[string]int{"page": 1, "total_page": 0}})
		}
		p, err := f.client(Options{}).ReadPage(context.Background(), acct, channels.ReadRequest{Window: win(t, "2024-01-01", "2024-01-01"), Level: tc.level}, "")
		if err != nil || p.Next != "" || len(p.Rows) != 0 {
			t.Fatalf("%s: %+v, %v", tc.level, p, err)
		}
		if got.Get("data_level") != tc.dataLevel || got.Get("dimensions") != tc.dims || got.Get("metrics") != tc.metrics ||
			got.Get("page_size") != "1000" || got.Get("start_date") != "2024-01-01" || got.Get("end_date") != "2024-01-01" {
			t.Errorf("%s: query %v", tc.level, got)
		}
	}
	_, err := New(Options{}).ReadPage(context.Background(), acct, channels.ReadRequest{Window: win(t, "2024-01-01", "2024-01-01"), Level: "account"}, "")
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindBadRequest {
		t.Errorf("unknown level: %v", err)
	}
}

func TestAccountInfo(t *testing.T) {
	f := newFake(t, "/tiktok")
	f.routes["/open_api/v1.3/advertiser/info/"] = infoHandler("USD")
	info, err := f.client(Options{}).AccountInfo(context.Background(), acct)
	if err != nil {
		t.Fatal(err)
	}
	want := channels.AccountInfo{ID: "7000000000000000001", Name: "Shop", Currency: "USD", Timezone: "America/New_York"}
	if info != want {
		t.Errorf("info = %+v", info)
	}
	q := f.requests()[0].URL.Query()
	if q.Get("advertiser_ids") != `["7000000000000000001"]` || !strings.Contains(q.Get("fields"), `"display_timezone"`) {
		t.Errorf("query %v", q)
	}

	// Another advertiser's info is not ours.
	_, err = f.client(Options{}).AccountInfo(context.Background(), channels.Account{ID: "42", Token: testToken})
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindBadRequest {
		t.Errorf("unlisted advertiser: %v", err)
	}
}

func TestErrorsAreClassifiedAndScrubbed(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		kind    channels.ErrorKind
		code    int
		status  int
		retry   time.Duration
		message string
	}{
		{"rate limit", func(w http.ResponseWriter, r *http.Request) {
			envelopeJSON(w, 40100, "Too many requests.", nil)
		}, channels.KindRateLimited, 40100, 200, 3 * time.Second, "Too many requests. [request_id req-1]"},
		{"expired", func(w http.ResponseWriter, r *http.Request) {
			envelopeJSON(w, 40102, "Access token "+testToken+" has expired.", nil)
		}, channels.KindAuth, 40102, 200, 0, "Access token [REDACTED] has expired. [request_id req-1]"},
		{"service", func(w http.ResponseWriter, r *http.Request) {
			envelopeJSON(w, 50002, "Internal service error.", nil)
		}, channels.KindTransient, 50002, 200, 0, "Internal service error. [request_id req-1]"},
		{"bad params", func(w http.ResponseWriter, r *http.Request) {
			envelopeJSON(w, 40002, "page_size: Must be between 1 and 1000.", nil)
		}, channels.KindBadRequest, 40002, 200, 0, "page_size: Must be between 1 and 1000. [request_id req-1]"},
		{"gateway", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "upstream reset", http.StatusBadGateway)
		}, channels.KindTransient, 0, 502, 0, "HTTP 502 without a TikTok envelope: upstream reset"},
		{"not json", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("<html>maintenance</html>"))
		}, channels.KindTransient, 0, 0, 0, "unexpected advertiser/info/ response"},
		{"no code", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"data":{}}`))
		}, channels.KindTransient, 0, 0, 0, "no code/message envelope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, "")
			f.routes["/open_api/v1.3/advertiser/info/"] = tc.handler
			c := f.client(Options{DefaultRateLimitBackoff: 3 * time.Second})
			_, err := c.ReadPage(ctx, acct, channels.ReadRequest{Window: win(t, "2024-01-01", "2024-01-02")}, "")
			pe, ok := channels.AsError(err)
			if !ok {
				t.Fatalf("unclassified: %v", err)
			}
			if pe.Kind != tc.kind || pe.Code != tc.code || pe.HTTPStatus != tc.status || pe.RetryAfter != tc.retry ||
				!strings.Contains(pe.Message, tc.message) {
				t.Errorf("error %+v\nwant kind %s code %d status %d retry %v message %q", pe, tc.kind, tc.code, tc.status, tc.retry, tc.message)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("token in error: %v", err)
			}
		})
	}
}

func TestWrongPathAndPrepare(t *testing.T) {
	ctx := context.Background()
	f := newFake(t, "")
	// No routes: every path is a 404, which is a bad request.
	_, err := f.client(Options{}).AccountInfo(ctx, acct)
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindBadRequest || pe.HTTPStatus != 404 {
		t.Errorf("404: %v", err)
	}
	_, err = f.client(Options{}).AccountInfo(ctx, channels.Account{ID: acct.ID})
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindAuth {
		t.Errorf("no token: %v", err)
	}
	_, err = f.client(Options{}).AccountInfo(ctx, channels.Account{ID: "x", Token: testToken})
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindBadRequest {
		t.Errorf("bad id: %v", err)
	}
	_, err = New(Options{BaseURL: "ftp://example.com"}).AccountInfo(ctx, acct)
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindBadRequest || !strings.Contains(pe.Message, "scheme") {
		t.Errorf("bad base URL: %v", err)
	}
	if len(f.requests()) != 1 {
		t.Errorf("%d requests; want 1", len(f.requests()))
	}
}

func TestTransportErrorsAndCancellation(t *testing.T) {
	f := newFake(t, "")
	block := make(chan struct{})
	f.routes["/open_api/v1.3/advertiser/info/"] = func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}
	defer close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := f.client(Options{}).AccountInfo(ctx, acct)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: %v", err)
	}

	// A server that is gone: transient.
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	_, err = New(Options{BaseURL: base}).AccountInfo(context.Background(), acct)
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindTransient || strings.Contains(pe.Message, "advertiser_ids") {
		t.Errorf("connection refused: %v", err)
	}
}
