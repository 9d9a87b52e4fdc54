package reporting_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitrackiq/omnitrackiq/internal/analytics"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/report"
	"github.com/omnitrackiq/omnitrackiq/internal/reporting"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

// seed makes a Berlin workspace in EUR with orders, ads of two channels (and one USD ad
// row), sessions and a returning customer, and returns its id.
func seed(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	var ws, shop, meta, google, ga string
	if err := pool.QueryRow(ctx, `INSERT INTO workspaces (name, currency, timezone) VALUES ('Acme', 'EUR', 'Europe/Berlin') RETURNING id`).Scan(&ws); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id      *string
		channel string
	}{{&shop, "shopify"}, {&meta, "meta"}, {&google, "google_ads"}, {&ga, "ga4"}} {
		if err := pool.QueryRow(ctx, `INSERT INTO connections (workspace_id, channel, external_account_id, token_ciphertext)
			VALUES ($1, $2, 'acct', '\x00') RETURNING id`, ws, c.channel).Scan(c.id); err != nil {
			t.Fatal(err)
		}
	}
	type o struct {
		id, at, customer, source, medium string
		total, refunded                  int64
	}
	for _, r := range []o{
		{"1", "2026-11-02T10:00:00Z", "c1", "facebook", "paid", 120_500000, 0},
		{"2", "2026-11-02T23:30:00Z", "c2", "google", "cpc", 80_000000, 10_000000}, // 00:30 on the 3rd in Berlin
		{"3", "2026-11-04T09:00:00Z", "c1", "", "", 33_330000, 0},
		{"4", "2026-11-05T09:00:00Z", "c3", "tiktok", "", 45_000000, 0},
		{"5", "2026-11-07T09:00:00Z", "c4", "facebook", "", 99_990000, 0},
		{"6", "2026-10-30T09:00:00Z", "c5", "facebook", "", 50_000000, 0},
	} {
		exec(`INSERT INTO orders (workspace_id, connection_id, shop_domain, order_id, name, created_at, updated_at,
				currency, total_micros, refunded_micros, financial_status, test, customer_id, email_sha256, utm_source, utm_medium, utm_campaign)
			VALUES ($1, $2, 's.myshopify.com', $3, '#' || $3, $4, $4, 'EUR', $5, $6, 'paid', false, $7, '', $8, $9, '')`,
			ws, shop, r.id, r.at, r.total, r.refunded, r.customer, r.source, r.medium)
	}
	exec(`INSERT INTO customers (workspace_id, connection_id, shop_domain, customer_id, email_sha256, created_at, updated_at, orders_count)
		VALUES ($1, $2, 's.myshopify.com', 'c3', '', '2020-01-01', '2020-01-01', 5)`, ws, shop)
	type a struct {
		conn, channel, campaign, name, date, currency string
		spend, impressions, clicks                    int64
		conversions                                   string
		value                                         int64
	}
	for i, r := range []a{
		{meta, "meta", "m1", "Autumn", "2026-11-02", "EUR", 40_000000, 3000, 90, "3.5", 150_000000},
		{meta, "meta", "m1", "Autumn", "2026-11-05", "EUR", 25_000000, 2000, 40, "1", 60_000000},
		{google, "google_ads", "g1", "Brand", "2026-11-03", "EUR", 17_000000, 700, 33, "2", 70_000000},
		{google, "google_ads", "g1", "Brand", "2026-11-04", "USD", 999_000000, 1, 1, "0", 0},
		{meta, "meta", "m1", "Autumn", "2026-10-28", "EUR", 30_000000, 1000, 20, "0", 0},
	} {
		exec(`INSERT INTO ad_metrics_daily (workspace_id, connection_id, channel, account_id, campaign_id, campaign_name, ad_id,
				date, currency, spend_micros, impressions, clicks, conversions, conversion_value_micros)
			VALUES ($1, $2, $3, 'acct', $4, $5, $6, $7::date, $8, $9, $10, $11, $12::numeric, $13)`,
			ws, r.conn, r.channel, r.campaign, r.name, fmt.Sprint("ad", i), r.date, r.currency, r.spend, r.impressions, r.clicks, r.conversions, r.value)
	}
	for _, s := range []struct {
		date     string
		sessions int64
	}{{"2026-11-02", 400}, {"2026-11-05", 250}, {"2026-10-29", 90}} {
		exec(`INSERT INTO sessions_daily (workspace_id, connection_id, property_id, date, source, medium, campaign, sessions, currency)
			VALUES ($1, $2, 'p1', $3::date, 'google', '', '', $4, 'EUR')`, ws, ga, s.date, s.sessions)
	}
	return ws
}

// summaryText is what GET /v1/metrics/summary's current (or previous) KPIs show for each
// metric, as text.
func summaryText(t *testing.T, k analytics.KPIs) map[string]string {
	t.Helper()
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, v := range raw {
		var s string
		switch {
		case string(v) == "null":
		case json.Unmarshal(v, &s) == nil:
		default:
			s = string(v)
		}
		out[name] = s
	}
	return out
}

func TestBuildTotalsEqualSummary(t *testing.T) {
	st, _ := testdb.New(t)
	ws := seed(t, st.Pool)
	q := analytics.New(st.Pool)
	ctx := context.Background()
	w, _ := channels.ParseWindow("2026-11-02", "2026-11-08")
	sum, err := q.Summary(ctx, ws, w)
	if err != nil {
		t.Fatal(err)
	}
	want, prev := summaryText(t, sum.Current.KPIs()), summaryText(t, sum.Previous.KPIs())
	if want["new_customers"] == "0" || want["sessions"] == "0" || want["blended_roas"] == "" {
		t.Fatalf("the fixture does not exercise every KPI: %v", want)
	}
	for _, dims := range [][]string{nil, {"day"}, {"week"}} {
		t.Run(strings.Join(dims, ","), func(t *testing.T) {
			doc, err := reporting.Build(ctx, q, report.BuildInput{
				WorkspaceID: ws, ReportID: "r1", RunID: "run1", From: "2026-11-02", To: "2026-11-08",
				Definition: report.Definition{Name: "Weekly", Metrics: analytics.MetricNames(), Dimensions: dims,
					Range: report.Range{Relative: report.RangeLastWeek}, ComparePrevious: true, Timezone: "America/New_York"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if doc.Title != "Weekly" || doc.Currency != "EUR" || doc.Timezone != "America/New_York" || doc.From != "2026-11-02" {
				t.Errorf("header %q %q %q %q", doc.Title, doc.Currency, doc.Timezone, doc.From)
			}
			if doc.PreviousFrom != "2026-10-26" || doc.PreviousTo != "2026-11-01" {
				t.Errorf("previous %s..%s", doc.PreviousFrom, doc.PreviousTo)
			}
			if len(doc.Total) != len(doc.Columns) || len(doc.Previous) != len(doc.Columns) || len(doc.Change) != len(doc.Columns) {
				t.Fatalf("rows of %d, %d, %d cells for %d columns", len(doc.Total), len(doc.Previous), len(doc.Change), len(doc.Columns))
			}
			if len(dims) > 0 && (doc.Total[0] != reporting.TotalLabel || doc.Change[0] != reporting.ChangeLabel) {
				t.Errorf("labels %q %q", doc.Total[0], doc.Change[0])
			}
			for i, c := range doc.Columns {
				if !c.Metric {
					continue
				}
				if doc.Total[i] != want[c.Key] {
					t.Errorf("total %s = %q, summary %q", c.Key, doc.Total[i], want[c.Key])
				}
				if doc.Previous[i] != prev[c.Key] {
					t.Errorf("previous %s = %q, summary %q", c.Key, doc.Previous[i], prev[c.Key])
				}
				if doc.Change[i] != reporting.Change(prev[c.Key], want[c.Key]) {
					t.Errorf("change %s = %q", c.Key, doc.Change[i])
				}
			}
		})
	}
}

func TestBuildRowsSortLimitChartNotes(t *testing.T) {
	st, _ := testdb.New(t)
	ws := seed(t, st.Pool)
	q := analytics.New(st.Pool)
	ctx := context.Background()
	failedAt := time.Date(2026, 11, 9, 9, 12, 0, 0, time.UTC)
	in := report.BuildInput{
		WorkspaceID: ws, From: "2026-11-02", To: "2026-11-08", MaxRows: 2,
		Definition: report.Definition{Name: "By channel", Metrics: []string{"revenue", "spend", "blended_roas"},
			Dimensions: []string{"channel"}, Limit: 10},
		Freshness: []report.Freshness{
			{Channel: "meta", Name: "Acme main", DataThrough: "2026-11-06", LastSync: "failed", LastSyncAt: &failedAt, Status: "active"},
			{Channel: "google_ads", Name: "Brand", DataThrough: "2026-11-08", LastSync: "succeeded", Status: "active"},
			{Channel: "tiktok", Name: "TT", LastSync: "", Status: "active"},
			{Channel: "shopify", Name: "Shop", DataThrough: "2026-11-08", LastSync: "running", Status: "active"},
		},
	}
	doc, err := reporting.Build(ctx, q, in)
	if err != nil {
		t.Fatal(err)
	}
	labels := []string{}
	for _, c := range doc.Columns {
		labels = append(labels, c.Label)
	}
	if got := strings.Join(labels, ","); got != "Channel,Revenue,Spend,Blended ROAS" {
		t.Errorf("columns %s", got)
	}
	// Revenue descending: meta, google_ads, tiktok, unattributed; the limit keeps two.
	wantRows := [][]string{{"meta", "220.49", "65.00", "3.3922"}, {"google_ads", "70.00", "17.00", "4.1176"}}
	if !reflect.DeepEqual(doc.Rows, wantRows) {
		t.Errorf("rows %v, want %v", doc.Rows, wantRows)
	}
	if doc.TotalRows != 4 || !doc.Truncated {
		t.Errorf("total rows %d truncated %v", doc.TotalRows, doc.Truncated)
	}
	if want := []string{"Total", "368.82", "82.00", "4.4978"}; !reflect.DeepEqual(doc.Total, want) {
		t.Errorf("total %v, want %v", doc.Total, want)
	}
	if doc.Previous != nil || doc.Change != nil {
		t.Errorf("previous %v change %v without compare", doc.Previous, doc.Change)
	}
	wantNotes := []string{
		"Meta Ads (Acme main): last sync failed 2026-11-09 09:12 UTC — numbers after 2026-11-06 may be incomplete",
		"TikTok Ads (TT): never synced — its numbers are missing",
		"Shopify (Shop): sync running — numbers after 2026-11-08 may be incomplete",
		"Amounts in USD are left out: the report sums EUR only (no currency conversion).",
		"Showing 2 of 4 rows; the totals cover all rows.",
	}
	if !reflect.DeepEqual(doc.Notes, wantNotes) {
		t.Errorf("notes\n%s\nwant\n%s", strings.Join(doc.Notes, "\n"), strings.Join(wantNotes, "\n"))
	}
	if doc.Chart == nil || doc.Chart.Label != "Revenue" || len(doc.Chart.Points) != 4 ||
		doc.Chart.Points[0] != (report.ChartPoint{Label: "meta", Value: 220.49, Text: "220.49"}) {
		t.Errorf("chart %+v", doc.Chart)
	}

	// By day: oldest first by default, every day of the range, the chart per day.
	in.Definition = report.Definition{Name: "Daily", Metrics: []string{"orders", "sessions"}, Dimensions: []string{"day"}}
	in.MaxRows, in.Freshness = 0, nil
	doc, err = reporting.Build(ctx, q, in)
	if err != nil {
		t.Fatal(err)
	}
	var days []string
	for _, r := range doc.Rows {
		days = append(days, strings.Join(r, "="))
	}
	if got, want := strings.Join(days, " "), "2026-11-02=1=400 2026-11-03=1=0 2026-11-04=1=0 2026-11-05=1=250 2026-11-06=0=0 2026-11-07=1=0 2026-11-08=0=0"; got != want {
		t.Errorf("days %s, want %s", got, want)
	}
	if len(doc.Chart.Points) != 7 || doc.Chart.Points[3].Value != 1 || doc.Chart.Points[3].Label != "2026-11-05" {
		t.Errorf("chart %+v", doc.Chart)
	}
	if !reflect.DeepEqual(doc.Notes, []string{"Amounts in USD are left out: the report sums EUR only (no currency conversion)."}) {
		t.Errorf("notes %v", doc.Notes)
	}

	// Sorted by a dimension descending, filtered by a bound value.
	in.Definition = report.Definition{Name: "UTM", Metrics: []string{"orders", "aov"}, Dimensions: []string{"utm_source"},
		Sort:    &report.Sort{By: "utm_source", Desc: true},
		Filters: []report.Filter{{Field: "utm_source", Op: "not_in", Values: []string{"google"}}}}
	doc, err = reporting.Build(ctx, q, in)
	if err != nil {
		t.Fatal(err)
	}
	wantRows = [][]string{{"tiktok", "1", "45.00"}, {"facebook", "2", "110.245"}, {reporting.NoneLabel, "1", "33.33"}}
	if !reflect.DeepEqual(doc.Rows, wantRows) {
		t.Errorf("rows %v, want %v", doc.Rows, wantRows)
	}
}

func TestChange(t *testing.T) {
	for _, tc := range []struct{ prev, cur, want string }{
		{"100.00", "112.50", "+12.5%"},
		{"200", "150", "-25.0%"},
		{"3", "3", "0.0%"},
		{"0", "5", ""},
		{"", "5", ""},
		{"5", "", ""},
		{"3", "4", "+33.3%"},
		{"-10", "-5", "+50.0%"},
		{"0.3", "0.30005", "0.0%"},
	} {
		if got := reporting.Change(tc.prev, tc.cur); got != tc.want {
			t.Errorf("Change(%q, %q) = %q, want %q", tc.prev, tc.cur, got, tc.want)
		}
	}
}
