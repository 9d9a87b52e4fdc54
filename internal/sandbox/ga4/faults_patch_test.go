package ga4_test

import (
	"net/http"
	"testing"

	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/ga4"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/kit/kittest"
)

// TestFaultPatchNullClears: in POST /_sandbox/faults, null clears an armed object fault,
// while a patch without the key keeps it (kit.PatchPointer has the full table).
func TestFaultPatchNullClears(t *testing.T) {
	sb := sandbox.New(sandbox.Config{})
	post := func(body string) { t.Helper(); kittest.Admin(t, sb, http.MethodPost, "/_sandbox/faults", body) }
	post(`{"rate_limit":{"times":2},"server_errors":1}`)
	post(`{"empty_report":true}`)
	if f := sb.Faults(); f.RateLimit == nil {
		t.Fatalf("a patch without rate_limit dropped it: %+v", f)
	}
	post(`{"rate_limit":null}`)
	if f := sb.Faults(); f.RateLimit != nil || f.ServerErrors != 1 || !f.EmptyReport {
		t.Fatalf("rate_limit null: %+v", f)
	}
}
