package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// shopifyBase is the host of a shop's Admin API: ShopifyBaseURL in the sandbox, else https://{shop}.
func (c *Client) shopifyBase(shop string) string {
	if c.c.ShopifyBaseURL != "" {
		return c.c.ShopifyBaseURL
	}
	return "https://" + shop
}

func (c *Client) shopifyAuthURL(shop, state string) string {
	// No grant_options[]: an offline token, which syncs use without a person present.
	q := url.Values{"client_id": {c.c.ShopifyClientID}, "scope": {ShopifyScopes},
		"redirect_uri": {c.RedirectURI(Shopify)}, "state": {state}}
	return c.shopifyBase(shop) + "/admin/oauth/authorize?" + q.Encode()
}

// CheckShopifyCallback verifies a Shopify callback before its state is even looked at:
// the HMAC of the query with the app secret, a myshopify.com shop and a recent timestamp.
// It returns the shop, lower-cased.
func (c *Client) CheckShopifyCallback(q url.Values) (string, error) {
	if !VerifyShopifyQuery(c.ShopifySecret(), q) {
		return "", errors.New("the hmac of the Shopify callback does not verify")
	}
	shop := q.Get("shop")
	if !ValidShop(shop) {
		return "", fmt.Errorf("shop %q is not a myshopify.com domain", truncate(shop, 100))
	}
	if !shopifyTimestampFresh(q.Get("timestamp"), c.c.Now()) {
		return "", errors.New("the Shopify callback's timestamp is missing or not recent")
	}
	return strings.ToLower(shop), nil
}

// shopifyToken is the token endpoint's answer, for codes and refreshes alike.
type shopifyToken struct {
	AccessToken  string `json:"access_token"`
	Scope        string `json:"scope"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

func (c *Client) shopifyTokenCall(ctx context.Context, shop string, form map[string]string, what string, scrub scrubber) (Token, []string, error) {
	form["client_id"], form["client_secret"] = c.c.ShopifyClientID, c.c.ShopifyClientSecret
	body, err := json.Marshal(form)
	if err != nil {
		return Token{}, nil, fmt.Errorf("shopify: encode token request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.shopifyBase(shop)+"/admin/oauth/access_token", bytes.NewReader(body))
	if err != nil {
		return Token{}, nil, fmt.Errorf("shopify: build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	start := c.c.Now()
	var r shopifyToken
	_, raw, err := c.call(req, Shopify, what, scrub, &r)
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) && !pe.Retryable {
			var oe struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(raw, &oe) == nil {
				pe.Code = oe.Error
			}
		}
		return Token{}, nil, err
	}
	if r.AccessToken == "" {
		return Token{}, nil, &Error{Provider: Shopify, Retryable: true, Message: what + ": no access_token"}
	}
	t := Token{Access: r.AccessToken, Refresh: r.RefreshToken}
	if r.ExpiresIn > 0 {
		t.ExpiresAt = start.Add(time.Duration(r.ExpiresIn) * time.Second).UTC()
	}
	var scopes []string
	for _, s := range strings.Split(r.Scope, ",") {
		if s = strings.TrimSpace(s); s != "" {
			scopes = append(scopes, s)
		}
	}
	return t, scopes, nil
}

func (c *Client) shopifyExchange(ctx context.Context, shop, code string) (Grant, error) {
	if !ValidShop(shop) {
		return Grant{}, &Error{Provider: Shopify, Message: "the shop is not a myshopify.com domain"}
	}
	form := map[string]string{"code": code}
	if c.c.ShopifyExpiringTokens {
		form["expiring"] = "1"
	}
	tok, scopes, err := c.shopifyTokenCall(ctx, shop, form, "exchange the authorization code",
		scrubber{c.c.ShopifyClientSecret, code})
	if err != nil {
		return Grant{}, err
	}
	// A grant reads exactly one shop: the one the HMAC-verified callback named.
	return Grant{Token: tok, Scopes: scopes, Accounts: []Account{{ID: strings.ToLower(shop)}}}, nil
}

// RegisterShopifyWebhooks subscribes the shop to ShopifyWebhookTopics at
// ShopifyWebhookAddress and returns the subscription ids. A topic already subscribed at
// that address (422 "has already been taken", e.g. on reconnect) is looked up instead.
func (c *Client) RegisterShopifyWebhooks(ctx context.Context, shop, access string) ([]string, error) {
	scrub := scrubber{access, c.c.ShopifyClientSecret}
	address := c.ShopifyWebhookAddress()
	var ids []string
	var existing map[string]string // topic -> id, loaded on the first duplicate
	for _, topic := range ShopifyWebhookTopics {
		body, err := json.Marshal(map[string]any{"webhook": map[string]string{"topic": topic, "address": address, "format": "json"}})
		if err != nil {
			return nil, fmt.Errorf("shopify: encode webhook: %w", err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.shopifyAdmin(shop, "/webhooks.json"), bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("shopify: build webhook request: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Shopify-Access-Token", access)
		var r struct {
			Webhook struct {
				ID json.Number `json:"id"`
			} `json:"webhook"`
		}
		status, _, err := c.call(req, Shopify, "register webhook "+topic, scrub, &r)
		if status == http.StatusUnprocessableEntity {
			if existing == nil {
				if existing, err = c.shopifyWebhooks(ctx, shop, access); err != nil {
					return nil, err
				}
			}
			if id := existing[topic]; id != "" {
				ids = append(ids, id)
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		if id := r.Webhook.ID.String(); id != "" {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (c *Client) shopifyAdmin(shop, path string) string {
	return c.shopifyBase(shop) + "/admin/api/" + c.c.ShopifyAPIVersion + path
}

// shopifyWebhooks lists the shop's subscriptions at our address, by topic.
func (c *Client) shopifyWebhooks(ctx context.Context, shop, access string) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.shopifyAdmin(shop, "/webhooks.json"), nil)
	if err != nil {
		return nil, fmt.Errorf("shopify: build webhooks request: %w", err)
	}
	req.Header.Set("X-Shopify-Access-Token", access)
	var r struct {
		Webhooks []struct {
			ID      json.Number `json:"id"`
			Topic   string      `json:"topic"`
			Address string      `json:"address"`
		} `json:"webhooks"`
	}
	if _, _, err := c.call(req, Shopify, "list webhooks", scrubber{access}, &r); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, w := range r.Webhooks {
		if w.Address == c.ShopifyWebhookAddress() {
			out[w.Topic] = w.ID.String()
		}
	}
	return out, nil
}

// deleteShopifyWebhooks removes every subscription of the shop at our address. A token the
// shop no longer accepts (401, app uninstalled) has no webhooks left to remove.
func (c *Client) deleteShopifyWebhooks(ctx context.Context, shop, access string) error {
	hooks, err := c.shopifyWebhooks(ctx, shop, access)
	var pe *Error
	if errors.As(err, &pe) && (pe.Status == http.StatusUnauthorized || pe.Status == http.StatusNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for topic, id := range hooks {
		if _, err := strconv.ParseUint(id, 10, 64); err != nil {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.shopifyAdmin(shop, "/webhooks/"+id+".json"), nil)
		if err != nil {
			return fmt.Errorf("shopify: build webhook delete: %w", err)
		}
		req.Header.Set("X-Shopify-Access-Token", access)
		status, _, err := c.call(req, Shopify, "delete webhook "+topic, scrubber{access}, nil)
		if err != nil && status != http.StatusNotFound {
			return err
		}
	}
	return nil
}
