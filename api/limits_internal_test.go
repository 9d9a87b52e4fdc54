package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/omnitrackiq/omnitrackiq/internal/billing"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

// billingOn turns billing on; checkLimit never calls it.
type billingOn struct{ Billing }

// checkLimit is what the scheduled reports code will call (README "Plans and limits").
func TestCheckLimit(t *testing.T) {
	gin.SetMode(gin.TestMode)
	st, _ := testdb.New(t)
	ws, err := st.CreateWorkspace(context.Background(), "W", "USD", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	call := func(s *server, count int) (bool, *httptest.ResponseRecorder) {
		rec := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(rec)
		c.Request = httptest.NewRequest("POST", "/v1/reports", nil)
		c.Set(workspaceKey{}, ws.ID)
		return s.checkLimit(c, billing.LimitScheduledReports, count), rec
	}
	on := &server{Deps: Deps{Store: st, Billing: billingOn{}}, log: slog.New(slog.DiscardHandler)}
	if ok, rec := call(on, 1); !ok || rec.Body.Len() != 0 {
		t.Fatalf("free allows 1 scheduled report: %v %s", ok, rec.Body)
	}
	ok, rec := call(on, 2)
	if ok || rec.Code != http.StatusPaymentRequired {
		t.Fatalf("a second scheduled report on free: %v %d", ok, rec.Code)
	}
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	want := "the free plan allows 1 scheduled report and this workspace has 1; the starter plan allows 5 scheduled reports: upgrade with POST /v1/billing/checkout"
	if p.Type != typePlanLimit || p.Limit != "scheduled_reports" || p.Plan != "free" || p.LimitValue != "1" ||
		p.Usage == nil || *p.Usage != 1 || p.UpgradeTo != "starter" || p.Detail != want {
		t.Fatalf("problem %+v", p)
	}
	off := &server{Deps: Deps{Store: st}, log: slog.New(slog.DiscardHandler)}
	if ok, _ := call(off, 1000); !ok {
		t.Fatal("without billing there is no limit")
	}
}
