package analytics_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/analytics"
	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// listedOrder is what the test compares of a listed order.
type listedOrder struct {
	shop, id                 string
	createdAt                time.Time
	createdDate              string
	currency                 string
	total, refunded          int64
	status                   string
	test, cancelled          bool
	source, medium, campaign string
	channel                  string
	lineItems                int64
}

func fromOrder(o analytics.Order) listedOrder {
	return listedOrder{o.ShopDomain, o.OrderID, o.CreatedAt.UTC(), o.CreatedDate.Format(time.DateOnly), o.Currency,
		o.TotalMicros, o.RefundedMicros, o.FinancialStatus, o.Test, o.CancelledAt != nil,
		o.UTMSource, o.UTMMedium, o.UTMCampaign, o.Channel, o.LineItemsCount}
}

// expectOrders lists the orders f selects, newest first, filtering in Go.
func (fx *fixture) expectOrders(ws string, f analytics.OrderFilter) []listedOrder {
	fx.t.Helper()
	rows, err := fx.pool.Query(fx.ctx, `
		SELECT o.shop_domain, o.order_id, o.created_at, timezone(w.timezone, o.created_at)::date::text, o.currency,
			o.total_micros, o.refunded_micros, o.financial_status, o.test, o.cancelled_at IS NOT NULL,
			o.utm_source, o.utm_medium, o.utm_campaign, count(li.line_item_id)
		FROM orders o JOIN workspaces w ON w.id = o.workspace_id
		LEFT JOIN order_line_items li USING (workspace_id, shop_domain, order_id)
		WHERE o.workspace_id = $1 AND timezone(w.timezone, o.created_at) >= $2::timestamp
			AND timezone(w.timezone, o.created_at) < $3::timestamp + interval '1 day'
		GROUP BY o.workspace_id, o.shop_domain, o.order_id, w.timezone
		ORDER BY o.created_at DESC, o.shop_domain DESC, o.order_id DESC`,
		ws, f.Window.From.Format(time.DateOnly), f.Window.To.Format(time.DateOnly))
	if err != nil {
		fx.t.Fatal(err)
	}
	norm := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	var out []listedOrder
	for rows.Next() {
		var o listedOrder
		if err := rows.Scan(&o.shop, &o.id, &o.createdAt, &o.createdDate, &o.currency, &o.total, &o.refunded, &o.status,
			&o.test, &o.cancelled, &o.source, &o.medium, &o.campaign, &o.lineItems); err != nil {
			fx.t.Fatal(err)
		}
		o.createdAt = o.createdAt.UTC()
		o.channel = analytics.ChannelOf(o.source, o.medium)
		switch {
		case o.test && !f.IncludeTest,
			o.cancelled && !f.IncludeCancelled,
			f.FinancialStatus != "" && o.status != f.FinancialStatus,
			f.UTMSource != "" && norm(o.source) != norm(f.UTMSource),
			f.UTMCampaign != "" && channels.CampaignSlug(o.campaign) != channels.CampaignSlug(f.UTMCampaign),
			f.Channel != "" && o.channel != f.Channel:
			continue
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		fx.t.Fatal(err)
	}
	return out
}

func expectOrderTotals(orders []listedOrder) analytics.OrderTotals {
	t := analytics.OrderTotals{Orders: int64(len(orders)), ExcludedCurrencies: []string{}}
	for _, o := range orders {
		if o.currency != "USD" {
			if !slices.Contains(t.ExcludedCurrencies, o.currency) {
				t.ExcludedCurrencies = append(t.ExcludedCurrencies, o.currency)
			}
			continue
		}
		if !o.test && !o.cancelled {
			t.ValidOrders++
			t.RevenueMicros += o.total - o.refunded
			t.RefundedMicros += o.refunded
		}
	}
	slices.Sort(t.ExcludedCurrencies)
	return t
}

// TestOrdersPaging walks every page of many filters: the pages are disjoint, their union is
// exactly what the filter selects in order, and the totals are the whole filter's on every page.
func TestOrdersPaging(t *testing.T) {
	f := newFixture(t)
	ws, today := seedRandom(f)
	month := channels.Window{From: today.AddDate(0, 0, -90), To: today}
	year := channels.Window{From: today.AddDate(0, 0, -399), To: today}
	cases := []struct {
		name   string
		filter analytics.OrderFilter
		limit  int
	}{
		{"default", analytics.OrderFilter{Window: month, IncludeCancelled: true}, 7},
		{"default one page", analytics.OrderFilter{Window: month, IncludeCancelled: true}, 200},
		{"year", analytics.OrderFilter{Window: year, IncludeCancelled: true}, 50},
		{"test, no cancelled", analytics.OrderFilter{Window: year, IncludeTest: true}, 13},
		{"everything", analytics.OrderFilter{Window: year, IncludeTest: true, IncludeCancelled: true}, 200},
		{"status", analytics.OrderFilter{Window: year, FinancialStatus: "partially_refunded", IncludeCancelled: true}, 9},
		{"source fb", analytics.OrderFilter{Window: year, UTMSource: "FB", IncludeCancelled: true}, 11},
		{"source facebook", analytics.OrderFilter{Window: year, UTMSource: " facebook", IncludeCancelled: true}, 11},
		{"campaign slug", analytics.OrderFilter{Window: year, UTMCampaign: "spring SALE", IncludeCancelled: true}, 17},
		{"meta", analytics.OrderFilter{Window: year, Channel: analytics.Meta}, 19},
		{"google", analytics.OrderFilter{Window: year, Channel: analytics.GoogleAds, IncludeCancelled: true}, 23},
		{"unattributed", analytics.OrderFilter{Window: year, Channel: analytics.Unattributed, IncludeCancelled: true}, 29},
		{"meta spring", analytics.OrderFilter{Window: year, Channel: analytics.Meta, UTMCampaign: "Spring Sale"}, 5},
		{"today", analytics.OrderFilter{Window: channels.Window{From: today, To: today}, IncludeCancelled: true}, 1},
		{"nothing", analytics.OrderFilter{Window: window(t, "2020-01-01", "2020-01-31"), IncludeCancelled: true}, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := f.with(t)
			want := f.expectOrders(ws, tc.filter)
			wantTotals := expectOrderTotals(want)
			var got []listedOrder
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > len(want)/tc.limit+1 {
					t.Fatalf("more than %d pages", pages)
				}
				p, err := f.q.Orders(f.ctx, ws, tc.filter, tc.limit, cursor)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Orders) > tc.limit || p.Orders == nil {
					t.Fatalf("page of %d orders, limit %d", len(p.Orders), tc.limit)
				}
				if p.NextCursor != "" && len(p.Orders) != tc.limit {
					t.Errorf("short page of %d with a next cursor", len(p.Orders))
				}
				p.Totals.ExcludedCurrencies = append([]string{}, p.Totals.ExcludedCurrencies...)
				if !totalsEqual(p.Totals, wantTotals) {
					t.Errorf("page %d totals %+v, want %+v", pages, p.Totals, wantTotals)
				}
				for _, o := range p.Orders {
					got = append(got, fromOrder(o))
				}
				if p.NextCursor == "" {
					break
				}
				cursor = p.NextCursor
			}
			if !slices.Equal(got, want) {
				t.Errorf("walked %d orders, want %d", len(got), len(want))
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Errorf("first difference at %d:\n got %+v\nwant %+v", i, got[i], want[i])
						break
					}
				}
			}
		})
	}

	// With the default filter the totals are the summary's orders and revenue.
	sum, err := f.q.Summary(f.ctx, ws, month)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.q.Orders(f.ctx, ws, analytics.OrderFilter{Window: month, IncludeCancelled: true}, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Totals.ValidOrders != sum.Current.Orders || p.Totals.RevenueMicros != sum.Current.RevenueMicros {
		t.Errorf("order totals %+v, summary %+v", p.Totals, sum.Current)
	}
	// The random data has what the filters are about.
	if len(f.expectOrders(ws, cases[4].filter)) < 500 || len(f.expectOrders(ws, cases[12].filter)) == 0 {
		t.Error("thin order data")
	}
}

func totalsEqual(a, b analytics.OrderTotals) bool {
	return a.Orders == b.Orders && a.ValidOrders == b.ValidOrders && a.RevenueMicros == b.RevenueMicros &&
		a.RefundedMicros == b.RefundedMicros && slices.Equal(a.ExcludedCurrencies, b.ExcludedCurrencies)
}

func TestOrdersRejects(t *testing.T) {
	f := newFixture(t)
	ws := f.workspace("W", "USD", "UTC")
	w := window(t, "2024-01-01", "2024-01-31")
	for _, c := range []string{"x", "e30", "eyJ0IjoxfQ", "eyJ0IjoxLCJzIjoiYSIsIm8iOiJiIiwieiI6MX0"} {
		if err := analytics.ValidateCursor(c); !errors.Is(err, analytics.ErrBadCursor) {
			t.Errorf("ValidateCursor(%q) = %v", c, err)
		}
		if _, err := f.q.Orders(f.ctx, ws, analytics.OrderFilter{Window: w}, 10, c); !errors.Is(err, analytics.ErrBadCursor) {
			t.Errorf("Orders with cursor %q: %v", c, err)
		}
	}
	if _, err := f.q.Orders(f.ctx, ws, analytics.OrderFilter{Window: w}, 0, ""); err == nil {
		t.Error("limit 0 succeeded")
	}
}
