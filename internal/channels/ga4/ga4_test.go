package ga4

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

const (
	testToken   = "ya29.test-access-token"
	testRefresh = "1//test-refresh-token"
	testSecret  = "test-client-secret"
)

// fake is a scripted Data API and token endpoint.
type fake struct {
	t      *testing.T
	srv    *httptest.Server
	prefix string

	mu      sync.Mutex
	report  http.HandlerFunc
	token   http.HandlerFunc
	reports int
	mints   int
	bodies  []map[string]any
	auths   []string
}

func newFake(t *testing.T, prefix string) *fake {
	t.Helper()
	f := &fake{t: t, prefix: prefix}
	f.token = func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"access_token":"`+testToken+`","expires_in":3599,"token_type":"Bearer"}`)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		switch {
		case r.URL.Path == prefix+"/token":
			f.mints++
			h := f.token
			f.mu.Unlock()
			h(w, r)
		case strings.HasPrefix(r.URL.Path, prefix+"/v1beta/properties/"):
			f.reports++
			var body map[string]any
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &body)
			f.bodies = append(f.bodies, body)
			f.auths = append(f.auths, r.Header.Get("Authorization"))
			h := f.report
			f.mu.Unlock()
			r.Body = io.NopCloser(strings.NewReader(string(b)))
			if h == nil {
				writeJSON(w, 500, `{}`)
				return
			}
			h(w, r)
		default:
			f.mu.Unlock()
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) client(o Options) *Client {
	o.BaseURL = f.srv.URL + f.prefix
	o.TokenURL = f.srv.URL + f.prefix + "/token"
	if o.ClientID == "" {
		o.ClientID = "client-id"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = testSecret
	}
	return New(o)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func rpc(code int, status, msg string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
	return string(b)
}

var (
	withToken   = channels.Account{ID: "123", Token: testToken}
	withRefresh = channels.Account{ID: "properties/123", RefreshToken: testRefresh}
)

func window(t *testing.T, from, to string) channels.ReadRequest {
	t.Helper()
	w, err := channels.ParseWindow(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return channels.ReadRequest{Window: w}
}

const headers = `"dimensionHeaders":[{"name":"date"},{"name":"sessionSource"},{"name":"sessionMedium"},{"name":"sessionCampaignName"}],
	"metricHeaders":[{"name":"sessions","type":"TYPE_INTEGER"},{"name":"keyEvents","type":"TYPE_INTEGER"},{"name":"totalRevenue","type":"TYPE_CURRENCY"}],
	"metadata":{"currencyCode":"EUR","timeZone":"Europe/Berlin"}`

func TestNormalizePropertyID(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"123", "123", true},
		{"properties/123", "123", true},
		{" properties/456 ", "456", true},
		{"", "", false},
		{"properties/", "", false},
		{"G-ABC123", "", false},
		{"accounts/1/properties/2", "", false},
	} {
		got, err := NormalizePropertyID(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("NormalizePropertyID(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestParseNumbers(t *testing.T) {
	for _, tc := range []struct {
		in    string
		count int64
		cOK   bool
		micro int64
		mOK   bool
	}{
		{"3", 3, true, 3_000_000, true},
		{"3.0", 3, true, 3_000_000, true},
		{"0", 0, true, 0, true},
		{"2.5", 0, false, 2_500_000, true},
		{"456.78", 0, false, 456_780_000, true},
		{"-12.5", 0, false, -12_500_000, true},
		{"1.2E3", 1200, true, 1_200_000_000, true},
		{"1.5e-7", 0, true, 0, true},  // 0.15 micros rounds to 0
		{"2.5e-6", 0, false, 2, true}, // a tie in exponent notation goes to even
		{"3.5e-6", 0, false, 4, true},
		{"-2.5e-6", 0, false, -2, true},
		{"abc", 0, false, 0, false},
		{"1/2", 0, false, 0, false},
		{"0.1234567", 0, false, 123_457, true},
		// GA4 renders float64 sums with 17 significant digits; they round to the micro.
		{"2046.3999999999999", 0, false, 2_046_400_000, true},
		{"3.0000000000000004", 3, true, 3_000_000, true},
		{"0.0000005", 0, true, 0, true},
		{"0.0000015", 0, false, 2, true},
		{"99999999999999999999", 0, false, 0, false},
	} {
		c, err := ParseCount(tc.in)
		if (err == nil) != tc.cOK || (tc.cOK && c != tc.count) {
			t.Errorf("ParseCount(%q) = %d, %v", tc.in, c, err)
		}
		m, err := ParseDecimalMicros(tc.in)
		if (err == nil) != tc.mOK || (tc.mOK && m != tc.micro) {
			t.Errorf("ParseDecimalMicros(%q) = %d, %v", tc.in, m, err)
		}
	}
}

func TestQuotaForMessage(t *testing.T) {
	for msg, want := range map[string]string{
		"Exhausted concurrent requests quota.":                 QuotaConcurrentRequests,
		"Exhausted property tokens for a project per hour.":    QuotaTokensPerProjectPerHour,
		"Exhausted potentially thresholded requests quota.":    QuotaPotentiallyThresholdedRequestsPerHour,
		"Exhausted server errors quota.":                       QuotaServerErrorsPerProjectPerHour,
		"Exhausted property tokens per hour. Try again later.": QuotaTokensPerHour,
		"Exhausted property tokens per day.":                   QuotaTokensPerDay,
		"Quota exceeded for something else.":                   "",
	} {
		if got := QuotaForMessage(msg); got != want {
			t.Errorf("QuotaForMessage(%q) = %q; want %q", msg, got, want)
		}
	}
}

func TestErrorClassification(t *testing.T) {
	retryInfo := `{"error":{"code":429,"message":"Quota exceeded.","status":"RESOURCE_EXHAUSTED",
		"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}]}}`
	for _, tc := range []struct {
		name       string
		status     int
		body       string
		header     http.Header
		kind       channels.ErrorKind
		retryAfter time.Duration
		msg        string
	}{
		{"concurrent", 429, rpc(429, "RESOURCE_EXHAUSTED", "Exhausted concurrent requests quota."), nil, channels.KindRateLimited, 2 * time.Second, "RESOURCE_EXHAUSTED: Exhausted concurrent"},
		{"project hour", 429, rpc(429, "RESOURCE_EXHAUSTED", "Exhausted property tokens for a project per hour."), nil, channels.KindRateLimited, 1800 * time.Second, ""},
		{"thresholded", 429, rpc(429, "RESOURCE_EXHAUSTED", "Exhausted potentially thresholded requests quota."), nil, channels.KindRateLimited, 1800 * time.Second, ""},
		{"server errors", 429, rpc(429, "RESOURCE_EXHAUSTED", "Exhausted server errors quota."), nil, channels.KindRateLimited, 3600 * time.Second, ""},
		{"unknown quota", 429, rpc(429, "RESOURCE_EXHAUSTED", "Something."), nil, channels.KindRateLimited, 60 * time.Second, ""},
		{"retry info", 429, retryInfo, nil, channels.KindRateLimited, 7 * time.Second, ""},
		{"retry-after", 429, `not json`, http.Header{"Retry-After": {"9"}}, channels.KindRateLimited, 9 * time.Second, "HTTP 429 without a Google error"},
		{"exhausted as 403", 403, rpc(403, "RESOURCE_EXHAUSTED", "Exhausted concurrent requests quota."), nil, channels.KindRateLimited, 2 * time.Second, ""},
		{"invalid argument", 400, rpc(400, "INVALID_ARGUMENT", "Field foo is not a valid dimension."), nil, channels.KindBadRequest, 0, "INVALID_ARGUMENT: Field foo is not a valid dimension."},
		{"permission denied", 403, rpc(403, "PERMISSION_DENIED", "User does not have sufficient permissions for this property."), nil, channels.KindAuth, 0, "PERMISSION_DENIED"},
		{"not found", 404, rpc(404, "NOT_FOUND", "Requested entity was not found."), nil, channels.KindBadRequest, 0, "NOT_FOUND"},
		{"internal", 500, rpc(500, "INTERNAL", "Internal error encountered."), nil, channels.KindTransient, 0, "INTERNAL"},
		{"unavailable", 503, rpc(503, "UNAVAILABLE", "The service is currently unavailable."), nil, channels.KindTransient, 0, ""},
		{"html 502", 502, `<html>Bad Gateway</html>`, nil, channels.KindTransient, 0, "Bad Gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, "")
			f.report = func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header()[k] = v
				}
				writeJSON(w, tc.status, tc.body)
			}
			c := f.client(Options{QuotaBackoff: map[string]time.Duration{QuotaConcurrentRequests: 2 * time.Second}})
			_, err := c.ReadSessions(context.Background(), withToken, window(t, "2024-01-01", "2024-01-31"), "")
			pe, ok := channels.AsError(err)
			if !ok || pe.Kind != tc.kind || pe.RetryAfter != tc.retryAfter || pe.HTTPStatus != tc.status || !strings.Contains(pe.Message, tc.msg) {
				t.Fatalf("err = %#v; want kind %s, retry after %s, message with %q", pe, tc.kind, tc.retryAfter, tc.msg)
			}
		})
	}
}

func TestQuotaWait(t *testing.T) {
	c := New(Options{QuotaBackoff: map[string]time.Duration{QuotaConcurrentRequests: time.Second}})
	for _, tc := range []struct {
		name  string
		quota string
		want  time.Duration
	}{
		{"healthy", `{"tokensPerDay":{"consumed":12,"remaining":199988},"tokensPerHour":{"consumed":12,"remaining":39988},"concurrentRequests":{"remaining":10},"serverErrorsPerProjectPerHour":{"remaining":10},"potentiallyThresholdedRequestsPerHour":{"remaining":120},"tokensPerProjectPerHour":{"consumed":12,"remaining":13988}}`, 0},
		{"project tokens at 10%", `{"tokensPerProjectPerHour":{"consumed":12,"remaining":1400}}`, 1800 * time.Second},
		{"project tokens above 10%", `{"tokensPerProjectPerHour":{"remaining":1401}}`, 0},
		{"concurrent", `{"concurrentRequests":{"remaining":1}}`, time.Second},
		{"several: longest wins", `{"concurrentRequests":{"remaining":0},"serverErrorsPerProjectPerHour":{"remaining":1}}`, 3600 * time.Second},
		{"omitted remaining is zero", `{"tokensPerHour":{"consumed":5}}`, time.Hour},
		{"unknown quota ignored", `{"tokensPerFortnight":{"remaining":0}}`, 0},
		{"360 property", `{"tokensPerDay":{"remaining":1500000}}`, 0},
	} {
		var pq map[string]quotaStatus
		if err := json.Unmarshal([]byte(tc.quota), &pq); err != nil {
			t.Fatal(err)
		}
		if got, _ := c.quotaWait(pq); got != tc.want {
			t.Errorf("%s: wait %s; want %s", tc.name, got, tc.want)
		}
	}
	// Daily tokens: until midnight Pacific.
	now := time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC) // 04:00 PST
	c = New(Options{Now: func() time.Time { return now }})
	if got, _ := c.quotaWait(map[string]quotaStatus{QuotaTokensPerDay: {Remaining: 100}}); got != 20*time.Hour {
		t.Errorf("daily wait %s; want 20h", got)
	}
}

func TestRequestShapeAndRows(t *testing.T) {
	f := newFake(t, "/prefix")
	f.report = func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/prefix/v1beta/properties/123:runReport" || r.Method != http.MethodPost ||
			r.Header.Get("Content-Type") != "application/json" || r.URL.RawQuery != "" {
			t.Errorf("request %s %s %q", r.Method, r.URL, r.Header.Get("Content-Type"))
		}
		// Columns in an unusual order, integers as decimals, the deprecated metric name.
		writeJSON(w, 200, `{"dimensionHeaders":[{"name":"sessionCampaignName"},{"name":"date"},{"name":"sessionMedium"},{"name":"sessionSource"}],
			"metricHeaders":[{"name":"totalRevenue","type":"TYPE_CURRENCY"},{"name":"conversions","type":"TYPE_INTEGER"},{"name":"sessions","type":"TYPE_INTEGER"}],
			"rows":[{"dimensionValues":[{"value":"spring_sale"},{"value":"20240101"},{"value":"cpc"},{"value":"google"}],
			         "metricValues":[{"value":"456.78"},{"value":"4.0"},{"value":"123"}]},
			        {"dimensionValues":[{"value":"(direct)"},{"value":"20240102"},{"value":"(none)"},{"value":"(direct)"}],
			         "metricValues":[{"value":"0"},{"value":"0"},{"value":"3.0"}]}],
			"rowCount":2,"metadata":{"currencyCode":"USD","timeZone":"America/New_York"},"kind":"analyticsData#runReport"}`)
	}
	c := f.client(Options{PageSize: 2})
	p, err := c.ReadSessions(context.Background(), withToken, window(t, "2024-01-01", "2024-01-02"), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []channels.SessionRow{
		{PropertyID: "123", Date: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Source: "google", Medium: "cpc", Campaign: "spring_sale",
			Sessions: 123, ConversionsMicros: 4_000_000, RevenueMicros: 456_780_000, Currency: "USD"},
		{PropertyID: "123", Date: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), Source: "(direct)", Medium: "(none)", Campaign: "(direct)",
			Sessions: 3, Currency: "USD"},
	}
	if len(p.Rows) != 2 || p.Rows[0] != want[0] || p.Rows[1] != want[1] || p.Next != "" || p.Wait != 0 {
		t.Fatalf("page = %+v", p)
	}
	b, _ := json.Marshal(f.bodies[0])
	wantBody := `{"dateRanges":[{"endDate":"2024-01-02","startDate":"2024-01-01"}],` +
		`"dimensions":[{"name":"date"},{"name":"sessionSource"},{"name":"sessionMedium"},{"name":"sessionCampaignName"}],` +
		`"keepEmptyRows":false,"limit":"2",` +
		`"metrics":[{"name":"sessions"},{"name":"keyEvents"},{"name":"totalRevenue"}],"offset":"0",` +
		`"orderBys":[{"dimension":{"dimensionName":"date"}},{"dimension":{"dimensionName":"sessionSource"}},{"dimension":{"dimensionName":"sessionMedium"}},{"dimension":{"dimensionName":"sessionCampaignName"}}],` +
		`"returnPropertyQuota":true}`
	if string(b) != wantBody {
		t.Errorf("body\n%s\nwant\n%s", b, wantBody)
	}
	if f.auths[0] != "Bearer "+testToken {
		t.Errorf("authorization %q", f.auths[0])
	}
}

func TestMalformedRows(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"fractional sessions", `{` + headers + `,"rowCount":1,"rows":[{"dimensionValues":[{"value":"20240101"},{"value":"a"},{"value":"b"},{"value":"c"}],"metricValues":[{"value":"2.5"},{"value":"1"},{"value":"1"}]}]}`, `sessions "2.5"`},
		{"bad date", `{` + headers + `,"rowCount":1,"rows":[{"dimensionValues":[{"value":"2024-01-01"},{"value":"a"},{"value":"b"},{"value":"c"}],"metricValues":[{"value":"2"},{"value":"1"},{"value":"1"}]}]}`, "YYYYMMDD"},
		{"unreadable revenue", `{` + headers + `,"rowCount":1,"rows":[{"dimensionValues":[{"value":"20240101"},{"value":"a"},{"value":"b"},{"value":"c"}],"metricValues":[{"value":"2"},{"value":"1"},{"value":"1,000.5"}]}]}`,
			`row 0 (date 20240101, source "a", medium "b", campaign "c"): totalRevenue "1,000.5"`},
		{"unreadable key events", `{` + headers + `,"rowCount":1,"rows":[{"dimensionValues":[{"value":"20240101"},{"value":"a"},{"value":"b"},{"value":"c"}],"metricValues":[{"value":"2"},{"value":"NaN"},{"value":"1"}]}]}`,
			`keyEvents "NaN"`},
		{"missing metric header", `{"dimensionHeaders":[{"name":"date"},{"name":"sessionSource"},{"name":"sessionMedium"},{"name":"sessionCampaignName"}],"metricHeaders":[{"name":"sessions"},{"name":"totalRevenue"}],"rowCount":1,"rows":[{"dimensionValues":[],"metricValues":[]}]}`, "keyEvents or conversions"},
		{"short row", `{` + headers + `,"rowCount":1,"rows":[{"dimensionValues":[{"value":"20240101"}],"metricValues":[]}]}`, "no value for sessionSource"},
	} {
		f := newFake(t, "")
		f.report = func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, tc.body) }
		_, err := f.client(Options{}).ReadSessions(context.Background(), withToken, window(t, "2024-01-01", "2024-01-01"), "")
		pe, ok := channels.AsError(err)
		if !ok || pe.Kind != channels.KindBadRequest || !strings.Contains(pe.Message, tc.want) {
			t.Errorf("%s: err = %v; want a bad request naming %s", tc.name, err, tc.want)
		}
	}
	// Corrupt JSON with a 200 is transient.
	f := newFake(t, "")
	f.report = func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"rows":[`) }
	_, err := f.client(Options{}).ReadSessions(context.Background(), withToken, window(t, "2024-01-01", "2024-01-01"), "")
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindTransient {
		t.Errorf("corrupt json: %v", err)
	}
}

func TestPaging(t *testing.T) {
	f := newFake(t, "")
	row := `{"dimensionValues":[{"value":"20240101"},{"value":"s"},{"value":"m"},{"value":"c"}],"metricValues":[{"value":"1"},{"value":"0"},{"value":"0"}]}`
	f.report = func(w http.ResponseWriter, r *http.Request) {
		var b reportRequest
		_ = json.NewDecoder(r.Body).Decode(&b)
		switch b.Offset {
		case "0", "2":
			writeJSON(w, 200, `{`+headers+`,"rowCount":5,"rows":[`+row+`,`+row+`]}`)
		default:
			// The report shrank between pages: no rows although rowCount says more.
			writeJSON(w, 200, `{`+headers+`,"rowCount":5}`)
		}
	}
	c := f.client(Options{PageSize: 2})
	req := window(t, "2024-01-01", "2024-01-01")
	var offsets []int64
	cur := ""
	for range 10 {
		p, err := c.ReadSessions(context.Background(), withToken, req, cur)
		if err != nil {
			t.Fatal(err)
		}
		if p.Next == "" {
			break
		}
		cs, err := decodeCursor(p.Next)
		if err != nil || cs.Metric != MetricKeyEvents {
			t.Fatal(cs, err)
		}
		offsets = append(offsets, cs.Offset)
		cur = p.Next
	}
	if len(offsets) != 2 || offsets[0] != 2 || offsets[1] != 4 || f.reports != 3 {
		t.Errorf("offsets %v after %d calls", offsets, f.reports)
	}
}

func TestCursorValidation(t *testing.T) {
	f := newFake(t, "")
	c := f.client(Options{})
	req := window(t, "2024-01-01", "2024-01-31")
	for _, cur := range []string{"garbage", `{"offset":-1,"metric":"keyEvents","req":"x"}`, `{"offset":1,"metric":"sessions","req":"2024-01-01..2024-01-31"}`,
		`{"offset":10,"metric":"keyEvents","req":"2024-01-01..2024-01-30"}`} {
		_, err := c.ReadSessions(context.Background(), withToken, req, cur)
		if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindBadRequest {
			t.Errorf("cursor %s: %v", cur, err)
		}
	}
	if f.reports != 0 {
		t.Errorf("%d report calls with invalid cursors", f.reports)
	}
}

func TestMetricFallback(t *testing.T) {
	f := newFake(t, "")
	f.report = func(w http.ResponseWriter, r *http.Request) {
		var b reportRequest
		_ = json.NewDecoder(r.Body).Decode(&b)
		if b.Metrics[1].Name == MetricKeyEvents {
			writeJSON(w, 400, rpc(400, "INVALID_ARGUMENT", "Field keyEvents is not a valid metric. For a list of valid dimensions and metrics, see https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema "))
			return
		}
		writeJSON(w, 200, `{"dimensionHeaders":[{"name":"date"},{"name":"sessionSource"},{"name":"sessionMedium"},{"name":"sessionCampaignName"}],
			"metricHeaders":[{"name":"sessions"},{"name":"conversions"},{"name":"totalRevenue"}],"rowCount":3,
			"rows":[{"dimensionValues":[{"value":"20240101"},{"value":"s"},{"value":"m"},{"value":"c"}],"metricValues":[{"value":"5"},{"value":"2"},{"value":"10"}]}]}`)
	}
	c := f.client(Options{PageSize: 1})
	p, err := c.ReadSessions(context.Background(), withToken, window(t, "2024-01-01", "2024-01-01"), "")
	if err != nil || len(p.Rows) != 1 || p.Rows[0].ConversionsMicros != 2_000_000 {
		t.Fatalf("page = %+v, %v", p, err)
	}
	cs, _ := decodeCursor(p.Next)
	if cs.Metric != MetricConversions || cs.Offset != 1 || f.reports != 2 {
		t.Errorf("cursor %+v after %d calls", cs, f.reports)
	}
	if _, err := c.ReadSessions(context.Background(), withToken, window(t, "2024-01-01", "2024-01-01"), p.Next); err != nil || f.reports != 3 {
		t.Errorf("second page: %v after %d calls", err, f.reports)
	}

	// A 400 about something else is returned as is.
	f2 := newFake(t, "")
	f2.report = func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 400, rpc(400, "INVALID_ARGUMENT", "Field sessionSource is not a valid dimension."))
	}
	_, err = f2.client(Options{}).ReadSessions(context.Background(), withToken, window(t, "2024-01-01", "2024-01-01"), "")
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindBadRequest || f2.reports != 1 {
		t.Errorf("err = %v after %d calls", err, f2.reports)
	}
}

func TestOAuth(t *testing.T) {
	t.Run("minted once and cached", func(t *testing.T) {
		f := newFake(t, "")
		f.token = func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			want := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {testRefresh}, "client_id": {"client-id"}, "client_secret": {testSecret}}
			if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.PostForm.Encode() != want.Encode() {
				t.Errorf("token request %s %v", r.Method, r.PostForm)
			}
			writeJSON(w, 200, `{"access_token":"`+testToken+`","expires_in":3599,"scope":"https://www.googleapis.com/auth/analytics.readonly","token_type":"Bearer"}`)
		}
		f.report = func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{`+headers+`}`) }
		c := f.client(Options{})
		for range 3 {
			info, err := c.AccountInfo(context.Background(), withRefresh)
			if err != nil || info.Currency != "EUR" || info.Timezone != "Europe/Berlin" || info.Name != "GA4 property 123" {
				t.Fatalf("info = %+v, %v", info, err)
			}
		}
		if f.mints != 1 || f.auths[2] != "Bearer "+testToken {
			t.Errorf("%d mints, auth %q", f.mints, f.auths[2])
		}
	})

	t.Run("401 refreshes once and retries once", func(t *testing.T) {
		f := newFake(t, "")
		n := 0
		f.token = func(w http.ResponseWriter, r *http.Request) {
			n++
			writeJSON(w, 200, `{"access_token":"tok-`+string(rune('0'+n))+`","expires_in":3599}`)
		}
		f.report = func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "Bearer tok-1" {
				writeJSON(w, 401, rpc(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."))
				return
			}
			writeJSON(w, 200, `{`+headers+`}`)
		}
		c := f.client(Options{})
		if _, err := c.AccountInfo(context.Background(), withRefresh); err != nil {
			t.Fatal(err)
		}
		if f.mints != 2 || f.reports != 2 {
			t.Errorf("%d mints, %d reports", f.mints, f.reports)
		}
		// The new token is cached.
		if _, err := c.AccountInfo(context.Background(), withRefresh); err != nil || f.mints != 2 {
			t.Errorf("%v, %d mints", err, f.mints)
		}
	})

	t.Run("401 twice is auth", func(t *testing.T) {
		f := newFake(t, "")
		f.report = func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 401, rpc(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."))
		}
		_, err := f.client(Options{}).AccountInfo(context.Background(), withRefresh)
		if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindAuth || f.reports != 2 || f.mints != 2 {
			t.Errorf("err = %v; %d reports, %d mints", err, f.reports, f.mints)
		}
	})

	t.Run("401 without refresh token is auth at once", func(t *testing.T) {
		f := newFake(t, "")
		f.report = func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 401, rpc(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."))
		}
		_, err := f.client(Options{}).AccountInfo(context.Background(), withToken)
		if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindAuth || f.reports != 1 || f.mints != 0 {
			t.Errorf("err = %v; %d reports, %d mints", err, f.reports, f.mints)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		f := newFake(t, "")
		f.token = func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, `{"access_token":"short","expires_in":100}`)
		}
		f.report = func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{`+headers+`}`) }
		now := time.Unix(1_700_000_000, 0)
		c := f.client(Options{Now: func() time.Time { return now }})
		for _, step := range []time.Duration{0, 49 * time.Second, time.Second} {
			now = now.Add(step)
			if _, err := c.AccountInfo(context.Background(), withRefresh); err != nil {
				t.Fatal(err)
			}
		}
		// 100 s tokens are replaced after 50 s (margin min(1 min, half the lifetime)).
		if f.mints != 2 {
			t.Errorf("%d mints; want 2", f.mints)
		}
	})

	for _, tc := range []struct {
		name   string
		status int
		body   string
		kind   channels.ErrorKind
	}{
		{"revoked", 400, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`, channels.KindAuth},
		{"other client", 400, `{"error":"unauthorized_client","error_description":"Unauthorized"}`, channels.KindAuth},
		{"bad client", 401, `{"error":"invalid_client","error_description":"The OAuth client was not found."}`, channels.KindBadRequest},
		{"down", 503, `oops`, channels.KindTransient},
		{"throttled", 429, `{"error":"rate_limit_exceeded"}`, channels.KindRateLimited},
		{"no access token", 200, `{"expires_in":3599}`, channels.KindTransient},
	} {
		t.Run("token endpoint "+tc.name, func(t *testing.T) {
			f := newFake(t, "")
			f.token = func(w http.ResponseWriter, r *http.Request) { writeJSON(w, tc.status, tc.body) }
			_, err := f.client(Options{}).ReadSessions(context.Background(), withRefresh, window(t, "2024-01-01", "2024-01-01"), "")
			if pe, ok := channels.AsError(err); !ok || pe.Kind != tc.kind || f.reports != 0 {
				t.Errorf("err = %v; want %s", err, tc.kind)
			}
		})
	}

	t.Run("no client id", func(t *testing.T) {
		c := New(Options{})
		_, err := c.AccountInfo(context.Background(), withRefresh)
		if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindBadRequest {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("no credentials", func(t *testing.T) {
		_, err := New(Options{}).AccountInfo(context.Background(), channels.Account{ID: "123"})
		if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindAuth {
			t.Errorf("err = %v", err)
		}
	})
}

func TestSecretsNeverInErrors(t *testing.T) {
	secrets := []string{testToken, testRefresh, url.QueryEscape(testRefresh), testSecret}
	check := func(name string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error", name)
			return
		}
		for _, s := range secrets {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%s: error leaks %q: %v", name, s, err)
			}
		}
	}
	echo := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		writeJSON(w, 400, rpc(400, "INVALID_ARGUMENT", "bad "+r.Header.Get("Authorization")+" "+string(b)+" "+testRefresh+" "+testSecret))
	}
	f := newFake(t, "")
	f.report = echo
	_, err := f.client(Options{}).ReadSessions(context.Background(), withRefresh, window(t, "2024-01-01", "2024-01-01"), "")
	check("echoing report", err)
	// An account without a refresh token cannot know one to scrub; its token and the client
	// secret are scrubbed.
	f.report = func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		writeJSON(w, 400, rpc(400, "INVALID_ARGUMENT", "bad "+r.Header.Get("Authorization")+" "+string(b)+" "+testSecret))
	}
	_, err = f.client(Options{}).ReadSessions(context.Background(), withToken, window(t, "2024-01-01", "2024-01-01"), "")
	check("echoing report, static token", err)

	f2 := newFake(t, "")
	f2.token = func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		writeJSON(w, 400, `{"error":"invalid_grant","error_description":"bad `+r.PostForm.Encode()+`"}`)
	}
	_, err = f2.client(Options{}).AccountInfo(context.Background(), withRefresh)
	check("echoing token endpoint", err)

	f3 := newFake(t, "")
	c := f3.client(Options{})
	f3.srv.Close()
	_, err = c.AccountInfo(context.Background(), withToken)
	check("closed server", err)
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindTransient {
		t.Errorf("closed server: %v; want transient", err)
	}
	_, err = c.AccountInfo(context.Background(), withRefresh)
	check("closed token endpoint", err)
}

func TestContextCancellation(t *testing.T) {
	f := newFake(t, "")
	f.report = func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := f.client(Options{}).ReadSessions(ctx, withToken, window(t, "2024-01-01", "2024-01-01"), "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want context.DeadlineExceeded", err)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{{BaseURL: "ftp://x"}, {BaseURL: "analyticsdata.googleapis.com"}, {TokenURL: "http://"}} {
		_, err := New(o).AccountInfo(context.Background(), withToken)
		if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindBadRequest {
			t.Errorf("%+v: %v", o, err)
		}
	}
	if c := New(Options{PageSize: 1_000_000}); c.o.PageSize != MaxPageSize {
		t.Errorf("page size %d", c.o.PageSize)
	}
	if c := New(Options{}); c.o.PageSize != DefaultPageSize || c.base.String() != DefaultBaseURL || c.tokenURL.String() != DefaultTokenURL {
		t.Errorf("defaults %+v", c.o)
	}
}
