package stripemock

import (
	"github.com/omnitrackiq/omnitrackiq/internal/toolbin"

	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"time"
)

// Process is a running stripe-mock.
type Process struct {
	// URL is the base URL of its plain-HTTP listener (http://127.0.0.1:port).
	URL string
	// HTTPSAddr is where its HTTPS (and HTTP/2) listener is bound. Nothing here uses it;
	// it is bound on loopback only so stripe-mock never listens on every interface.
	HTTPSAddr string
	cmd       *exec.Cmd
	done      chan struct{}
}

// Bin finds the stripe-mock binary: $STRIPE_MOCK, else ./bin/stripe-mock in this or a
// parent directory holding go.mod.
func Bin() (string, error) { return toolbin.Find("STRIPE_MOCK", "stripe-mock") }

// readyKey is any test-mode key: stripe-mock checks only its shape, sk_test_ then letters
// and digits (an underscore after the prefix is refused with 401).
const readyKey = "sk_test_omnitrackiqready"

// Start runs stripe-mock with its HTTP listener on httpAddr ("127.0.0.1:0" picks a free
// port) and waits until it answers an API call. Its HTTPS listener goes on the same host,
// on the next port when httpAddr names a port and the next one is free (12111 → 12112, as
// stripe-mock's defaults), else on a free port. Both addresses are always passed:
// stripe-mock v0.162.0 given only one still binds the other on every interface.
func Start(ctx context.Context, bin, httpAddr string, logTo io.Writer) (*Process, error) {
	httpsAddr, err := httpsNextTo(httpAddr)
	if err != nil {
		return nil, err
	}
	if httpAddr, err = resolvePort(httpAddr); err != nil {
		return nil, err
	}
	if httpsAddr, err = resolvePort(httpsAddr); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-http-addr", httpAddr, "-https-addr", httpsAddr)
	cmd.Stdout, cmd.Stderr = logTo, logTo
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start stripe-mock %s: %w", bin, err)
	}
	p := &Process{URL: "http://" + httpAddr, HTTPSAddr: httpsAddr, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if p.answers(ctx, hc) {
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("stripe-mock exited at start: %v", cmd.ProcessState)
		case <-ctx.Done():
			p.Stop()
			return nil, fmt.Errorf("wait for stripe-mock: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, errors.New("stripe-mock did not answer within 30s")
		}
	}
}

// answers reports whether stripe-mock serves a customer read.
func (p *Process) answers(ctx context.Context, hc *http.Client) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/v1/customers/cus_ready", nil)
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+readyKey)
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// httpsNextTo picks the HTTPS address that goes with httpAddr: its port plus one when
// that port is free, else host:0.
func httpsNextTo(httpAddr string) (string, error) {
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil {
		return "", fmt.Errorf("stripe-mock address %q: %w", httpAddr, err)
	}
	if n, err := strconv.Atoi(port); err == nil && n > 0 && n < 65535 {
		next := net.JoinHostPort(host, strconv.Itoa(n+1))
		if l, err := net.Listen("tcp", next); err == nil {
			l.Close()
			return next, nil
		}
	}
	return net.JoinHostPort(host, "0"), nil
}

// resolvePort turns host:0 into host:<a free port>.
func resolvePort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("stripe-mock address %q: %w", addr, err)
	}
	if port != "0" {
		return addr, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("pick a port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Stop ends the process.
func (p *Process) Stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}
