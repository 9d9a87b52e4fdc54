package shopify

import (
	"fmt"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

// ---- totals ----

// Totals describes the orders created over a range of days, as orders.json?status=any
// would return them now (an empty store has none).
type Totals struct {
	// Orders counts every order, test and cancelled ones included.
	Orders          int `json:"orders"`
	TestOrders      int `json:"test_orders"`
	CancelledOrders int `json:"cancelled_orders"`
	// OrdersWithRefunds counts orders with at least one refund (test and cancelled too).
	OrdersWithRefunds int `json:"orders_with_refunds"`
	GuestOrders       int `json:"guest_orders"`
	// The rest covers revenue orders only: neither test nor cancelled.
	RevenueOrders   int   `json:"revenue_orders"`
	RevenueMicros   int64 `json:"revenue_micros"` // sum of total_price
	SubtotalMicros  int64 `json:"subtotal_micros"`
	TaxMicros       int64 `json:"tax_micros"`
	DiscountsMicros int64 `json:"discounts_micros"`
	// RefundedMicros sums successful refund transactions.
	RefundedMicros   int64  `json:"refunded_micros"`
	NetRevenueMicros int64  `json:"net_revenue_micros"`
	Revenue          string `json:"revenue"`
	// Customers counts distinct customers; FirstOrders are revenue orders that are their
	// customer's first revenue order in the store's history, RepeatOrders the later ones.
	Customers    int `json:"customers"`
	FirstOrders  int `json:"first_orders"`
	RepeatOrders int `json:"repeat_orders"`
	// ByUTM is revenue orders by effective "source / medium / campaign" (landing_site query,
	// else note_attributes; "" parts when absent).
	ByUTM map[string]UTMTotals `json:"by_utm"`
}

// UTMTotals is the revenue of one UTM combination.
type UTMTotals struct {
	Orders        int   `json:"orders"`
	RevenueMicros int64 `json:"revenue_micros"`
}

// Totals sums the orders created from `from` to `to` (YYYY-MM-DD, inclusive, in the shop's
// timezone; "" leaves that end open).
func (s *Server) Totals(from, to string) (Totals, error) {
	var f, t time.Time
	var err error
	if from != "" {
		if f, err = time.Parse(dateLayout, from); err != nil {
			return Totals{}, fmt.Errorf("from %q is not YYYY-MM-DD", from)
		}
	}
	if to != "" {
		if t, err = time.Parse(dateLayout, to); err != nil {
			return Totals{}, fmt.Errorf("to %q is not YYYY-MM-DD", to)
		}
	}
	if from != "" && to != "" && f.After(t) {
		return Totals{}, fmt.Errorf("from %s is after to %s", from, to)
	}
	tot := Totals{ByUTM: map[string]UTMTotals{}}
	if s.Faults().EmptyStore {
		tot.Revenue = money.FormatMicros(0)
		return tot, nil
	}
	customers := map[int64]bool{}
	seen := map[int64]bool{} // customers with an earlier revenue order
	for _, o := range s.snapshot(s.now()) {
		g := o.g
		y, m, d := g.createdAt.In(s.loc).Date()
		day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		inRange := (from == "" || !day.Before(f)) && (to == "" || !day.After(t))
		revenue := !g.test && o.cancelledAt == nil
		var firstOrder bool
		if revenue && g.customer != nil {
			firstOrder = !seen[g.customer.id]
			seen[g.customer.id] = true
		}
		if !inRange {
			continue
		}
		tot.Orders++
		if g.test {
			tot.TestOrders++
		}
		if o.cancelledAt != nil {
			tot.CancelledOrders++
		}
		if len(o.refunds) > 0 {
			tot.OrdersWithRefunds++
		}
		if g.customer == nil {
			tot.GuestOrders++
		}
		if !revenue {
			continue
		}
		tot.RevenueOrders++
		tot.RevenueMicros += o.totalMicros
		tot.SubtotalMicros += g.subtotalCents * centMicros
		tot.TaxMicros += g.taxCents * centMicros
		tot.DiscountsMicros += g.discountCents * centMicros
		tot.RefundedMicros += o.refundedMicros
		if g.customer != nil {
			customers[g.customer.id] = true
			if firstOrder {
				tot.FirstOrders++
			} else {
				tot.RepeatOrders++
			}
		}
		key := strings.Join(g.utm[:], " / ")
		u := tot.ByUTM[key]
		u.Orders++
		u.RevenueMicros += o.totalMicros
		tot.ByUTM[key] = u
	}
	tot.Customers = len(customers)
	tot.NetRevenueMicros = tot.RevenueMicros - tot.RefundedMicros
	tot.Revenue = money.FormatMicros(tot.RevenueMicros)
	return tot, nil
}
