package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/apikey"
	"github.com/omnitrackiq/omnitrackiq/internal/store"
)

func TestAuth(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	unknown, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	revoked, rec, err := apikey.Issue(ctx, e.st, e.w1.ID, "old")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.RevokeAPIKey(ctx, e.w1.ID, rec.ID); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, header string
	}{
		{"missing", ""},
		{"basic scheme", "Basic dXNlcjpwYXNz"},
		{"bearer without key", "Bearer"},
		{"bearer blank key", "Bearer   "},
		{"malformed key", "Bearer not-a-key"},
		{"key with extra text", "Bearer " + e.key1 + " x"},
		{"raw key without scheme", e.key1},
		{"unknown key", "Bearer " + unknown.Secret},
		{"revoked key", "Bearer " + revoked},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/v1/connections", "/v1/metrics/summary?from=2024-01-01&to=2024-01-02"} {
				e.writesNothing(t, func() {
					req := httptest.NewRequest("GET", path, nil)
					if tc.header != "" {
						req.Header.Set("Authorization", tc.header)
					}
					rec := httptest.NewRecorder()
					e.h.ServeHTTP(rec, req)
					problem(t, rec, http.StatusUnauthorized)
					if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
						t.Fatalf("WWW-Authenticate = %q", rec.Header().Get("WWW-Authenticate"))
					}
				})
			}
		})
	}

	// The scheme is case-insensitive, and each key sees its own workspace.
	req := httptest.NewRequest("GET", "/v1/connections", nil)
	req.Header.Set("Authorization", "bearer "+e.key2)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("lower-case bearer: %d %s", w.Code, w.Body)
	}

	// The request log names the workspace but never the key.
	if !strings.Contains(e.logs.String(), `"workspace_id":"`+e.w2.ID+`"`) {
		t.Fatalf("request log lacks the workspace id: %s", e.logs)
	}
	var line map[string]any
	last := strings.Split(strings.TrimSpace(e.logs.String()), "\n")
	if err := json.Unmarshal([]byte(last[len(last)-1]), &line); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"method", "path", "status", "latency", "workspace_id"} {
		if _, ok := line[k]; !ok {
			t.Errorf("request log line lacks %q: %v", k, line)
		}
	}
}

// httptestServe sends one unauthenticated request to a router built on st.
func httptestServe(e *env, st *store.Store, method, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.router(st).ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}
