package meta

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
	"github.com/omnitrackiq/omnitrackiq/internal/channels/cursorx"
)

const testToken = "EAAB-secret+token/with=chars"

// fake is a scripted Graph API: routes are keyed "METHOD /path" (path after the prefix).
type fake struct {
	t      *testing.T
	srv    *httptest.Server
	prefix string
	mu     sync.Mutex
	routes map[string]http.HandlerFunc
	calls  []recorded
}

type recorded struct {
	Method string
	Path   string
	Query  url.Values
	Form   url.Values
}

func newFake(t *testing.T, prefix string) *fake {
	f := &fake{t: t, prefix: prefix, routes: map[string]http.HandlerFunc{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) handle(route string, h http.HandlerFunc) { f.routes[route] = h }

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		f.t.Errorf("parse form: %v", err)
	}
	path := strings.TrimPrefix(r.URL.Path, f.prefix)
	f.mu.Lock()
	f.calls = append(f.calls, recorded{Method: r.Method, Path: path, Query: r.URL.Query(), Form: r.PostForm})
	f.mu.Unlock()
	tok := r.URL.Query().Get("access_token")
	if r.Method == http.MethodPost {
		tok = r.PostForm.Get("access_token")
		if r.URL.Query().Get("access_token") != "" {
			f.t.Errorf("POST carries the token in the query")
		}
	}
	if tok != testToken {
		writeJSON(w, 400, `{"error":{"message":"Invalid OAuth access token - Cannot parse access token","type":"OAuthException","code":190,"fbtrace_id":"X"}}`)
		return
	}
	h, ok := f.routes[r.Method+" "+path]
	if !ok {
		writeJSON(w, 400, `{"error":{"message":"Unsupported get request.","type":"GraphMethodException","code":100,"error_subcode":33}}`)
		return
	}
	h(w, r)
}

func (f *fake) client(o Options) *Client {
	o.BaseURL = f.srv.URL + f.prefix
	if o.PollInterval == 0 {
		o.PollInterval = 7 * time.Second
	}
	return New(o)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

func window(t *testing.T, from, to string) channels.Window {
	t.Helper()
	w, err := channels.ParseWindow(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func acct(id string) channels.Account { return channels.Account{ID: id, Token: testToken} }

func TestNormalizeAccountID(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"123456", "123456", true},
		{"act_123456", "123456", true},
		{" act_42 ", "42", true},
		{"act_", "", false},
		{"", "", false},
		{"act_12a", "", false},
		{"12-34", "", false},
		{"act_act_1", "", false},
	} {
		got, err := NormalizeAccountID(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("NormalizeAccountID(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseUsage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers map[string]string
		max     float64
		regain  time.Duration
		wait    time.Duration
	}{
		{name: "none"},
		{name: "app low", headers: map[string]string{"x-app-usage": `{"call_count":28,"total_time":25,"total_cputime":25}`}, max: 28},
		{name: "app at threshold", headers: map[string]string{"x-app-usage": `{"call_count":95,"total_time":25,"total_cputime":25}`}, max: 95},
		{name: "app above threshold", headers: map[string]string{"x-app-usage": `{"call_count":12,"total_time":96,"total_cputime":25}`}, max: 96, wait: time.Minute},
		{name: "ad account pct", headers: map[string]string{"x-ad-account-usage": `{"acc_id_util_pct":99.5,"reset_time_duration":0,"ads_api_access_tier":"standard_access"}`}, max: 99.5, wait: time.Minute},
		{name: "buc with estimate", headers: map[string]string{"x-business-use-case-usage": `{"100200300":[{"type":"ads_insights","call_count":95,"total_cputime":20,"total_time":20,"estimated_time_to_regain_access":3,"ads_api_access_tier":"standard_access"}]}`}, max: 95, regain: 3 * time.Minute, wait: 3 * time.Minute},
		{name: "buc low with small estimate", headers: map[string]string{"x-business-use-case-usage": `{"1":[{"type":"ads_management","call_count":5,"estimated_time_to_regain_access":0}],"2":[{"type":"ads_insights","call_count":4,"estimated_time_to_regain_access":0.5}]}`}, max: 5, regain: 30 * time.Second, wait: time.Minute},
		{name: "insights throttle", headers: map[string]string{"x-fb-ads-insights-throttle": `{"app_id_util_pct":97,"acc_id_util_pct":0,"ads_api_access_tier":"standard_access"}`}, max: 97, wait: time.Minute},
		{name: "numbers as strings", headers: map[string]string{"x-app-usage": `{"call_count":"99"}`}, max: 99, wait: time.Minute},
		{name: "malformed ignored", headers: map[string]string{"x-app-usage": `not json`, "x-ad-account-usage": `{"acc_id_util_pct":3}`}, max: 3},
		{name: "highest of all", headers: map[string]string{
			"x-app-usage":                `{"call_count":50}`,
			"x-ad-account-usage":         `{"acc_id_util_pct":70}`,
			"x-business-use-case-usage":  `{"9":[{"call_count":80,"estimated_time_to_regain_access":7}]}`,
			"x-fb-ads-insights-throttle": `{"app_id_util_pct":60,"acc_id_util_pct":20}`,
		}, max: 80, regain: 7 * time.Minute, wait: 7 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.headers {
				h.Set(k, v)
			}
			u := ParseUsage(h)
			if u.MaxPercent != tc.max || u.RegainAccess != tc.regain {
				t.Errorf("ParseUsage = %+v; want max %v regain %v", u, tc.max, tc.regain)
			}
			if got := u.Wait(); got != tc.wait {
				t.Errorf("Wait = %v; want %v", got, tc.wait)
			}
		})
	}
}

func envelope(code, subcode int, transient bool, msg string) string {
	return fmt.Sprintf(`{"error":{"message":%q,"type":"OAuthException","code":%d,"error_subcode":%d,"is_transient":%v,"fbtrace_id":"AbC"}}`,
		msg, code, subcode, transient)
}

func TestClassifyError(t *testing.T) {
	buc := http.Header{}
	buc.Set("x-business-use-case-usage", `{"100":[{"type":"ads_insights","call_count":100,"estimated_time_to_regain_access":4}]}`)
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		body   string
		kind   channels.ErrorKind
		code   int
		retry  time.Duration
	}{
		{"code 17 default backoff", 400, nil, envelope(17, 2446079, false, "(#17) User request limit reached"), channels.KindRateLimited, 17, time.Minute},
		{"code 17 header estimate", 400, buc, envelope(17, 2446079, false, "(#17) User request limit reached"), channels.KindRateLimited, 17, 4 * time.Minute},
		{"code 4", 400, nil, envelope(4, 1504022, false, "(#4) Application request limit reached"), channels.KindRateLimited, 4, time.Minute},
		{"code 32", 403, nil, envelope(32, 0, false, "Page request limit reached"), channels.KindRateLimited, 32, time.Minute},
		{"code 613", 400, nil, envelope(613, 1487742, false, "(#613) Calls to this api have exceeded the rate limit."), channels.KindRateLimited, 613, time.Minute},
		{"code 80000", 400, buc, envelope(80000, 2446079, false, "(#80000) There have been too many calls from this ad-account."), channels.KindRateLimited, 80000, 4 * time.Minute},
		{"code 80004", 400, nil, envelope(80004, 2446079, false, "(#80004) There have been too many calls to this ad-account."), channels.KindRateLimited, 80004, time.Minute},
		{"code 80008", 400, nil, envelope(80008, 0, false, "x"), channels.KindRateLimited, 80008, time.Minute},
		{"code 80009 is not a rate limit", 400, nil, envelope(80009, 0, false, "x"), channels.KindBadRequest, 80009, 0},
		{"is_transient", 400, nil, envelope(12345, 0, true, "try later"), channels.KindRateLimited, 12345, time.Minute},
		{"190 expired", 400, nil, envelope(190, 463, false, "Error validating access token: Session has expired"), channels.KindAuth, 190, 0},
		{"190 on 500", 500, nil, envelope(190, 460, false, "password changed"), channels.KindAuth, 190, 0},
		{"1 subcode 99 on 500", 500, nil, envelope(1, 99, false, "An unknown error occurred"), channels.KindTransient, 1, 0},
		{"1 subcode 99 on 400", 400, nil, envelope(1, 99, false, "An unknown error occurred"), channels.KindTransient, 1, 0},
		{"2 transient", 400, nil, envelope(2, 0, true, "An unexpected error has occurred. Please retry your request later."), channels.KindTransient, 2, 0},
		{"960", 400, nil, envelope(960, 0, false, "Request was aborted"), channels.KindTransient, 960, 0},
		{"104", 400, nil, envelope(104, 0, false, "An access token is required"), channels.KindTransient, 104, 0},
		{"500 other code", 500, nil, envelope(100, 0, false, "Please reduce the amount of data you're asking for"), channels.KindTransient, 100, 0},
		{"500 not json", 502, nil, "<html>Bad Gateway</html>", channels.KindTransient, 0, 0},
		{"429 not json", 429, nil, "slow down", channels.KindRateLimited, 0, time.Minute},
		{"400 invalid param", 400, nil, envelope(100, 1487534, false, "(#100) level must be one of the following values"), channels.KindBadRequest, 100, 0},
		{"403 permission", 403, nil, envelope(10, 0, false, "(#10) Application does not have permission for this action"), channels.KindBadRequest, 10, 0},
		{"404 not json", 404, nil, "", channels.KindBadRequest, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			e := ClassifyError(tc.status, h, []byte(tc.body), time.Minute)
			if e.Kind != tc.kind || e.Code != tc.code || e.RetryAfter != tc.retry || e.HTTPStatus != tc.status || e.Channel != channels.Meta {
				t.Errorf("ClassifyError = %+v; want kind %v code %d retry %v", e, tc.kind, tc.code, tc.retry)
			}
			if e.Message == "" {
				t.Error("empty message")
			}
		})
	}
	e := ClassifyError(400, http.Header{}, []byte(envelope(190, 463, false, "Error validating access token: Session has expired")), time.Minute)
	want := "meta auth error (HTTP 400, code 190): Error validating access token: Session has expired [type OAuthException, subcode 463, fbtrace_id AbC]"
	if e.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", e.Error(), want)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := cursor{Run: "6120000000000001", Phase: phaseRows, After: "QVFIUm9", Restarts: 2, Started: 1700000000, Req: "ad:2024-01-01..2024-01-31"}
	got, err := decodeCursor(c.encode())
	if err != nil || got != c {
		t.Fatalf("round trip = %+v, %v; want %+v", got, err, c)
	}
	for _, bad := range []string{"x", "{}", `{"run":"1","phase":"nope"}`, `{"phase":"poll"}`} {
		if _, err := decodeCursor(bad); err == nil {
			t.Errorf("decodeCursor(%q) accepted", bad)
		} else if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindBadRequest {
			t.Errorf("decodeCursor(%q) = %v; want a bad request", bad, err)
		}
	}
}

// scriptedRun serves an async report: `polls` answers of "Job Running", then final; pages
// holds the rows pages keyed by `after` ("" = first).
func scriptedRun(f *fake, runID string, polls int, final string, pages map[string]string) {
	var mu sync.Mutex
	n := 0
	f.handle("GET /v23.0/"+runID, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		k := n
		mu.Unlock()
		if r.URL.Query().Get("fields") == "" {
			f.t.Errorf("status poll without fields")
		}
		status, pct := "Job Running", 40
		if k > polls {
			status, pct = final, 100
		}
		writeJSON(w, 200, fmt.Sprintf(`{"id":%q,"async_status":%q,"async_percent_completion":%d}`, runID, status, pct))
	})
	f.handle("GET /v23.0/"+runID+"/insights", func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.Query().Get("after")]
		if !ok {
			writeJSON(w, 400, envelope(100, 0, false, "bad after"))
			return
		}
		writeJSON(w, 200, body)
	})
}

const page1 = `{"data":[
 {"account_id":"42","account_currency":"USD","campaign_id":"2385001","campaign_name":"Brand","adset_id":"2385002","adset_name":"Set","ad_id":"2385003","ad_name":"Ad A",
  "date_start":"2024-01-01","date_stop":"2024-01-01","spend":"14.35","impressions":"185","clicks":"9",
  "actions":[{"action_type":"omni_purchase","value":"3"},{"action_type":"purchase","value":"2.5","1d_click":"1"},{"action_type":"link_click","value":"9"}],
  "action_values":[{"action_type":"omni_purchase","value":"999.99"},{"action_type":"purchase","value":"120.50"}]},
 {"account_id":"42","account_currency":"USD","campaign_id":"2385001","campaign_name":"Brand","adset_id":"2385002","adset_name":"Set","ad_id":"2385004","ad_name":"Ad B",
  "date_start":"2024-01-01","date_stop":"2024-01-01","spend":"0.01","impressions":"3","clicks":"0"}
 ],
 "paging":{"cursors":{"before":"MAZDZD","after":"NzIZD"},"next":"https://evil.example/v23.0/777/insights?access_token=leak&after=NzIZD"}}`

const page2 = `{"data":[
 {"account_currency":"USD","campaign_id":"2385001","campaign_name":"Brand","adset_id":"2385002","adset_name":"Set","ad_id":"2385003","ad_name":"Ad A",
  "date_start":"2024-01-02","date_stop":"2024-01-02","spend":"1000000.123456","impressions":"1","clicks":"1",
  "actions":[{"action_type":"purchase","value":"1"}],"action_values":[{"action_type":"purchase","value":"7"}]}
 ],
 "paging":{"cursors":{"before":"NzIZD","after":"OTIZD"}}}`

func TestReadPageAsyncFlow(t *testing.T) {
	f := newFake(t, "/meta")
	f.handle("POST /v23.0/act_42/insights", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"report_run_id":"777"}`)
	})
	scriptedRun(f, "777", 2, "Job Completed", map[string]string{"": page1, "NzIZD": page2})
	c := f.client(Options{PageSize: 2})
	req := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-02"), Level: channels.LevelAd}
	ctx := context.Background()

	var rows []channels.AdRow
	var waits []time.Duration
	cur := ""
	for i := 0; ; i++ {
		if i > 10 {
			t.Fatal("read does not end")
		}
		p, err := c.ReadPage(ctx, acct("act_42"), req, cur)
		if err != nil {
			t.Fatalf("ReadPage %d: %v", i, err)
		}
		if strings.Contains(p.Next, testToken) || strings.Contains(p.Next, "access_token") {
			t.Fatalf("cursor carries the token: %s", p.Next)
		}
		rows = append(rows, p.Rows...)
		waits = append(waits, p.Wait)
		if p.Next == "" {
			break
		}
		cur = p.Next
	}
	// start, poll (running), poll (running), poll (completed + page 1), page 2
	wantWaits := []time.Duration{0, 7 * time.Second, 7 * time.Second, 0, 0}
	if fmt.Sprint(waits) != fmt.Sprint(wantWaits) {
		t.Errorf("waits = %v; want %v", waits, wantWaits)
	}
	if len(rows) != 3 {
		t.Fatalf("got %d rows; want 3", len(rows))
	}
	d := func(s string) time.Time { v, _ := time.Parse(channels.DateLayout, s); return v }
	want := []channels.AdRow{
		{Channel: channels.Meta, AccountID: "42", CampaignID: "2385001", CampaignName: "Brand", AdSetID: "2385002", AdSetName: "Set",
			AdID: "2385003", AdName: "Ad A", Date: d("2024-01-01"), Currency: "USD", SpendMicros: 14_350_000, Impressions: 185, Clicks: 9,
			ConversionsMicros: 2_500_000, ConversionValueMicros: 120_500_000},
		{Channel: channels.Meta, AccountID: "42", CampaignID: "2385001", CampaignName: "Brand", AdSetID: "2385002", AdSetName: "Set",
			AdID: "2385004", AdName: "Ad B", Date: d("2024-01-01"), Currency: "USD", SpendMicros: 10_000, Impressions: 3},
		{Channel: channels.Meta, AccountID: "42", CampaignID: "2385001", CampaignName: "Brand", AdSetID: "2385002", AdSetName: "Set",
			AdID: "2385003", AdName: "Ad A", Date: d("2024-01-02"), Currency: "USD", SpendMicros: 1_000_000_123_456, Impressions: 1, Clicks: 1,
			ConversionsMicros: 1_000_000, ConversionValueMicros: 7_000_000},
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d = %+v\nwant     %+v", i, rows[i], want[i])
		}
	}

	// Wire format of the start call and of the rows pages.
	f.mu.Lock()
	calls := append([]recorded(nil), f.calls...)
	f.mu.Unlock()
	start := calls[0]
	if start.Method != "POST" || start.Path != "/v23.0/act_42/insights" {
		t.Fatalf("first call = %s %s", start.Method, start.Path)
	}
	var fields []string
	if err := json.Unmarshal([]byte(start.Form.Get("fields")), &fields); err != nil {
		t.Errorf("fields not a JSON list: %q", start.Form.Get("fields"))
	}
	for _, k := range []string{"campaign_id", "campaign_name", "adset_id", "adset_name", "ad_id", "ad_name", "spend", "impressions",
		"clicks", "actions", "action_values", "date_start", "date_stop", "account_currency"} {
		if !contains(fields, k) {
			t.Errorf("fields lacks %s: %v", k, fields)
		}
	}
	var tr map[string]string
	if err := json.Unmarshal([]byte(start.Form.Get("time_range")), &tr); err != nil || tr["since"] != "2024-01-01" || tr["until"] != "2024-01-02" {
		t.Errorf("time_range = %q", start.Form.Get("time_range"))
	}
	// Every effective status, deleted and archived included, as a JSON-encoded list.
	var filtering []struct {
		Field    string   `json:"field"`
		Operator string   `json:"operator"`
		Value    []string `json:"value"`
	}
	if err := json.Unmarshal([]byte(start.Form.Get("filtering")), &filtering); err != nil || len(filtering) != 1 ||
		filtering[0].Field != "ad.effective_status" || filtering[0].Operator != "IN" ||
		!contains(filtering[0].Value, "DELETED") || !contains(filtering[0].Value, "ARCHIVED") || len(filtering[0].Value) != 12 {
		t.Errorf("filtering = %q", start.Form.Get("filtering"))
	}
	for k, v := range map[string]string{"level": "ad", "time_increment": "1", "action_breakdowns": `["action_type"]`, "access_token": testToken} {
		if got := start.Form.Get(k); got != v {
			t.Errorf("form %s = %q; want %q", k, got, v)
		}
	}
	var pageCalls []recorded
	for _, c := range calls {
		if strings.HasSuffix(c.Path, "/insights") && c.Method == "GET" {
			pageCalls = append(pageCalls, c)
		}
	}
	if len(pageCalls) != 2 || pageCalls[0].Query.Get("limit") != "2" || pageCalls[0].Query.Has("after") ||
		pageCalls[1].Query.Get("after") != "NzIZD" || pageCalls[1].Path != "/v23.0/777/insights" {
		t.Errorf("page calls = %+v", pageCalls)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestReadPageCoarserLevelsBlankFinerIDs(t *testing.T) {
	f := newFake(t, "")
	var gotFields string
	f.handle("POST /v23.0/act_42/insights", func(w http.ResponseWriter, r *http.Request) {
		gotFields = r.PostForm.Get("fields")
		writeJSON(w, 200, `{"report_run_id":"9"}`)
	})
	scriptedRun(f, "9", 0, "Job Completed", map[string]string{"": page2})
	c := f.client(Options{})
	req := channels.ReadRequest{Window: window(t, "2024-01-02", "2024-01-02"), Level: channels.LevelCampaign}
	p, err := c.ReadPage(context.Background(), acct("42"), req, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err = c.ReadPage(context.Background(), acct("42"), req, p.Next)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rows) != 1 || p.Next != "" {
		t.Fatalf("page = %+v", p)
	}
	r := p.Rows[0]
	if r.CampaignID != "2385001" || r.AdSetID != "" || r.AdID != "" || r.AdName != "" || r.AdSetName != "" {
		t.Errorf("campaign row = %+v", r)
	}
	if strings.Contains(gotFields, "ad_id") || !strings.Contains(gotFields, "campaign_id") {
		t.Errorf("campaign-level fields = %s", gotFields)
	}
}

func TestReadPageRestartsFailedRuns(t *testing.T) {
	f := newFake(t, "")
	var mu sync.Mutex
	runs := 0
	f.handle("POST /v23.0/act_42/insights", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		runs++
		id := fmt.Sprint(100 + runs)
		mu.Unlock()
		writeJSON(w, 200, fmt.Sprintf(`{"report_run_id":%q}`, id))
	})
	// Runs 101..103 fail (or are skipped), run 104 completes.
	scriptedRun(f, "101", 1, "Job Failed", nil)
	scriptedRun(f, "102", 0, "Job Skipped", nil)
	scriptedRun(f, "103", 0, "Job Failed", nil)
	scriptedRun(f, "104", 0, "Job Completed", map[string]string{"": `{"data":[]}`})
	c := f.client(Options{})
	req := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01"), Level: channels.LevelAd}
	cur, steps := "", 0
	for {
		p, err := c.ReadPage(context.Background(), acct("42"), req, cur)
		if err != nil {
			t.Fatal(err)
		}
		steps++
		if p.Next == "" {
			break
		}
		cur = p.Next
		if steps > 20 {
			t.Fatal("loops")
		}
	}
	if runs != 4 {
		t.Errorf("started %d runs; want 4", runs)
	}

	// A fifth failure in a row gives up with a transient error instead of looping.
	scriptedRun(f, "105", 0, "Job Failed", nil)
	dead := cursor{Run: "105", Phase: phasePoll, Restarts: MaxReportRestarts, Req: cursorx.Fingerprint(channels.LevelAd, req.Window)}
	_, err := c.ReadPage(context.Background(), acct("42"), req, dead.encode())
	pe, ok := channels.AsError(err)
	if !ok || pe.Kind != channels.KindTransient || !strings.Contains(pe.Message, "105") {
		t.Fatalf("after %d restarts: %v; want a transient error", MaxReportRestarts, err)
	}
	if runs != 4 {
		t.Errorf("gave up but started another run")
	}
}

func TestReadPageJobTimeoutRestarts(t *testing.T) {
	f := newFake(t, "")
	f.handle("POST /v23.0/act_42/insights", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"report_run_id":"2"}`)
	})
	scriptedRun(f, "1", 1000, "Job Completed", nil) // never completes
	now := time.Unix(1_700_000_000, 0)
	c := f.client(Options{Now: func() time.Time { return now }, JobTimeout: time.Hour})
	req := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01"), Level: channels.LevelAd}
	cur := cursor{Run: "1", Phase: phasePoll, Started: now.Add(-59 * time.Minute).Unix(), Req: cursorx.Fingerprint(channels.LevelAd, req.Window)}
	p, err := c.ReadPage(context.Background(), acct("42"), req, cur.encode())
	if err != nil || p.Next != cur.encode() || p.Wait != 7*time.Second {
		t.Fatalf("running job: %+v, %v", p, err)
	}
	cur.Started = now.Add(-61 * time.Minute).Unix()
	p, err = c.ReadPage(context.Background(), acct("42"), req, cur.encode())
	if err != nil {
		t.Fatal(err)
	}
	next, _ := decodeCursor(p.Next)
	if next.Run != "2" || next.Restarts != 1 || next.Phase != phasePoll {
		t.Errorf("after timeout cursor = %+v", next)
	}
}

func TestReadPageEmptyPageAfterLast(t *testing.T) {
	f := newFake(t, "")
	scriptedRun(f, "5", 0, "Job Completed", map[string]string{
		"":    `{"data":[{"date_start":"2024-01-01","spend":"1.00"}],"paging":{"cursors":{"before":"a","after":"b"},"next":"https://x/next"}}`,
		"b":   `{"data":[],"paging":{"cursors":{"before":"b","after":"c"},"next":"https://x/next2"}}`,
		"end": `{"data":[]}`,
	})
	c := f.client(Options{})
	req := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01"), Level: channels.LevelCampaign}
	fp := cursorx.Fingerprint(channels.LevelCampaign, req.Window)
	for _, after := range []string{"b", "end"} {
		cur := cursor{Run: "5", Phase: phaseRows, After: after, Req: fp}
		p, err := c.ReadPage(context.Background(), acct("42"), req, cur.encode())
		if err != nil || len(p.Rows) != 0 || p.Next != "" {
			t.Errorf("after %q: %+v, %v; want an empty final page", after, p, err)
		}
	}
	// The same cursor for another window is refused.
	other := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-05"), Level: channels.LevelCampaign}
	cur := cursor{Run: "5", Phase: phaseRows, After: "b", Req: fp}
	if _, err := c.ReadPage(context.Background(), acct("42"), other, cur.encode()); err == nil {
		t.Error("cursor of another window accepted")
	}
}

func TestReadPageMalformedNumber(t *testing.T) {
	for _, tc := range []struct{ row, field string }{
		{`{"date_start":"2024-01-01","spend":"1.2.3"}`, "spend"},
		{`{"date_start":"2024-01-01","spend":"1e3"}`, "spend"},
		{`{"date_start":"2024-01-01","impressions":"12.5"}`, "impressions"},
		{`{"date_start":"2024-01-01","clicks":{"x":1}}`, "clicks"},
		{`{"date_start":"2024-01-01","actions":[{"action_type":"purchase","value":"two"}]}`, "actions[purchase].value"},
		{`{"date_start":"2024-01-01","action_values":[{"action_type":"purchase","value":"1.1234567"}]}`, "action_values[purchase].value"},
		{`{"date_start":"01/02/2024"}`, "date_start"},
	} {
		f := newFake(t, "")
		scriptedRun(f, "5", 0, "Job Completed", map[string]string{"": `{"data":[` + tc.row + `]}`})
		c := f.client(Options{})
		req := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01"), Level: channels.LevelCampaign}
		cur := cursor{Run: "5", Phase: phasePoll, Req: cursorx.Fingerprint(channels.LevelCampaign, req.Window)}
		_, err := c.ReadPage(context.Background(), acct("42"), req, cur.encode())
		pe, ok := channels.AsError(err)
		if !ok || pe.Kind != channels.KindBadRequest || !strings.Contains(pe.Message, "field "+tc.field) {
			t.Errorf("row %s: err = %v; want a bad request naming %s", tc.row, err, tc.field)
		}
	}
}

func TestReadPageNumbersAsJSONNumbers(t *testing.T) {
	f := newFake(t, "")
	scriptedRun(f, "5", 0, "Job Completed", map[string]string{"": `{"data":[{"date_start":"2024-01-01","campaign_id":2385,"spend":3.5,"impressions":10,"clicks":null}]}`})
	c := f.client(Options{})
	req := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01"), Level: channels.LevelCampaign}
	cur := cursor{Run: "5", Phase: phasePoll, Req: cursorx.Fingerprint(channels.LevelCampaign, req.Window)}
	p, err := c.ReadPage(context.Background(), acct("42"), req, cur.encode())
	if err != nil || len(p.Rows) != 1 || p.Rows[0].SpendMicros != 3_500_000 || p.Rows[0].Impressions != 10 || p.Rows[0].CampaignID != "2385" {
		t.Fatalf("page = %+v, %v", p, err)
	}
}

func TestUsageHeadersSetWait(t *testing.T) {
	f := newFake(t, "")
	f.handle("POST /v23.0/act_42/insights", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-business-use-case-usage", `{"42":[{"type":"ads_insights","call_count":96,"estimated_time_to_regain_access":2}]}`)
		writeJSON(w, 200, `{"report_run_id":"9"}`)
	})
	c := f.client(Options{})
	req := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01"), Level: channels.LevelAd}
	p, err := c.ReadPage(context.Background(), acct("42"), req, "")
	if err != nil || p.Wait != 2*time.Minute {
		t.Fatalf("page = %+v, %v; want Wait 2m", p, err)
	}
}

func TestRateLimitRetryAfterFromHeader(t *testing.T) {
	f := newFake(t, "")
	f.handle("POST /v23.0/act_42/insights", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-business-use-case-usage", `{"42":[{"type":"ads_insights","call_count":100,"estimated_time_to_regain_access":3}]}`)
		writeJSON(w, 400, envelope(80000, 2446079, false, "(#80000) There have been too many calls from this ad-account."))
	})
	c := f.client(Options{DefaultRateLimitBackoff: 10 * time.Second})
	req := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01"), Level: channels.LevelAd}
	_, err := c.ReadPage(context.Background(), acct("42"), req, "")
	pe, ok := channels.AsError(err)
	if !ok || pe.Kind != channels.KindRateLimited || pe.RetryAfter != 3*time.Minute || pe.Code != 80000 {
		t.Fatalf("err = %v", err)
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	req := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01"), Level: channels.LevelAd}
	check := func(name string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error", name)
			return
		}
		s := err.Error()
		leaks := []string{testToken, url.QueryEscape(testToken), "secret"}
		if !strings.Contains(name, "echo") {
			leaks = append(leaks, "access_token") // no URL query in our own messages
		}
		for _, leak := range leaks {
			if strings.Contains(s, leak) {
				t.Errorf("%s: error leaks %q: %s", name, leak, s)
			}
		}
	}

	// Transport failure: *url.Error would print the URL with the token in its query.
	f := newFake(t, "")
	c := f.client(Options{})
	f.srv.Close()
	_, err := c.AccountInfo(context.Background(), acct("42"))
	check("closed server", err)
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindTransient {
		t.Errorf("closed server: %v; want transient", err)
	}
	cur := cursor{Run: "5", Phase: phaseRows, After: "x", Req: cursorx.Fingerprint(channels.LevelAd, req.Window)}
	_, err = c.ReadPage(context.Background(), acct("42"), req, cur.encode())
	check("closed server rows", err)

	// A timeout of the HTTP client.
	f2 := newFake(t, "")
	f2.handle("GET /v23.0/act_42", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	c2 := f2.client(Options{HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}})
	_, err = c2.AccountInfo(context.Background(), acct("42"))
	check("client timeout", err)

	// A provider error that echoes the token.
	f3 := newFake(t, "")
	f3.handle("GET /v23.0/act_42", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 400, envelope(100, 0, false, "bad token "+testToken+" in "+r.URL.String()))
	})
	c3 := f3.client(Options{})
	_, err = c3.AccountInfo(context.Background(), acct("42"))
	check("echoing error", err)

	// A 200 with corrupt JSON.
	f4 := newFake(t, "")
	f4.handle("GET /v23.0/act_42", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"name": "`+testToken)
	})
	_, err = f4.client(Options{}).AccountInfo(context.Background(), acct("42"))
	check("corrupt json", err)
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindTransient {
		t.Errorf("corrupt json: %v; want transient", err)
	}

	// Wrong token.
	bad := channels.Account{ID: "42", Token: "wrong-token"}
	_, err = f3.client(Options{}).ReadPage(context.Background(), bad, req, "")
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindAuth || pe.Code != 190 {
		t.Errorf("wrong token: %v; want auth", err)
	}
}

func TestContextCancellation(t *testing.T) {
	f := newFake(t, "")
	f.handle("GET /v23.0/act_42", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	c := f.client(Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.AccountInfo(ctx, acct("42"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want context.DeadlineExceeded", err)
	}
	if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "access_token") {
		t.Errorf("err leaks the token: %v", err)
	}
}

func TestAccountInfo(t *testing.T) {
	f := newFake(t, "/prefix")
	f.handle("GET /v21.0/act_42", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("fields") != "name,currency,timezone_name" {
			t.Errorf("fields = %q", r.URL.Query().Get("fields"))
		}
		writeJSON(w, 200, `{"name":"Shop","currency":"EUR","timezone_name":"Europe/Berlin","id":"act_42"}`)
	})
	c := f.client(Options{APIVersion: "v21.0"})
	info, err := c.AccountInfo(context.Background(), acct("act_42"))
	if err != nil {
		t.Fatal(err)
	}
	if info != (channels.AccountInfo{ID: "42", Name: "Shop", Currency: "EUR", Timezone: "Europe/Berlin"}) {
		t.Errorf("info = %+v", info)
	}
	if _, err := c.AccountInfo(context.Background(), acct("act_4x")); err == nil {
		t.Error("bad account id accepted")
	}
	if _, err := c.AccountInfo(context.Background(), channels.Account{ID: "42"}); err == nil {
		t.Error("empty token accepted")
	} else if pe, _ := channels.AsError(err); pe == nil || pe.Kind != channels.KindAuth {
		t.Errorf("empty token: %v; want auth", err)
	}
}

func TestBadOptions(t *testing.T) {
	for _, base := range []string{"ftp://x", "graph.facebook.com", "http://"} {
		c := New(Options{BaseURL: base})
		if _, err := c.AccountInfo(context.Background(), acct("42")); err == nil {
			t.Errorf("base %q accepted", base)
		}
	}
	c := New(Options{})
	_, err := c.ReadPage(context.Background(), acct("42"), channels.ReadRequest{Level: "creative"}, "")
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindBadRequest {
		t.Errorf("bad level: %v", err)
	}
}

func TestPathSegmentsAreEscaped(t *testing.T) {
	f := newFake(t, "/pre")
	var got string
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.EscapedPath()
		writeJSON(w, 200, `{"async_status":"Job Running"}`)
	})
	c := f.client(Options{})
	req := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01"), Level: channels.LevelAd}
	cur := cursor{Run: "../x/y?z", Phase: phasePoll, Req: cursorx.Fingerprint(channels.LevelAd, req.Window)}
	if _, err := c.ReadPage(context.Background(), acct("42"), req, cur.encode()); err != nil {
		t.Fatal(err)
	}
	if got != "/pre/v23.0/..%2Fx%2Fy%3Fz" {
		t.Errorf("path = %s", got)
	}
}
