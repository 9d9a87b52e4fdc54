package shopify_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	conn "github.com/omnitrackiq/omnitrackiq/internal/channels/shopify"
	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
)

// admin calls an admin endpoint.
func admin(t *testing.T, e *env, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+"/shopify"+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminHTTP(t *testing.T) {
	rcv := newReceiver(t, sandbox.DefaultWebhookSecret)
	e := newEnv(t, sandbox.Config{WebhookTargets: mustTargets(t, rcv.srv.URL)}, conn.Options{})
	if code, body := admin(t, e, "POST", "/_sandbox/faults", `{"rate_limit":{"times":1,"retry_after":"1.5"},"high_usage":true}`); code != 200 || !strings.Contains(body, `"retry_after":"1.5"`) {
		t.Fatalf("%d %s", code, body)
	}
	_, err := e.c.AccountInfo(context.Background(), demo)
	if pe, ok := channels.AsError(err); !ok || pe.RetryAfter != 1500*time.Millisecond {
		t.Errorf("rate limit over admin: %v", err)
	}
	if code, _ := admin(t, e, "POST", "/_sandbox/faults", `{"bogus":1}`); code != 400 {
		t.Error("unknown fault accepted")
	}
	if code, body := admin(t, e, "DELETE", "/_sandbox/faults", ""); code != 200 || body != "{}\n" {
		t.Errorf("clear faults: %d %s", code, body)
	}
	if code, body := admin(t, e, "GET", "/_sandbox/today", ""); code != 200 || !strings.Contains(body, today) {
		t.Errorf("today: %d %s", code, body)
	}
	code, body := admin(t, e, "GET", "/_sandbox/orders?date=2025-03-01", "")
	var list []sandbox.OrderSummary
	if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil || len(list) < 20 {
		t.Fatalf("orders: %d %s", code, body)
	}
	id := list[0].ID
	if code, body := admin(t, e, "POST", "/_sandbox/orders/"+id+"/edit", `{"total_price":"42.00"}`); code != 200 || !strings.Contains(body, `"total_price":"42.00"`) {
		t.Errorf("edit: %d %s", code, body)
	}
	if code, body := admin(t, e, "POST", "/_sandbox/orders/"+id+"/refund", `{"amount":"2.50"}`); code != 200 || !strings.Contains(body, `"refund_id":"89`) {
		t.Errorf("refund: %d %s", code, body)
	}
	if code, body := admin(t, e, "POST", "/_sandbox/orders/"+id+"/cancel", ``); code != 200 || !strings.Contains(body, `"cancel_reason":"customer"`) {
		t.Errorf("cancel: %d %s", code, body)
	}
	if code, _ := admin(t, e, "POST", "/_sandbox/orders/"+id+"/cancel", ``); code != 400 {
		t.Error("cancelled twice")
	}
	tot, _ := e.sb.Totals("2025-03-01", "2025-03-01")
	code, body = admin(t, e, "GET", "/_sandbox/totals?from=2025-03-01&to=2025-03-01", "")
	var viaHTTP sandbox.Totals
	if err := json.Unmarshal([]byte(body), &viaHTTP); code != 200 || err != nil || viaHTTP.Orders != tot.Orders || viaHTTP.RevenueMicros != tot.RevenueMicros || tot.Orders != len(list) {
		t.Errorf("totals: %d %s", code, body)
	}
	if code, _ := admin(t, e, "GET", "/_sandbox/totals?from=2025-03-02&to=2025-03-01", ""); code != 400 {
		t.Error("reversed range accepted")
	}

	code, body = admin(t, e, "POST", "/_sandbox/webhooks", `{"url":"`+rcv.srv.URL+`","topic":"orders/cancelled","order_id":"`+id+`","webhook_id":"dup-1"}`)
	if code != 200 || !strings.Contains(body, `"webhook_id":"dup-1"`) || !strings.Contains(body, `"status":200`) {
		t.Fatalf("send: %d %s", code, body)
	}
	if d := <-rcv.got; !d.verified || d.header.Get(conn.HeaderTopic) != "orders/cancelled" {
		t.Error("admin webhook not verified")
	}
	if code, body := admin(t, e, "POST", "/_sandbox/webhooks/dup-1/resend", ""); code != 200 || !strings.Contains(body, `"status":200`) {
		t.Errorf("resend: %d %s", code, body)
	}
	if d := <-rcv.got; d.header.Get(conn.HeaderWebhookID) != "dup-1" {
		t.Error("resend changed the id")
	}
	code, body = admin(t, e, "GET", "/_sandbox/webhooks", "")
	if code != 200 || !strings.Contains(body, `"attempts":2`) {
		t.Errorf("webhooks: %d %s", code, body[:min(len(body), 300)])
	}
	if code, _ := admin(t, e, "DELETE", "/_sandbox/orders", ""); code != 200 {
		t.Error("reset mutations")
	}
	if code, body := admin(t, e, "GET", "/_sandbox/orders/"+id, ""); code != 200 || strings.Contains(body, `"total_price":"42.00"`) {
		t.Errorf("after reset: %d", code)
	}
	code, body = admin(t, e, "GET", "/_sandbox/requests", "")
	if code != 200 || strings.Contains(body, sandbox.DefaultToken) {
		t.Errorf("requests: %d", code)
	}
	if code, _ := admin(t, e, "GET", "/_sandbox/nope", ""); code != 404 {
		t.Error("unknown admin endpoint")
	}
}
