package shopify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"
)

func TestVerifyWebhook(t *testing.T) {
	secret := []byte("my_client_secret")
	body := []byte(`{"id":820982911946154508,"total_price":"10.00"}`)
	const want = "SvIDxeQYioCDXQOQ/S/pbFTiuCdWknvTPvqp6AacIJY="
	for _, tc := range []struct {
		name   string
		secret []byte
		body   []byte
		header string
		ok     bool
	}{
		{"reference vector", secret, body, want, true},
		{"surrounding space", secret, body, " " + want + " ", true},
		{"body changed", secret, []byte(`{"id":820982911946154508,"total_price":"10.01"}`), want, false},
		{"body re-encoded", secret, []byte(`{"id": 820982911946154508, "total_price": "10.00"}`), want, false},
		{"wrong secret", []byte("other"), body, want, false},
		{"empty secret", nil, body, want, false},
		{"not base64", secret, body, "not base64!", false},
		{"hex instead of base64", secret, body, "4af203c5e4188a80835d0390fd2fe96c54e2b82756927bcf3efaa9e8069c2096", false},
		{"truncated", secret, body, want[:20], false},
		{"empty header", secret, body, "", false},
	} {
		if got := VerifyWebhook(tc.secret, tc.body, tc.header); got != tc.ok {
			t.Errorf("%s: VerifyWebhook = %v; want %v", tc.name, got, tc.ok)
		}
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	if base64.StdEncoding.EncodeToString(m.Sum(nil)) != want {
		t.Fatal("reference vector does not match HMAC-SHA256")
	}
}

func TestParseWebhookOrder(t *testing.T) {
	o, err := ParseWebhookOrder([]byte(referenceOrder), "https://Shop.myshopify.com/")
	if err != nil {
		t.Fatal(err)
	}
	if o.ShopDomain != "shop.myshopify.com" || o.OrderID != "450789469" || o.TotalMicros != 598_940_000 || o.RefundedMicros != 52_690_000 {
		t.Errorf("order = %+v", o)
	}
	if _, err := ParseWebhookOrder([]byte(referenceOrder), "evil.example.com"); err == nil {
		t.Error("a non-myshopify domain accepted")
	}
	if _, err := ParseWebhookOrder([]byte(`{"orders":[]}`), "shop"); err == nil {
		t.Error("a wrapped body accepted")
	}
	if _, err := ParseWebhookOrder([]byte(`{`), "shop"); err == nil {
		t.Error("corrupt JSON accepted")
	}
}

func TestParseRefundWebhook(t *testing.T) {
	body := `{"id":929361462,"order_id":450789469,"created_at":"2024-01-12T09:00:00-05:00","note":"wrong size",
	  "refund_line_items":[{"id":1,"line_item_id":466157049,"quantity":1,"subtotal":199.0}],
	  "transactions":[{"id":179259969,"order_id":450789469,"kind":"refund","gateway":"bogus","status":"success","amount":"41.94","currency":"USD"},
	                  {"id":179259970,"kind":"refund","status":"pending","amount":"5.00"}]}`
	orderID, r, err := ParseRefundWebhook([]byte(body), "USD")
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2024, 1, 12, 14, 0, 0, 0, time.UTC)
	if orderID != "450789469" || r.RefundID != "929361462" || r.AmountMicros != 41_940_000 || !r.CreatedAt.Equal(want) {
		t.Errorf("refund = %s %+v", orderID, r)
	}
	for _, bad := range []string{`{"id":1,"created_at":"2024-01-12T09:00:00Z"}`, `{"id":1,"order_id":2}`, `[]`} {
		if _, _, err := ParseRefundWebhook([]byte(bad), "USD"); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
