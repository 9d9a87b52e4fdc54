package shopify_test

import (
	"context"
	"strings"
	"testing"

	conn "github.com/omnitrackiq/omnitrackiq/internal/channels/shopify"
	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
)

func mustTargets(t *testing.T, raw ...string) sandbox.WebhookTargets {
	t.Helper()
	tg, err := sandbox.ParseWebhookTargets(raw...)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestWebhookTargetsCheck(t *testing.T) {
	tg := mustTargets(t, "http://127.0.0.1:8080", "https://api.example.com/omnitrackiq/")
	tests := []struct {
		target string
		ok     bool
	}{
		{"http://127.0.0.1:8080/webhooks/shopify", true},
		{"http://127.0.0.1:8080", true},
		{"http://localhost:8080/webhooks/shopify", true}, // loopback names are one machine
		{"http://[::1]:8080/webhooks/shopify", true},
		{"https://api.example.com/omnitrackiq/webhooks/shopify", true},
		{"https://api.example.com:443/omnitrackiq/webhooks/shopify", true},
		{"https://API.example.com/omnitrackiq", true},
		{"http://127.0.0.1:8081/webhooks/shopify", false}, // another port, another service
		{"https://127.0.0.1:8080/webhooks/shopify", false},
		{"http://169.254.169.254/latest/meta-data/", false},
		{"http://10.0.0.5:8080/webhooks/shopify", false},
		{"http://api.example.com/omnitrackiq/webhooks/shopify", false}, // scheme differs
		{"https://api.example.com/admin", false},
		{"https://api.example.com/omnitrackiq-admin/x", false},      // a prefix, not a segment
		{"https://api.example.com/omnitrackiq/../admin", false},     // dot segments resolved
		{"https://api.example.com/omnitrackiq/%2e%2e/admin", false}, // also when encoded
		{"https://api.example.com.evil.test/omnitrackiq/x", false},
		{"https://user:pw@api.example.com/omnitrackiq/x", false},
		{"ftp://127.0.0.1:8080/", false},
		{"not a url", false},
		{"", false},
	}
	for _, tt := range tests {
		err := tg.Check(tt.target)
		if (err == nil) != tt.ok {
			t.Errorf("Check(%q) = %v, want allowed %t", tt.target, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "http://127.0.0.1:8080") {
			t.Errorf("Check(%q) error %q does not name the configured API", tt.target, err)
		}
	}
	if err := (sandbox.WebhookTargets{}).Check("http://127.0.0.1:8080/webhooks/shopify"); err == nil || !strings.Contains(err.Error(), "SANDBOX_API_URL") {
		t.Errorf("zero targets: %v, want a refusal that says how to configure", err)
	}
}

func TestParseWebhookTargetsRejects(t *testing.T) {
	for _, raw := range []string{"", "127.0.0.1:8080", "/webhooks", "ftp://h/", "http://u:p@h/", "http://h/?q=1", "http://h/#f"} {
		if _, err := sandbox.ParseWebhookTargets(raw); err == nil {
			t.Errorf("ParseWebhookTargets(%q) accepted", raw)
		}
	}
}

// The admin endpoints that call out deliver only to the configured API: another receiver,
// a cloud metadata address, a resend of a delivery the Go API sent elsewhere, and any
// target at all when no API is configured are refused with 403, and nothing is sent.
func TestAdminWebhooksOnlyCallTheAPI(t *testing.T) {
	api := newReceiver(t, sandbox.DefaultWebhookSecret)
	other := newReceiver(t, sandbox.DefaultWebhookSecret)
	e := newEnv(t, sandbox.Config{WebhookTargets: mustTargets(t, api.srv.URL)}, conn.Options{})
	orders, err := e.sb.Orders("2025-03-01")
	if err != nil || len(orders) == 0 {
		t.Fatalf("orders: %v", err)
	}
	id := orders[0].ID
	send := func(url, webhookID string) (int, string) {
		return admin(t, e, "POST", "/_sandbox/webhooks", `{"url":"`+url+`","topic":"orders/updated","order_id":"`+id+`","webhook_id":"`+webhookID+`"}`)
	}

	for _, target := range []string{other.srv.URL + "/webhooks/shopify", "http://169.254.169.254/latest/meta-data/"} {
		code, body := send(target, "refused-1")
		if code != 403 || !strings.Contains(body, "not under the API") {
			t.Errorf("send to %s: %d %s, want 403", target, code, body)
		}
	}
	if code, body := send(api.srv.URL+"/webhooks/shopify", "to-api-1"); code != 200 || !strings.Contains(body, `"status":200`) {
		t.Fatalf("send to the API: %d %s", code, body)
	}
	if d := <-api.got; d.header.Get(conn.HeaderWebhookID) != "to-api-1" {
		t.Errorf("the API got %q", d.header.Get(conn.HeaderWebhookID))
	}

	// The test's own code may send anywhere; the admin endpoint may not resend it there.
	if _, err := e.sb.SendWebhookWithID(context.Background(), other.srv.URL, "orders/updated", id, []byte(sandbox.DefaultWebhookSecret), "go-1"); err != nil {
		t.Fatal(err)
	}
	<-other.got
	if code, body := admin(t, e, "POST", "/_sandbox/webhooks/go-1/resend", ""); code != 403 {
		t.Errorf("resend to another receiver: %d %s, want 403", code, body)
	}
	if code, _ := admin(t, e, "POST", "/_sandbox/webhooks/to-api-1/resend", ""); code != 200 {
		t.Errorf("resend to the API: %d", code)
	}
	<-api.got
	if code, _ := admin(t, e, "POST", "/_sandbox/webhooks/never-sent/resend", ""); code != 404 {
		t.Errorf("resend of an unknown id: %d, want 404", code)
	}
	if n := len(other.got); n != 0 {
		t.Errorf("the other receiver got %d refused deliveries", n)
	}
	for _, d := range e.sb.Webhooks() {
		if d.ID == "refused-1" {
			t.Errorf("a refused delivery was recorded: %s to %s", d.ID, d.URL)
		}
	}

	unconfigured := newEnv(t, sandbox.Config{}, conn.Options{})
	code, body := admin(t, unconfigured, "POST", "/_sandbox/webhooks", `{"url":"`+api.srv.URL+`","topic":"orders/updated","order_id":"`+id+`"}`)
	if code != 403 || !strings.Contains(body, "no API URL configured") {
		t.Errorf("unconfigured sandbox: %d %s, want 403", code, body)
	}
	if n := len(api.got); n != 0 {
		t.Errorf("the unconfigured sandbox delivered %d webhooks", n)
	}
}
