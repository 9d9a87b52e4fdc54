package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

func TestValidateOrder(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	good := func() channels.Order {
		return channels.Order{ShopDomain: "demo.myshopify.com", OrderID: "1001", CreatedAt: now.Add(-time.Hour),
			UpdatedAt: now, Currency: "EUR", TotalMicros: 10_000_000,
			LineItems: []channels.LineItem{{LineItemID: "1", Quantity: 1, PriceMicros: 10_000_000}},
			Refunds:   []channels.Refund{{RefundID: "9", CreatedAt: now, AmountMicros: 1_000_000}},
			Customer:  &channels.Customer{ID: "5", CreatedAt: now.AddDate(-1, 0, 0), UpdatedAt: now}}
	}
	if err := store.ValidateOrder(good(), now); err != nil {
		t.Fatalf("a good order: %v", err)
	}
	far := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	tests := []struct {
		field string
		edit  func(o *channels.Order)
	}{
		{"currency", func(o *channels.Order) { o.Currency = "US$" }},
		{"currency", func(o *channels.Order) { o.Currency = "usd" }},
		{"currency", func(o *channels.Order) { o.Currency = "" }},
		{"updated_at", func(o *channels.Order) { o.UpdatedAt = far }},
		{"updated_at", func(o *channels.Order) { o.UpdatedAt = now.Add(store.MaxClockSkew + time.Second) }},
		{"updated_at", func(o *channels.Order) { o.UpdatedAt = time.Time{} }},
		{"created_at", func(o *channels.Order) { o.CreatedAt = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"cancelled_at", func(o *channels.Order) { o.CancelledAt = &far }},
		{"processed_at", func(o *channels.Order) { o.ProcessedAt = far }},
		{"total_price", func(o *channels.Order) { o.TotalMicros = -1 }},
		{"total_price", func(o *channels.Order) { o.TotalMicros = store.MaxAmountMicros + 1 }},
		{"total_tax", func(o *channels.Order) { o.TaxMicros = -5 }},
		{"line_items[0].price", func(o *channels.Order) { o.LineItems[0].PriceMicros = -1 }},
		{"line_items[0].quantity", func(o *channels.Order) { o.LineItems[0].Quantity = -1 }},
		{"refunds[0]: field amount", func(o *channels.Order) { o.Refunds[0].AmountMicros = store.MaxAmountMicros + 1 }},
		{"refunds[0]: field created_at", func(o *channels.Order) { o.Refunds[0].CreatedAt = far }},
		{"customer.updated_at", func(o *channels.Order) { o.Customer.UpdatedAt = far }},
	}
	for _, tc := range tests {
		o := good()
		tc.edit(&o)
		err := store.ValidateOrder(o, now)
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: err %v, want one naming the field", tc.field, err)
		}
	}
	// Within the skew is a clock difference, not a bad timestamp.
	o := good()
	o.UpdatedAt = now.Add(store.MaxClockSkew - time.Second)
	if err := store.ValidateOrder(o, now); err != nil {
		t.Errorf("within the skew: %v", err)
	}
}

func TestApplyOrderWebhookRecordsOutcomesOnce(t *testing.T) {
	st, ws, conn := newShop(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	order := channels.Order{ShopDomain: conn.ExternalAccountID, OrderID: "2001", CreatedAt: now.Add(-time.Hour),
		UpdatedAt: now.Add(-time.Minute), Currency: "USD", TotalMicros: 5_000_000}
	outcome := func(id string) (string, string) {
		t.Helper()
		var o, d string
		if err := st.Pool.QueryRow(ctx, `SELECT outcome, detail FROM webhook_deliveries WHERE webhook_id = $1 AND workspace_id = $2`,
			id, ws.ID).Scan(&o, &d); err != nil {
			t.Fatal(err)
		}
		return o, d
	}
	orders := func() int {
		t.Helper()
		var n int
		if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	bad := order
	bad.Currency = "DOLLARS"
	for try := 0; try < 2; try++ {
		got, fresh, err := st.ApplyOrderWebhook(ctx, conn, "w-bad", "orders/create", bad, now)
		if err != nil || got != store.OutcomeInvalid || fresh != (try == 0) {
			t.Fatalf("try %d: %q fresh %v err %v", try, got, fresh, err)
		}
	}
	if o, d := outcome("w-bad"); o != store.OutcomeInvalid || !strings.Contains(d, "currency") {
		t.Fatalf("recorded %q %q", o, d)
	}
	foreign := order
	foreign.ShopDomain = "other.myshopify.com"
	if got, _, err := st.ApplyOrderWebhook(ctx, conn, "w-foreign", "orders/create", foreign, now); err != nil || got != store.OutcomeInvalid {
		t.Fatalf("another shop's order: %q %v", got, err)
	}
	if orders() != 0 {
		t.Fatal("an invalid delivery stored an order")
	}

	got, fresh, err := st.ApplyOrderWebhook(ctx, conn, "w-good", "orders/create", order, now)
	if err != nil || got != store.OutcomeApplied || !fresh || orders() != 1 {
		t.Fatalf("good order: %q fresh %v err %v", got, fresh, err)
	}
	if fresh, err := st.RecordWebhookOutcome(ctx, conn, "w-good", "orders/create", store.OutcomeStale, ""); err != nil || fresh {
		t.Fatalf("re-recording a delivery: fresh %v err %v", fresh, err)
	}
	seen, err := st.WebhookOutcomes(ctx, "shopify", "w-good")
	if err != nil || len(seen) != 1 || seen[ws.ID] != store.OutcomeApplied {
		t.Fatalf("outcomes %v %v", seen, err)
	}
	long := strings.Repeat("é", 400) // 800 bytes: cut on a rune boundary
	if _, err := st.RecordWebhookOutcome(ctx, conn, "w-long", "orders/create", store.OutcomeNotFound, long); err != nil {
		t.Fatal(err)
	}
	if _, d := outcome("w-long"); len(d) > 500 || !strings.HasPrefix(long, d) {
		t.Fatalf("detail of %d bytes", len(d))
	}
}

// TestMergeOrdersReplacesAFutureVersion: an order stored with an updated_at far in the
// future (before validation existed, or by a sync) does not freeze it: the next version
// wins, and the far-future time never becomes an incremental cursor.
func TestMergeOrdersReplacesAFutureVersion(t *testing.T) {
	st, ws, conn := newShop(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	order := channels.Order{ShopDomain: conn.ExternalAccountID, OrderID: "3001", CreatedAt: now.Add(-time.Hour),
		UpdatedAt: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), Currency: "USD", TotalMicros: 1_000_000,
		Customer: &channels.Customer{ID: "7", CreatedAt: now.Add(-time.Hour), UpdatedAt: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), OrdersCount: -1}}
	merge := func(o channels.Order) (cursor time.Time) {
		t.Helper()
		if err := st.InTx(ctx, func(tx pgx.Tx) error {
			var err error
			_, cursor, err = store.MergeOrders(ctx, tx, ws.ID, conn.ID, []channels.Order{o})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return cursor
	}
	if cursor := merge(order); !cursor.IsZero() {
		t.Fatalf("a year-9999 updated_at moved the cursor to %v", cursor)
	}
	order.UpdatedAt, order.TotalMicros = now, 2_000_000
	order.Customer.UpdatedAt = now
	if cursor := merge(order); !cursor.Equal(now) {
		t.Fatalf("cursor %v, want %v", cursor, now)
	}
	var total int64
	var updated, custUpdated time.Time
	if err := st.Pool.QueryRow(ctx, `SELECT total_micros, updated_at, (SELECT updated_at FROM customers WHERE customer_id = '7')
		FROM orders WHERE order_id = '3001'`).Scan(&total, &updated, &custUpdated); err != nil {
		t.Fatal(err)
	}
	if total != 2_000_000 || !updated.Equal(now) || !custUpdated.Equal(now) {
		t.Fatalf("total %d updated %v customer updated %v: the year-9999 version froze the order", total, updated, custUpdated)
	}
}
