package api

import (
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/shopify"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

// maxWebhookBytes bounds a webhook body; Shopify orders with many line items stay far below.
const maxWebhookBytes = 1 << 20

// shopifyWebhook applies Shopify's orders/create, orders/updated and refunds/create
// webhooks so revenue is live between syncs. The HMAC of the raw body is checked before
// anything is parsed; a bad or missing signature stores nothing. Deliveries are applied once
// per X-Shopify-Webhook-Id, so Shopify's retries and duplicates change nothing.
func (s *server) shopifyWebhook(c *gin.Context) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxWebhookBytes+1))
	if err != nil {
		malformed(c, "could not read the request body")
		return
	}
	if len(body) > maxWebhookBytes {
		writeProblem(c, Problem{Type: typeTooLarge, Title: "Request too large", Status: http.StatusRequestEntityTooLarge,
			Detail: "webhook bodies are limited to 1 MiB"})
		return
	}
	if len(s.ShopifyWebhookSecret) == 0 {
		s.log.ErrorContext(c.Request.Context(), "shopify webhook received but SHOPIFY_WEBHOOK_SECRET is not set")
		writeProblem(c, Problem{Type: typeUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized,
			Detail: "webhook signatures cannot be verified: the server has no Shopify webhook secret"})
		return
	}
	if !shopify.VerifyWebhook(s.ShopifyWebhookSecret, body, c.GetHeader("X-Shopify-Hmac-Sha256")) {
		writeProblem(c, Problem{Type: typeUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized,
			Detail: "the X-Shopify-Hmac-Sha256 signature does not match the body"})
		return
	}
	shop, err := shopify.NormalizeShopDomain(c.GetHeader("X-Shopify-Shop-Domain"))
	if err != nil {
		validationProblem(c, []FieldError{{"X-Shopify-Shop-Domain", err.Error()}})
		return
	}
	topic := c.GetHeader("X-Shopify-Topic")
	webhookID := c.GetHeader("X-Shopify-Webhook-Id")
	if webhookID == "" || len(webhookID) > 200 {
		validationProblem(c, []FieldError{{"X-Shopify-Webhook-Id", "is required"}})
		return
	}
	ctx := c.Request.Context()
	if topic == "app/uninstalled" {
		s.shopifyUninstalled(c, shop, webhookID)
		return
	}
	conns, err := s.Store.ConnectionsForAccount(ctx, string(channels.Shopify), shop)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	var apply func(conn store.Connection) (bool, error)
	switch topic {
	case "orders/create", "orders/updated", "orders/paid", "orders/cancelled":
		order, err := shopify.ParseWebhookOrder(body, shop)
		if err != nil {
			validationProblem(c, []FieldError{{"body", err.Error()}})
			return
		}
		apply = func(conn store.Connection) (bool, error) {
			return s.Store.ApplyOrderWebhook(ctx, conn, webhookID, topic, order)
		}
	case "refunds/create":
		// The body names no currency but the buyer's; every connection of the shop stores
		// the shop's currency, in which refunds are summed.
		shopCurrency := ""
		if len(conns) > 0 {
			shopCurrency = conns[0].Currency
		}
		orderID, refund, err := shopify.ParseRefundWebhook(body, shopCurrency)
		if err != nil {
			validationProblem(c, []FieldError{{"body", err.Error()}})
			return
		}
		apply = func(conn store.Connection) (bool, error) {
			return s.Store.ApplyRefundWebhook(ctx, conn, webhookID, topic, orderID, refund)
		}
	default:
		// Acknowledge topics we do not use, so Shopify does not retry them for days.
		c.JSON(http.StatusOK, gin.H{"status": "ignored", "topic": topic})
		return
	}
	applied := 0
	for _, conn := range conns {
		fresh, err := apply(conn)
		if err != nil {
			s.unavailable(c, "the database", err)
			return
		}
		if fresh {
			applied++
		}
	}
	status := "applied"
	switch {
	case len(conns) == 0:
		status = "no_connection"
	case applied == 0:
		status = "duplicate"
	}
	s.log.InfoContext(ctx, "shopify webhook", "shop", shop, "topic", topic, "webhook_id", webhookID,
		"connections", len(conns), "applied", applied)
	c.JSON(http.StatusOK, gin.H{"status": status, "connections": len(conns), "applied": applied})
}

// uninstalledReason is the status reason of a connection whose shop uninstalled the app.
const uninstalledReason = "the OmniTrackIQ app was uninstalled from the shop, which revoked its token; reconnect the shop to resume"

// shopifyUninstalled applies app/uninstalled: Shopify has revoked the shop's token, so every
// connection of the shop (in any workspace) is disabled and its tokens erased. A retried
// delivery finds them disabled already and changes nothing.
func (s *server) shopifyUninstalled(c *gin.Context, shop, webhookID string) {
	ctx := c.Request.Context()
	conns, err := s.Store.DisableAccountConnections(ctx, string(channels.Shopify), shop, uninstalledReason)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	for _, conn := range conns {
		if err := store.AppendAudit(ctx, s.Store.Pool, store.AuditEntry{
			WorkspaceID: conn.WorkspaceID, Actor: "shopify", Action: "connection.disabled", TargetType: "connection",
			TargetID: conn.ID, IP: clientIP(c), Details: map[string]any{"reason": "app/uninstalled", "shop": shop},
		}); err != nil {
			s.log.ErrorContext(ctx, "audit log write failed", "action", "connection.disabled", "err", err)
		}
	}
	s.log.InfoContext(ctx, "shopify app uninstalled", "shop", shop, "webhook_id", webhookID, "connections", len(conns))
	c.JSON(http.StatusOK, gin.H{"status": "disabled", "connections": len(conns)})
}
