package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/store"
	"github.com/omnitrackiq/omnitrackiq/internal/testdb"
)

func TestHealth(t *testing.T) {
	e := newEnv(t)
	var h map[string]string
	decode(t, e.do("GET", "/healthz", "", ""), http.StatusOK, &h)
	if h["status"] != "ok" {
		t.Fatalf("healthz = %v", h)
	}

	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	decode(t, e.do("GET", "/readyz", "", ""), http.StatusOK, &ready)
	if ready.Status != "ready" || ready.Checks["postgres"] != "ok" || ready.Checks["temporal"] != "ok" {
		t.Fatalf("readyz = %+v", ready)
	}

	e.ready = errors.New("dial temporal:7233: connection refused")
	p := problem(t, e.do("GET", "/readyz", "", ""), http.StatusServiceUnavailable)
	if !strings.Contains(p.Detail, "temporal") || strings.Contains(p.Detail, "postgres") || p.Checks["temporal"] != "down" {
		t.Fatalf("readyz with Temporal down = %+v", p)
	}
	if strings.Contains(p.Detail, "7233") {
		t.Fatalf("readyz leaks the cause: %q", p.Detail)
	}
	e.ready = nil

	// A store whose pool is closed stands in for PostgreSQL being down.
	_, dbURL := testdb.New(t)
	closed, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	rec := httptestServe(e, closed, "GET", "/readyz")
	p = problem(t, rec, http.StatusServiceUnavailable)
	if p.Checks["postgres"] != "down" || p.Checks["temporal"] != "ok" || !strings.Contains(p.Detail, "postgres") {
		t.Fatalf("readyz with PostgreSQL down = %+v", p)
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	p := problem(t, e.do("GET", "/nope", "", ""), http.StatusNotFound)
	if p.Instance != "/nope" {
		t.Fatalf("instance %q", p.Instance)
	}
	problem(t, e.do("DELETE", "/healthz", "", ""), http.StatusMethodNotAllowed)
	problem(t, e.do("GET", "/v1/connections/", e.key1, ""), http.StatusNotFound)
}

func TestPanicIsProblem(t *testing.T) {
	e := newEnv(t)
	e.syncs.panicGet = true
	p := problem(t, e.do("GET", "/v1/syncs/sync-x", e.key1, ""), http.StatusInternalServerError)
	if strings.Contains(p.Detail, "fake GetSync panic") {
		t.Fatalf("panic value shown to the client: %q", p.Detail)
	}
	if !strings.Contains(e.logs.String(), "fake GetSync panic") {
		t.Fatal("panic not logged")
	}
	// The server keeps serving.
	e.syncs.panicGet = false
	problem(t, e.do("GET", "/v1/syncs/sync-x", e.key1, ""), http.StatusNotFound)
}
