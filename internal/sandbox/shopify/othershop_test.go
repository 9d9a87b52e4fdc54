package shopify_test

import (
	"context"
	"errors"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	conn "github.com/omnitrackiq/omnitrackiq/internal/channels/shopify"
	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
)

// TestReadOrderIsScopedToTheTokensShop: the connector's single-order read answers the demo
// shop's order with the demo shop's token, and 404 with the other shop's token, whose shop
// has no orders, as Shopify scopes every call to the token's shop.
func TestReadOrderIsScopedToTheTokensShop(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, conn.Options{})
	ctx := context.Background()
	orders, err := e.sb.Orders(today)
	if err != nil || len(orders) == 0 {
		t.Fatalf("orders of %s: %v, %v", today, orders, err)
	}
	id := orders[0].ID

	o, err := e.c.ReadOrder(ctx, demo, id)
	if err != nil {
		t.Fatal(err)
	}
	if o.OrderID != id || o.ShopDomain != sandbox.DemoShopDomain || o.Currency != "USD" {
		t.Fatalf("order %+v", o)
	}
	listed, _, err := readAll(t, e.c, demo, channels.OrdersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range listed {
		if l.OrderID == id && (l.TotalMicros != o.TotalMicros || !l.UpdatedAt.Equal(o.UpdatedAt)) {
			t.Fatalf("orders/%s.json %+v differs from orders.json %+v", id, o, l)
		}
	}

	other := channels.Account{ID: sandbox.OtherShopDomain, Token: sandbox.OtherShopToken}
	if _, err := e.c.ReadOrder(ctx, other, id); !errors.Is(err, conn.ErrOrderNotFound) {
		t.Fatalf("the other shop's token read the demo shop's order: %v", err)
	}
	info, err := e.c.AccountInfo(ctx, other)
	if err != nil || info.Name != sandbox.OtherShopName {
		t.Fatalf("other shop info %+v, %v", info, err)
	}
	if got, _, err := readAll(t, e.c, other, channels.OrdersRequest{}); err != nil || len(got) != 0 {
		t.Fatalf("the other shop lists %d orders, %v", len(got), err)
	}
	if _, err := e.c.ReadOrder(ctx, channels.Account{ID: sandbox.DemoShopDomain, Token: "not-a-token"}, id); err == nil {
		t.Fatal("an unknown token read an order")
	}
}
