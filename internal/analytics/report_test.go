package analytics_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/analytics"
)

// reportFixture seeds a New York workspace with orders of several UTM tags, ads of two
// channels and three campaigns (one renamed, one without a name), sessions and customers.
func reportFixture(t *testing.T) (*fixture, string) {
	f := newFixture(t)
	ws := f.workspace("NY", "USD", "America/New_York")
	f.orders(ws,
		order{id: "1", at: utc("2024-03-01T15:00:00Z"), total: 100e6, customer: "c1", source: "facebook", medium: "paid", campaign: "Spring Sale"},
		order{id: "2", at: utc("2024-03-02T04:30:00Z"), total: 50e6, customer: "c2", source: "Facebook", campaign: "spring_sale"}, // 03-01 23:30 EST
		order{id: "3", at: utc("2024-03-02T15:00:00Z"), total: 80e6, refunded: 30e6, customer: "c3", source: "google", medium: "cpc", campaign: "brand"},
		order{id: "4", at: utc("2024-03-03T15:00:00Z"), total: 40e6, customer: "c1", source: "google", medium: "organic"},
		order{id: "5", at: utc("2024-03-03T16:00:00Z"), total: 25e6, email: "e1"},
		order{id: "6", at: utc("2024-03-03T17:00:00Z"), total: 999e6, customer: "c4", source: "facebook", test: true},
		order{id: "7", at: utc("2024-03-03T18:00:00Z"), total: 70e6, customer: "c5", currency: "EUR", source: "facebook"},
		order{id: "8", at: utc("2024-02-27T15:00:00Z"), total: 60e6, customer: "c6", source: "tiktok", campaign: "tt"},
		order{id: "9", at: utc("2024-02-28T15:00:00Z"), total: 10e6, customer: "c7", source: "facebook"},
	)
	f.customers(ws, customer{id: "c1", created: utc("2024-03-01T14:00:00Z"), ordersCount: 2})
	f.ads(ws,
		ad{channel: "meta", account: "a1", campaign: "m1", name: "Spring", date: "2024-03-01", currency: "USD",
			spend: 30e6, impressions: 1000, clicks: 50, conversions: "2.5", value: 90e6},
		ad{channel: "meta", account: "a1", campaign: "m1", name: "Spring Sale", date: "2024-03-02", currency: "USD",
			spend: 20e6, impressions: 800, clicks: 30, conversions: "1", value: 40e6},
		ad{channel: "meta", account: "a1", campaign: "m2", date: "2024-03-03", currency: "USD", spend: 5e6, impressions: 100, clicks: 2},
		ad{channel: "google_ads", account: "g1", campaign: "b1", name: "Brand", date: "2024-03-02", currency: "USD",
			spend: 15e6, impressions: 500, clicks: 25, conversions: "3", value: 60e6},
		ad{channel: "google_ads", account: "g1", campaign: "b1", name: "Brand", date: "2024-03-03", currency: "EUR", spend: 99e6},
		ad{channel: "meta", account: "a1", campaign: "m1", name: "Spring", date: "2024-02-28", currency: "USD", spend: 12e6, clicks: 3},
	)
	f.sessions(ws, session{date: "2024-03-01", source: "google", sessions: 100},
		session{date: "2024-03-03", source: "facebook", sessions: 50},
		session{date: "2024-02-28", source: "facebook", sessions: 40})
	return f, ws
}

func TestReportTotalsEqualSummary(t *testing.T) {
	f, ws := reportFixture(t)
	w := window(t, "2024-03-01", "2024-03-03")
	sum, err := f.q.Summary(f.ctx, ws, w)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Current.Orders != 5 || sum.Current.SpendMicros != 70e6 || sum.Current.NewCustomers == 0 || sum.Current.Sessions != 150 {
		t.Fatalf("fixture summary %+v does not exercise the report", sum.Current)
	}
	for _, dims := range [][]string{nil, {"day"}, {"week"}, {"month"}} {
		t.Run(strings.Join(dims, ","), func(t *testing.T) {
			res, err := f.q.Report(f.ctx, ws, analytics.ReportQuery{Metrics: analytics.MetricNames(), Dimensions: dims, Window: w, Compare: true})
			if err != nil {
				t.Fatal(err)
			}
			if res.Total != sum.Current {
				t.Errorf("total %+v, summary %+v", res.Total, sum.Current)
			}
			if res.Previous == nil || *res.Previous != sum.Previous {
				t.Errorf("previous %+v, summary %+v", res.Previous, sum.Previous)
			}
			if res.PreviousWindow != sum.PreviousWindow {
				t.Errorf("previous window %s, want %s", res.PreviousWindow, sum.PreviousWindow)
			}
			var added analytics.Totals
			for _, r := range res.Rows {
				added = add(added, r.Totals)
			}
			if added != sum.Current {
				t.Errorf("rows add up to %+v, want %+v", added, sum.Current)
			}
			if strings.Join(res.ExcludedCurrencies, ",") != "EUR" {
				t.Errorf("excluded %v, want [EUR]", res.ExcludedCurrencies)
			}
		})
	}
	res, err := f.q.Report(f.ctx, ws, analytics.ReportQuery{Metrics: []string{"revenue"}, Dimensions: []string{"day"}, Window: w})
	if err != nil {
		t.Fatal(err)
	}
	var days []string
	for _, r := range res.Rows {
		days = append(days, r.Dims[0]+"="+fmtMicros(r.RevenueMicros))
	}
	if got, want := strings.Join(days, " "), "2024-03-01=150 2024-03-02=50 2024-03-03=65"; got != want {
		t.Errorf("revenue by day %s, want %s", got, want)
	}
}

func fmtMicros(m int64) string {
	return strings.TrimSuffix(strings.TrimRight(analytics.Totals{RevenueMicros: m}.KPIs().Revenue, "0"), ".")
}

func TestReportByChannelAddsUp(t *testing.T) {
	f, ws := reportFixture(t)
	w := window(t, "2024-03-01", "2024-03-03")
	sum, err := f.q.Summary(f.ctx, ws, w)
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.q.Report(f.ctx, ws, analytics.ReportQuery{
		Metrics: []string{"revenue", "spend", "blended_roas"}, Dimensions: []string{"channel"}, Window: w, Compare: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int64{}
	var revenue, spend int64
	for _, r := range res.Rows {
		got[r.Dims[0]] = [2]int64{r.RevenueMicros, r.SpendMicros}
		revenue += r.RevenueMicros
		spend += r.SpendMicros
	}
	want := map[string][2]int64{"meta": {150e6, 55e6}, "google_ads": {50e6, 15e6}, "unattributed": {65e6, 0}}
	if len(got) != len(want) {
		t.Errorf("channels %v, want %v", got, want)
	}
	for ch, v := range want {
		if got[ch] != v {
			t.Errorf("%s: revenue, spend %v, want %v", ch, got[ch], v)
		}
	}
	if revenue != sum.Current.RevenueMicros || spend != sum.Current.SpendMicros {
		t.Errorf("rows add up to revenue %d spend %d, summary %d %d", revenue, spend, sum.Current.RevenueMicros, sum.Current.SpendMicros)
	}
	if res.Total.RevenueMicros != sum.Current.RevenueMicros || res.Total.SpendMicros != sum.Current.SpendMicros ||
		res.Total.Orders != sum.Current.Orders {
		t.Errorf("total %+v, summary %+v", res.Total, sum.Current)
	}
	if res.Previous == nil || res.Previous.RevenueMicros != sum.Previous.RevenueMicros || res.Previous.SpendMicros != sum.Previous.SpendMicros {
		t.Errorf("previous %+v, summary %+v", res.Previous, sum.Previous)
	}
	// The attribution matches the channels report.
	ch, err := f.q.Channels(f.ctx, ws, w)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ch.Channels {
		if r.Attributed.RevenueMicros != got[r.Channel][0] {
			t.Errorf("%s: report revenue %d, channels report %d", r.Channel, got[r.Channel][0], r.Attributed.RevenueMicros)
		}
	}
}

func TestReportFilters(t *testing.T) {
	f, ws := reportFixture(t)
	w := window(t, "2024-03-01", "2024-03-03")
	cases := []struct {
		name    string
		filters []analytics.ReportFilter
		orders  int64
		revenue int64
		spend   int64
	}{
		{"no filter", nil, 5, 265e6, 70e6},
		{"utm_source eq", []analytics.ReportFilter{{Field: "utm_source", Op: "eq", Values: []string{"facebook"}}}, 1, 100e6, 0},
		{"utm_source contains ignores case", []analytics.ReportFilter{{Field: "utm_source", Op: "contains", Values: []string{"FACE"}}}, 2, 150e6, 0},
		{"utm_source starts_with", []analytics.ReportFilter{{Field: "utm_source", Op: "starts_with", Values: []string{"goo"}}}, 2, 90e6, 0},
		{"utm_source neq", []analytics.ReportFilter{{Field: "utm_source", Op: "neq", Values: []string{"google"}}}, 3, 175e6, 0},
		{"utm_medium in", []analytics.ReportFilter{{Field: "utm_medium", Op: "in", Values: []string{"cpc", "paid"}}}, 2, 150e6, 0},
		{"utm_campaign not_in", []analytics.ReportFilter{{Field: "utm_campaign", Op: "not_in", Values: []string{"", "brand"}}}, 2, 150e6, 0},
		{"channel eq", []analytics.ReportFilter{{Field: "channel", Op: "eq", Values: []string{"meta"}}}, 2, 150e6, 0},
		{"SQL in a value", []analytics.ReportFilter{{Field: "utm_source", Op: "eq", Values: []string{"x'; DROP TABLE orders;--"}}}, 0, 0, 0},
		{"SQL in contains", []analytics.ReportFilter{{Field: "utm_source", Op: "contains", Values: []string{"%' OR '1'='1"}}}, 0, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := f.q.Report(f.ctx, ws, analytics.ReportQuery{Metrics: []string{"orders", "revenue"}, Filters: tc.filters, Window: w})
			if err != nil {
				t.Fatal(err)
			}
			if res.Total.Orders != tc.orders || res.Total.RevenueMicros != tc.revenue {
				t.Errorf("orders %d revenue %d, want %d %d", res.Total.Orders, res.Total.RevenueMicros, tc.orders, tc.revenue)
			}
			if len(res.Rows) != 1 || res.Rows[0].Totals != res.Total {
				t.Errorf("rows %+v, want the one row of totals %+v", res.Rows, res.Total)
			}
		})
	}
	var n int
	if err := f.pool.QueryRow(f.ctx, `SELECT count(*) FROM orders WHERE workspace_id = $1`, ws).Scan(&n); err != nil || n != 9 {
		t.Fatalf("orders after the filters: %d, %v; want 9", n, err)
	}
}

func TestReportCampaignsAndAdFilters(t *testing.T) {
	f, ws := reportFixture(t)
	w := window(t, "2024-03-01", "2024-03-03")
	res, err := f.q.Report(f.ctx, ws, analytics.ReportQuery{Metrics: []string{"spend", "clicks"}, Dimensions: []string{"campaign"}, Window: w, Compare: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.Rows {
		got = append(got, r.Dims[0]+"="+fmtMicros(r.SpendMicros))
	}
	// m1 shows its newest name; m2 has none and shows its id; the EUR row is left out.
	if g, want := strings.Join(got, " "), "Brand=15 Spring Sale=50 m2=5"; g != want {
		t.Errorf("campaigns %s, want %s", g, want)
	}
	if res.Total.SpendMicros != 70e6 || res.Previous == nil || res.Previous.SpendMicros != 12e6 {
		t.Errorf("total %d previous %+v, want 70e6 and 12e6", res.Total.SpendMicros, res.Previous)
	}

	res, err = f.q.Report(f.ctx, ws, analytics.ReportQuery{Metrics: []string{"spend"}, Dimensions: []string{"day"},
		Filters: []analytics.ReportFilter{{Field: "campaign", Op: "contains", Values: []string{"sale"}}}, Window: w})
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, r := range res.Rows {
		got = append(got, r.Dims[0]+"="+fmtMicros(r.SpendMicros))
	}
	// The filter is on the name shown, so the day m1 was still "Spring" counts too; the
	// empty day is kept.
	if g, want := strings.Join(got, " "), "2024-03-01=30 2024-03-02=20 2024-03-03=0"; g != want {
		t.Errorf("spend by day of campaigns containing sale: %s, want %s", g, want)
	}
	if res.Total.SpendMicros != 50e6 {
		t.Errorf("total spend %d, want 50e6", res.Total.SpendMicros)
	}

	res, err = f.q.Report(f.ctx, ws, analytics.ReportQuery{Metrics: []string{"spend", "revenue"}, Dimensions: []string{"week", "channel"},
		Filters: []analytics.ReportFilter{{Field: "channel", Op: "in", Values: []string{"google_ads", "tiktok"}}},
		Window:  window(t, "2024-02-26", "2024-03-03")})
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, r := range res.Rows {
		got = append(got, strings.Join(r.Dims, "/")+"="+fmtMicros(r.SpendMicros)+"/"+fmtMicros(r.RevenueMicros))
	}
	if g, want := strings.Join(got, " "), "2024-02-26/google_ads=15/50 2024-02-26/tiktok=0/60"; g != want {
		t.Errorf("by week and channel: %s, want %s", g, want)
	}
}

func TestReportIncompatible(t *testing.T) {
	f, ws := reportFixture(t)
	w := window(t, "2024-03-01", "2024-03-03")
	for _, rq := range []analytics.ReportQuery{
		{Metrics: []string{"sessions"}, Dimensions: []string{"channel"}, Window: w},
		{Metrics: []string{"new_customers"}, Filters: []analytics.ReportFilter{{Field: "channel", Op: "eq", Values: []string{"meta"}}}, Window: w},
		{Metrics: []string{"revenue"}, Dimensions: []string{"campaign"}, Window: w},
		{Metrics: []string{"spend"}, Dimensions: []string{"utm_source"}, Window: w},
		{Metrics: []string{"spend"}, Dimensions: []string{"day", "week"}, Window: w},
		{Metrics: []string{"spend"}, Filters: []analytics.ReportFilter{{Field: "channel", Op: "like", Values: []string{"x"}}}, Window: w},
	} {
		if _, err := f.q.Report(f.ctx, ws, rq); err == nil {
			t.Errorf("%+v: no error", rq)
		}
	}
	errs := analytics.ReportCompatibility([]string{"sessions", "spend", "blended_roas"}, []string{"channel"}, []string{"utm_source"})
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	want := []string{
		`metric "sessions" cannot be split by "channel": sessions have no channel`,
		`metric "sessions" cannot be filtered by "utm_source": sessions have no utm_source`,
		`metric "spend" cannot be filtered by "utm_source": ad measures have no utm_source`,
		`metric "blended_roas" cannot be filtered by "utm_source": ad measures have no utm_source`,
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("compatibility errors:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	if errors.Is(errs[0], analytics.ErrTooManyRows) {
		t.Error("a compatibility error is not ErrTooManyRows")
	}
}

func TestReportTooManyRows(t *testing.T) {
	f, ws := reportFixture(t)
	conn := f.connection(ws, "shopify", "shop.myshopify.com")
	if _, err := f.pool.Exec(f.ctx, `INSERT INTO orders (workspace_id, connection_id, shop_domain, order_id, name, created_at,
			updated_at, currency, total_micros, refunded_micros, financial_status, test, customer_id, email_sha256, utm_source)
		SELECT $1, $2, 'shop.myshopify.com', 'bulk' || n, '#' || n, '2024-03-02T15:00:00Z', '2024-03-02T15:00:00Z', 'USD',
			1000000, 0, 'paid', false, '', '', 'src' || n
		FROM generate_series(1, $3::int) n`, ws, conn, analytics.MaxReportRows); err != nil {
		t.Fatal(err)
	}
	w := window(t, "2024-03-01", "2024-03-03")
	_, err := f.q.Report(f.ctx, ws, analytics.ReportQuery{Metrics: []string{"orders"}, Dimensions: []string{"utm_source"}, Window: w})
	if !errors.Is(err, analytics.ErrTooManyRows) {
		t.Fatalf("error %v, want ErrTooManyRows", err)
	}
	// Filtered down, the same data is a report again.
	res, err := f.q.Report(f.ctx, ws, analytics.ReportQuery{Metrics: []string{"orders"}, Dimensions: []string{"utm_source"},
		Filters: []analytics.ReportFilter{{Field: "utm_source", Op: "starts_with", Values: []string{"src1000"}}}, Window: w})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 12 || res.Total.Orders != 12 { // src1000, src10000..src10009, src100000
		t.Errorf("rows %d orders %d, want 12 and 12", len(res.Rows), res.Total.Orders)
	}
}
