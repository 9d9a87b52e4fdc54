package shopify

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit"
)

// Webhook subscriptions of the Admin REST API, which an app registers on connect:
//
//	POST   /admin/api/{ver}/webhooks.json       {"webhook":{"topic","address","format"}} -> 201 {"webhook":{...}};
//	                                            422 {"errors":{"address":["for this topic has already been taken"]}}
//	GET    /admin/api/{ver}/webhooks.json       {"webhooks":[...]}
//	DELETE /admin/api/{ver}/webhooks/{id}.json  200 {}
//
// The sandbox only records them (WebhookSubscriptions, GET /_sandbox/webhook_subscriptions):
// SendWebhook delivers to the URL a test names.

// WebhookSubscription is a registered webhook, as Shopify renders it.
type WebhookSubscription struct {
	ID                  int64    `json:"id"`
	Address             string   `json:"address"`
	Topic               string   `json:"topic"`
	CreatedAt           string   `json:"created_at"`
	UpdatedAt           string   `json:"updated_at"`
	Format              string   `json:"format"`
	Fields              []string `json:"fields"`
	MetafieldNamespaces []string `json:"metafield_namespaces"`
	APIVersion          string   `json:"api_version"`
}

// firstSubscriptionID is where webhook subscription ids start, in Shopify's range.
const firstSubscriptionID = 1_100_000_000_001

// subscribableTopics are the topics the sandbox accepts a subscription for: the ones it can
// send, the app's lifecycle and a few common ones.
func subscribableTopics() []string {
	return append(WebhookTopics(), "app/uninstalled", "shop/update", "customers/create", "customers/update",
		"products/create", "products/update")
}

// WebhookSubscriptions lists the registered webhooks, oldest first.
func (s *Server) WebhookSubscriptions() []WebhookSubscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]WebhookSubscription, len(s.subs))
	copy(out, s.subs)
	return out
}

// ResetWebhookSubscriptions removes every registered webhook.
func (s *Server) ResetWebhookSubscriptions() {
	s.mu.Lock()
	s.subs = nil
	s.mu.Unlock()
}

// webhooks serves webhooks.json and webhooks/{id}.json; res is the path after the version.
func (c *call) webhooks(res string) {
	switch {
	case res == "webhooks.json" && c.r.Method == http.MethodGet:
		subs := c.s.WebhookSubscriptions()
		if q := c.r.URL.Query(); q.Get("topic") != "" || q.Get("address") != "" {
			subs = slices.DeleteFunc(subs, func(w WebhookSubscription) bool {
				return q.Get("topic") != "" && w.Topic != q.Get("topic") || q.Get("address") != "" && w.Address != q.Get("address")
			})
		}
		c.json(http.StatusOK, map[string]any{"webhooks": subs})
	case res == "webhooks.json" && c.r.Method == http.MethodPost:
		c.createWebhook()
	case strings.HasPrefix(res, "webhooks/") && strings.HasSuffix(res, ".json") && c.r.Method == http.MethodDelete:
		id, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(res, "webhooks/"), ".json"), 10, 64)
		s := c.s
		s.mu.Lock()
		i := slices.IndexFunc(s.subs, func(w WebhookSubscription) bool { return w.ID == id })
		if err == nil && i >= 0 {
			s.subs = slices.Delete(s.subs, i, i+1)
		}
		s.mu.Unlock()
		if err != nil || i < 0 {
			c.fail(http.StatusNotFound, "Not Found")
			return
		}
		c.json(http.StatusOK, map[string]any{})
	default:
		c.fail(http.StatusNotFound, "Not Found")
	}
}

func (c *call) createWebhook() {
	var body struct {
		Webhook *struct {
			Topic   string   `json:"topic"`
			Address string   `json:"address"`
			Format  string   `json:"format"`
			Fields  []string `json:"fields"`
		} `json:"webhook"`
	}
	if err := json.NewDecoder(io.LimitReader(c.r.Body, kit.MaxBodyBytes)).Decode(&body); err != nil || body.Webhook == nil {
		c.fail(http.StatusBadRequest, map[string]string{"webhook": "Required parameter missing or invalid"})
		return
	}
	wh := body.Webhook
	if wh.Format == "" {
		wh.Format = "json"
	}
	errs := map[string][]string{}
	if !slices.Contains(subscribableTopics(), wh.Topic) {
		errs["topic"] = []string{"Invalid topic specified: " + wh.Topic + ". Topics allowed: " + strings.Join(subscribableTopics(), ", ")}
	}
	if wh.Address == "" {
		errs["address"] = []string{"can't be blank"}
	} else if _, err := kit.ParseRedirectURI(wh.Address); err != nil {
		errs["address"] = []string{"is invalid"}
	}
	if wh.Format != "json" && wh.Format != "xml" {
		errs["format"] = []string{"is not included in the list"}
	}
	if len(errs) > 0 {
		c.fail(http.StatusUnprocessableEntity, errs)
		return
	}
	if wh.Fields == nil {
		wh.Fields = []string{}
	}
	s := c.s
	now := s.ts(s.now())
	s.mu.Lock()
	dup := slices.ContainsFunc(s.subs, func(w WebhookSubscription) bool { return w.Topic == wh.Topic && w.Address == wh.Address })
	var sub WebhookSubscription
	if !dup {
		s.subSeq++
		sub = WebhookSubscription{ID: firstSubscriptionID + s.subSeq - 1, Address: wh.Address, Topic: wh.Topic,
			CreatedAt: now, UpdatedAt: now, Format: wh.Format, Fields: wh.Fields, MetafieldNamespaces: []string{}, APIVersion: c.version}
		s.subs = append(s.subs, sub)
	}
	s.mu.Unlock()
	if dup {
		c.fail(http.StatusUnprocessableEntity, map[string][]string{"address": {"for this topic has already been taken"}})
		return
	}
	c.json(http.StatusCreated, map[string]any{"webhook": sub})
}
