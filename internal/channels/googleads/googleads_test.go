package googleads

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
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/jsonx"
)

const (
	testRefresh   = "1//refresh+secret/token="
	testSecret    = "client-secret-XYZ"
	testDevToken  = "dev-token-ABC"
	testCustomer  = "1234567890"
	testStaticTok = "ya29.static-token"
)

// fake is a scripted Google Ads API plus token endpoint under a path prefix.
type fake struct {
	t      *testing.T
	srv    *httptest.Server
	prefix string

	mu         sync.Mutex
	calls      []apiCall
	tokenCalls []url.Values
	minted     int
	valid      map[string]bool
	// search answers an authenticated search call.
	search func(w http.ResponseWriter, body map[string]any)
	// token answers a token call; nil mints a token valid for an hour.
	token func(w http.ResponseWriter, form url.Values)
}

type apiCall struct {
	Path   string
	Header http.Header
	Body   map[string]any
}

func newFake(t *testing.T) *fake {
	f := &fake{t: t, prefix: "/googleads", valid: map[string]bool{testStaticTok: true}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, f.prefix)
	if path == "/token" {
		if err := r.ParseForm(); err != nil {
			f.t.Errorf("token form: %v", err)
		}
		f.mu.Lock()
		f.tokenCalls = append(f.tokenCalls, r.PostForm)
		tokenFn := f.token
		f.mu.Unlock()
		if tokenFn != nil {
			tokenFn(w, r.PostForm)
			return
		}
		f.mu.Lock()
		f.minted++
		tok := fmt.Sprintf("ya29.minted-%d", f.minted)
		f.valid[tok] = true
		f.mu.Unlock()
		writeJSON(w, 200, fmt.Sprintf(`{"access_token":%q,"expires_in":3599,"scope":"https://www.googleapis.com/auth/adwords","token_type":"Bearer"}`, tok))
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		f.t.Errorf("body is not JSON: %s", raw)
	}
	f.mu.Lock()
	f.calls = append(f.calls, apiCall{Path: path, Header: r.Header.Clone(), Body: body})
	ok := f.valid[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	search := f.search
	f.mu.Unlock()
	if !ok {
		writeJSON(w, 401, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`)
		return
	}
	search(w, body)
}

func (f *fake) client(o Options) *Client {
	o.BaseURL = f.srv.URL + f.prefix
	o.TokenURL = f.srv.URL + f.prefix + "/token"
	if o.DeveloperToken == "" {
		o.DeveloperToken = testDevToken
	}
	o.ClientID = "client-id"
	o.ClientSecret = testSecret
	return New(o)
}

func (f *fake) apiCalls() []apiCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]apiCall(nil), f.calls...)
}

func (f *fake) tokenCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tokenCalls)
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

func row(date, cost string) string {
	return fmt.Sprintf(`{"customer":{"resourceName":"customers/1234567890","currencyCode":"EUR"},
		"campaign":{"resourceName":"customers/1234567890/campaigns/111","id":"111","name":"Brand"},
		"adGroup":{"id":"222","name":"AG"},"adGroupAd":{"ad":{"id":"333","name":"Ad"}},
		"metrics":{"costMicros":%q,"impressions":"3400","clicks":"120","conversions":4.0,"conversionsValue":250.5},
		"segments":{"date":%q}}`, cost, date)
}

func TestNormalizeCustomerID(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"1234567890", "1234567890", true},
		{"123-456-7890", "1234567890", true},
		{" 123-456-7890 ", "1234567890", true},
		{"123456789", "", false},
		{"12345678901", "", false},
		{"123-456-789a", "", false},
		{"", "", false},
		{"customers/1234567890", "", false},
	} {
		got, err := NormalizeCustomerID(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("NormalizeCustomerID(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestReportQuery(t *testing.T) {
	w := window(t, "2024-01-01", "2024-01-14")
	const tail = "segments.date, metrics.cost_micros, metrics.impressions, metrics.clicks, metrics.conversions, metrics.conversions_value, customer.currency_code"
	const where = " WHERE segments.date BETWEEN '2024-01-01' AND '2024-01-14' ORDER BY segments.date ASC"
	for _, tc := range []struct {
		level channels.Level
		want  string
	}{
		{channels.LevelCampaign, "SELECT campaign.id, campaign.name, " + tail + " FROM campaign" + where},
		{channels.LevelAdSet, "SELECT campaign.id, campaign.name, ad_group.id, ad_group.name, " + tail + " FROM ad_group" + where},
		{channels.LevelAd, "SELECT campaign.id, campaign.name, ad_group.id, ad_group.name, ad_group_ad.ad.id, ad_group_ad.ad.name, " + tail + " FROM ad_group_ad" + where},
	} {
		if got := ReportQuery(tc.level, w); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.level, got, tc.want)
		}
	}
}

func adsFailure(httpCode int, status, msg, key, value, detailMsg, extra string) string {
	return fmt.Sprintf(`{"error":{"code":%d,"message":%q,"status":%q,"details":[{"@type":"type.googleapis.com/google.ads.googleads.v23.errors.GoogleAdsFailure",
		"errors":[{"errorCode":{%q:%q},"message":%q%s}],"requestId":"req-1"}]}}`, httpCode, msg, status, key, value, detailMsg, extra)
}

func TestClassifyError(t *testing.T) {
	quota := adsFailure(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", "quotaError", "RESOURCE_EXHAUSTED",
		"Too many requests. Retry in 5603 seconds.",
		`,"details":{"quotaErrorDetails":{"rateScope":"DEVELOPER","rateName":"Number of operations for basic access","retryDelay":"5603s"}}`)
	for _, tc := range []struct {
		name   string
		status int
		body   string
		kind   channels.ErrorKind
		retry  time.Duration
		msg    string
	}{
		{"quota with retryDelay", 429, quota, channels.KindRateLimited, 5603 * time.Second, "quotaError=RESOURCE_EXHAUSTED"},
		{"quota in a stream array", 429, "[" + quota + "]", channels.KindRateLimited, 5603 * time.Second, "request_id req-1"},
		{"temporarily exhausted without delay", 429, adsFailure(429, "RESOURCE_EXHAUSTED", "x", "quotaError", "RESOURCE_TEMPORARILY_EXHAUSTED", "slow down", ""), channels.KindRateLimited, 30 * time.Second, "RESOURCE_TEMPORARILY_EXHAUSTED"},
		{"RetryInfo detail", 429, `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"x","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.500s"}]}}`, channels.KindRateLimited, 1500 * time.Millisecond, ""},
		{"429 without envelope", 429, "Too Many Requests", channels.KindRateLimited, 30 * time.Second, "HTTP 429"},
		{"unauthenticated", 401, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`, channels.KindAuth, 0, "UNAUTHENTICATED"},
		{"oauth token expired", 401, adsFailure(401, "UNAUTHENTICATED", "x", "authenticationError", "OAUTH_TOKEN_EXPIRED", "expired", ""), channels.KindAuth, 0, "OAUTH_TOKEN_EXPIRED"},
		{"developer token invalid", 401, adsFailure(401, "UNAUTHENTICATED", "x", "authenticationError", "DEVELOPER_TOKEN_INVALID", "bad dev token", ""), channels.KindBadRequest, 0, "DEVELOPER_TOKEN_INVALID"},
		{"developer token missing", 400, adsFailure(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "requestError", "DEVELOPER_TOKEN_PARAMETER_MISSING", "developer-token parameter is missing.", ""), channels.KindBadRequest, 0, "developer-token parameter is missing."},
		{"developer token not approved", 403, adsFailure(403, "PERMISSION_DENIED", "x", "authorizationError", "DEVELOPER_TOKEN_NOT_APPROVED", "test token", ""), channels.KindBadRequest, 0, ""},
		{"user permission denied", 403, adsFailure(403, "PERMISSION_DENIED", "The caller does not have permission", "authorizationError", "USER_PERMISSION_DENIED", "login-customer-id", ""), channels.KindAuth, 0, "USER_PERMISSION_DENIED"},
		{"customer not enabled", 403, adsFailure(403, "PERMISSION_DENIED", "x", "authorizationError", "CUSTOMER_NOT_ENABLED", "x", ""), channels.KindAuth, 0, ""},
		{"unrecognized field", 400, adsFailure(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "queryError", "UNRECOGNIZED_FIELD", "Unrecognized field in the query: 'foo'.", ""), channels.KindBadRequest, 0, "queryError=UNRECOGNIZED_FIELD Unrecognized field in the query: 'foo'."},
		{"page size", 400, adsFailure(400, "INVALID_ARGUMENT", "x", "requestError", "PAGE_SIZE_NOT_SUPPORTED", "no page size", ""), channels.KindBadRequest, 0, ""},
		{"internal", 500, adsFailure(500, "INTERNAL", "Internal error encountered.", "internalError", "INTERNAL_ERROR", "x", ""), channels.KindTransient, 0, "INTERNAL"},
		{"internal error code on 400", 400, adsFailure(400, "INVALID_ARGUMENT", "x", "internalError", "TRANSIENT_ERROR", "x", ""), channels.KindTransient, 0, ""},
		{"unavailable", 503, `{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}`, channels.KindTransient, 0, "UNAVAILABLE"},
		{"deadline", 504, `{"error":{"code":504,"message":"Deadline","status":"DEADLINE_EXCEEDED"}}`, channels.KindTransient, 0, ""},
		{"502 html", 502, "<html>Bad Gateway</html>", channels.KindTransient, 0, "Bad Gateway"},
		{"404 html", 404, "<html>Not Found</html>", channels.KindBadRequest, 0, "HTTP 404"},
		{"not found status", 404, `{"error":{"code":404,"message":"Method not found.","status":"NOT_FOUND"}}`, channels.KindBadRequest, 0, "NOT_FOUND: Method not found."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := ClassifyError(tc.status, []byte(tc.body), 30*time.Second)
			if e.Kind != tc.kind || e.RetryAfter != tc.retry || e.HTTPStatus != tc.status || e.Channel != channels.GoogleAds {
				t.Errorf("got %+v; want kind %s retry %v", e, tc.kind, tc.retry)
			}
			if !strings.Contains(e.Message, tc.msg) {
				t.Errorf("message %q does not contain %q", e.Message, tc.msg)
			}
		})
	}
}

func TestClassifyTokenError(t *testing.T) {
	retry := http.Header{}
	retry.Set("Retry-After", "7")
	for _, tc := range []struct {
		name   string
		status int
		h      http.Header
		body   string
		kind   channels.ErrorKind
		retry  time.Duration
	}{
		{"invalid_grant", 400, nil, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`, channels.KindAuth, 0},
		{"unauthorized_client", 401, nil, `{"error":"unauthorized_client","error_description":"Unauthorized"}`, channels.KindAuth, 0},
		{"invalid_client", 401, nil, `{"error":"invalid_client","error_description":"The OAuth client was not found."}`, channels.KindBadRequest, 0},
		{"invalid_request", 400, nil, `{"error":"invalid_request","error_description":"Could not determine client ID from request."}`, channels.KindBadRequest, 0},
		{"429", 429, retry, `{"error":"rate_limit_exceeded"}`, channels.KindRateLimited, 7 * time.Second},
		{"500", 500, nil, `<html>oops</html>`, channels.KindTransient, 0},
		{"temporarily_unavailable", 400, nil, `{"error":"temporarily_unavailable"}`, channels.KindTransient, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			if h == nil {
				h = http.Header{}
			}
			e := ClassifyTokenError(tc.status, h, []byte(tc.body), 30*time.Second)
			if e.Kind != tc.kind || e.RetryAfter != tc.retry {
				t.Errorf("got %+v; want kind %s retry %v", e, tc.kind, tc.retry)
			}
		})
	}
}

func TestDecimalMicros(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true},
		{"4", 4_000_000, true},
		{"4.0", 4_000_000, true},
		{"250.5", 250_500_000, true},
		{"0.123456", 123_456, true},
		{"-1.25", -1_250_000, true},
		{"0.33333333333333331", 333_333, true},
		{"0.6666666666666666", 666_667, true},
		{"2.0000005", 2_000_001, true},
		{"-2.0000005", -2_000_001, true},
		{"1.5E-7", 0, true},
		{"2.5e-6", 3, true},
		{"1e3", 1_000_000_000, true},
		{"12345.678901234", 12_345_678_901, true},
		{"NaN", 0, false},
		{"Infinity", 0, false},
		{"1/3", 0, false},
		{"abc", 0, false},
		{"1e30", 0, false},
	} {
		got, err := decimalMicros("f", jsonx.Text(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("decimalMicros(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestReadPageWireAndPaging(t *testing.T) {
	f := newFake(t)
	f.search = func(w http.ResponseWriter, body map[string]any) {
		if strings.Contains(body["query"].(string), " FROM campaign ") {
			// Performance Max: campaign fields only.
			writeJSON(w, 200, `{"results":[{"customer":{"currencyCode":"EUR"},"campaign":{"id":"444","name":"PMax"},
				"metrics":{"costMicros":"7000000"},"segments":{"date":"2024-01-02"}}],"fieldMask":"x"}`)
			return
		}
		switch body["pageToken"] {
		case nil:
			writeJSON(w, 200, `{"results":[`+row("2024-01-01", "45670000")+`],"nextPageToken":"TOKEN-2","fieldMask":"x"}`)
		case "TOKEN-2":
			writeJSON(w, 200, `{"results":[`+row("2024-01-02", "1")+`],"fieldMask":"x"}`)
		default:
			writeJSON(w, 400, `{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"bad token"}}`)
		}
	}
	c := f.client(Options{})
	acct := channels.Account{ID: "123-456-7890", RefreshToken: testRefresh, LoginCustomerID: "987-654-3210"}
	req := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-02"), Level: channels.LevelAd}
	p1, err := c.ReadPage(context.Background(), acct, req, "")
	if err != nil {
		t.Fatal(err)
	}
	if p1.Next == "" || strings.Contains(p1.Next, testRefresh) || strings.Contains(p1.Next, "ya29") {
		t.Fatalf("cursor %q", p1.Next)
	}
	want := channels.AdRow{Channel: channels.GoogleAds, AccountID: testCustomer, CampaignID: "111", CampaignName: "Brand",
		AdSetID: "222", AdSetName: "AG", AdID: "333", AdName: "Ad", Date: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		Currency: "EUR", SpendMicros: 45_670_000, Impressions: 3400, Clicks: 120, ConversionsMicros: 4_000_000, ConversionValueMicros: 250_500_000}
	if len(p1.Rows) != 1 || p1.Rows[0] != want {
		t.Fatalf("rows %+v\nwant %+v", p1.Rows, want)
	}
	p2, err := c.ReadPage(context.Background(), acct, req, p1.Next)
	if err != nil {
		t.Fatal(err)
	}
	if p2.Next == "" || len(p2.Rows) != 1 || p2.Rows[0].SpendMicros != 1 {
		t.Fatalf("page 2 = %+v", p2)
	}
	// Then the campaigns without ad groups, at campaign level.
	p3, err := c.ReadPage(context.Background(), acct, req, p2.Next)
	if err != nil {
		t.Fatal(err)
	}
	wantPMax := channels.AdRow{Channel: channels.GoogleAds, AccountID: testCustomer, CampaignID: "444", CampaignName: "PMax",
		Date: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), Currency: "EUR", SpendMicros: 7_000_000}
	if p3.Next != "" || len(p3.Rows) != 1 || p3.Rows[0] != wantPMax {
		t.Fatalf("page 3 = %+v", p3)
	}
	calls := f.apiCalls()
	if len(calls) != 3 || f.tokenCount() != 1 {
		t.Fatalf("%d API calls, %d token calls; want 3 and 1 (token cached)", len(calls), f.tokenCount())
	}
	const types = "('SEARCH', 'DISPLAY', 'SHOPPING', 'HOTEL', 'VIDEO', 'MULTI_CHANNEL', 'DEMAND_GEN')"
	wantQueries := []string{
		"SELECT campaign.id, campaign.name, ad_group.id, ad_group.name, ad_group_ad.ad.id, ad_group_ad.ad.name, segments.date, metrics.cost_micros, metrics.impressions, metrics.clicks, metrics.conversions, metrics.conversions_value, customer.currency_code FROM ad_group_ad WHERE segments.date BETWEEN '2024-01-01' AND '2024-01-02' AND campaign.advertising_channel_type IN " + types + " ORDER BY segments.date ASC",
		"",
		"SELECT campaign.id, campaign.name, segments.date, metrics.cost_micros, metrics.impressions, metrics.clicks, metrics.conversions, metrics.conversions_value, customer.currency_code FROM campaign WHERE segments.date BETWEEN '2024-01-01' AND '2024-01-02' AND campaign.advertising_channel_type NOT IN " + types + " ORDER BY segments.date ASC",
	}
	wantQueries[1] = wantQueries[0]
	for i, call := range calls {
		if call.Path != "/v23/customers/1234567890/googleAds:search" {
			t.Errorf("call %d path %s", i, call.Path)
		}
		h := call.Header
		if h.Get("Authorization") != "Bearer ya29.minted-1" || h.Get("developer-token") != testDevToken ||
			h.Get("login-customer-id") != "9876543210" || h.Get("Content-Type") != "application/json" {
			t.Errorf("call %d headers %v", i, h)
		}
		if _, ok := call.Body["pageSize"]; ok {
			t.Errorf("call %d sends pageSize", i)
		}
		if call.Body["query"] != wantQueries[i] {
			t.Errorf("call %d query %v\nwant %s", i, call.Body["query"], wantQueries[i])
		}
	}
	if _, ok := calls[0].Body["pageToken"]; ok {
		t.Error("first call sends a pageToken")
	}
	if calls[1].Body["pageToken"] != "TOKEN-2" {
		t.Errorf("second call pageToken %v", calls[1].Body["pageToken"])
	}
	if _, ok := calls[2].Body["pageToken"]; ok {
		t.Error("the campaign-level query starts without a pageToken")
	}
	form := f.tokenCalls[0]
	if form.Get("grant_type") != "refresh_token" || form.Get("refresh_token") != testRefresh ||
		form.Get("client_id") != "client-id" || form.Get("client_secret") != testSecret {
		t.Errorf("token form %v", form)
	}

	// The cursor belongs to its request.
	other := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-03"), Level: channels.LevelAd}
	if _, err := c.ReadPage(context.Background(), acct, other, p1.Next); !isKind(err, channels.KindBadRequest) {
		t.Errorf("foreign cursor: %v", err)
	}
	if _, err := c.ReadPage(context.Background(), acct, req, "garbage"); !isKind(err, channels.KindBadRequest) {
		t.Errorf("garbage cursor: %v", err)
	}
}

func isKind(err error, k channels.ErrorKind) bool {
	pe, ok := channels.AsError(err)
	return ok && pe.Kind == k
}

func TestStaticTokenAndNoLoginHeader(t *testing.T) {
	f := newFake(t)
	f.search = func(w http.ResponseWriter, body map[string]any) {
		writeJSON(w, 200, `{"results":[{"customer":{"id":"1234567890","descriptiveName":"Shop","currencyCode":"USD","timeZone":"America/New_York"}}]}`)
	}
	c := f.client(Options{})
	info, err := c.AccountInfo(context.Background(), channels.Account{ID: testCustomer, Token: testStaticTok})
	if err != nil {
		t.Fatal(err)
	}
	if info != (channels.AccountInfo{ID: testCustomer, Name: "Shop", Currency: "USD", Timezone: "America/New_York"}) {
		t.Errorf("info %+v", info)
	}
	calls := f.apiCalls()
	if len(calls) != 1 || f.tokenCount() != 0 {
		t.Fatalf("%d calls, %d token calls", len(calls), f.tokenCount())
	}
	if _, ok := calls[0].Header["Login-Customer-Id"]; ok {
		t.Error("login-customer-id sent without a LoginCustomerID")
	}
	if calls[0].Header.Get("Authorization") != "Bearer "+testStaticTok {
		t.Errorf("authorization %q", calls[0].Header.Get("Authorization"))
	}
	if q := calls[0].Body["query"]; q != "SELECT customer.id, customer.descriptive_name, customer.currency_code, customer.time_zone FROM customer" {
		t.Errorf("query %v", q)
	}
}

func TestUnauthorizedRefreshesOnce(t *testing.T) {
	f := newFake(t)
	f.search = func(w http.ResponseWriter, body map[string]any) {
		writeJSON(w, 200, `{"results":[`+row("2024-01-01", "5")+`]}`)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c := f.client(Options{Now: func() time.Time { return now }})
	acct := channels.Account{ID: testCustomer, RefreshToken: testRefresh}
	req := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01")}
	if _, err := c.ReadPage(context.Background(), acct, req, ""); err != nil {
		t.Fatal(err)
	}
	// The server forgets the token before its expiry: one 401, one refresh, one retry.
	f.mu.Lock()
	f.valid = map[string]bool{}
	f.mu.Unlock()
	f.mu.Lock()
	f.token = func(w http.ResponseWriter, form url.Values) {
		f.minted++
		tok := fmt.Sprintf("ya29.minted-%d", f.minted)
		f.valid[tok] = true
		writeJSON(w, 200, fmt.Sprintf(`{"access_token":%q,"expires_in":3599,"token_type":"Bearer"}`, tok))
	}
	f.mu.Unlock()
	p, err := c.ReadPage(context.Background(), acct, req, "")
	if err != nil || len(p.Rows) != 1 {
		t.Fatalf("after refresh: %+v, %v", p, err)
	}
	if n := f.tokenCount(); n != 2 {
		t.Errorf("%d token calls; want 2", n)
	}
	calls := f.apiCalls()
	if got := calls[len(calls)-1].Header.Get("Authorization"); got != "Bearer ya29.minted-2" {
		t.Errorf("retry used %q", got)
	}

	// A token that is rejected again after the refresh is KindAuth, after exactly one retry.
	f.mu.Lock()
	f.token = func(w http.ResponseWriter, form url.Values) {
		writeJSON(w, 200, `{"access_token":"ya29.never-valid","expires_in":3599,"token_type":"Bearer"}`)
	}
	f.valid = map[string]bool{}
	f.mu.Unlock()
	before := len(f.apiCalls())
	_, err = c.ReadPage(context.Background(), acct, req, "")
	if !isKind(err, channels.KindAuth) {
		t.Fatalf("second 401: %v", err)
	}
	if n := len(f.apiCalls()) - before; n != 2 {
		t.Errorf("%d API calls; want 2 (call and one retry)", n)
	}

	// Without a refresh token a 401 is KindAuth at once.
	before = len(f.apiCalls())
	_, err = c.ReadPage(context.Background(), channels.Account{ID: testCustomer, Token: "ya29.dead"}, req, "")
	if !isKind(err, channels.KindAuth) || len(f.apiCalls())-before != 1 {
		t.Errorf("static token 401: %v after %d calls", err, len(f.apiCalls())-before)
	}
}

func TestTokenCacheExpiry(t *testing.T) {
	f := newFake(t)
	f.search = func(w http.ResponseWriter, body map[string]any) { writeJSON(w, 200, `{}`) }
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c := f.client(Options{Now: func() time.Time { return now }})
	acct := channels.Account{ID: testCustomer, RefreshToken: testRefresh}
	req := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01")}
	read := func() {
		t.Helper()
		if p, err := c.ReadPage(context.Background(), acct, req, ""); err != nil || len(p.Rows) != 0 || p.Next != "" {
			t.Fatalf("read: %+v, %v", p, err)
		}
	}
	read()
	now = now.Add(58 * time.Minute)
	read()
	if n := f.tokenCount(); n != 1 {
		t.Fatalf("%d token calls before expiry; want 1", n)
	}
	// 3599 s minus the one-minute margin.
	now = now.Add(time.Minute)
	read()
	if n := f.tokenCount(); n != 2 {
		t.Fatalf("%d token calls after expiry; want 2", n)
	}
	// Another refresh token gets its own access token.
	acct.RefreshToken = "another"
	read()
	if n := f.tokenCount(); n != 3 {
		t.Fatalf("%d token calls; want 3", n)
	}
}

func TestRefreshFailures(t *testing.T) {
	req := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01")}
	for _, tc := range []struct {
		name   string
		status int
		body   string
		kind   channels.ErrorKind
	}{
		{"invalid_grant", 400, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`, channels.KindAuth},
		{"invalid_client", 401, `{"error":"invalid_client","error_description":"The OAuth client was not found."}`, channels.KindBadRequest},
		{"server error", 503, `{"error":"backend_error"}`, channels.KindTransient},
		{"no access token", 200, `{"expires_in":3599}`, channels.KindTransient},
		{"bad expires_in", 200, `{"access_token":"x","expires_in":"soon"}`, channels.KindTransient},
		{"echoes secrets", 400, `{"error":"invalid_grant","error_description":"refresh ` + testRefresh + ` with ` + testSecret + ` is revoked"}`, channels.KindAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.search = func(w http.ResponseWriter, body map[string]any) { t.Error("API called without a token") }
			f.token = func(w http.ResponseWriter, form url.Values) { writeJSON(w, tc.status, tc.body) }
			c := f.client(Options{})
			_, err := c.ReadPage(context.Background(), channels.Account{ID: testCustomer, RefreshToken: testRefresh}, req, "")
			if !isKind(err, tc.kind) {
				t.Fatalf("err %v; want %s", err, tc.kind)
			}
			if s := err.Error(); strings.Contains(s, testRefresh) || strings.Contains(s, testSecret) {
				t.Errorf("error leaks a secret: %s", s)
			}
		})
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	f := newFake(t)
	f.search = func(w http.ResponseWriter, body map[string]any) {
		writeJSON(w, 403, adsFailure(403, "PERMISSION_DENIED", "x", "authorizationError", "DEVELOPER_TOKEN_PROHIBITED",
			"Developer token '"+testDevToken+"' is not allowed with project; bearer ya29.minted-1", ""))
	}
	c := f.client(Options{})
	_, err := c.ReadPage(context.Background(), channels.Account{ID: testCustomer, RefreshToken: testRefresh},
		channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01")}, "")
	if !isKind(err, channels.KindBadRequest) {
		t.Fatalf("err %v", err)
	}
	if s := err.Error(); strings.Contains(s, testDevToken) || strings.Contains(s, "ya29.minted-1") || !strings.Contains(s, httpx.Redacted) {
		t.Errorf("error leaks a secret: %s", s)
	}
}

func TestRejectedPageTokenRestartsTheRead(t *testing.T) {
	f := newFake(t)
	rejections := 1
	f.search = func(w http.ResponseWriter, body map[string]any) {
		if body["pageToken"] != nil && rejections > 0 {
			rejections--
			writeJSON(w, 400, adsFailure(400, "INVALID_ARGUMENT", "x", "requestError", "EXPIRED_PAGE_TOKEN", "Page token has expired.", ""))
			return
		}
		if body["pageToken"] == nil {
			writeJSON(w, 200, `{"results":[`+row("2024-01-01", "1")+`],"nextPageToken":"P2"}`)
			return
		}
		writeJSON(w, 200, `{"results":[`+row("2024-01-02", "2")+`]}`)
	}
	c := f.client(Options{})
	acct := channels.Account{ID: testCustomer, Token: testStaticTok}
	req := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-02")}
	p, err := c.ReadPage(context.Background(), acct, req, "")
	if err != nil {
		t.Fatal(err)
	}
	// The page token is rejected: the read starts again from the first page.
	p, err = c.ReadPage(context.Background(), acct, req, p.Next)
	if err != nil || len(p.Rows) != 1 || p.Rows[0].SpendMicros != 1 || p.Next == "" {
		t.Fatalf("restart: %+v, %v", p, err)
	}
	p, err = c.ReadPage(context.Background(), acct, req, p.Next)
	if err != nil || len(p.Rows) != 1 || p.Rows[0].SpendMicros != 2 || p.Next != "" {
		t.Fatalf("last page: %+v, %v", p, err)
	}
	// Rejected every time: the restarts are bounded.
	rejections = 1000
	cur := `{"req":"campaign:2024-01-01..2024-01-02","page_token":"P2"}`
	for i := 0; i <= MaxPageTokenRestarts; i++ {
		p, err := c.ReadPage(context.Background(), acct, req, cur)
		if err != nil {
			if i != MaxPageTokenRestarts || !isKind(err, channels.KindTransient) {
				t.Fatalf("restart %d: %v", i, err)
			}
			return
		}
		cur = p.Next
	}
	t.Fatal("restarts are not bounded")
}

func TestMalformedRows(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"cost not integer", `{"results":[` + row("2024-01-01", "1.5") + `]}`},
		{"bad date", `{"results":[` + row("01/01/2024", "1") + `]}`},
		{"conversions NaN", `{"results":[{"customer":{"currencyCode":"USD"},"campaign":{"id":"1"},"segments":{"date":"2024-01-01"},"metrics":{"conversions":"NaN"}}]}`},
		{"no campaign id", `{"results":[{"customer":{"currencyCode":"USD"},"segments":{"date":"2024-01-01"}}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.search = func(w http.ResponseWriter, body map[string]any) { writeJSON(w, 200, tc.body) }
			c := f.client(Options{})
			_, err := c.ReadPage(context.Background(), channels.Account{ID: testCustomer, Token: testStaticTok},
				channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01")}, "")
			if !isKind(err, channels.KindBadRequest) {
				t.Errorf("err %v", err)
			}
		})
	}
}

func TestMissingCurrencyAsksOnce(t *testing.T) {
	f := newFake(t)
	f.search = func(w http.ResponseWriter, body map[string]any) {
		if strings.Contains(body["query"].(string), "FROM customer") {
			writeJSON(w, 200, `{"results":[{"customer":{"id":"1234567890","currencyCode":"JPY"}}]}`)
			return
		}
		writeJSON(w, 200, `{"results":[{"campaign":{"id":"1"},"segments":{"date":"2024-01-01"},"metrics":{"costMicros":"7"}},
			{"campaign":{"id":"2"},"segments":{"date":"2024-01-01"}}]}`)
	}
	c := f.client(Options{})
	p, err := c.ReadPage(context.Background(), channels.Account{ID: testCustomer, Token: testStaticTok},
		channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01")}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rows) != 2 || p.Rows[0].Currency != "JPY" || p.Rows[1].Currency != "JPY" || p.Rows[1].SpendMicros != 0 {
		t.Errorf("rows %+v", p.Rows)
	}
	if n := len(f.apiCalls()); n != 2 {
		t.Errorf("%d calls; want 2", n)
	}
}

func TestNextPageTokenMustAdvance(t *testing.T) {
	f := newFake(t)
	f.search = func(w http.ResponseWriter, body map[string]any) {
		writeJSON(w, 200, `{"results":[`+row("2024-01-01", "1")+`],"nextPageToken":"SAME"}`)
	}
	c := f.client(Options{})
	acct := channels.Account{ID: testCustomer, Token: testStaticTok}
	req := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01")}
	p, err := c.ReadPage(context.Background(), acct, req, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadPage(context.Background(), acct, req, p.Next); !isKind(err, channels.KindTransient) {
		t.Errorf("err %v", err)
	}
}

func TestBadInputs(t *testing.T) {
	ctx := context.Background()
	req := channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01")}
	good := New(Options{BaseURL: "http://127.0.0.1:1"})
	for _, tc := range []struct {
		name string
		c    *Client
		acct channels.Account
		req  channels.ReadRequest
		kind channels.ErrorKind
	}{
		{"bad base URL", New(Options{BaseURL: "ftp://x"}), channels.Account{ID: testCustomer, Token: "t"}, req, channels.KindBadRequest},
		{"bad token URL", New(Options{TokenURL: "nope"}), channels.Account{ID: testCustomer, Token: "t"}, req, channels.KindBadRequest},
		{"bad customer", good, channels.Account{ID: "12345", Token: "t"}, req, channels.KindBadRequest},
		{"bad login customer", good, channels.Account{ID: testCustomer, Token: "t", LoginCustomerID: "x"}, req, channels.KindBadRequest},
		{"no credentials", good, channels.Account{ID: testCustomer}, req, channels.KindAuth},
		{"bad level", good, channels.Account{ID: testCustomer, Token: "t"}, channels.ReadRequest{Window: req.Window, Level: "account"}, channels.KindBadRequest},
		{"connection refused", good, channels.Account{ID: testCustomer, Token: "t"}, req, channels.KindTransient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.c.ReadPage(ctx, tc.acct, tc.req, "")
			if !isKind(err, tc.kind) {
				t.Errorf("err %v; want %s", err, tc.kind)
			}
		})
	}
}

func TestContextCancellation(t *testing.T) {
	f := newFake(t)
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	f.search = func(w http.ResponseWriter, body map[string]any) { <-block }
	c := f.client(Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.ReadPage(ctx, channels.Account{ID: testCustomer, Token: testStaticTok},
		channels.ReadRequest{Window: window(t, "2024-01-01", "2024-01-01")}, "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v", err)
	}
}
