package httpserver

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// clientWait bounds how long a test client waits for the server to act. It is many times
// the server timeouts the tests set (at most 300 ms), so only a server that never cuts the
// client off reaches it, however loaded the machine.
const clientWait = 15 * time.Second

// start serves h with o on a loopback port and returns the address.
func start(t *testing.T, h http.Handler, o Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New("", h, o)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.SetDeadline(time.Now().Add(clientWait)); err != nil {
		t.Fatal(err)
	}
	return c
}

// readUntilClosed reads what the server sends until it closes the connection. It fails
// the test if the client's own deadline passes first: the server never hung up.
func readUntilClosed(t *testing.T, c net.Conn) string {
	t.Helper()
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server kept the connection open for %s (read %q)", clientWait, b)
	}
	// EOF (io.ReadAll returns nil) or a reset both mean the server closed it.
	return string(b)
}

func TestNewAppliesOptionsOverDefaults(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want Options
	}{
		{"zero options take the defaults", Options{}, Options{
			ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second,
			IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}},
		{"set fields win", Options{ReadHeaderTimeout: time.Second, WriteTimeout: 2 * time.Minute, MaxHeaderBytes: 8 << 10}, Options{
			ReadHeaderTimeout: time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 2 * time.Minute,
			IdleTimeout: 120 * time.Second, MaxHeaderBytes: 8 << 10}},
		{"negative values cannot remove a limit", Options{ReadTimeout: -1, IdleTimeout: -time.Second, MaxHeaderBytes: -1}, Options{
			ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second,
			IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := New(":0", http.NotFoundHandler(), tt.o)
			got := Options{ReadHeaderTimeout: srv.ReadHeaderTimeout, ReadTimeout: srv.ReadTimeout,
				WriteTimeout: srv.WriteTimeout, IdleTimeout: srv.IdleTimeout, MaxHeaderBytes: srv.MaxHeaderBytes}
			if got != tt.want {
				t.Errorf("server limits = %+v, want %+v", got, tt.want)
			}
			if srv.Addr != ":0" || srv.Handler == nil {
				t.Errorf("addr %q, handler %v", srv.Addr, srv.Handler)
			}
		})
	}
}

// A client that starts a request line and never finishes its headers (slowloris) is
// disconnected by the read-header timeout, without a response and without reaching the
// handler.
func TestSlowHeadersAreCutOff(t *testing.T) {
	called := make(chan struct{}, 1)
	addr := start(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called <- struct{}{} }),
		Options{ReadHeaderTimeout: 200 * time.Millisecond})
	c := dial(t, addr)
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: example\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	if got := readUntilClosed(t, c); got != "" {
		t.Errorf("server answered a request it never finished reading: %q", got)
	}
	select {
	case <-called:
		t.Error("handler ran for a request whose headers never ended")
	default:
	}
}

// A client that announces a 1000-byte body and sends 10 bytes is cut off by the read
// timeout: the handler's read fails with a timeout and the connection is closed.
func TestSlowBodyIsCutOff(t *testing.T) {
	type result struct {
		n   int
		err error
	}
	got := make(chan result, 1)
	addr := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		got <- result{len(b), err}
		if err != nil {
			w.WriteHeader(http.StatusRequestTimeout)
		}
	}), Options{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond})
	c := dial(t, addr)
	req := "POST /upload HTTP/1.1\r\nHost: example\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n0123456789"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	readUntilClosed(t, c)
	select {
	case r := <-got:
		var ne net.Error
		if r.n != 10 || !errors.As(r.err, &ne) || !ne.Timeout() {
			t.Errorf("handler read %d bytes, err %v; want 10 bytes and a timeout", r.n, r.err)
		}
	case <-time.After(clientWait):
		t.Fatal("handler never returned from reading the body")
	}
}

// A complete request still works under the same limits, and a kept-alive connection
// serves a second request.
func TestCompleteRequestsAreServed(t *testing.T) {
	addr := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, "got "+string(b))
	}), Options{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond})
	c := dial(t, addr)
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ {
		if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: example\r\nContent-Length: 5\r\n\r\nhello"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "got hello" {
			t.Errorf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
}

// Headers over the default MaxHeaderBytes get 431 and the connection closes; headers
// under it are served.
func TestHeaderSize(t *testing.T) {
	tests := []struct {
		name       string
		headerSize int
		wantStatus int
	}{
		{"60 KiB header is served", 60 << 10, http.StatusOK},
		{"100 KiB header gets 431", 100 << 10, http.StatusRequestHeaderFieldsTooLarge},
	}
	addr := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}), Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			req := "GET / HTTP/1.1\r\nHost: example\r\nConnection: close\r\nX-Big: " + strings.Repeat("a", tt.headerSize) + "\r\n\r\n"
			// Write from a goroutine: the server may answer 431 before it has read
			// everything, and the rest of the write may then fail, which is fine.
			go func() { _, _ = io.WriteString(c, req) }()
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("read response: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			readUntilClosed(t, c)
		})
	}
}

func TestOptionsFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Options
		wantErr string
	}{
		{"unset keeps the defaults", nil, Options{}.WithDefaults(), ""},
		{"empty keeps the defaults", map[string]string{EnvReadTimeout: ""}, Options{}.WithDefaults(), ""},
		{"values override", map[string]string{EnvReadHeaderTimeout: "2s", EnvWriteTimeout: "3m", EnvMaxHeaderBytes: "32768"},
			Options{ReadHeaderTimeout: 2 * time.Second, WriteTimeout: 3 * time.Minute, MaxHeaderBytes: 32768}.WithDefaults(), ""},
		{"bad duration", map[string]string{EnvIdleTimeout: "forever"}, Options{}, EnvIdleTimeout},
		{"zero duration", map[string]string{EnvReadTimeout: "0s"}, Options{}, EnvReadTimeout},
		{"bad size", map[string]string{EnvMaxHeaderBytes: "64KiB"}, Options{}, EnvMaxHeaderBytes},
		{"negative size", map[string]string{EnvMaxHeaderBytes: "-1"}, Options{}, EnvMaxHeaderBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := OptionsFromEnv(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
