package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

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
