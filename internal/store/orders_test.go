package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

// newShop is a fresh database with one workspace and its Shopify connection.
func newShop(t *testing.T) (*store.Store, store.Workspace, store.Connection) {
	t.Helper()
	st, _ := testdb.New(t)
	ctx := context.Background()
	ws, err := st.CreateWorkspace(ctx, "Shop", "USD", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := st.CreateConnection(ctx, store.NewConnection{WorkspaceID: ws.ID, Channel: "shopify",
		ExternalAccountID: "demo.myshopify.com", TokenCiphertext: []byte{1}, Timezone: "UTC", Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	return st, ws, conn
}

func TestMergeOrdersIsIdempotentAndKeepsNewestVersion(t *testing.T) {
	st, ws, conn := newShop(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	order := func(updated time.Time, total int64, refunds ...channels.Refund) channels.Order {
		return channels.Order{ShopDomain: "demo.myshopify.com", OrderID: "1001", Name: "#1001", CreatedAt: t0, UpdatedAt: updated,
			Currency: "USD", TotalMicros: total, FinancialStatus: "paid", CustomerID: "c1",
			LineItems: []channels.LineItem{{LineItemID: "li1", Quantity: 2, PriceMicros: total / 2}}, Refunds: refunds}
	}
	merge := func(orders ...channels.Order) int64 {
		t.Helper()
		var n int64
		if err := st.InTx(ctx, func(tx pgx.Tx) error {
			var err error
			n, _, err = store.MergeOrders(ctx, tx, ws.ID, conn.ID, orders)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	state := func() (total, refunded int64, items, refunds int, synced time.Time) {
		t.Helper()
		err := st.Pool.QueryRow(ctx, `SELECT total_micros, refunded_micros,
			(SELECT count(*) FROM order_line_items), (SELECT count(*) FROM order_refunds), synced_at
			FROM orders WHERE order_id = '1001'`).Scan(&total, &refunded, &items, &refunds, &synced)
		if err != nil {
			t.Fatal(err)
		}
		return
	}

	if n := merge(order(t0, 50_000_000)); n != 1 {
		t.Fatalf("first merge wrote %d orders", n)
	}
	_, _, _, _, synced1 := state()
	if n := merge(order(t0, 50_000_000)); n != 0 {
		t.Fatalf("identical re-merge wrote %d orders", n)
	}
	if _, _, _, _, synced2 := state(); !synced2.Equal(synced1) {
		t.Fatal("identical re-merge rewrote the row")
	}
	refund := channels.Refund{RefundID: "r1", CreatedAt: t0.Add(2 * time.Hour), AmountMicros: 10_000_000}
	edited := order(t0.Add(2*time.Hour), 40_000_000, refund)
	edited.RefundedMicros = 10_000_000
	merge(edited)
	if total, refunded, items, refunds, _ := state(); total != 40_000_000 || refunded != 10_000_000 || items != 1 || refunds != 1 {
		t.Fatalf("after edit: total %d refunded %d items %d refunds %d", total, refunded, items, refunds)
	}
	// A stale page (older updated_at) does not undo the edit.
	if n := merge(order(t0.Add(time.Hour), 99_000_000)); n != 0 {
		t.Fatalf("stale version wrote %d orders", n)
	}
	if total, _, _, refunds, _ := state(); total != 40_000_000 || refunds != 1 {
		t.Fatalf("stale version changed the order: total %d refunds %d", total, refunds)
	}
}

// TestMergeOrdersRefundsAccumulate: refunds are never lost to another version of the order,
// and of two versions with the same updated_at second the one with fewer refunds (read
// before the refund) does not replace the stored one.
func TestMergeOrdersRefundsAccumulate(t *testing.T) {
	st, ws, conn := newShop(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	r1 := channels.Refund{RefundID: "r1", CreatedAt: t0.Add(time.Hour), AmountMicros: 5_000_000}
	r2 := channels.Refund{RefundID: "r2", CreatedAt: t0.Add(2 * time.Hour), AmountMicros: 7_000_000}
	order := func(updated time.Time, status string, refunds ...channels.Refund) channels.Order {
		o := channels.Order{ShopDomain: "demo.myshopify.com", OrderID: "1001", Name: "#1001", CreatedAt: t0, UpdatedAt: updated,
			Currency: "USD", TotalMicros: 50_000_000, FinancialStatus: status, Refunds: refunds}
		for _, r := range refunds {
			o.RefundedMicros += r.AmountMicros
		}
		return o
	}
	merge := func(orders ...channels.Order) {
		t.Helper()
		if err := st.InTx(ctx, func(tx pgx.Tx) error {
			_, _, err := store.MergeOrders(ctx, tx, ws.ID, conn.ID, orders)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step, wantStatus string, wantRefunded int64, wantRefunds int) {
		t.Helper()
		var status string
		var refunded int64
		var n int
		if err := st.Pool.QueryRow(ctx, `SELECT financial_status, refunded_micros, (SELECT count(*) FROM order_refunds)
			FROM orders WHERE order_id = '1001'`).Scan(&status, &refunded, &n); err != nil {
			t.Fatal(err)
		}
		if status != wantStatus || refunded != wantRefunded || n != wantRefunds {
			t.Fatalf("%s: status %s refunded %d refunds %d; want %s %d %d", step, status, refunded, n, wantStatus, wantRefunded, wantRefunds)
		}
	}
	t1 := t0.Add(time.Hour)
	merge(order(t1, "partially_refunded", r1))
	check("refunded", "partially_refunded", 5_000_000, 1)
	merge(order(t1, "paid"))
	check("same second, read before the refund", "partially_refunded", 5_000_000, 1)
	merge(order(t0, "paid"))
	check("older", "partially_refunded", 5_000_000, 1)
	// Two versions of the same second in one page: the one with more refunds wins.
	merge(order(t1.Add(time.Hour), "refunded", r1, r2), order(t1.Add(time.Hour), "partially_refunded", r1))
	check("one page, two versions", "refunded", 12_000_000, 2)
	// A newer version that somehow lacks a refund changes the order but keeps the refund.
	merge(order(t1.Add(2*time.Hour), "refunded", r2))
	check("newer version without r1", "refunded", 12_000_000, 2)
	// Same second, same refunds: a re-read is accepted (the newest data of that second).
	merge(order(t1.Add(2*time.Hour), "partially_refunded", r1, r2))
	check("same second, same refunds", "partially_refunded", 12_000_000, 2)
}

// TestMergeOrdersUpsertsCustomers: the customer record read with an order is stored in the
// same merge; an older record never replaces a newer one, whatever order they come in.
func TestMergeOrdersUpsertsCustomers(t *testing.T) {
	st, ws, conn := newShop(t)
	ctx := context.Background()
	opened := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	order := func(id string, at time.Time, email string) channels.Order {
		return channels.Order{ShopDomain: "demo.myshopify.com", OrderID: id, CreatedAt: at, UpdatedAt: at, Currency: "USD",
			CustomerID: "c1", Customer: &channels.Customer{ID: "c1", EmailSHA256: email, CreatedAt: opened, UpdatedAt: at, OrdersCount: -1}}
	}
	for _, step := range []struct {
		orders    []channels.Order
		wantEmail string
	}{
		{[]channels.Order{order("1", t0, "old")}, "old"},
		{[]channels.Order{order("2", t0.Add(time.Hour), "new"), order("3", t0.Add(30*time.Minute), "mid")}, "new"},
		{[]channels.Order{order("1", t0, "old")}, "new"},
	} {
		if err := st.InTx(ctx, func(tx pgx.Tx) error {
			_, _, err := store.MergeOrders(ctx, tx, ws.ID, conn.ID, step.orders)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		var n int
		var email string
		var created time.Time
		if err := st.Pool.QueryRow(ctx, `SELECT count(*) OVER (), email_sha256, created_at FROM customers`).Scan(&n, &email, &created); err != nil {
			t.Fatal(err)
		}
		if n != 1 || email != step.wantEmail || !created.Equal(opened) {
			t.Fatalf("customers %d, email %q, created %s; want 1 %q %s", n, email, created, step.wantEmail, opened)
		}
	}
}
