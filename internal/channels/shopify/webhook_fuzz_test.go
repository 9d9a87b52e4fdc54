package shopify_test

import (
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/channels/shopify"
)

// FuzzParseWebhookOrder: an orders/create or orders/updated body is checked by HMAC before
// it is parsed, but a shop (or its app secret's holder) can sign anything: parsing any body
// returns an order or an error and never panics.
func FuzzParseWebhookOrder(f *testing.F) {
	f.Add([]byte(`{"id":1,"name":"#1001","created_at":"2026-11-01T10:00:00-05:00","updated_at":"2026-11-01T10:00:00-05:00","currency":"USD","total_price":"10.00","line_items":[{"id":2,"quantity":1,"price":"10.00"}],"refunds":[]}`), "demo.myshopify.com")
	f.Add([]byte(`{"id":"1","updated_at":"9999-12-31T23:59:59Z","currency":"XX","total_price":"-1e309"}`), "other.myshopify.com")
	f.Add([]byte(`null`), "")
	f.Fuzz(func(t *testing.T, body []byte, shop string) {
		o, err := shopify.ParseWebhookOrder(body, shop)
		if err == nil && o.OrderID == "" {
			t.Fatalf("an order without an id was accepted from %q", body)
		}
	})
}

// FuzzParseRefundWebhook does the same for refunds/create bodies.
func FuzzParseRefundWebhook(f *testing.F) {
	f.Add([]byte(`{"id":5,"order_id":1,"created_at":"2026-11-02T10:00:00Z","transactions":[{"kind":"refund","status":"success","amount":"5.00","currency":"USD"}],"refund_line_items":[]}`), "USD")
	f.Add([]byte(`{"order_id":null,"transactions":[{"amount":"NaN"}]}`), "")
	f.Fuzz(func(t *testing.T, body []byte, currency string) {
		_, _, _ = shopify.ParseRefundWebhook(body, currency)
	})
}
