// Package fuzzsrv is a provider stand-in for the connectors' fuzz targets: one HTTP server
// per fuzz target that answers every request with whatever status and body the fuzzer
// chose last, so each connector's whole read path (HTTP, error classification, JSON
// parsing, cursors) meets arbitrary provider answers.
package fuzzsrv

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// Server answers every request with the current response.
type Server struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	header http.Header
	body   []byte
}

// Start starts a server that is closed when tb ends.
func Start(tb testing.TB) *Server {
	s := &Server{status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// Set makes status (mapped into 200-599) and body the answer to every request, and
// returns the status used.
func (s *Server) Set(status int, body []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = 200 + ((status%400)+400)%400
	s.body = body
	s.header = http.Header{"Content-Type": {"application/json"}}
	return s.status
}

func (s *Server) serve(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	status, body, header := s.status, s.body, s.header
	s.mu.Unlock()
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// callTimeout bounds one connector call under fuzzing: a connector that waits for a
// provider answer that never comes is cut off by its context, never hangs the fuzzer.
const callTimeout = 2 * time.Second

// TestWindow is the read window the fuzz targets ask for.
var TestWindow = channels.Window{From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)}

// Reads fuzzes a connector's read path: connect builds the connector against the server's
// URL and returns its read call, which gets every fuzzed cursor while the server gives
// every fuzzed answer. The read may return anything but must not panic or outlive its
// context. Seeds are (status, body, cursor), added by the caller before Reads.
func Reads(f *testing.F, connect func(baseURL string) func(ctx context.Context, cursor string)) {
	srv := Start(f)
	read := connect(srv.URL)
	f.Fuzz(func(t *testing.T, status int, body []byte, cursor string) {
		srv.Set(status, body)
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		read(ctx, cursor)
	})
}

// Accounts fuzzes a connector's account lookup the same way, and checks that an HTTP error
// answer is never taken for an account.
func Accounts(f *testing.F, connect func(baseURL string) func(ctx context.Context) error) {
	f.Add(200, []byte(`{}`))
	f.Add(401, []byte(`{"error":"bad token"}`))
	srv := Start(f)
	lookup := connect(srv.URL)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		code := srv.Set(status, body)
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		if err := lookup(ctx); err == nil && code >= 400 {
			t.Fatalf("an HTTP %d answer was taken for an account", code)
		}
	})
}
