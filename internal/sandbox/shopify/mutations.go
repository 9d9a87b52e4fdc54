package shopify

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

// ---- mutations ----

// mutationTime is "now" at Shopify's one-second precision.
func (s *Server) mutationTime() time.Time { return s.now().Truncate(time.Second) }

func (s *Server) mutate(orderID string, f func(o *order, ov *overlay, now time.Time) error) error {
	id, ok := parseOrderID(orderID)
	if !ok {
		return fmt.Errorf("order id %q is not a number", orderID)
	}
	now := s.mutationTime()
	o, ok := s.lookup(id, now)
	if !ok {
		return fmt.Errorf("no order %s", orderID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ov := s.overlays[id]
	if ov == nil {
		ov = &overlay{}
	} else {
		ov = ov.clone()
	}
	if err := f(o, ov, now); err != nil {
		return err
	}
	s.overlays[id] = ov
	return nil
}

// EditOrder sets an order's total_price (an exact decimal such as "123.45") and bumps its
// updated_at to now, so an incremental sync from before now reads it again.
func (s *Server) EditOrder(orderID, newTotal string) error {
	m, err := money.ParseMicros(newTotal)
	if err != nil || m < 0 {
		return fmt.Errorf("total %q is not a non-negative amount", newTotal)
	}
	return s.mutate(orderID, func(_ *order, ov *overlay, now time.Time) error {
		ov.totalMicros, ov.editedAt = &m, now
		return nil
	})
}

// RefundOrder adds a successful refund of amount ("" = what is left to refund) dated now and
// bumps updated_at. It returns the refund id.
func (s *Server) RefundOrder(orderID, amount string) (string, error) {
	var refundID int64
	err := s.mutate(orderID, func(o *order, ov *overlay, now time.Time) error {
		left := o.totalMicros - o.refundedMicros
		m := left
		if amount != "" {
			var err error
			if m, err = money.ParseMicros(amount); err != nil || m <= 0 {
				return fmt.Errorf("refund amount %q is not a positive amount", amount)
			}
		}
		if m <= 0 || m > left {
			return fmt.Errorf("order %s has %s left to refund", orderID, money.FormatMicros(left))
		}
		s.refundSeq++
		refundID = adminRefundIDBase + s.refundSeq
		ov.refunds = append(ov.refunds, genRefund{id: refundID, at: now, amountMicros: m, note: "Refund from the sandbox admin"})
		return nil
	})
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(refundID, 10), nil
}

// CancelOrder cancels an order now (if it is not cancelled already) and bumps updated_at.
func (s *Server) CancelOrder(orderID string) error {
	return s.mutate(orderID, func(o *order, ov *overlay, now time.Time) error {
		if o.cancelledAt != nil {
			return fmt.Errorf("order %s is already cancelled", orderID)
		}
		ov.cancelledAt = &now
		return nil
	})
}

// ResetMutations undoes every edit, refund and cancellation made through the admin.
func (s *Server) ResetMutations() {
	s.mu.Lock()
	s.overlays = map[int64]*overlay{}
	s.mu.Unlock()
}

// OrderJSON returns an order as orders/{id}.json renders it (without the wrapper).
func (s *Server) OrderJSON(orderID string) ([]byte, error) {
	id, ok := parseOrderID(orderID)
	if !ok {
		return nil, fmt.Errorf("order id %q is not a number", orderID)
	}
	o, ok := s.lookup(id, s.now())
	if !ok {
		return nil, fmt.Errorf("no order %s", orderID)
	}
	return json.Marshal(s.renderOrder(o))
}

// OrderSummary is one line of OrderIDs.
type OrderSummary struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	TotalPrice string    `json:"total_price"`
	Test       bool      `json:"test"`
	Cancelled  bool      `json:"cancelled"`
	Refunds    int       `json:"refunds"`
}

// Orders lists the orders created on a day (YYYY-MM-DD in the shop's timezone), oldest first:
// handy to pick an order to mutate.
func (s *Server) Orders(date string) ([]OrderSummary, error) {
	d, err := time.Parse(dateLayout, date)
	if err != nil {
		return nil, fmt.Errorf("date %q is not YYYY-MM-DD", date)
	}
	now := s.now()
	if d.Before(s.historyStart(now)) || d.After(s.today(now)) {
		return []OrderSummary{}, nil
	}
	out := []OrderSummary{}
	for _, g := range s.day(d) {
		if o, ok := s.lookup(g.id, now); ok {
			out = append(out, OrderSummary{
				ID: strconv.FormatInt(g.id, 10), Name: "#" + strconv.FormatInt(g.number, 10),
				CreatedAt: g.createdAt, UpdatedAt: o.updatedAt, TotalPrice: money.FormatMicros(o.totalMicros),
				Test: g.test, Cancelled: o.cancelledAt != nil, Refunds: len(o.refunds),
			})
		}
	}
	return out, nil
}
