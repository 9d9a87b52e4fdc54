// Package httpserver builds every HTTP server the program runs (the API, the sandbox, and
// the dev stack's servers) with timeouts and a header limit, so one slow or hostile client
// cannot hold a connection, a goroutine and a read buffer for as long as it likes.
//
// net/http's zero values mean "no limit": a client that sends its headers one byte a
// minute, or announces a body and never sends it, keeps its connection forever. The
// defaults here bound each phase of a request:
//
//   - ReadHeaderTimeout (5 s): the request line and headers. A real client sends them in one
//     packet; five seconds covers a slow mobile link and cuts off a slowloris client early.
//   - ReadTimeout (30 s): the whole request, body included. The largest body the API
//     accepts is a 1 MiB Shopify webhook; 30 s is ample for it on a slow link and cuts off
//     a client that trickles its body.
//   - WriteTimeout (60 s): from the end of the request headers to the end of the response.
//     It must exceed the longest a handler may take (the API's request deadline) so that a
//     slow query still answers its problem document, and it bounds a client that never
//     reads its response.
//   - IdleTimeout (120 s): a kept-alive connection waiting for its next request; longer
//     than common load balancer idle timeouts (60 s), so the balancer closes first and never
//     sends on a connection the server is closing.
//   - MaxHeaderBytes (64 KiB): request line and headers. Real requests carry a few KiB
//     (cookies, a bearer token); beyond the limit net/http answers 431 Request Header
//     Fields Too Large and closes the connection.
package httpserver

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Defaults for the zero Options.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
)

// Options override the defaults; a zero or negative field takes its default, so no
// server can run without a limit.
type Options struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// Logger receives the server's own errors (accept failures, TLS handshakes, panics a
	// handler did not recover) at warning level; nil leaves them on the log package's
	// standard logger.
	Logger *slog.Logger
}

// WithDefaults returns o with every unset limit at its default.
func (o Options) WithDefaults() Options {
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return o
}

// New returns a server for h on addr with o's limits (defaults where o leaves them unset).
// The caller starts it (ListenAndServe, or Serve on its own listener) and shuts it down.
func New(addr string, h http.Handler, o Options) *http.Server {
	o = o.WithDefaults()
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
	}
	if o.Logger != nil {
		srv.ErrorLog = slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn)
	}
	return srv
}

// Environment variables OptionsFromEnv reads: Go durations ("5s", "2m") and a byte count.
const (
	EnvReadHeaderTimeout = "HTTP_READ_HEADER_TIMEOUT"
	EnvReadTimeout       = "HTTP_READ_TIMEOUT"
	EnvWriteTimeout      = "HTTP_WRITE_TIMEOUT"
	EnvIdleTimeout       = "HTTP_IDLE_TIMEOUT"
	EnvMaxHeaderBytes    = "HTTP_MAX_HEADER_BYTES"
)

// OptionsFromEnv reads the limits from the environment through lookup (os.LookupEnv);
// an unset or empty variable keeps the default. A value that does not parse, or is not
// positive, is an error naming the variable: a typo must not silently remove a limit.
func OptionsFromEnv(lookup func(string) (string, bool)) (Options, error) {
	var o Options
	durations := []struct {
		name string
		dst  *time.Duration
	}{
		{EnvReadHeaderTimeout, &o.ReadHeaderTimeout},
		{EnvReadTimeout, &o.ReadTimeout},
		{EnvWriteTimeout, &o.WriteTimeout},
		{EnvIdleTimeout, &o.IdleTimeout},
	}
	for _, d := range durations {
		v, ok := lookup(d.name)
		if !ok || v == "" {
			continue
		}
		t, err := time.ParseDuration(v)
		if err != nil || t <= 0 {
			return Options{}, fmt.Errorf("%s=%q: want a positive duration such as 30s", d.name, v)
		}
		*d.dst = t
	}
	if v, ok := lookup(EnvMaxHeaderBytes); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return Options{}, fmt.Errorf("%s=%q: want a positive number of bytes such as 65536", EnvMaxHeaderBytes, v)
		}
		o.MaxHeaderBytes = n
	}
	return o.WithDefaults(), nil
}
