// Package fuzzsrv is a provider stand-in for the connectors' fuzz targets: one HTTP server
// per fuzz target that answers every request with whatever status and body the fuzzer
// chose last, so each connector's whole read path (HTTP, error classification, JSON
// parsing, cursors) meets arbitrary provider answers.
package fuzzsrv

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
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
