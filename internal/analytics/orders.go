package analytics

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// ErrBadCursor is returned for a page cursor this package did not make.
var ErrBadCursor = errors.New("invalid page cursor")

// OrderFilter selects orders. Empty strings do not filter.
type OrderFilter struct {
	// Window is the range of workspace days the orders were created on.
	Window channels.Window
	// FinancialStatus matches exactly (Shopify's "paid", "refunded", ...).
	FinancialStatus string
	// UTMSource matches after trimming and ASCII lower-casing both sides, as attribution does.
	UTMSource string
	// UTMCampaign matches by campaign slug, as campaign attribution does.
	UTMCampaign string
	// Channel is an attribution channel (AttributionChannels).
	Channel          string
	IncludeTest      bool
	IncludeCancelled bool
}

// Order is one order as listed.
type Order struct {
	OrderID    string
	ShopDomain string
	Name       string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// CreatedDate is the workspace day the order counts on.
	CreatedDate     time.Time
	Currency        string
	TotalMicros     int64
	RefundedMicros  int64
	FinancialStatus string
	Test            bool
	CancelledAt     *time.Time
	CustomerID      string
	UTMSource       string
	UTMMedium       string
	UTMCampaign     string
	// Channel is the attribution channel of the order's UTM tags.
	Channel        string
	LineItemsCount int64
}

// NetMicros is the order's total less refunds.
func (o Order) NetMicros() int64 { return o.TotalMicros - o.RefundedMicros }

// OrderTotals summarize every order a filter selects, not only one page.
type OrderTotals struct {
	// Orders counts every selected order, test and cancelled ones included when selected,
	// in any currency.
	Orders int64
	// ValidOrders, RevenueMicros and RefundedMicros cover the selected orders that count
	// (valid, in the workspace currency), so that with the default filter they equal the
	// summary's orders and revenue over the same range.
	ValidOrders    int64
	RevenueMicros  int64
	RefundedMicros int64
	// ExcludedCurrencies are the other currencies among the selected orders.
	ExcludedCurrencies []string
}

// OrderPage is one page of orders, newest first.
type OrderPage struct {
	Workspace Workspace
	Orders    []Order
	// NextCursor continues after the last order of the page; "" on the last page.
	NextCursor string
	Totals     OrderTotals
}

// orderCursor is a keyset position: the last order of a page in (created_at, shop_domain,
// order_id) descending order.
type orderCursor struct {
	CreatedAtMicros int64  `json:"t"`
	ShopDomain      string `json:"s"`
	OrderID         string `json:"o"`
}

func encodeCursor(o Order) string {
	b, _ := json.Marshal(orderCursor{CreatedAtMicros: o.CreatedAt.UnixMicro(), ShopDomain: o.ShopDomain, OrderID: o.OrderID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (orderCursor, error) {
	var c orderCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, ErrBadCursor
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.ShopDomain == "" || c.OrderID == "" {
		return c, ErrBadCursor
	}
	return c, nil
}

// ValidateCursor reports whether cursor is one Orders can continue from ("" is the first page).
func ValidateCursor(cursor string) error {
	if cursor == "" {
		return nil
	}
	_, err := decodeCursor(cursor)
	return err
}

// Orders lists up to limit of the workspace's orders that f selects, newest first, after
// cursor ("" for the first page), with totals over everything f selects.
func (q *Queries) Orders(ctx context.Context, workspaceID string, f OrderFilter, limit int, cursor string) (OrderPage, error) {
	if limit < 1 {
		return OrderPage{}, fmt.Errorf("list orders: limit %d is not positive", limit)
	}
	var after *orderCursor
	if cursor != "" {
		c, err := decodeCursor(cursor)
		if err != nil {
			return OrderPage{}, err
		}
		after = &c
	}
	ws, err := q.workspace(ctx, workspaceID)
	if err != nil {
		return OrderPage{}, err
	}
	where, args := orderWhere(ws, f)

	page := OrderPage{Workspace: ws, Orders: []Order{}}
	pageWhere, pageArgs := where, args
	if after != nil {
		n := len(pageArgs)
		pageWhere += fmt.Sprintf(" AND (o.created_at, o.shop_domain, o.order_id) < ($%d, $%d, $%d)", n+1, n+2, n+3)
		pageArgs = append(pageArgs[:n:n], time.UnixMicro(after.CreatedAtMicros), after.ShopDomain, after.OrderID)
	}
	rows, err := q.db.Query(ctx, `
		SELECT o.order_id, o.shop_domain, o.name, o.created_at, o.updated_at, `+localDay("o", "$2::text")+`,
			o.currency::text, o.total_micros, o.refunded_micros, o.financial_status, o.test, o.cancelled_at,
			o.customer_id, o.utm_source, o.utm_medium, o.utm_campaign, `+orderChannelSQL("o")+`,
			(SELECT count(*) FROM order_line_items li
			 WHERE li.workspace_id = o.workspace_id AND li.shop_domain = o.shop_domain AND li.order_id = o.order_id)
		FROM orders o
		WHERE `+pageWhere+`
		ORDER BY o.created_at DESC, o.shop_domain DESC, o.order_id DESC
		LIMIT `+strconv.Itoa(limit+1), pageArgs...)
	if err != nil {
		return OrderPage{}, fmt.Errorf("list orders: %w", err)
	}
	orders, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Order, error) {
		var o Order
		err := row.Scan(&o.OrderID, &o.ShopDomain, &o.Name, &o.CreatedAt, &o.UpdatedAt, &o.CreatedDate,
			&o.Currency, &o.TotalMicros, &o.RefundedMicros, &o.FinancialStatus, &o.Test, &o.CancelledAt,
			&o.CustomerID, &o.UTMSource, &o.UTMMedium, &o.UTMCampaign, &o.Channel, &o.LineItemsCount)
		return o, err
	})
	if err != nil {
		return OrderPage{}, fmt.Errorf("list orders: %w", err)
	}
	if len(orders) > limit {
		orders = orders[:limit]
		page.NextCursor = encodeCursor(orders[limit-1])
	}
	if orders != nil {
		page.Orders = orders
	}

	cur := "$" + strconv.Itoa(len(args)+1)
	t := &page.Totals
	err = q.db.QueryRow(ctx, `
		SELECT count(*),
			count(*) FILTER (WHERE counts),
			coalesce(sum(o.total_micros - o.refunded_micros) FILTER (WHERE counts), 0)::bigint,
			coalesce(sum(o.refunded_micros) FILTER (WHERE counts), 0)::bigint,
			coalesce(array_agg(DISTINCT o.currency::text ORDER BY o.currency::text) FILTER (WHERE o.currency <> `+cur+`), '{}')
		FROM orders o, LATERAL (SELECT `+validOrder("o")+` AND o.currency = `+cur+` AS counts) v
		WHERE `+where, append(args[:len(args):len(args)], ws.Currency)...).
		Scan(&t.Orders, &t.ValidOrders, &t.RevenueMicros, &t.RefundedMicros, &t.ExcludedCurrencies)
	if err != nil {
		return OrderPage{}, fmt.Errorf("total orders: %w", err)
	}
	return page, nil
}

// orderWhere is the SQL condition and arguments of f: $1 workspace, $2 time zone, $3 from,
// $4 to, then the filter values.
func orderWhere(ws Workspace, f OrderFilter) (string, []any) {
	args := []any{ws.ID, ws.Timezone, day(f.Window.From), day(f.Window.To)}
	conds := []string{"o.workspace_id = $1", createdInDays("o", "$3", "$4", "$2::text")}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if !f.IncludeTest {
		conds = append(conds, "NOT o.test")
	}
	if !f.IncludeCancelled {
		conds = append(conds, "o.cancelled_at IS NULL")
	}
	if f.FinancialStatus != "" {
		conds = append(conds, "o.financial_status = "+arg(f.FinancialStatus))
	}
	if f.UTMSource != "" {
		conds = append(conds, normalizeUTMSQL("o.utm_source")+" = "+arg(normalizeUTM(f.UTMSource)))
	}
	if f.UTMCampaign != "" {
		conds = append(conds, slugSQL("o.utm_campaign")+" = "+slugSQL(arg(f.UTMCampaign)+"::text"))
	}
	if f.Channel != "" {
		conds = append(conds, orderChannelSQL("o")+" = "+arg(f.Channel))
	}
	return strings.Join(conds, " AND "), args
}
