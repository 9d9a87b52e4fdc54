package shopify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// DefaultWebhookSecret signs the webhooks sent over the admin endpoint without a secret.
const DefaultWebhookSecret = "sandbox-shopify-webhook-secret"

const (
	maxDeliveries    = 1000
	triggeredAtShape = "2006-01-02T15:04:05.000000Z"
)

// WebhookTopics are the topics SendWebhook can send. refunds/create sends the order's
// latest refund; the others send the order.
func WebhookTopics() []string {
	return []string{"orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled", "refunds/create"}
}

// WebhookDelivery is one webhook as sent (and resent).
type WebhookDelivery struct {
	ID      string `json:"webhook_id"`
	Topic   string `json:"topic"`
	URL     string `json:"url"`
	OrderID string `json:"order_id"`
	// Headers are the Shopify headers sent, HMAC included (the secret is not kept).
	Headers  map[string]string `json:"headers"`
	Body     json.RawMessage   `json:"body"`
	Attempts int               `json:"attempts"`
	// Status is the HTTP status of the last attempt, 0 if it did not get one.
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
}

// SendWebhook POSTs the webhook of topic for an order to url, signed with secret, under a
// new webhook id, and returns the receiver's HTTP status. A non-2xx status is not an error;
// a failed delivery (no status) is.
func (s *Server) SendWebhook(ctx context.Context, url, topic, orderID string, secret []byte) (int, error) {
	d, err := s.deliver(ctx, url, topic, orderID, secret, "")
	return d.Status, err
}

// SendWebhookWithID is SendWebhook with a chosen X-Shopify-Webhook-Id: a second call with
// the same id models Shopify delivering the same event again, with the order as it is now.
func (s *Server) SendWebhookWithID(ctx context.Context, url, topic, orderID string, secret []byte, webhookID string) (int, error) {
	if webhookID == "" {
		return 0, errors.New("webhook id is empty")
	}
	d, err := s.deliver(ctx, url, topic, orderID, secret, webhookID)
	return d.Status, err
}

// ResendWebhook delivers a sent webhook again, byte for byte with the same headers, as
// Shopify retries a delivery: receivers must dedupe on X-Shopify-Webhook-Id.
func (s *Server) ResendWebhook(ctx context.Context, webhookID string) (int, error) {
	d, err := s.redeliver(ctx, webhookID)
	return d.Status, err
}

// Webhooks lists the deliveries, oldest first (the last 1,000).
func (s *Server) Webhooks() []WebhookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]WebhookDelivery, len(s.deliveries))
	for i, d := range s.deliveries {
		d.Headers = cloneHeaders(d.Headers)
		out[i] = d
	}
	return out
}

func cloneHeaders(h map[string]string) map[string]string {
	c := make(map[string]string, len(h))
	for k, v := range h {
		c[k] = v
	}
	return c
}

func (s *Server) deliver(ctx context.Context, target, topic, orderID string, secret []byte, webhookID string) (WebhookDelivery, error) {
	if err := checkWebhookURL(target); err != nil {
		return WebhookDelivery{}, err
	}
	if len(secret) == 0 {
		return WebhookDelivery{}, errors.New("webhook secret is empty")
	}
	known := false
	for _, t := range WebhookTopics() {
		known = known || t == topic
	}
	if !known {
		return WebhookDelivery{}, fmt.Errorf("unsupported webhook topic %q (want one of %v)", topic, WebhookTopics())
	}
	id, ok := parseOrderID(orderID)
	if !ok {
		return WebhookDelivery{}, fmt.Errorf("order id %q is not a number", orderID)
	}
	now := s.now()
	o, ok := s.lookup(id, now)
	if !ok {
		return WebhookDelivery{}, fmt.Errorf("no order %s", orderID)
	}
	var payload any = s.renderOrder(o)
	if topic == "refunds/create" {
		if len(o.refunds) == 0 {
			return WebhookDelivery{}, fmt.Errorf("order %s has no refund", orderID)
		}
		payload = s.refundWebhookJSON(o, o.refunds[len(o.refunds)-1])
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as Shopify writes it: the HMAC covers these exact bytes
	if err := enc.Encode(payload); err != nil {
		return WebhookDelivery{}, fmt.Errorf("encode webhook: %w", err)
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if webhookID == "" {
		webhookID = newUUID()
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	d := WebhookDelivery{
		ID: webhookID, Topic: topic, URL: target, OrderID: strconv.FormatInt(id, 10), Body: body,
		Headers: map[string]string{
			"Content-Type":           "application/json",
			"User-Agent":             "Shopify-Captain-Hook",
			"X-Shopify-Topic":        topic,
			"X-Shopify-Hmac-Sha256":  base64.StdEncoding.EncodeToString(m.Sum(nil)),
			"X-Shopify-Shop-Domain":  DemoShopDomain,
			"X-Shopify-API-Version":  APIVersion,
			"X-Shopify-Webhook-Id":   webhookID,
			"X-Shopify-Triggered-At": now.UTC().Format(triggeredAtShape),
			"X-Shopify-Event-Id":     newUUID(),
		},
	}
	return s.post(ctx, d)
}

func (s *Server) redeliver(ctx context.Context, webhookID string) (WebhookDelivery, error) {
	s.mu.Lock()
	i, ok := s.deliveryIdx[webhookID]
	var d WebhookDelivery
	if ok {
		d = s.deliveries[i]
		d.Headers = cloneHeaders(d.Headers)
	}
	s.mu.Unlock()
	if !ok {
		return WebhookDelivery{}, fmt.Errorf("no webhook %q was sent", webhookID)
	}
	return s.post(ctx, d)
}

// post makes one delivery attempt and records it.
func (s *Server) post(ctx context.Context, d WebhookDelivery) (WebhookDelivery, error) {
	d.Attempts++
	d.Status, d.Error = 0, ""
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err == nil {
		for k, v := range d.Headers {
			req.Header.Set(k, v)
		}
		var resp *http.Response
		if resp, err = s.hc.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			d.Status = resp.StatusCode
		}
	}
	if err != nil {
		err = fmt.Errorf("deliver webhook %s: %w", d.ID, err)
		d.Error = err.Error()
	}
	s.record(d)
	return d, err
}

func (s *Server) record(d WebhookDelivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.deliveryIdx[d.ID]; ok {
		if prev := s.deliveries[i]; prev.Attempts >= d.Attempts {
			d.Attempts = prev.Attempts + 1 // a new send under an id already used
		}
		s.deliveries[i] = d
		return
	}
	s.deliveries = append(s.deliveries, d)
	if len(s.deliveries) > maxDeliveries {
		s.deliveries = append([]WebhookDelivery(nil), s.deliveries[len(s.deliveries)-maxDeliveries:]...)
	}
	s.deliveryIdx = make(map[string]int, len(s.deliveries))
	for i, d := range s.deliveries {
		s.deliveryIdx[d.ID] = i
	}
}

func checkWebhookURL(target string) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook url %q must be an absolute http or https URL", target)
	}
	return nil
}

// newUUID is a random version-4 UUID, the shape of Shopify's webhook and event ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
