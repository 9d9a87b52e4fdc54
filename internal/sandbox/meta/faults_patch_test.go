package meta_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sandbox "github.com/omnitrackiq/omnitrackiq/internal/sandbox/meta"
)

// TestFaultPatchNullClearsRateLimit: in POST /_sandbox/faults, a rate_limit of null clears
// the armed rate-limit fault, while a patch without the key keeps it.
func TestFaultPatchNullClearsRateLimit(t *testing.T) {
	sb := sandbox.New(sandbox.Config{})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	post := func(body string) string {
		t.Helper()
		resp, err := http.Post(srv.URL+"/_sandbox/faults", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST faults %s: %d %s", body, resp.StatusCode, b)
		}
		return string(b)
	}

	post(`{"rate_limit":{"code":17,"times":3},"server_errors":2}`)
	if f := sb.Faults(); f.RateLimit == nil || f.RateLimit.Times != 3 {
		t.Fatalf("rate limit not armed: %+v", f)
	}
	post(`{"high_usage":true}`)
	if f := sb.Faults(); f.RateLimit == nil || f.RateLimit.Times != 3 {
		t.Fatalf("a patch without rate_limit dropped it: %+v", f)
	}
	body := post(`{"rate_limit":null}`)
	f := sb.Faults()
	if f.RateLimit != nil || strings.Contains(body, "rate_limit") {
		t.Fatalf("rate_limit null left the fault armed: %+v, answer %s", f.RateLimit, body)
	}
	if f.ServerErrors != 2 || !f.HighUsage {
		t.Errorf("clearing rate_limit touched other faults: %+v", f)
	}
	// null with spaces around it is still null.
	post(`{"rate_limit":{"times":1}}`)
	post(`{"rate_limit" : null }`)
	if f := sb.Faults(); f.RateLimit != nil {
		t.Errorf("rate_limit null (spaced) left the fault armed: %+v", f.RateLimit)
	}
}
