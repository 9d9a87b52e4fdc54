// Package sandbox serves fake provider APIs that speak the real wire formats, each under
// its own path prefix, so a connector pointed at "<sandbox>/meta" behaves as against
// https://graph.facebook.com.
package sandbox

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/sandbox/meta"
)

// Config configures every fake provider.
type Config struct {
	// Now is the sandbox clock; nil means time.Now.
	Now func() time.Time
}

// Server multiplexes the fake providers.
type Server struct {
	Meta *meta.Server
	mux  *http.ServeMux
}

// New builds the sandbox with every provider's deterministic demo data.
func New(cfg Config) *Server {
	s := &Server{Meta: meta.New(meta.Config{Now: cfg.Now}), mux: http.NewServeMux()}
	s.mux.Handle("/meta/", http.StripPrefix("/meta", s.Meta))
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"providers": map[string]string{"meta": "/meta (Graph API; token " + meta.DefaultToken + ")"},
		})
	})
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }
