package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/api"
)

func orderIDs(orders []api.OrderItem) []string {
	ids := make([]string, len(orders))
	for i, o := range orders {
		ids[i] = o.OrderID
	}
	return ids
}

func TestOrdersFilters(t *testing.T) {
	e := newEnv(t)
	e.seedMarch()
	cases := []struct {
		query string
		want  []string
	}{
		{"", []string{"o3", "o9", "o8", "o7", "o6", "o1"}},
		{"&include_test=true", []string{"o3", "o9", "o8", "o7", "o6", "o5", "o1"}},
		{"&include_cancelled=false", []string{"o3", "o9", "o8", "o7", "o1"}},
		{"&include_test=1&include_cancelled=0", []string{"o3", "o9", "o8", "o7", "o5", "o1"}},
		{"&channel=meta", []string{"o1"}},
		{"&channel=google_ads", []string{"o9"}},
		{"&channel=tiktok", []string{}},
		{"&channel=unattributed", []string{"o3", "o8", "o7", "o6"}},
		{"&utm_source=GOOGLE", []string{"o9"}},
		{"&utm_source=%20email", []string{"o8"}},
		{"&utm_campaign=SPRING", []string{"o1"}},
		{"&financial_status=partially_refunded", []string{"o3"}},
		{"&financial_status=voided", []string{"o6"}},
		{"&channel=meta&utm_campaign=brand", []string{}},
		{"&channel=", []string{"o3", "o9", "o8", "o7", "o6", "o1"}}, // empty is no filter
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			var l api.OrderList
			decode(t, e.do("GET", "/v1/orders?from=2024-03-01&to=2024-03-31"+tc.query, e.key1, ""), http.StatusOK, &l)
			if got := orderIDs(l.Orders); !slices.Equal(got, tc.want) {
				t.Errorf("orders %v, want %v", got, tc.want)
			}
			if l.Totals.Orders != int64(len(tc.want)) || l.NextCursor != nil {
				t.Errorf("totals %+v, next %v", l.Totals, l.NextCursor)
			}
		})
	}

	rec := e.do("GET", "/v1/orders?from=2024-03-01&to=2024-03-31", e.key1, "")
	var l api.OrderList
	decode(t, rec, http.StatusOK, &l)
	// Totals: every selected order counted; revenue as the summary's (valid, USD only).
	wantTotals := api.OrderTotals{Orders: 6, ValidOrders: 4, Revenue: "65.00", RevenueMicros: 65e6, Refunded: "2.50",
		RefundedMicros: 2_500_000, ExcludedCurrencies: []string{"EUR"}}
	if mustJSON(t, l.Totals) != mustJSON(t, wantTotals) || l.Currency != "USD" || l.Timezone != "America/New_York" {
		t.Errorf("totals %+v", l)
	}
	// The last second of March 31st in New York is a March order, shown in UTC with its local day.
	want := `{"order_id":"o3","shop_domain":"shop.myshopify.com","name":"#o3","created_at":"2024-04-01T03:59:59Z",` +
		`"updated_at":"2024-04-01T03:59:59Z","created_date":"2024-03-31","currency":"USD","total":"12.50",` +
		`"total_micros":12500000,"refunded":"2.50","refunded_micros":2500000,"net":"10.00","net_micros":10000000,` +
		`"financial_status":"partially_refunded","test":false,"cancelled":false,"cancelled_at":null,"customer_id":"",` +
		`"utm_source":"","utm_medium":"","utm_campaign":"","channel":"unattributed","line_items_count":0}`
	if got := mustJSON(t, l.Orders[0]); got != want {
		t.Errorf("order\n got %s\nwant %s", got, want)
	}
	if o1 := l.Orders[5]; o1.LineItemsCount != 2 || o1.Channel != "meta" || o1.CustomerID != "c1" || o1.CreatedDate != "2024-03-01" {
		t.Errorf("o1 %+v", o1)
	}
	if o6 := l.Orders[4]; !o6.Cancelled || o6.CancelledAt == nil {
		t.Errorf("o6 %+v", o6)
	}
	// Email hashes never leave the API.
	if strings.Contains(rec.Body.String(), "email") || strings.Contains(rec.Body.String(), `"e1"`) {
		t.Errorf("body carries an email hash: %s", rec.Body)
	}

	// Another workspace sees none of them.
	decode(t, e.do("GET", "/v1/orders?from=2024-03-01&to=2024-03-31&include_test=true", e.key2, ""), http.StatusOK, &l)
	if len(l.Orders) != 0 || l.Orders == nil || l.Totals.Orders != 0 || l.Totals.Revenue != "0.00" {
		t.Errorf("other workspace %+v", l)
	}
}

// TestOrdersPages walks every page: pages are disjoint, their union is the whole filter in
// order, and every page carries the same totals.
func TestOrdersPages(t *testing.T) {
	e := newEnv(t)
	e.seedMarch()
	var more []orderRow
	for i := range 25 {
		// Three orders share each instant, so pages split between equal created_at values.
		at := time.Date(2024, 5, 1, 12+i/3, 0, 0, 0, time.UTC).Format(time.RFC3339)
		more = append(more, orderRow{id: fmt.Sprintf("m%02d", i), at: at, total: int64(i+1) * 1e6, customer: fmt.Sprint("k", i%4),
			source: []string{"facebook", "google", "tiktok"}[i%3], medium: "cpc", test: i%11 == 0})
	}
	e.insertOrders(e.key1, e.w1.ID, more)

	for _, tc := range []struct {
		query             string
		limit             int
		includeTest, meta bool
	}{
		{"", 4, false, false},
		{"", 3, false, false},
		{"&include_test=true", 1, true, false},
		{"&channel=meta", 2, false, true},
		{"", 200, false, false},
	} {
		t.Run(fmt.Sprint(tc.query, tc.limit), func(t *testing.T) {
			rows, err := e.st.Pool.Query(context.Background(), `
				SELECT order_id FROM orders
				WHERE workspace_id = $1 AND created_at >= '2024-03-01T05:00:00Z' AND created_at < '2024-06-01T04:00:00Z'
					AND (test = false OR $2) AND (NOT $3 OR utm_source = 'facebook')
				ORDER BY created_at DESC, shop_domain DESC, order_id DESC`,
				e.w1.ID, tc.includeTest, tc.meta)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				want = append(want, id)
			}
			if len(want) < 5 {
				t.Fatalf("only %d orders to page through", len(want))
			}

			var got []string
			var totals string
			next := ""
			for page := 0; ; page++ {
				if page > len(want) {
					t.Fatal("too many pages")
				}
				path := fmt.Sprintf("/v1/orders?from=2024-03-01&to=2024-05-31&limit=%d%s", tc.limit, tc.query)
				if next != "" {
					path += "&cursor=" + url.QueryEscape(next)
				}
				var l api.OrderList
				decode(t, e.do("GET", path, e.key1, ""), http.StatusOK, &l)
				if len(l.Orders) > tc.limit {
					t.Fatalf("%d orders on a page of %d", len(l.Orders), tc.limit)
				}
				if page == 0 {
					totals = mustJSON(t, l.Totals)
				} else if mustJSON(t, l.Totals) != totals {
					t.Errorf("page %d totals %s, first page %s", page, mustJSON(t, l.Totals), totals)
				}
				if l.Totals.Orders != int64(len(want)) {
					t.Errorf("totals count %d, want %d", l.Totals.Orders, len(want))
				}
				got = append(got, orderIDs(l.Orders)...)
				if l.NextCursor == nil {
					break
				}
				next = *l.NextCursor
			}
			if !slices.Equal(got, want) {
				t.Errorf("walked\n %v\nwant\n %v", got, want)
			}
		})
	}
}

func TestOrdersRejects(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		query, field string
	}{
		{"&limit=0", "limit"},
		{"&limit=201", "limit"},
		{"&limit=-1", "limit"},
		{"&limit=ten", "limit"},
		{"&limit=", "limit"},
		{"&cursor=garbage!", "cursor"},
		{"&cursor=e30", "cursor"}, // base64 of {}
		{"&channel=facebook", "channel"},
		{"&channel=META", "channel"},
		{"&include_test=maybe", "include_test"},
		{"&include_cancelled=yes", "include_cancelled"},
		{"&utm_source=" + strings.Repeat("x", 501), "utm_source"},
		{"&utm_campaign=" + strings.Repeat("x", 501), "utm_campaign"},
		{"&financial_status=" + strings.Repeat("x", 501), "financial_status"},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			e.writesNothing(t, func() {
				p := problem(t, e.do("GET", "/v1/orders?from=2024-01-01&to=2024-01-31"+tc.query, e.key1, ""), http.StatusUnprocessableEntity)
				if len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
					t.Errorf("errors %+v, want one on %q", p.Errors, tc.field)
				}
			})
		})
	}
	// All the problems of a request are reported at once.
	p := problem(t, e.do("GET", "/v1/orders?from=2024-01-01&limit=0&channel=x", e.key1, ""), http.StatusUnprocessableEntity)
	if len(p.Errors) != 3 {
		t.Errorf("errors %+v", p.Errors)
	}
}
