package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/shopify"
	"github.com/omnitrackiq/omnitrackiq/internal/secretbox"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/syncsvc"
)

const (
	// maxWebhookBytes bounds a webhook body; Shopify orders with many line items stay far below.
	maxWebhookBytes = 1 << 20
	// shopifyWebhookMaxAge is the freshness window: a delivery triggered longer ago (by
	// X-Shopify-Triggered-At) is recorded as stale and not applied. Shopify retries a failed
	// delivery with its original payload for 4 hours; the next incremental sync reads what
	// a stale delivery would have brought.
	shopifyWebhookMaxAge = 15 * time.Minute
	// orderReadTimeout bounds reading one order back from the shop: Shopify waits 5 s for
	// the answer to the whole delivery.
	orderReadTimeout = 3 * time.Second
)

// orderLookup is a connector that reads one order by id (*shopify.Client).
type orderLookup interface {
	ReadOrder(ctx context.Context, acct channels.Account, orderID string) (channels.Order, error)
}

// shopifyWebhook applies Shopify's orders/create, orders/updated, orders/paid,
// orders/cancelled and refunds/create webhooks so revenue is live between syncs.
//
// Shopify signs the body only: X-Shopify-Shop-Domain, X-Shopify-Webhook-Id and
// X-Shopify-Triggered-At are not covered, so the body is trusted for nothing but the id of
// the order it is about. For each connection of the shop the header names, the order is read
// back from the shop's API with that connection's token, and the order the API returns is
// what is applied: a signed body replayed under another shop's domain finds no such order in
// that shop and changes nothing there.
//
// Each delivery is recorded once per workspace (X-Shopify-Webhook-Id) with its outcome, so
// retries and duplicates change nothing. A delivery that is stale, invalid (a bad currency,
// amount or timestamp, in the body or in the order read back), unknown to the shop, or for
// a connection that takes no data (disabled, disconnected, needs_reauth, syncs paused) is
// recorded and answered 200: a non-2xx answer would only make Shopify retry the same bytes
// for hours, and remove the subscription after 8 failures. Only a failure that a retry can
// fix (the database, the shop's API rate limit or outage) answers 503.
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
	if !shopify.VerifyWebhook(s.ShopifyWebhookSecret, body, c.GetHeader(shopify.HeaderHmac)) {
		writeProblem(c, Problem{Type: typeUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized,
			Detail: "the X-Shopify-Hmac-Sha256 signature does not match the body"})
		return
	}
	shop, err := shopify.NormalizeShopDomain(c.GetHeader(shopify.HeaderShopDomain))
	if err != nil {
		validationProblem(c, []FieldError{{shopify.HeaderShopDomain, err.Error()}})
		return
	}
	topic := c.GetHeader(shopify.HeaderTopic)
	webhookID := c.GetHeader(shopify.HeaderWebhookID)
	if webhookID == "" || len(webhookID) > 200 {
		validationProblem(c, []FieldError{{shopify.HeaderWebhookID, "is required (at most 200 characters)"}})
		return
	}
	if topic == "app/uninstalled" {
		s.shopifyUninstalled(c, shop, webhookID, body)
		return
	}
	switch topic {
	case "orders/create", "orders/updated", "orders/paid", "orders/cancelled", "refunds/create":
	default:
		// Acknowledge topics we do not use, so Shopify does not retry them for hours.
		c.JSON(http.StatusOK, gin.H{"status": "ignored", "topic": topic})
		return
	}
	ctx := c.Request.Context()
	conns, err := s.Store.ConnectionsForAccount(ctx, string(channels.Shopify), shop)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	if len(conns) == 0 {
		c.JSON(http.StatusOK, gin.H{"status": "no_connection", "connections": 0, "applied": 0})
		return
	}
	now := time.Now()
	seen, err := s.Store.WebhookOutcomes(ctx, string(channels.Shopify), webhookID)
	if err != nil {
		s.unavailable(c, "the database", err)
		return
	}
	d := shopifyDelivery{id: webhookID, topic: topic, shop: shop, now: now}
	outcome, reason := d.check(c.GetHeader(shopify.HeaderTriggeredAt), body, conns[0].Currency)
	tally := map[string]int{}
	for _, conn := range conns {
		if _, ok := seen[conn.WorkspaceID]; ok {
			tally["duplicate"]++
			continue
		}
		got, fresh := outcome, true
		if outcome != "" {
			fresh, err = s.Store.RecordWebhookOutcome(ctx, conn, webhookID, topic, outcome, reason)
		} else {
			got, fresh, err = s.applyShopifyOrder(ctx, conn, d)
		}
		if err != nil {
			s.unavailable(c, "the delivery's verification", err)
			return
		}
		if !fresh {
			got = "duplicate"
		}
		tally[got]++
	}
	status := "not_applied"
	switch {
	case tally[store.OutcomeApplied] > 0:
		status = "applied"
	case tally["duplicate"] == len(conns):
		status = "duplicate"
	case outcome != "":
		status = "rejected"
	}
	s.log.InfoContext(ctx, "shopify webhook", "shop", shop, "topic", topic, "webhook_id", webhookID,
		"connections", len(conns), "outcomes", tally, "reason", reason)
	resp := gin.H{"status": status, "connections": len(conns), "applied": tally[store.OutcomeApplied], "outcomes": tally}
	if reason != "" {
		resp["reason"] = reason
	}
	c.JSON(http.StatusOK, resp)
}

// shopifyDelivery is a signed delivery of an order or refund topic.
type shopifyDelivery struct {
	id, topic, shop string
	now             time.Time
	// orderID is the order the body is about, set by check.
	orderID string
}

// check decides what the delivery itself allows, before any connection is looked at: a
// non-empty outcome (store.OutcomeStale or store.OutcomeInvalid) with its reason refuses it
// for every connection. Otherwise it sets d.orderID. shopCurrency is the shop's currency,
// in which refunds are summed.
//
// X-Shopify-Triggered-At decides staleness. Shopify sends it on every delivery, but it is not
// signed, so it bounds how old a delivery Shopify retries, not what a replayer can send: the
// read-back does that. A missing header is therefore accepted; a malformed one, or one more
// than store.MaxClockSkew in the future, is invalid.
func (d *shopifyDelivery) check(triggeredAt string, body []byte, shopCurrency string) (outcome, reason string) {
	if triggeredAt != "" {
		at, err := time.Parse(time.RFC3339Nano, triggeredAt)
		switch {
		case err != nil:
			return store.OutcomeInvalid, fmt.Sprintf("%s %q is not an RFC 3339 time", shopify.HeaderTriggeredAt, triggeredAt)
		case at.After(d.now.Add(store.MaxClockSkew)):
			return store.OutcomeInvalid, fmt.Sprintf("%s %s is in the future", shopify.HeaderTriggeredAt, triggeredAt)
		case d.now.Sub(at) > shopifyWebhookMaxAge:
			return store.OutcomeStale, fmt.Sprintf("triggered at %s, more than %s ago; the next sync reads the order",
				at.UTC().Format(time.RFC3339), shopifyWebhookMaxAge)
		}
	}
	if d.topic == "refunds/create" {
		orderID, refund, err := shopify.ParseRefundWebhook(body, shopCurrency)
		if err == nil {
			err = store.ValidateRefund(refund, d.now)
		}
		if err != nil {
			return store.OutcomeInvalid, err.Error()
		}
		d.orderID = orderID
		return "", ""
	}
	order, err := shopify.ParseWebhookOrder(body, d.shop)
	if err == nil {
		err = store.ValidateOrder(order, d.now)
	}
	if err != nil {
		return store.OutcomeInvalid, err.Error()
	}
	d.orderID = order.OrderID
	return "", ""
}

// applyShopifyOrder applies the delivery to one connection: nothing to a connection that
// takes no data, else the order as the connection's shop returns it with the connection's
// token. An error is one a retry may fix (the database, the scheduler, the shop's API rate
// limit or availability); every other result is recorded.
func (s *server) applyShopifyOrder(ctx context.Context, conn store.Connection, d shopifyDelivery) (string, bool, error) {
	record := func(outcome, detail string) (string, bool, error) {
		fresh, err := s.Store.RecordWebhookOutcome(ctx, conn, d.id, d.topic, outcome, detail)
		return outcome, fresh, err
	}
	switch conn.Status {
	case "active", "error":
	default:
		return record(store.OutcomeSkipped, "the connection is "+conn.Status)
	}
	sch, err := s.Syncs.GetSchedule(ctx, conn)
	switch {
	case errors.Is(err, syncsvc.ErrNotFound):
	case err != nil:
		return "", false, fmt.Errorf("read the schedule of connection %s: %w", conn.ID, err)
	case sch.Paused:
		return record(store.OutcomeSkipped, "the connection's syncs are paused")
	}
	reader, ok := s.Connectors.Orders[channels.Shopify].(orderLookup)
	if !ok {
		return "", false, errors.New("no shopify connector reads orders back: webhooks cannot be verified")
	}
	token, err := s.Box.Open(conn.TokenCiphertext, secretbox.ConnectionTokenAAD(conn.WorkspaceID, conn.Channel, conn.ExternalAccountID))
	if err != nil {
		s.log.ErrorContext(ctx, "shopify webhook: cannot open the connection's token", "connection_id", conn.ID, "err", err)
		return record(store.OutcomeUnverified, "the connection's token cannot be opened")
	}
	rctx, cancel := context.WithTimeout(ctx, orderReadTimeout)
	order, err := reader.ReadOrder(rctx, channels.Account{ID: conn.ExternalAccountID, Token: string(token)}, d.orderID)
	cancel()
	var ce *channels.Error
	switch {
	case errors.Is(err, shopify.ErrOrderNotFound):
		return record(store.OutcomeNotFound, fmt.Sprintf("shop %s has no order %s", conn.ExternalAccountID, d.orderID))
	case errors.As(err, &ce) && ce.Kind == channels.KindAuth:
		return record(store.OutcomeUnverified, "the shop's API refused the connection's token: "+redactToken(ce.Message, string(token)))
	case errors.As(err, &ce) && ce.Kind == channels.KindBadRequest:
		return record(store.OutcomeInvalid, "the order read back is unusable: "+redactToken(ce.Message, string(token)))
	case err != nil:
		return "", false, fmt.Errorf("read order %s back from %s: %s", d.orderID, conn.ExternalAccountID, redactToken(err.Error(), string(token)))
	}
	return s.Store.ApplyOrderWebhook(ctx, conn, d.id, d.topic, order, d.now)
}

// uninstalledReason is the status reason of a connection whose shop uninstalled the app.
const uninstalledReason = "the OmniTrackIQ app was uninstalled from the shop, which revoked its token; reconnect the shop to resume"

// shopifyUninstalled applies app/uninstalled: Shopify has revoked the shop's token, so every
// connection of the shop (in any workspace) is disabled and its tokens erased. A retried
// delivery finds them disabled already and changes nothing. The body is the shop and is
// signed: it must name the shop the unsigned header names, so a replayed uninstall of one
// shop cannot disable another's connections.
func (s *server) shopifyUninstalled(c *gin.Context, shop, webhookID string, body []byte) {
	var b struct {
		MyshopifyDomain string `json:"myshopify_domain"`
		Domain          string `json:"domain"`
	}
	named := false
	if json.Unmarshal(body, &b) == nil {
		for _, d := range []string{b.MyshopifyDomain, b.Domain} {
			if n, err := shopify.NormalizeShopDomain(d); err == nil && n == shop {
				named = true
			}
		}
	}
	if !named {
		validationProblem(c, []FieldError{{shopify.HeaderShopDomain,
			"does not name the shop of the signed body (its myshopify_domain)"}})
		return
	}
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
