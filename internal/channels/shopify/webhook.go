package shopify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// Webhook request headers.
const (
	HeaderTopic       = "X-Shopify-Topic"
	HeaderHmac        = "X-Shopify-Hmac-Sha256"
	HeaderShopDomain  = "X-Shopify-Shop-Domain"
	HeaderAPIVersion  = "X-Shopify-API-Version"
	HeaderWebhookID   = "X-Shopify-Webhook-Id"
	HeaderTriggeredAt = "X-Shopify-Triggered-At"
	// HeaderEventID is sent by recent API versions; the webhook id is the dedupe key that
	// every version sends.
	HeaderEventID = "X-Shopify-Event-Id"
)

// VerifyWebhook reports whether hmacHeader (X-Shopify-Hmac-Sha256) is
// base64(HMAC-SHA256(secret, body)). Call it on the raw body before parsing it. The digests
// are compared in constant time; an empty secret verifies nothing.
func VerifyWebhook(secret, body []byte, hmacHeader string) bool {
	if len(secret) == 0 {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(hmacHeader))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// ParseWebhookOrder normalizes the body of an orders/* webhook: the order JSON without the
// {"order": ...} wrapper. shopDomain is X-Shopify-Shop-Domain.
func ParseWebhookOrder(body []byte, shopDomain string) (channels.Order, error) {
	shop, err := NormalizeShopDomain(shopDomain)
	if err != nil {
		return channels.Order{}, err
	}
	o, err := parseOrder(body, shop)
	if err != nil {
		return channels.Order{}, fmt.Errorf("shopify webhook: %w", err)
	}
	return o, nil
}

// ParseRefundWebhook normalizes the body of a refunds/create webhook: one refund object with
// its order_id and transactions. shopCurrency is the shop's currency, in which the refund is
// summed (the body does not name it; transactions move the buyer's currency).
func ParseRefundWebhook(body []byte, shopCurrency string) (orderID string, refund channels.Refund, err error) {
	var w wireRefund
	if err := json.Unmarshal(body, &w); err != nil {
		return "", channels.Refund{}, fmt.Errorf("shopify refund webhook: decode: %v", err)
	}
	if !isDigits(string(w.OrderID)) {
		return "", channels.Refund{}, fmt.Errorf("shopify refund webhook: field order_id: %q is not a numeric id", string(w.OrderID))
	}
	r, err := normalizeRefund(w, shopCurrency)
	if err != nil {
		return "", channels.Refund{}, fmt.Errorf("shopify refund webhook: %w", err)
	}
	return string(w.OrderID), r, nil
}
