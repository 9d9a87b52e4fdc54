package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/report"
	"github.com/omnitrackiq/omnitrackiq/internal/reporting"
)

// FuzzDecodeJSON sends any body to the API's JSON decoder with the request types of the
// routes that take one: it either decodes or answers a 400/413 problem, never panics and
// never a 5xx. A report definition that decodes then goes through the validator.
func FuzzDecodeJSON(f *testing.F) {
	gin.SetMode(gin.TestMode)
	for _, s := range []string{
		`{"name":"Weekly","metrics":["revenue","spend"],"dimensions":["day"],"range":{"relative":"last_week"},"schedule":{"frequency":"monthly","day_of_month":31,"time":"08:00"},"recipients":{"emails":["a@b.co"],"webhooks":["https://h.example/x"]}}`,
		`{"filters":[{"field":"utm_source","op":"in","values":["x'; DROP TABLE orders;--"]}]}`,
		`{"channel":"meta","account_id":"act_1","access_token":"t"}`,
		`{"cron":"* * * * *","timezone":"Mars/Base"}`,
		`{"from":"0000-01-01","to":"9999-12-31"}`,
		`{"name":"x"} {"name":"y"}`, `[`, `null`, `{"limit":1e400}`,
	} {
		f.Add([]byte(s))
	}
	targets := []func() any{
		func() any { return &report.Definition{} },
		func() any { return &CreateConnectionRequest{} },
		func() any { return &ScheduleUpdateRequest{} },
		func() any { return &BackfillRequest{} },
		func() any { return &CreateInviteRequest{} },
		func() any { return &UpdateWorkspaceRequest{} },
	}
	v := reporting.Validator{DefaultTimezone: "UTC"}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range targets {
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			c.Request = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			limitBody(c)
			dst := target()
			if !decodeJSON(c, dst) {
				if w.Code != http.StatusBadRequest && w.Code != http.StatusRequestEntityTooLarge {
					t.Fatalf("decode %T of %q: status %d", dst, body, w.Code)
				}
				var p Problem
				if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Detail == "" {
					t.Fatalf("decode %T of %q: not a problem with a detail: %s", dst, body, w.Body.Bytes())
				}
				continue
			}
			if def, ok := dst.(*report.Definition); ok {
				_ = v.Validate(context.Background(), def)
			}
		}
	})
}

// FuzzScheduleUpdate: any cron and time zone text goes through the schedule checks, and a
// cron they accept through the plan-interval reader, without a panic.
func FuzzScheduleUpdate(f *testing.F) {
	for _, s := range [][2]string{{"17 */6 * * *", "Europe/Paris"}, {"* * * * *", "Local"}, {"0 0 31 2 *", ""},
		{"*/0 * * * *", "../../etc/passwd"}, {"1-2-3 * * * *", "America/New_York"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, cron, tz string) {
		errs := validateScheduleUpdate(ScheduleUpdateRequest{Cron: &cron, Timezone: &tz})
		for _, e := range errs {
			if e.Message == "" {
				t.Fatalf("an empty message for %q %q", cron, tz)
			}
		}
		if len(errs) == 0 {
			_, _ = billing.CronMinInterval(cron)
		}
	})
}

// FuzzShopifyDeliveryCheck: what a signed Shopify delivery may say (its body, its topic and
// its unsigned X-Shopify-Triggered-At) is judged without a panic, and a delivery that is
// not refused always names an order to read back from the shop.
func FuzzShopifyDeliveryCheck(f *testing.F) {
	f.Add("orders/updated", "2026-12-05T10:00:00.000Z", []byte(`{"id":820982911946154508,"currency":"USD","total_price":"10.00","updated_at":"2026-12-05T09:59:00-05:00"}`))
	f.Add("refunds/create", "", []byte(`{"id":1,"order_id":820982911946154508,"transactions":[{"amount":"1.00","currency":"USD"}]}`))
	f.Add("orders/create", "9999-12-31T23:59:59Z", []byte(`{"id":"1","updated_at":"9999-12-31T23:59:59Z","currency":"usd"}`))
	f.Add("orders/paid", "yesterday", []byte(`[]`))
	now := time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, topic, triggeredAt string, body []byte) {
		d := shopifyDelivery{id: "fuzz", topic: topic, shop: "demo.myshopify.com", now: now}
		outcome, reason := d.check(triggeredAt, body, "USD")
		if outcome == "" && d.orderID == "" {
			t.Fatalf("accepted without an order id: topic %q body %q", topic, body)
		}
		if outcome != "" && reason == "" {
			t.Fatalf("refused (%s) without a reason: topic %q body %q", outcome, topic, body)
		}
	})
}
