package tiktok_test

import (
	"net/http"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit/kittest"
	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/tiktok"
)

// TestFaultPatchNullClears: in POST /_sandbox/faults, null clears an armed object fault,
// while a patch without the key keeps it (kit.PatchPointer has the full table).
func TestFaultPatchNullClears(t *testing.T) {
	sb := sandbox.New(sandbox.Config{})
	post := func(body string) { t.Helper(); kittest.Admin(t, sb, http.MethodPost, "/_sandbox/faults", body) }
	post(`{"rate_limit":{"times":2},"service_error":{"times":2}}`)
	post(`{"page_delay_ms":1}`)
	if f := sb.Faults(); f.RateLimit == nil || f.ServiceError == nil {
		t.Fatalf("a patch without the keys dropped a fault: %+v", f)
	}
	post(`{"rate_limit":null}`)
	if f := sb.Faults(); f.RateLimit != nil || f.ServiceError == nil || f.PageDelayMS != 1 {
		t.Fatalf("rate_limit null: %+v", f)
	}
	post(`{"service_error" : null }`)
	if f := sb.Faults(); f.ServiceError != nil {
		t.Fatalf("service_error null left the fault armed: %+v", f.ServiceError)
	}
}
