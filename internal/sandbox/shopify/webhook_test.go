package shopify_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	conn "github.com/omnitrackiq/omnitrackiq/internal/channels/shopify"
	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
)

// receiver is a webhook endpoint that verifies and parses like the real handler will.
type receiver struct {
	srv    *httptest.Server
	secret []byte
	got    chan delivery
}

type delivery struct {
	verified bool
	header   http.Header
	body     []byte
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{secret: []byte(secret), got: make(chan delivery, 10)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		ok := conn.VerifyWebhook(r.secret, body, req.Header.Get(conn.HeaderHmac))
		r.got <- delivery{verified: ok, header: req.Header.Clone(), body: body}
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func TestWebhooks(t *testing.T) {
	e := newEnv(t, sandbox.Config{}, conn.Options{})
	rcv := newReceiver(t, "whsec")
	ctx := context.Background()
	l, _ := e.sb.Orders(today)
	id := l[len(l)-1].ID

	status, err := e.sb.SendWebhook(ctx, rcv.srv.URL+"/hooks", "orders/create", id, []byte("whsec"))
	if err != nil || status != 200 {
		t.Fatal(status, err)
	}
	d := <-rcv.got
	if !d.verified {
		t.Fatal("HMAC did not verify")
	}
	for k, want := range map[string]string{
		conn.HeaderTopic: "orders/create", conn.HeaderShopDomain: sandbox.DemoShopDomain,
		conn.HeaderAPIVersion: "2024-10", conn.HeaderTriggeredAt: "2025-03-15T03:00:00.000000Z",
	} {
		if got := d.header.Get(k); got != want {
			t.Errorf("%s = %q; want %q", k, got, want)
		}
	}
	whID := d.header.Get(conn.HeaderWebhookID)
	if len(whID) != 36 || d.header.Get("Content-Type") != "application/json" {
		t.Errorf("webhook id %q, content type %q", whID, d.header.Get("Content-Type"))
	}
	o, err := conn.ParseWebhookOrder(d.body, d.header.Get(conn.HeaderShopDomain))
	if err != nil || o.OrderID != id {
		t.Fatalf("parsed %+v, %v", o, err)
	}
	api, _, _ := readAll(t, e.c, demo, channels.OrdersRequest{UpdatedMin: o.UpdatedAt})
	found := false
	for _, a := range api {
		if a.OrderID == id {
			found = true
			if a.TotalMicros != o.TotalMicros || a.EmailSHA256 != o.EmailSHA256 || a.UTMCampaign != o.UTMCampaign || len(a.LineItems) != len(o.LineItems) {
				t.Errorf("webhook order %+v\nAPI order %+v", o, a)
			}
		}
	}
	if !found {
		t.Error("webhook order not in the API")
	}

	// A wrong secret fails verification at the receiver.
	if status, err := e.sb.SendWebhook(ctx, rcv.srv.URL, "orders/updated", id, []byte("other")); err != nil || status != 401 {
		t.Errorf("wrong secret: %d %v", status, err)
	}
	<-rcv.got

	// Resending delivers the same id and bytes; a new send gets a new id.
	if status, err := e.sb.ResendWebhook(ctx, whID); err != nil || status != 200 {
		t.Fatal(status, err)
	}
	d2 := <-rcv.got
	if d2.header.Get(conn.HeaderWebhookID) != whID || !bytes.Equal(d2.body, d.body) || !d2.verified {
		t.Error("resend differs")
	}
	if _, err := e.sb.SendWebhookWithID(ctx, rcv.srv.URL, "orders/updated", id, []byte("whsec"), "fixed-id-1"); err != nil {
		t.Fatal(err)
	}
	if d3 := <-rcv.got; d3.header.Get(conn.HeaderWebhookID) != "fixed-id-1" {
		t.Error("chosen id not sent")
	}
	var attempts int
	for _, w := range e.sb.Webhooks() {
		if w.ID == whID {
			attempts = w.Attempts
		}
	}
	if attempts != 2 {
		t.Errorf("%d attempts recorded for the resent webhook", attempts)
	}

	// refunds/create after a refund.
	if _, err := e.sb.SendWebhook(ctx, rcv.srv.URL, "refunds/create", id, []byte("whsec")); err == nil {
		t.Error("refund webhook for an order without refunds")
	}
	rid, err := e.sb.RefundOrder(id, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sb.SendWebhook(ctx, rcv.srv.URL, "refunds/create", id, []byte("whsec")); err != nil {
		t.Fatal(err)
	}
	d4 := <-rcv.got
	orderID, refund, err := conn.ParseRefundWebhook(d4.body, "USD")
	if err != nil || orderID != id || refund.RefundID != rid || refund.AmountMicros != o.TotalMicros || !d4.verified {
		t.Errorf("refund webhook: %s %+v %v", orderID, refund, err)
	}

	for _, bad := range []struct{ url, topic, id string }{
		{"ftp://x", "orders/create", id}, {rcv.srv.URL, "orders/deleted", id}, {rcv.srv.URL, "orders/create", "1"},
	} {
		if _, err := e.sb.SendWebhook(ctx, bad.url, bad.topic, bad.id, []byte("s")); err == nil {
			t.Errorf("webhook %+v sent", bad)
		}
	}
	if _, err := e.sb.ResendWebhook(ctx, "nope"); err == nil {
		t.Error("resent an unknown webhook")
	}
}
