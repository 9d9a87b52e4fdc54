package shopify

import (
	"context"
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
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
)

const testToken = "shpat_secret_token_123"

var testAcct = channels.Account{ID: "demo-store", Token: testToken}

// fake is a scripted Admin API: each handler sees the request; calls are recorded.
type fake struct {
	t     *testing.T
	srv   *httptest.Server
	mu    sync.Mutex
	reqs  []*http.Request
	route map[string]http.HandlerFunc
}

func newFake(t *testing.T) *fake {
	f := &fake{t: t, route: map[string]http.HandlerFunc{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.reqs = append(f.reqs, r.Clone(context.Background()))
		h := f.route[r.URL.Path]
		f.mu.Unlock()
		if h == nil {
			writeJSON(w, 404, `{"errors":"Not Found"}`)
			return
		}
		h(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) handle(path string, h http.HandlerFunc) {
	f.mu.Lock()
	f.route[path] = h
	f.mu.Unlock()
}

func (f *fake) client(o Options) *Client {
	o.BaseURL = f.srv.URL + "/pre"
	return New(o)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

const minimalOrder = `{"id":%d,"created_at":"2024-01-10T11:00:00-05:00","updated_at":"2024-01-10T11:05:00-05:00","total_price":"1.00","currency":"USD"}`

func TestReadOrdersPaging(t *testing.T) {
	f := newFake(t)
	f.handle("/pre/admin/api/2024-10/orders.json", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Shopify-Access-Token") != testToken {
			t.Errorf("token header = %q", r.Header.Get("X-Shopify-Access-Token"))
		}
		q := r.URL.Query()
		switch q.Get("page_info") {
		case "":
			// The documented encoding of the first call: %20 in order, RFC 3339 UTC.
			if !strings.Contains(r.URL.RawQuery, "order=updated_at%20asc") {
				t.Errorf("raw query = %s", r.URL.RawQuery)
			}
			want := url.Values{"status": {"any"}, "limit": {"250"}, "order": {"updated_at asc"}, "updated_at_min": {"2024-01-01T05:00:00Z"}}
			if q.Encode() != want.Encode() {
				t.Errorf("first query = %v; want %v", q, want)
			}
			w.Header().Set("Link", `<https://demo-store.myshopify.com/admin/api/2024-10/orders.json?limit=250&fields=id,name&page_info=p2>; rel="next"`)
			w.Header().Set(CallLimitHeader, "3/40")
			writeJSON(w, 200, `{"orders":[`+strings.ReplaceAll(minimalOrder, "%d", "1")+`,`+strings.ReplaceAll(minimalOrder, "%d", "2")+`]}`)
		case "p2":
			if len(q) != 2 || q.Get("limit") != "250" {
				t.Errorf("second query = %v; want only limit and page_info", q)
			}
			w.Header().Set("Link", `<https://x/admin/api/2024-10/orders.json?limit=250&page_info=p1>; rel="previous", <https://x/admin/api/2024-10/orders.json?limit=250&page_info=p3>; rel="next"`)
			w.Header().Set(CallLimitHeader, "39/40")
			writeJSON(w, 200, `{"orders":[`+strings.ReplaceAll(minimalOrder, "%d", "3")+`]}`)
		case "p3":
			w.Header().Set("Link", `<https://x/admin/api/2024-10/orders.json?limit=250&page_info=p2>; rel="previous"`)
			writeJSON(w, 200, `{"orders":[`+strings.ReplaceAll(minimalOrder, "%d", "4")+`]}`)
		default:
			t.Errorf("unexpected page_info %q", q.Get("page_info"))
		}
	})
	c := f.client(Options{})
	ny := time.FixedZone("EST", -5*3600)
	req := channels.OrdersRequest{UpdatedMin: time.Date(2024, 1, 1, 0, 0, 0, 900, ny)}
	var ids []string
	var waits []time.Duration
	cur := ""
	for i := 0; ; i++ {
		p, err := c.ReadOrders(context.Background(), testAcct, req, cur)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range p.Orders {
			ids = append(ids, o.OrderID)
			if o.ShopDomain != "demo-store.myshopify.com" {
				t.Errorf("shop = %q", o.ShopDomain)
			}
		}
		waits = append(waits, p.Wait)
		if p.Next == "" {
			break
		}
		if strings.Contains(p.Next, testToken) {
			t.Fatal("cursor holds the token")
		}
		cur = p.Next
	}
	if strings.Join(ids, ",") != "1,2,3,4" {
		t.Errorf("ids = %v", ids)
	}
	// 39/40 is above 80%: (39-32)/2 = 3.5 s to leak back.
	if waits[0] != 0 || waits[1] != 3500*time.Millisecond || waits[2] != 0 {
		t.Errorf("waits = %v", waits)
	}
}

func TestShopHostIsTheAccount(t *testing.T) {
	var got []string
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = append(got, r.URL.Scheme+"://"+r.URL.Host+r.URL.Path)
		body := `{"shop":{"name":"Demo","currency":"USD","iana_timezone":"America/New_York"}}`
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	})
	c := New(Options{HTTPClient: &http.Client{Transport: rt}, APIVersion: "2025-01"})
	for _, id := range []string{"demo-store", "https://Demo-Store.myshopify.com/"} {
		info, err := c.AccountInfo(context.Background(), channels.Account{ID: id, Token: "t"})
		if err != nil {
			t.Fatal(err)
		}
		if info != (channels.AccountInfo{ID: "demo-store.myshopify.com", Name: "Demo", Currency: "USD", Timezone: "America/New_York"}) {
			t.Errorf("info = %+v", info)
		}
	}
	for _, u := range got {
		if u != "https://demo-store.myshopify.com/admin/api/2025-01/shop.json" {
			t.Errorf("called %s", u)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNormalizeShopDomain(t *testing.T) {
	for _, in := range []string{"demo-store", "demo-store.myshopify.com", "https://demo-store.myshopify.com/", " Demo-Store ", "http://demo-store.myshopify.com"} {
		if got, err := NormalizeShopDomain(in); err != nil || got != "demo-store.myshopify.com" {
			t.Errorf("NormalizeShopDomain(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-demo", "demo_store", "demo.store", "shop.example.com", "demo-store.myshopify.com/admin",
		"https://demo-store.myshopify.com:8443", "user@demo-store.myshopify.com", "demo-store.myshopify.com.evil.com",
		"https://evil.com/.myshopify.com", "demo store", "démo", ".myshopify.com", "ftp://demo-store.myshopify.com",
		"https://demo-store.myshopify.com//", strings.Repeat("a", 64)} {
		if got, err := NormalizeShopDomain(in); err == nil {
			t.Errorf("NormalizeShopDomain(%q) = %q; want an error", in, got)
		}
	}
}

func TestClassifyError(t *testing.T) {
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	for _, tc := range []struct {
		status int
		h      http.Header
		body   string
		kind   channels.ErrorKind
		retry  time.Duration
		msg    string
	}{
		{429, h("Retry-After", "2.0"), `{"errors":"Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}`, channels.KindRateLimited, 2 * time.Second, "Exceeded 2 calls per second"},
		{429, h("Retry-After", "1.5"), `{"errors":"x"}`, channels.KindRateLimited, 1500 * time.Millisecond, "x"},
		{429, h(), ``, channels.KindRateLimited, DefaultRateLimitBackoff, "(empty body)"},
		{429, h("Retry-After", "soon"), `{}`, channels.KindRateLimited, DefaultRateLimitBackoff, "{}"},
		{401, h(), `{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}`, channels.KindAuth, 0, "[API] Invalid API key"},
		{402, h(), `{"errors":"Unavailable Shop"}`, channels.KindUnavailable, 0, "shop frozen (unpaid Shopify bill): Unavailable Shop"},
		{403, h(), `{"errors":"[API] This action requires merchant approval for read_orders scope."}`, channels.KindAuth, 0, "read_orders"},
		{423, h(), `{"errors":"This shop is unavailable"}`, channels.KindUnavailable, 0, "shop locked: This shop is unavailable"},
		{404, h(), `{"errors":"Not Found"}`, channels.KindBadRequest, 0, "Not Found"},
		{422, h(), `{"errors":{"updated_at_min":["is invalid","is too old"],"limit":["must be a number"]}}`, channels.KindBadRequest, 0, "limit: must be a number; updated_at_min: is invalid, is too old"},
		{400, h(), `{"errors":{"status":"status cannot be passed when page_info is present."}}`, channels.KindBadRequest, 0, "status: status cannot be passed"},
		{400, h(), `{"errors":["a","b"]}`, channels.KindBadRequest, 0, "a, b"},
		{400, h(), `{"error":"invalid_request","error_description":"bad"}`, channels.KindBadRequest, 0, "invalid_request: bad"},
		{500, h(), `{"errors":"Internal Server Error"}`, channels.KindTransient, 0, "Internal Server Error"},
		{503, h("Retry-After", "30"), `<html>down</html>`, channels.KindTransient, 30 * time.Second, "<html>down</html>"},
		{408, h(), ``, channels.KindTransient, 0, ""},
		{302, h("Location", "https://other.example/login?token=abc"), ``, channels.KindBadRequest, 0, "https://other.example/login"},
	} {
		e := ClassifyError(tc.status, tc.h, []byte(tc.body))
		if e.Kind != tc.kind || e.RetryAfter != tc.retry || e.HTTPStatus != tc.status || e.Channel != channels.Shopify || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("HTTP %d %s: got %v (kind %s, retry %s, message %q)", tc.status, tc.body, e, e.Kind, e.RetryAfter, e.Message)
		}
		if strings.Contains(e.Message, "token=abc") {
			t.Errorf("HTTP %d: message keeps the redirect query: %s", tc.status, e.Message)
		}
	}
}

func TestCallLimitWait(t *testing.T) {
	for _, tc := range []struct {
		header string
		ok     bool
		wait   time.Duration
	}{
		{"", false, 0},
		{"32", false, 0},
		{"x/40", false, 0},
		{"1/0", false, 0},
		{"1/40", true, 0},
		{"32/40", true, 0},
		{"33/40", true, time.Second},
		{"36/40", true, 2 * time.Second},
		{"40/40", true, 4 * time.Second},
		{"400/400", true, 4 * time.Second},
		{" 321 / 400 ", true, time.Second},
	} {
		l, ok := ParseCallLimit(http.Header{CallLimitHeader: {tc.header}})
		if ok != tc.ok || l.Wait() != tc.wait {
			t.Errorf("%q: ok %v, wait %s; want %v, %s", tc.header, ok, l.Wait(), tc.ok, tc.wait)
		}
	}
}

func TestNextPageInfo(t *testing.T) {
	for _, tc := range []struct {
		link, want string
		err        bool
	}{
		{"", "", false},
		{`<https://s.myshopify.com/admin/api/2024-10/orders.json?limit=250&page_info=abc>; rel="previous"`, "", false},
		{`<https://s/o.json?limit=5&fields=id,name,total_price&page_info=eyJ9>; rel="next"`, "eyJ9", false},
		{`<https://s/o.json?page_info=prev>; rel="previous", <https://s/o.json?fields=a,b&page_info=nxt>; rel=next`, "nxt", false},
		{`<https://s/o.json?page_info=x>; rel="next last"`, "x", false},
		{`<https://s/o.json?limit=5>; rel="next"`, "", true},
	} {
		got, err := NextPageInfo(http.Header{"Link": {tc.link}})
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%s: %q, %v; want %q (error %v)", tc.link, got, err, tc.want, tc.err)
		}
	}
}

func TestErrorsAreClassifiedAndScrubbed(t *testing.T) {
	f := newFake(t)
	f.handle("/pre/admin/api/2024-10/shop.json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, `{"errors":"bad token `+r.Header.Get("X-Shopify-Access-Token")+`"}`)
	})
	f.handle("/pre/admin/api/2024-10/orders.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1.0")
		writeJSON(w, 429, `{"errors":"Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}`)
	})
	c := f.client(Options{})
	_, err := c.AccountInfo(context.Background(), testAcct)
	pe, ok := channels.AsError(err)
	if !ok || pe.Kind != channels.KindAuth || strings.Contains(err.Error(), testToken) || !strings.Contains(err.Error(), httpx.Redacted) {
		t.Errorf("echoed token: %v", err)
	}
	_, err = c.ReadOrders(context.Background(), testAcct, channels.OrdersRequest{}, "")
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindRateLimited || pe.RetryAfter != time.Second {
		t.Errorf("429: %v", err)
	}

	// Transport failure and timeout: no URL, no query, no token.
	f2 := newFake(t)
	f2.handle("/pre/admin/api/2024-10/orders.json", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	c2 := f2.client(Options{HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}})
	_, err = c2.ReadOrders(context.Background(), testAcct, channels.OrdersRequest{}, "cursor-x")
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindTransient || strings.Contains(err.Error(), "cursor-x") || strings.Contains(err.Error(), testToken) {
		t.Errorf("timeout: %v", err)
	}
	f2.srv.Close()
	_, err = c2.ReadOrders(context.Background(), testAcct, channels.OrdersRequest{}, "")
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindTransient || strings.Contains(err.Error(), "status=any") {
		t.Errorf("closed server: %v", err)
	}

	// Context cancellation is reported as such.
	f3 := newFake(t)
	f3.handle("/pre/admin/api/2024-10/shop.json", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err = f3.client(Options{}).AccountInfo(ctx, testAcct)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled: %v", err)
	}

	// 200 with corrupt JSON or without the orders array: transient.
	f4 := newFake(t)
	f4.handle("/pre/admin/api/2024-10/orders.json", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page_info") == "" {
			writeJSON(w, 200, `{"orders":[`)
			return
		}
		writeJSON(w, 200, `{"order":{}}`)
	})
	for _, cur := range []string{"", "p"} {
		_, err = f4.client(Options{}).ReadOrders(context.Background(), testAcct, channels.OrdersRequest{}, cur)
		if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindTransient {
			t.Errorf("bad 200 (cursor %q): %v", cur, err)
		}
	}

	// A malformed order is a bad request naming the order and the field.
	f5 := newFake(t)
	f5.handle("/pre/admin/api/2024-10/orders.json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"orders":[{"id":77,"created_at":"2024-01-10T11:00:00Z","updated_at":"2024-01-10T11:00:00Z","total_price":"12.3.4"}]}`)
	})
	_, err = f5.client(Options{}).ReadOrders(context.Background(), testAcct, channels.OrdersRequest{}, "")
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindBadRequest || !strings.Contains(pe.Message, "order 77") || !strings.Contains(pe.Message, "total_price") {
		t.Errorf("malformed order: %v", err)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	other := newFake(t)
	other.handle("/steal", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"orders":[]}`) })
	f := newFake(t)
	f.handle("/pre/admin/api/2024-10/orders.json", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.srv.URL+"/steal?x=1", http.StatusFound)
	})
	_, err := f.client(Options{}).ReadOrders(context.Background(), testAcct, channels.OrdersRequest{}, "")
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindBadRequest || pe.HTTPStatus != 302 {
		t.Errorf("redirect: %v", err)
	}
	if len(other.reqs) != 0 {
		t.Error("the redirect was followed with the token")
	}
}

func TestBadInputs(t *testing.T) {
	f := newFake(t)
	for _, o := range []Options{{BaseURL: "ftp://x"}, {BaseURL: "http://"}, {BaseURL: "::"}, {APIVersion: "../x"}, {PageSize: 251}} {
		c := New(o)
		if _, err := c.AccountInfo(context.Background(), testAcct); err == nil {
			t.Errorf("options %+v accepted", o)
		} else if pe, _ := channels.AsError(err); pe == nil || pe.Kind != channels.KindBadRequest {
			t.Errorf("options %+v: %v; want bad request", o, err)
		}
	}
	c := f.client(Options{})
	if _, err := c.AccountInfo(context.Background(), channels.Account{ID: "evil.com/x", Token: "t"}); err == nil {
		t.Error("bad shop accepted")
	}
	_, err := c.AccountInfo(context.Background(), channels.Account{ID: "demo"})
	if pe, _ := channels.AsError(err); pe == nil || pe.Kind != channels.KindAuth {
		t.Errorf("no token: %v", err)
	}
	for _, cur := range []string{"a b", "x\n", strings.Repeat("x", maxCursorLen+1), "abc" + testToken} {
		_, err := c.ReadOrders(context.Background(), testAcct, channels.OrdersRequest{}, cur)
		if pe, _ := channels.AsError(err); pe == nil || pe.Kind != channels.KindBadRequest || strings.Contains(err.Error(), testToken) {
			t.Errorf("cursor %q: %v", cur[:min(len(cur), 10)], err)
		}
	}
	if len(f.reqs) != 0 {
		t.Errorf("%d calls made with bad inputs", len(f.reqs))
	}
}
