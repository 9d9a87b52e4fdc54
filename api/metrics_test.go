package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/api"
	"github.com/omnitrackiq/omnitrackiq/internal/analytics"
	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

type adRow struct {
	channel, campaign, name, ad, date, currency string
	spend, impressions, clicks                  int64
	conversions                                 string
	value                                       int64
}

// insertAdRows writes metrics rows under a new connection of the workspace of key.
func (e *env) insertAdRows(key, workspaceID string, rows []adRow) {
	e.t.Helper()
	conn := e.connect(key, fmt.Sprint(rand.IntN(1_000_000_000)))
	for _, r := range rows {
		if r.channel == "" {
			r.channel = "meta"
		}
		_, err := e.st.Pool.Exec(context.Background(), `
			INSERT INTO ad_metrics_daily (workspace_id, connection_id, channel, account_id, campaign_id,
				campaign_name, ad_id, date, currency, spend_micros, impressions, clicks, conversions,
				conversion_value_micros)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::numeric, $14)`,
			workspaceID, conn.ID, r.channel, conn.AccountID, r.campaign, r.name, r.ad, r.date, r.currency,
			r.spend, r.impressions, r.clicks, r.conversions, r.value)
		if err != nil {
			e.t.Fatalf("insert %+v: %v", r, err)
		}
	}
}

type orderRow struct {
	id                       string
	at                       string // RFC 3339
	currency                 string
	total, refunded          int64
	test, cancelled          bool
	customer, email          string
	source, medium, campaign string
	status                   string
	lineItems                int
}

// insertOrders writes orders of shop.myshopify.com under a new connection of the workspace of key.
func (e *env) insertOrders(key, workspaceID string, rows []orderRow) {
	e.t.Helper()
	ctx := context.Background()
	conn := e.connect(key, fmt.Sprint(rand.IntN(1_000_000_000)))
	for _, o := range rows {
		if o.currency == "" {
			o.currency = "USD"
		}
		at, err := time.Parse(time.RFC3339, o.at)
		if err != nil {
			e.t.Fatal(err)
		}
		var cancelledAt *time.Time
		if o.cancelled {
			c := at.Add(time.Hour)
			cancelledAt = &c
		}
		_, err = e.st.Pool.Exec(ctx, `
			INSERT INTO orders (workspace_id, connection_id, shop_domain, order_id, name, created_at, updated_at,
				cancelled_at, currency, total_micros, refunded_micros, financial_status, test, customer_id,
				email_sha256, utm_source, utm_medium, utm_campaign)
			VALUES ($1, $2, 'shop.myshopify.com', $3, '#' || $3, $4, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			workspaceID, conn.ID, o.id, at, cancelledAt, o.currency, o.total, o.refunded, o.status, o.test,
			o.customer, o.email, o.source, o.medium, o.campaign)
		if err != nil {
			e.t.Fatalf("insert order %+v: %v", o, err)
		}
		for i := range o.lineItems {
			if _, err := e.st.Pool.Exec(ctx, `INSERT INTO order_line_items (workspace_id, shop_domain, order_id,
				line_item_id, quantity, price_micros) VALUES ($1, 'shop.myshopify.com', $2, $3, 1, 1)`,
				workspaceID, o.id, fmt.Sprint(i)); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

func (e *env) insertSessions(key, workspaceID string, days map[string]int64) {
	e.t.Helper()
	conn := e.connect(key, fmt.Sprint(rand.IntN(1_000_000_000)))
	for d, n := range days {
		if _, err := e.st.Pool.Exec(context.Background(), `INSERT INTO sessions_daily (workspace_id, connection_id,
			property_id, date, source, medium, campaign, sessions, currency) VALUES ($1, $2, 'p', $3, 'google', 'organic', '', $4, 'USD')`,
			workspaceID, conn.ID, d, n); err != nil {
			e.t.Fatal(err)
		}
	}
}

// seedMarch gives workspace one (New York, USD) a March 2024 whose KPIs are worked out by
// hand in TestMetricsSummary.
func (e *env) seedMarch() {
	e.t.Helper()
	e.insertAdRows(e.key1, e.w1.ID, []adRow{
		{"meta", "c1", "Spring", "a1", "2024-03-01", "USD", 10_000_000, 600, 2, "0.5", 20_000_000},
		{"meta", "c1", "Spring", "a2", "2024-03-31", "USD", 2_500_000, 400, 1, "2.25", 10_000_000},
		{"meta", "c2", "Euro", "a3", "2024-03-15", "EUR", 100_000_000, 0, 0, "0", 0},
		{"meta", "c1", "Spring", "a1", "2024-04-01", "USD", 77_000_000, 1, 1, "1", 1},
		{"meta", "c1", "Spring", "a1", "2024-02-15", "USD", 5_000_000, 0, 0, "0", 0},
	})
	e.insertOrders(e.key1, e.w1.ID, []orderRow{
		// 00:00 EST on March 1st, and one second before: February 29th in New York.
		{id: "o1", at: "2024-03-01T05:00:00Z", total: 30e6, customer: "c1", source: "facebook", medium: "paid_social", campaign: "Spring", lineItems: 2},
		{id: "o2", at: "2024-03-01T04:59:59Z", total: 8e6, customer: "c2"},
		// 23:59:59 EDT on March 31st, and one second later: April 1st.
		{id: "o3", at: "2024-04-01T03:59:59Z", total: 12_500_000, refunded: 2_500_000, email: "e1", status: "partially_refunded"},
		{id: "o4", at: "2024-04-01T04:00:00Z", total: 99e6, customer: "c9"},
		{id: "o5", at: "2024-03-10T15:00:00Z", total: 1000e6, customer: "c5", test: true},
		{id: "o6", at: "2024-03-11T15:00:00Z", total: 500e6, customer: "c6", cancelled: true, status: "voided"},
		{id: "o7", at: "2024-03-12T15:00:00Z", total: 40e6, customer: "c3", currency: "EUR"},
		{id: "o8", at: "2024-03-13T15:00:00Z", total: 20e6, customer: "c1", source: "email"},
		{id: "o9", at: "2024-03-14T15:00:00Z", total: 5e6, source: "Google", medium: "cpc", campaign: "brand"},
	})
	e.insertSessions(e.key1, e.w1.ID, map[string]int64{"2024-03-05": 100, "2024-03-31": 60})
}

func TestMetricsSummary(t *testing.T) {
	e := newEnv(t)
	e.seedMarch()

	var s api.Summary
	decode(t, e.do("GET", "/v1/metrics/summary?from=2024-03-01&to=2024-03-31", e.key1, ""), http.StatusOK, &s)
	if s.From != "2024-03-01" || s.To != "2024-03-31" || s.Currency != "USD" || s.Timezone != "America/New_York" ||
		s.PreviousFrom != "2024-01-30" || s.PreviousTo != "2024-02-29" || !slices.Equal(s.ExcludedCurrencies, []string{"EUR"}) {
		t.Errorf("summary header %+v", s)
	}
	wantCurrent := `{"revenue":"65.00","revenue_micros":65000000,"orders":4,"aov":"16.25","aov_micros":16250000,` +
		`"spend":"12.50","spend_micros":12500000,"blended_roas":5.2,"platform_roas":2.4,"new_customers":3,` +
		`"new_customer_cac":"4.166667","new_customer_cac_micros":4166667,"impressions":1000,"clicks":3,"ctr":0.003,` +
		`"cpc":"4.166667","cpc_micros":4166667,"conversions":"2.75","conversion_value":"30.00",` +
		`"conversion_value_micros":30000000,"sessions":160,"conversion_rate":0.025}`
	if got := mustJSON(t, s.Current); got != wantCurrent {
		t.Errorf("current\n got %s\nwant %s", got, wantCurrent)
	}
	wantPrevious := `{"revenue":"8.00","revenue_micros":8000000,"orders":1,"aov":"8.00","aov_micros":8000000,` +
		`"spend":"5.00","spend_micros":5000000,"blended_roas":1.6,"platform_roas":0,"new_customers":1,` +
		`"new_customer_cac":"5.00","new_customer_cac_micros":5000000,"impressions":0,"clicks":0,"ctr":null,` +
		`"cpc":null,"cpc_micros":null,"conversions":"0","conversion_value":"0.00","conversion_value_micros":0,` +
		`"sessions":0,"conversion_rate":null}`
	if got := mustJSON(t, s.Previous); got != wantPrevious {
		t.Errorf("previous\n got %s\nwant %s", got, wantPrevious)
	}
	// The first version's top-level ad fields are still there, for the current period.
	wantTop := `{"spend":"12.50","spend_micros":12500000,"impressions":1000,"clicks":3,"conversions":"2.75",` +
		`"conversion_value":"30.00","conversion_value_micros":30000000,"roas":2.4,"cpc":"4.166667","cpc_micros":4166667,` +
		`"cpa":4.5455,"ctr":0.003}`
	if got := mustJSON(t, s.AdMeasures); got != wantTop {
		t.Errorf("top level\n got %s\nwant %s", got, wantTop)
	}
	// One measure, one representation: the top-level cpc is the current period's.
	if *s.AdMeasures.CPC != *s.Current.CPC || *s.AdMeasures.CPCMicros != *s.Current.CPCMicros {
		t.Errorf("cpc %v/%v at the top level, %v/%v in current", *s.AdMeasures.CPC, *s.AdMeasures.CPCMicros,
			*s.Current.CPC, *s.Current.CPCMicros)
	}
	// The order history the KPIs rest on starts with the earliest order, o2 (February 29th there).
	if s.OrderHistoryFrom == nil || *s.OrderHistoryFrom != "2024-02-29" {
		t.Errorf("order_history_from %v", s.OrderHistoryFrom)
	}

	// A one-day range is inclusive and buckets by New York days.
	decode(t, e.do("GET", "/v1/metrics/summary?from=2024-03-31&to=2024-03-31", e.key1, ""), http.StatusOK, &s)
	if s.Current.Orders != 1 || s.Current.RevenueMicros != 10e6 || s.Current.SpendMicros != 2_500_000 ||
		s.Current.Sessions != 60 || s.PreviousFrom != "2024-03-30" || len(s.ExcludedCurrencies) != 0 {
		t.Errorf("one day %+v", s)
	}

	// Workspace two sees none of it: zeros in its own currency and time zone, null ratios.
	decode(t, e.do("GET", "/v1/metrics/summary?from=2024-03-01&to=2024-03-31", e.key2, ""), http.StatusOK, &s)
	if s.Currency != "USD" || s.Timezone != "UTC" || s.Current.Orders != 0 || s.SpendMicros != 0 || s.Spend != "0.00" ||
		s.ROAS != nil || s.Current.BlendedROAS != nil || s.Current.AOV != nil || s.ExcludedCurrencies == nil {
		t.Errorf("other workspace %+v", s)
	}
}

// TestMetricsSummaryMatchesSQL checks the API's ad sums against PostgreSQL's own on many rows.
func TestMetricsSummaryMatchesSQL(t *testing.T) {
	e := newEnv(t)
	r := rand.New(rand.NewPCG(1, 2))
	var rows []adRow
	for i := range 300 {
		rows = append(rows, adRow{
			channel: []string{"meta", "google_ads", "tiktok"}[i%3], campaign: fmt.Sprint("c", i%7), name: "n", ad: fmt.Sprint("a", i),
			date: fmt.Sprintf("2024-%02d-%02d", 1+i%12, 1+i%28), currency: []string{"USD", "USD", "EUR", "USD", "GBP"}[i%5],
			spend: r.Int64N(5_000_000_000), impressions: r.Int64N(1_000_000), clicks: r.Int64N(10_000),
			conversions: fmt.Sprintf("%d.%06d", r.IntN(100), r.IntN(1_000_000)), value: r.Int64N(9_000_000_000),
		})
	}
	e.insertAdRows(e.key1, e.w1.ID, rows)

	var s api.Summary
	decode(t, e.do("GET", "/v1/metrics/summary?from=2024-02-01&to=2024-11-30", e.key1, ""), http.StatusOK, &s)
	var spend, impressions, clicks, value int64
	var conversions string
	err := e.st.Pool.QueryRow(context.Background(), `
		SELECT sum(spend_micros)::bigint, sum(impressions)::bigint, sum(clicks)::bigint, sum(conversions)::text,
			sum(conversion_value_micros)::bigint
		FROM ad_metrics_daily WHERE workspace_id = $1 AND currency = 'USD' AND date >= '2024-02-01' AND date <= '2024-11-30'`,
		e.w1.ID).Scan(&spend, &impressions, &clicks, &conversions, &value)
	if err != nil {
		t.Fatal(err)
	}
	convMicros, err := money.ParseMicros(conversions)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []analytics.AdMeasures{s.AdMeasures, {
		Spend: s.Current.Spend, SpendMicros: s.Current.SpendMicros, Impressions: s.Current.Impressions, Clicks: s.Current.Clicks,
		Conversions: s.Current.Conversions, ConversionValue: s.Current.ConversionValue, ConversionValueMicros: s.Current.ConversionValueMicros,
	}} {
		if m.SpendMicros != spend || m.Impressions != impressions || m.Clicks != clicks ||
			m.ConversionValueMicros != value || m.Conversions != money.FormatDecimalMicros(convMicros) {
			t.Errorf("API %+v, SQL spend %d impressions %d clicks %d conversions %s value %d",
				m, spend, impressions, clicks, conversions, value)
		}
		if m.Spend != money.FormatMicros(spend) || m.ConversionValue != money.FormatMicros(value) {
			t.Errorf("decimal strings %q %q do not match micros", m.Spend, m.ConversionValue)
		}
	}
	if !slices.Equal(s.ExcludedCurrencies, []string{"EUR", "GBP"}) {
		t.Errorf("excluded %v", s.ExcludedCurrencies)
	}
}

func TestMetricsTimeseries(t *testing.T) {
	e := newEnv(t)
	e.seedMarch()

	var ts api.Timeseries
	decode(t, e.do("GET", "/v1/metrics/timeseries?from=2024-02-26&to=2024-03-10&granularity=week&metrics=revenue,orders,blended_roas,sessions",
		e.key1, ""), http.StatusOK, &ts)
	want := `{"from":"2024-02-26","to":"2024-03-10","granularity":"week","currency":"USD","timezone":"America/New_York",` +
		`"metrics":["revenue","orders","blended_roas","sessions"],"points":[` +
		`{"period_start":"2024-02-26","period_end":"2024-03-03","partial":false,"values":{"blended_roas":3.8,"orders":2,"revenue":"38.00","sessions":0}},` +
		`{"period_start":"2024-03-04","period_end":"2024-03-10","partial":false,"values":{"blended_roas":null,"orders":0,"revenue":"0.00","sessions":100}}` +
		`],"excluded_currencies":[]}`
	if got := mustJSON(t, ts); got != want {
		t.Errorf("weekly\n got %s\nwant %s", got, want)
	}

	// Months are calendar months; the range's ends cut the first and last.
	ts = api.Timeseries{} // decoding into a used map would merge
	decode(t, e.do("GET", "/v1/metrics/timeseries?from=2024-02-15&to=2024-04-01&granularity=month&metrics=spend_micros,orders",
		e.key1, ""), http.StatusOK, &ts)
	want = `[{"period_start":"2024-02-01","period_end":"2024-02-29","partial":true,"values":{"orders":1,"spend_micros":5000000}},` +
		`{"period_start":"2024-03-01","period_end":"2024-03-31","partial":false,"values":{"orders":4,"spend_micros":12500000}},` +
		`{"period_start":"2024-04-01","period_end":"2024-04-30","partial":true,"values":{"orders":1,"spend_micros":77000000}}]`
	if got := mustJSON(t, ts.Points); got != want || !slices.Equal(ts.ExcludedCurrencies, []string{"EUR"}) {
		t.Errorf("monthly\n got %s %v\nwant %s", got, ts.ExcludedCurrencies, want)
	}

	// Defaults: days, every metric; empty days are present.
	ts = api.Timeseries{}
	decode(t, e.do("GET", "/v1/metrics/timeseries?from=2020-01-30&to=2020-02-02", e.key1, ""), http.StatusOK, &ts)
	if ts.Granularity != "day" || !slices.Equal(ts.Metrics, analytics.MetricNames()) || len(ts.Points) != 4 ||
		ts.Points[3].PeriodStart != "2020-02-02" || len(ts.Points[0].Values) != len(analytics.MetricNames()) ||
		string(ts.Points[0].Values["revenue"]) != `"0.00"` || string(ts.Points[0].Values["aov"]) != "null" {
		t.Errorf("defaults %s", mustJSON(t, ts))
	}

	// Repeated and duplicated metrics are accepted once each.
	ts = api.Timeseries{}
	decode(t, e.do("GET", "/v1/metrics/timeseries?from=2024-03-01&to=2024-03-01&metrics=orders&metrics=orders,%20revenue",
		e.key1, ""), http.StatusOK, &ts)
	if !slices.Equal(ts.Metrics, []string{"orders", "revenue"}) || string(ts.Points[0].Values["orders"]) != "1" {
		t.Errorf("repeated metrics %s", mustJSON(t, ts))
	}

	p := problem(t, e.do("GET", "/v1/metrics/timeseries?from=2024-03-01&to=2024-03-02&metrics=revenue,profit", e.key1, ""),
		http.StatusUnprocessableEntity)
	if p.Errors[0].Field != "metrics" || !strings.Contains(p.Errors[0].Message, `"profit"`) ||
		!strings.Contains(p.Errors[0].Message, "blended_roas") {
		t.Errorf("unknown metric problem %+v", p)
	}
	p = problem(t, e.do("GET", "/v1/metrics/timeseries?from=2024-03-01&to=2024-03-02&granularity=hour&metrics=,", e.key1, ""),
		http.StatusUnprocessableEntity)
	if len(p.Errors) != 2 || p.Errors[0].Field != "granularity" || p.Errors[1].Field != "metrics" {
		t.Errorf("granularity and empty metric problem %+v", p)
	}
}

func TestMetricsChannels(t *testing.T) {
	e := newEnv(t)
	e.seedMarch()
	var rep api.ChannelReport
	decode(t, e.do("GET", "/v1/metrics/channels?from=2024-03-01&to=2024-03-31", e.key1, ""), http.StatusOK, &rep)
	type row struct {
		Channel, Spend, AttributedRevenue string
		AttributedOrders                  int64
		BlendedROAS, PlatformROAS         string
	}
	var got []row
	str := func(n *json.Number) string {
		if n == nil {
			return "null"
		}
		return string(*n)
	}
	for _, c := range rep.Channels {
		got = append(got, row{c.Channel, c.Spend, c.AttributedRevenue, c.AttributedOrders, str(c.BlendedROAS), str(c.PlatformROAS)})
	}
	want := []row{
		{"meta", "12.50", "30.00", 1, "2.4", "2.4"},
		{"google_ads", "0.00", "5.00", 1, "null", "null"}, // "Google"/"cpc": case does not matter
		{"tiktok", "0.00", "0.00", 0, "null", "null"},
		{"unattributed", "0.00", "30.00", 2, "null", "null"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("channels\n got %+v\nwant %+v", got, want)
	}
	if rep.Attribution.Model != "last_click_utm" || rep.Attribution.Default != "unattributed" ||
		!slices.Contains(rep.Attribution.Mapping["meta"].Sources, "ig") || rep.Attribution.Mapping["tiktok"].Mediums != nil ||
		!slices.Contains(rep.Attribution.Mapping["google_ads"].Mediums, "cpc") {
		t.Errorf("attribution %+v", rep.Attribution)
	}
	if rep.Currency != "USD" || rep.Timezone != "America/New_York" || !slices.Equal(rep.ExcludedCurrencies, []string{"EUR"}) {
		t.Errorf("header %+v", rep)
	}
	// The mapping is documented in the response as JSON, with null for any medium.
	rec := e.do("GET", "/v1/metrics/channels?from=2024-03-01&to=2024-03-31", e.key1, "")
	if !strings.Contains(rec.Body.String(), `"tiktok":{"utm_source":["tiktok"],"utm_medium":null}`) {
		t.Errorf("mapping JSON %s", rec.Body)
	}
}

func TestMetricsCampaigns(t *testing.T) {
	e := newEnv(t)
	e.seedMarch()
	e.insertAdRows(e.key1, e.w1.ID, []adRow{
		{"meta", "c3", "Big", "a9", "2024-03-02", "USD", 9_000_000, 0, 0, "0", 0},
		{"meta", "c1", "Spring", "a1", "2024-03-02", "USD", 1_000_000, 100, 10, "1", 2_000_000}, // another account
	})
	e.insertAdRows(e.key2, e.w2.ID, []adRow{{"meta", "c9", "Theirs", "a", "2024-03-02", "USD", 1, 1, 1, "1", 1}})

	var rep api.CampaignReport
	decode(t, e.do("GET", "/v1/metrics/campaigns?from=2024-03-01&to=2024-03-31", e.key1, ""), http.StatusOK, &rep)
	if rep.From != "2024-03-01" || rep.To != "2024-03-31" || len(rep.Campaigns) != 4 || rep.Attribution.Model != "last_click_utm" {
		t.Fatalf("report %s", mustJSON(t, rep))
	}
	spring, big, spring2, unmatched := rep.Campaigns[0], rep.Campaigns[1], rep.Campaigns[2], rep.Campaigns[3]
	// Both "Spring" campaigns match utm_campaign=Spring; the one with more spend is credited.
	if spring.CampaignID != "c1" || spring.SpendMicros != 12_500_000 || spring.AttributedOrders != 1 ||
		spring.AttributedRevenue != "30.00" || *spring.BlendedROAS != "2.4" || spring.Unmatched || spring.Currency != "USD" {
		t.Errorf("spring %+v", spring)
	}
	if big.CampaignID != "c3" || big.Spend != "9.00" || big.CTR != nil || big.CPC != nil || big.AttributedOrders != 0 ||
		*big.BlendedROAS != "0" || big.Channel != "meta" {
		t.Errorf("big %+v", big)
	}
	if spring2.CampaignID != "c1" || spring2.AccountID == spring.AccountID || spring2.AttributedOrders != 0 ||
		*spring2.CPC != "0.10" || *spring2.CPCMicros != 100_000 || *spring2.CTR != "0.1" || *spring2.ROAS != "2" {
		t.Errorf("second spring %+v", spring2)
	}
	if !unmatched.Unmatched || unmatched.Channel != "google_ads" || unmatched.UTMCampaign != "brand" ||
		unmatched.CampaignID != "" || unmatched.AttributedRevenueMicros != 5e6 || unmatched.BlendedROAS != nil || unmatched.SpendMicros != 0 {
		t.Errorf("unmatched %+v", unmatched)
	}

	var empty api.CampaignReport
	rec := e.do("GET", "/v1/metrics/campaigns?from=2020-01-01&to=2020-01-02", e.key1, "")
	decode(t, rec, http.StatusOK, &empty)
	if empty.Campaigns == nil || len(empty.Campaigns) != 0 {
		t.Fatalf("empty report %s", rec.Body)
	}
}

func TestMetricsRejects(t *testing.T) {
	e := newEnv(t)
	decode(t, e.do("GET", "/v1/metrics/summary?from=2021-01-01&to=2023-12-31", e.key1, ""), http.StatusOK, &api.Summary{})
	cases := []struct {
		name, query, field string
	}{
		{"no parameters", "", "from"},
		{"missing to", "?from=2024-01-01", "to"},
		{"missing from", "?to=2024-01-01", "from"},
		{"bad from", "?from=2024-1-1&to=2024-01-02", "from"},
		{"bad to", "?from=2024-01-01&to=tomorrow", "to"},
		{"impossible date", "?from=2024-02-30&to=2024-03-01", "from"},
		{"from after to", "?from=2024-02-01&to=2024-01-01", "from"},
		{"three years", "?from=2021-01-01&to=2024-01-01", "to"},
		{"year 0", "?from=0000-01-01&to=0000-01-02", "from"},
		{"before 1970", "?from=1969-12-31&to=1970-01-02", "from"},
	}
	for _, tc := range cases {
		for _, path := range []string{"/v1/metrics/summary", "/v1/metrics/campaigns", "/v1/metrics/channels", "/v1/metrics/timeseries", "/v1/orders"} {
			t.Run(tc.name+path, func(t *testing.T) {
				e.writesNothing(t, func() {
					p := problem(t, e.do("GET", path+tc.query, e.key1, ""), http.StatusUnprocessableEntity)
					if p.Errors[0].Field != tc.field {
						t.Errorf("errors %+v, want the first on %q", p.Errors, tc.field)
					}
				})
			})
		}
	}
	for _, path := range []string{"/v1/metrics/timeseries", "/v1/metrics/channels", "/v1/orders"} {
		problem(t, e.do("GET", path+"?from=2024-01-01&to=2024-01-02", "", ""), http.StatusUnauthorized)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
