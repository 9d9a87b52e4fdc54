package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/analytics"
	"github.com/omnitrackiq/omnitrackiq/internal/money"
)

// OrderItem is one order in GET /v1/orders. The customer's email hash is never returned.
type OrderItem struct {
	OrderID    string    `json:"order_id"`
	ShopDomain string    `json:"shop_domain"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// CreatedDate is the workspace day the order counts on in the metrics.
	CreatedDate     string     `json:"created_date"`
	Currency        string     `json:"currency"`
	Total           string     `json:"total"`
	TotalMicros     int64      `json:"total_micros"`
	Refunded        string     `json:"refunded"`
	RefundedMicros  int64      `json:"refunded_micros"`
	Net             string     `json:"net"`
	NetMicros       int64      `json:"net_micros"`
	FinancialStatus string     `json:"financial_status"`
	Test            bool       `json:"test"`
	Cancelled       bool       `json:"cancelled"`
	CancelledAt     *time.Time `json:"cancelled_at"`
	CustomerID      string     `json:"customer_id"`
	UTMSource       string     `json:"utm_source"`
	UTMMedium       string     `json:"utm_medium"`
	UTMCampaign     string     `json:"utm_campaign"`
	// Channel is the last-click UTM attribution channel.
	Channel        string `json:"channel"`
	LineItemsCount int64  `json:"line_items_count"`
}

// OrderTotals cover every order the filter selects, not only the page. Orders counts
// them all; valid_orders, revenue and refunded cover those that count in the metrics
// (not test, not cancelled, in the workspace currency).
type OrderTotals struct {
	Orders             int64    `json:"orders"`
	ValidOrders        int64    `json:"valid_orders"`
	Revenue            string   `json:"revenue"`
	RevenueMicros      int64    `json:"revenue_micros"`
	Refunded           string   `json:"refunded"`
	RefundedMicros     int64    `json:"refunded_micros"`
	ExcludedCurrencies []string `json:"excluded_currencies"`
}

// OrderList is the body of GET /v1/orders.
type OrderList struct {
	From     string      `json:"from"`
	To       string      `json:"to"`
	Currency string      `json:"currency"`
	Timezone string      `json:"timezone"`
	Orders   []OrderItem `json:"orders"`
	// NextCursor is null on the last page.
	NextCursor *string     `json:"next_cursor"`
	Totals     OrderTotals `json:"totals"`
}

const (
	defaultOrdersLimit = 50
	maxOrdersLimit     = 200
	// maxFilterLength bounds free-text filters; real UTM values are far shorter.
	maxFilterLength = 500
)

func (s *server) listOrders(c *gin.Context) {
	w, errs := windowErrors(c, maxOrdersYears)
	f := analytics.OrderFilter{
		Window:           w,
		FinancialStatus:  c.Query("financial_status"),
		UTMSource:        c.Query("utm_source"),
		UTMCampaign:      c.Query("utm_campaign"),
		Channel:          c.Query("channel"),
		IncludeCancelled: true,
	}
	limit := defaultOrdersLimit
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxOrdersLimit {
			errs = append(errs, FieldError{"limit", fmt.Sprintf("must be an integer from 1 to %d", maxOrdersLimit)})
		}
		limit = n
	}
	cursor := c.Query("cursor")
	if analytics.ValidateCursor(cursor) != nil {
		errs = append(errs, FieldError{"cursor", "is not a next_cursor of this endpoint"})
	}
	for _, p := range []struct {
		name string
		dst  *bool
	}{{"include_test", &f.IncludeTest}, {"include_cancelled", &f.IncludeCancelled}} {
		if v, ok := c.GetQuery(p.name); ok {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, FieldError{p.name, "must be true or false"})
			}
			*p.dst = b
		}
	}
	if f.Channel != "" && !slices.Contains(analytics.AttributionChannels(), f.Channel) {
		errs = append(errs, FieldError{"channel", fmt.Sprintf("%q is not one of %s", f.Channel,
			strings.Join(analytics.AttributionChannels(), ", "))})
	}
	for _, p := range []struct{ name, v string }{
		{"financial_status", f.FinancialStatus}, {"utm_source", f.UTMSource}, {"utm_campaign", f.UTMCampaign},
	} {
		if len(p.v) > maxFilterLength {
			errs = append(errs, FieldError{p.name, fmt.Sprintf("must be at most %d bytes", maxFilterLength)})
		}
	}
	if len(errs) > 0 {
		validationProblem(c, errs)
		return
	}
	if !s.checkHistory(c, w.From) {
		return
	}

	page, err := s.analytics().Orders(c.Request.Context(), workspaceID(c), f, limit, cursor)
	if errors.Is(err, analytics.ErrBadCursor) {
		validationProblem(c, []FieldError{{"cursor", "is not a next_cursor of this endpoint"}})
		return
	}
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	t := page.Totals
	out := OrderList{
		From: formatDay(w.From), To: formatDay(w.To), Currency: page.Workspace.Currency, Timezone: page.Workspace.Timezone,
		Orders: make([]OrderItem, 0, len(page.Orders)),
		Totals: OrderTotals{
			Orders: t.Orders, ValidOrders: t.ValidOrders,
			Revenue: money.FormatMicros(t.RevenueMicros), RevenueMicros: t.RevenueMicros,
			Refunded: money.FormatMicros(t.RefundedMicros), RefundedMicros: t.RefundedMicros,
			ExcludedCurrencies: t.ExcludedCurrencies,
		},
	}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	for _, o := range page.Orders {
		item := OrderItem{
			OrderID: o.OrderID, ShopDomain: o.ShopDomain, Name: o.Name,
			CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC(), CreatedDate: formatDay(o.CreatedDate),
			Currency: o.Currency,
			Total:    money.FormatMicros(o.TotalMicros), TotalMicros: o.TotalMicros,
			Refunded: money.FormatMicros(o.RefundedMicros), RefundedMicros: o.RefundedMicros,
			Net: money.FormatMicros(o.NetMicros()), NetMicros: o.NetMicros(),
			FinancialStatus: o.FinancialStatus, Test: o.Test, Cancelled: o.CancelledAt != nil,
			CustomerID: o.CustomerID, UTMSource: o.UTMSource, UTMMedium: o.UTMMedium, UTMCampaign: o.UTMCampaign,
			Channel: o.Channel, LineItemsCount: o.LineItemsCount,
		}
		if o.CancelledAt != nil {
			at := o.CancelledAt.UTC()
			item.CancelledAt = &at
		}
		out.Orders = append(out.Orders, item)
	}
	c.JSON(http.StatusOK, out)
}
