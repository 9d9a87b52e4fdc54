package shopify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	conn "github.com/omnitrackiq/omnitrackiq/internal/channels/shopify"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/catalog"
	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
)

// testNow: 2025-03-15 03:00 UTC is still 2025-03-14 in New York.
var testNow = time.Date(2025, 3, 15, 3, 0, 0, 0, time.UTC)

const today = "2025-03-14"

type env struct {
	sb    *sandbox.Server
	srv   *httptest.Server
	c     *conn.Client
	clock *atomic.Pointer[time.Time]
}

func newEnv(t *testing.T, cfg sandbox.Config, o conn.Options) *env {
	t.Helper()
	e := &env{clock: &atomic.Pointer[time.Time]{}}
	now := testNow
	e.clock.Store(&now)
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return *e.clock.Load() }
	}
	e.sb = sandbox.New(cfg)
	mux := http.NewServeMux()
	mux.Handle("/shopify/", http.StripPrefix("/shopify", e.sb))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	o.BaseURL = e.srv.URL + "/shopify"
	e.c = conn.New(o)
	return e
}

func (e *env) advance(d time.Duration) {
	n := e.clock.Load().Add(d)
	e.clock.Store(&n)
}

var demo = channels.Account{ID: "demo-store", Token: sandbox.DefaultToken}

func readAll(t *testing.T, c *conn.Client, acct channels.Account, req channels.OrdersRequest) ([]channels.Order, []channels.OrdersPage, error) {
	t.Helper()
	var orders []channels.Order
	var pages []channels.OrdersPage
	cur := ""
	for i := 0; i < 1000; i++ {
		p, err := c.ReadOrders(context.Background(), acct, req, cur)
		if err != nil {
			return orders, pages, err
		}
		if strings.Contains(p.Next, acct.Token) {
			t.Fatalf("cursor holds the token: %s", p.Next)
		}
		pages = append(pages, p)
		orders = append(orders, p.Orders...)
		if p.Next == "" {
			return orders, pages, nil
		}
		cur = p.Next
	}
	t.Fatal("read does not end")
	return nil, nil, nil
}

// sum computes from connector output what Totals reports.
func sum(orders []channels.Order) sandbox.Totals {
	var t sandbox.Totals
	for _, o := range orders {
		t.Orders++
		if o.Test {
			t.TestOrders++
		}
		if o.CancelledAt != nil {
			t.CancelledOrders++
		}
		if len(o.Refunds) > 0 {
			t.OrdersWithRefunds++
		}
		if o.CustomerID == "" {
			t.GuestOrders++
		}
		if o.Test || o.CancelledAt != nil {
			continue
		}
		t.RevenueOrders++
		t.RevenueMicros += o.TotalMicros
		t.SubtotalMicros += o.SubtotalMicros
		t.TaxMicros += o.TaxMicros
		t.DiscountsMicros += o.DiscountsMicros
		t.RefundedMicros += o.RefundedMicros
	}
	t.NetRevenueMicros = t.RevenueMicros - t.RefundedMicros
	return t
}

func sameSums(t *testing.T, got, want sandbox.Totals) {
	t.Helper()
	want.ByUTM, want.Revenue, want.Customers, want.FirstOrders, want.RepeatOrders = nil, "", 0, 0, 0
	if !reflect.DeepEqual(got, want) {
		t.Errorf("connector sums %+v\nsandbox totals %+v", got, want)
	}
}

func TestFullReadMatchesTotals(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, conn.Options{})
	orders, pages, err := readAll(t, e.c, demo, channels.OrdersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.sb.Totals("", "")
	if err != nil {
		t.Fatal(err)
	}
	sameSums(t, sum(orders), want)
	if want.Orders < 120*20 || want.Orders > 120*60 {
		t.Errorf("%d orders over 120 days", want.Orders)
	}
	if len(pages) != (want.Orders+249)/250 {
		t.Errorf("%d pages for %d orders", len(pages), want.Orders)
	}
	seen := map[string]bool{}
	var prev time.Time
	for _, o := range orders {
		if seen[o.OrderID] {
			t.Fatalf("order %s read twice", o.OrderID)
		}
		seen[o.OrderID] = true
		if o.UpdatedAt.Before(prev) {
			t.Fatalf("order %s updated %s before the previous one %s", o.OrderID, o.UpdatedAt, prev)
		}
		prev = o.UpdatedAt
		if o.ShopDomain != sandbox.DemoShopDomain || o.Currency != "USD" || o.TotalMicros <= 0 || len(o.LineItems) == 0 || o.Name == "" {
			t.Fatalf("order = %+v", o)
		}
	}
	// Only the first call carries filters; the others only limit and page_info.
	reqs := e.sb.Requests()
	if len(reqs) != len(pages) {
		t.Fatalf("%d requests for %d pages", len(reqs), len(pages))
	}
	for i, r := range reqs {
		want := "limit,order,status"
		if i > 0 {
			want = "limit,page_info"
		}
		if strings.Join(r.Params, ",") != want || r.Status != 200 || r.Path != "/admin/api/2024-10/orders.json" {
			t.Errorf("request %d = %+v", i, r)
		}
	}
}

func TestDataShape(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, conn.Options{})
	orders, _, err := readAll(t, e.c, demo, channels.OrdersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	tot, _ := e.sb.Totals("", "")
	pct := func(n int) float64 { return float64(n) * 100 / float64(tot.Orders) }
	if p := pct(tot.TestOrders); p < 1 || p > 3.5 {
		t.Errorf("%.1f%% test orders", p)
	}
	if p := pct(tot.CancelledOrders); p < 2 || p > 4.5 {
		t.Errorf("%.1f%% cancelled orders", p)
	}
	if p := pct(tot.OrdersWithRefunds); p < 3 || p > 7 {
		t.Errorf("%.1f%% orders with refunds", p)
	}
	if tot.GuestOrders == 0 || tot.FirstOrders == 0 || tot.RepeatOrders < tot.RevenueOrders/20 {
		t.Errorf("customers: %d guest, %d first, %d repeat orders", tot.GuestOrders, tot.FirstOrders, tot.RepeatOrders)
	}

	// Orders per day in the shop's timezone: 20-60, every day of the 120.
	ny, _ := time.LoadLocation("America/New_York")
	perDay := map[string]int{}
	for _, o := range orders {
		perDay[o.CreatedAt.In(ny).Format("2006-01-02")]++
	}
	if len(perDay) != 120 {
		t.Errorf("%d days with orders", len(perDay))
	}
	for d, n := range perDay {
		if n < 20 || n > 60 {
			t.Errorf("%s: %d orders", d, n)
		}
	}
	if _, ok := perDay[today]; !ok {
		t.Error("no orders today")
	}

	// UTMs are coherent with the catalog.
	paid := map[string]map[string]bool{} // source -> campaigns
	for _, ch := range catalog.AdChannels() {
		for _, src := range ch.UTMSources {
			if paid[src] == nil {
				paid[src] = map[string]bool{}
			}
			for _, c := range ch.Campaigns {
				paid[src][c.UTMCampaign] = true
			}
		}
	}
	var viaNotesOnly, none, unpaid, paidOrders int
	for _, o := range orders {
		switch {
		case o.UTMSource == "":
			none++
			if o.UTMMedium != "" || o.UTMCampaign != "" {
				t.Errorf("order %s: partial UTMs %+v", o.OrderID, o)
			}
		case o.UTMMedium == "cpc" || o.UTMMedium == "paid_social":
			paidOrders++
			if !paid[o.UTMSource][o.UTMCampaign] {
				t.Errorf("order %s: %s / %s / %s is not a catalog campaign", o.OrderID, o.UTMSource, o.UTMMedium, o.UTMCampaign)
			}
			if o.UTMCampaign != channels.CampaignSlug(o.UTMCampaign) {
				t.Errorf("utm_campaign %q is not a slug", o.UTMCampaign)
			}
		default:
			unpaid++
		}
		if o.UTMSource != "" && !strings.Contains(o.LandingSite, "utm_source=") {
			viaNotesOnly++
		}
		for _, bad := range []string{"fbclid", "gclid", "ttclid"} {
			if strings.Contains(o.LandingSite, bad) {
				t.Fatalf("click id kept in %s", o.LandingSite)
			}
		}
	}
	if viaNotesOnly == 0 || none == 0 || unpaid == 0 || paidOrders < len(orders)/3 {
		t.Errorf("%d via notes only, %d without UTMs, %d unpaid, %d paid of %d", viaNotesOnly, none, unpaid, paidOrders, len(orders))
	}
	byKey := 0
	for _, u := range tot.ByUTM {
		byKey += u.Orders
	}
	if byKey != tot.RevenueOrders {
		t.Errorf("ByUTM counts %d orders; %d revenue orders", byKey, tot.RevenueOrders)
	}
}

func TestDeterministic(t *testing.T) {
	a := newEnv(t, sandbox.Config{}, conn.Options{})
	b := newEnv(t, sandbox.Config{}, conn.Options{})
	ta, _ := a.sb.Totals("", "")
	tb, _ := b.sb.Totals("", "")
	ja, _ := json.Marshal(ta)
	jb, _ := json.Marshal(tb)
	if !bytes.Equal(ja, jb) {
		t.Error("two sandboxes differ")
	}
	l, err := a.sb.Orders("2025-02-01")
	if err != nil || len(l) == 0 {
		t.Fatal(l, err)
	}
	oa, _ := a.sb.OrderJSON(l[0].ID)
	ob, _ := b.sb.OrderJSON(l[0].ID)
	if !bytes.Equal(oa, ob) {
		t.Error("order JSON differs")
	}
	// A day later the old orders keep their ids; the history moves on.
	a.advance(24 * time.Hour)
	l2, _ := a.sb.Orders("2025-02-01")
	if len(l2) != len(l) || l2[0].ID != l[0].ID {
		t.Error("ids changed with the clock")
	}
	if a.sb.Today() != "2025-03-15" {
		t.Errorf("today = %s", a.sb.Today())
	}
}

func TestIncrementalSyncSeesMutations(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, conn.Options{PageSize: 100})
	all, _, err := readAll(t, e.c, demo, channels.OrdersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var state time.Time
	for _, o := range all {
		if o.UpdatedAt.After(state) {
			state = o.UpdatedAt
		}
	}
	// Nothing changed: the inclusive boundary returns the newest order(s) again, no more.
	again, _, err := readAll(t, e.c, demo, channels.OrdersRequest{UpdatedMin: state})
	if err != nil {
		t.Fatal(err)
	}
	if len(again) == 0 || len(again) > 3 {
		t.Errorf("%d orders at the boundary", len(again))
	}

	old, _ := e.sb.Orders("2025-01-10")
	edited, refunded := old[3].ID, old[4].ID
	e.advance(90 * time.Minute)
	if err := e.sb.EditOrder(edited, "123.45"); err != nil {
		t.Fatal(err)
	}
	rid, err := e.sb.RefundOrder(refunded, "10.00")
	if err != nil || rid == "" {
		t.Fatal(rid, err)
	}
	if _, err := e.sb.RefundOrder(refunded, "100000.00"); err == nil {
		t.Error("refund above the order total accepted")
	}
	if err := e.sb.EditOrder("123", "1.00"); err == nil {
		t.Error("unknown order edited")
	}
	// New orders were also placed in those 90 minutes.
	next, _, err := readAll(t, e.c, demo, channels.OrdersRequest{UpdatedMin: state})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]channels.Order{}
	for _, o := range next {
		got[o.OrderID] = o
	}
	if o, ok := got[edited]; !ok || o.TotalMicros != 123_450_000 || !o.UpdatedAt.Equal(e.clock.Load().Truncate(time.Second)) {
		t.Errorf("edited order: %+v (seen %v)", o, ok)
	}
	o, ok := got[refunded]
	if !ok || len(o.Refunds) == 0 || o.Refunds[len(o.Refunds)-1].RefundID != rid || o.Refunds[len(o.Refunds)-1].AmountMicros != 10_000_000 {
		t.Errorf("refunded order: %+v (seen %v)", o, ok)
	}
	if len(next) > 100 {
		t.Errorf("incremental read returned %d orders", len(next))
	}
	// The whole store still matches the totals, mutations included.
	all, _, _ = readAll(t, e.c, demo, channels.OrdersRequest{})
	want, _ := e.sb.Totals("", "")
	sameSums(t, sum(all), want)

	e.sb.ResetMutations()
	if b, _ := e.sb.OrderJSON(edited); bytes.Contains(b, []byte(`"total_price":"123.45"`)) {
		t.Error("reset kept the edit")
	}
}

func TestCursorSurvivesRestart(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, conn.Options{PageSize: 250})
	req := channels.OrdersRequest{UpdatedMin: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)}
	p1, err := e.c.ReadOrders(context.Background(), demo, req, "")
	if err != nil || p1.Next == "" {
		t.Fatal(p1.Next, err)
	}
	// A new connector (process restart) and a new sandbox process resume from the cursor.
	e2 := newEnv(t, sandbox.Config{}, conn.Options{PageSize: 250})
	rest, _ := func() ([]channels.Order, error) {
		var out []channels.Order
		cur := p1.Next
		for cur != "" {
			p, err := e2.c.ReadOrders(context.Background(), demo, channels.OrdersRequest{}, cur)
			if err != nil {
				return nil, err
			}
			out = append(out, p.Orders...)
			cur = p.Next
		}
		return out, nil
	}()
	whole, _, err := readAll(t, e.c, demo, req)
	if err != nil {
		t.Fatal(err)
	}
	resumed := append(append([]channels.Order(nil), p1.Orders...), rest...)
	if len(resumed) != len(whole) {
		t.Fatalf("resumed read has %d orders; uninterrupted %d", len(resumed), len(whole))
	}
	for i := range whole {
		if whole[i].OrderID != resumed[i].OrderID {
			t.Fatalf("order %d: %s vs %s", i, whole[i].OrderID, resumed[i].OrderID)
		}
	}
	for _, o := range whole {
		if o.UpdatedAt.Before(req.UpdatedMin) {
			t.Fatalf("order %s updated %s, before updated_at_min", o.OrderID, o.UpdatedAt)
		}
	}
}

func TestFaultsAreClassified(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, conn.Options{})
	ctx := context.Background()
	read := func() (channels.OrdersPage, error) {
		return e.c.ReadOrders(ctx, demo, channels.OrdersRequest{UpdatedMin: testNow.Add(-time.Hour)}, "")
	}

	if err := e.sb.SetFaults(sandbox.Faults{RateLimit: &sandbox.RateLimitFault{Times: 2}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		_, err := read()
		pe, ok := channels.AsError(err)
		if !ok || pe.Kind != channels.KindRateLimited || pe.RetryAfter != time.Second || pe.HTTPStatus != 429 || !strings.Contains(pe.Message, "Exceeded 2 calls per second") {
			t.Fatalf("rate limit %d: %v", i, err)
		}
	}
	if _, err := read(); err != nil {
		t.Fatalf("after the rate limit: %v", err)
	}

	_ = e.sb.SetFaults(sandbox.Faults{ServerErrors: 1, ServerStatus: 503})
	if _, err := e.c.AccountInfo(ctx, demo); func() bool {
		pe, ok := channels.AsError(err)
		return !ok || pe.Kind != channels.KindTransient || pe.HTTPStatus != 503
	}() {
		t.Errorf("server error: %v", err)
	}

	_ = e.sb.SetFaults(sandbox.Faults{InvalidToken: true})
	_, err := read()
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindAuth || pe.Message != sandbox.InvalidTokenMessage {
		t.Errorf("invalid token: %v", err)
	}
	e.sb.ClearFaults()
	_, err = e.c.ReadOrders(ctx, channels.Account{ID: "demo-store", Token: "wrong"}, channels.OrdersRequest{}, "")
	if pe, ok := channels.AsError(err); !ok || pe.Kind != channels.KindAuth {
		t.Errorf("wrong token: %v", err)
	}

	_ = e.sb.SetFaults(sandbox.Faults{EmptyStore: true})
	orders, _, err := readAll(t, e.c, demo, channels.OrdersRequest{})
	tot, _ := e.sb.Totals("", "")
	if err != nil || len(orders) != 0 || tot.Orders != 0 {
		t.Errorf("empty store: %d orders, totals %d, %v", len(orders), tot.Orders, err)
	}
	if info, err := e.c.AccountInfo(ctx, demo); err != nil || info.Name != sandbox.DemoShopName {
		t.Errorf("empty store shop: %+v, %v", info, err)
	}

	_ = e.sb.SetFaults(sandbox.Faults{HighUsage: true})
	p, err := read()
	if err != nil || p.Wait != 2*time.Second {
		t.Errorf("high usage: wait %s, %v", p.Wait, err)
	}
	e.sb.ClearFaults()
	if p, err := read(); err != nil || p.Wait != 0 {
		t.Errorf("normal usage: wait %s, %v", p.Wait, err)
	}

	for _, bad := range []sandbox.Faults{
		{RateLimit: &sandbox.RateLimitFault{RetryAfter: "soon"}},
		{ServerErrors: -1},
		{ServerStatus: 404},
	} {
		if err := e.sb.SetFaults(bad); err == nil {
			t.Errorf("faults %+v accepted", bad)
		}
	}
}

func TestAccountInfo(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, conn.Options{})
	info, err := e.c.AccountInfo(context.Background(), channels.Account{ID: "https://demo-store.myshopify.com/", Token: sandbox.DefaultToken})
	if err != nil {
		t.Fatal(err)
	}
	if info != (channels.AccountInfo{ID: sandbox.DemoShopDomain, Name: sandbox.DemoShopName, Currency: "USD", Timezone: "America/New_York"}) {
		t.Errorf("info = %+v", info)
	}
}

// get calls the sandbox API directly.
func get(t *testing.T, e *env, pathQuery string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/shopify"+pathQuery, nil)
	req.Header.Set("X-Shopify-Access-Token", sandbox.DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestPagingRules(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, conn.Options{})
	const first = "/admin/api/2024-10/orders.json?status=any&limit=3&order=updated_at%20asc&fields=id,updated_at"
	status, h, body := get(t, e, first)
	if status != 200 {
		t.Fatal(status, body)
	}
	next, err := conn.NextPageInfo(h)
	if err != nil || next == "" {
		t.Fatal(h, err)
	}
	link := h.Get("Link")
	if !strings.HasPrefix(link, "<"+e.srv.URL+"/shopify/admin/api/2024-10/orders.json?limit=3&fields=id,updated_at&page_info=") || !strings.Contains(link, `rel="next"`) {
		t.Errorf("Link = %s", link)
	}
	var page struct {
		Orders []map[string]any `json:"orders"`
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Orders) != 3 || len(page.Orders[0]) != 2 {
		t.Fatalf("fields page = %s", body)
	}
	if h.Get("X-Shopify-Shop-Api-Call-Limit") == "" {
		t.Error("no call limit header")
	}

	// Filters next to page_info are rejected as Shopify does.
	status, _, body = get(t, e, "/admin/api/2024-10/orders.json?limit=3&status=any&page_info="+next)
	if status != 400 || !strings.Contains(body, "status cannot be passed when page_info is present") {
		t.Errorf("filter with page_info: %d %s", status, body)
	}
	status, _, body = get(t, e, "/admin/api/2024-10/orders.json?page_info=garbage")
	if status != 400 || !strings.Contains(body, "page_info") {
		t.Errorf("bad page_info: %d %s", status, body)
	}

	// Page 2 has a previous link that leads back to page 1.
	status, h, body = get(t, e, "/admin/api/2024-10/orders.json?limit=3&page_info="+next)
	if status != 200 || !strings.Contains(h.Get("Link"), `rel="previous"`) {
		t.Fatalf("page 2: %d %s %s", status, h.Get("Link"), body)
	}
	prev := ""
	for _, part := range strings.Split(h.Get("Link"), ", ") {
		if strings.Contains(part, `rel="previous"`) {
			prev = part[strings.Index(part, "page_info=")+len("page_info=") : strings.Index(part, ">")]
		}
	}
	_, _, back := get(t, e, "/admin/api/2024-10/orders.json?limit=3&fields=id,updated_at&page_info="+prev)
	var p1, p1again struct {
		Orders []struct {
			ID int64 `json:"id"`
		} `json:"orders"`
	}
	_, _, firstBody := get(t, e, first)
	_ = json.Unmarshal([]byte(firstBody), &p1)
	_ = json.Unmarshal([]byte(back), &p1again)
	if len(p1.Orders) != 3 || len(p1again.Orders) != 3 || p1.Orders[0].ID != p1again.Orders[0].ID || p1.Orders[2].ID != p1again.Orders[2].ID {
		t.Errorf("previous page %s; first page %s", back, firstBody)
	}

	// The default status is open: closed (fulfilled) and cancelled orders need status=any.
	_, _, openCount := get(t, e, "/admin/api/2024-10/orders/count.json")
	_, _, anyCount := get(t, e, "/admin/api/2024-10/orders/count.json?status=any")
	var oc, ac struct{ Count int }
	_ = json.Unmarshal([]byte(openCount), &oc)
	_ = json.Unmarshal([]byte(anyCount), &ac)
	tot, _ := e.sb.Totals("", "")
	if ac.Count != tot.Orders || oc.Count == 0 || oc.Count >= ac.Count/4 {
		t.Errorf("open %d, any %d, totals %d", oc.Count, ac.Count, tot.Orders)
	}

	// Single order and unknown paths.
	l, _ := e.sb.Orders(today)
	if status, _, body := get(t, e, "/admin/api/2024-10/orders/"+l[0].ID+".json"); status != 200 || !strings.Contains(body, `"order":{"id":`+l[0].ID) {
		t.Errorf("single order: %d %s", status, body)
	}
	if status, _, body := get(t, e, "/admin/api/2024-10/products.json"); status != 404 || body != "{\"errors\":\"Not Found\"}\n" {
		t.Errorf("unknown path: %d %q", status, body)
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/shopify/admin/api/2024-10/shop.json", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), sandbox.InvalidTokenMessage) {
		t.Errorf("no token: %d %s", resp.StatusCode, b)
	}
	for _, r := range e.sb.Requests() {
		if strings.Contains(strings.Join(r.Params, ","), "token") {
			t.Errorf("request log %+v", r)
		}
	}
}

func TestOrdersAppearAsTimePasses(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, conn.Options{})
	before, _ := e.sb.Totals(today, today)
	e.advance(-6 * time.Hour) // 21:00 New York: fewer of today's orders exist
	earlier, _ := e.sb.Totals(today, today)
	if earlier.Orders >= before.Orders || earlier.Orders == 0 {
		t.Errorf("today's orders at 21:00: %d; at 23:00: %d", earlier.Orders, before.Orders)
	}
	// Orders keep changing as time passes: the latest updated_at is never after now.
	all, _, err := readAll(t, e.c, demo, channels.OrdersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].UpdatedAt.After(all[j].UpdatedAt) })
	if all[0].UpdatedAt.After(*e.clock.Load()) {
		t.Errorf("order updated in the future: %s", all[0].UpdatedAt)
	}
}
