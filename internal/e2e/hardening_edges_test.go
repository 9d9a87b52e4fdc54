package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/omnitrackiq/omnitrackiq/internal/httpserver"
	"github.com/omnitrackiq/omnitrackiq/internal/sandbox"
	sandboxshopify "github.com/omnitrackiq/omnitrackiq/internal/sandbox/shopify"
)

// edgeClientWait bounds how long a hostile client waits for the server to hang up: many
// times the server timeouts below (at most 1 s), so only a server that never cuts the
// client off reaches it, however loaded the machine.
const edgeClientWait = 20 * time.Second

// serveHardened serves h through httpserver.New, as `omnitrackiq api` and `sandbox` do,
// with short timeouts so the test does not wait for the production ones.
func serveHardened(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := httpserver.New("", h, httpserver.Options{ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: time.Second})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// rawExchange writes raw to a new connection to addr and reads until the server closes it.
// It returns the response status (0 if the server sent none) and fails the test if the
// server keeps the connection past edgeClientWait.
func rawExchange(t *testing.T, addr, raw string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(edgeClientWait)))
	go func() { _, _ = io.WriteString(c, raw) }() // the server may answer before reading it all
	br := bufio.NewReader(c)
	status := 0
	if resp, err := http.ReadResponse(br, nil); err == nil {
		status = resp.StatusCode
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	_, err = io.Copy(io.Discard, br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %s (status %d)", edgeClientWait, status)
	}
	return status
}

// TestHardenedEdges drives the API's real router behind httpserver with hostile clients
// (a trickled body on an authenticated route and on the webhook, headers that never end,
// a 100 KiB header) and checks each is cut off or refused without a 5xx and without a
// write, while a normal request on the same server still works. It also checks that the
// sandbox's admin endpoint delivers a webhook to the configured API and refuses any other
// target.
func TestHardenedEdges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	addr := serveHardened(t, e.Router)
	count := func(q string) int {
		var n int
		require.NoError(t, e.Store.Pool.QueryRow(e.ctx, q).Scan(&n))
		return n
	}

	t.Run("slow bodies are cut off", func(t *testing.T) {
		for _, req := range []string{
			"POST /v1/connections HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer " + e.APIKey +
				"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"channel\"",
			"POST /webhooks/shopify HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nX-Shopify-Topic: orders/create" +
				"\r\nContent-Length: 1000\r\n\r\n{\"id\":1234",
		} {
			status := rawExchange(t, addr, req)
			t.Logf("%s: status %d", req[:strings.Index(req, " HTTP")], status)
			require.True(t, status == 0 || status >= 400 && status < 500, "status %d: want a 4xx or no answer", status)
		}
		require.Equal(t, 0, count(`SELECT count(*) FROM connections`))
		require.Equal(t, 0, count(`SELECT count(*) FROM webhook_deliveries`))
		require.Equal(t, 0, count(`SELECT count(*) FROM orders`))
	})
	t.Run("headers that never end are cut off", func(t *testing.T) {
		require.Equal(t, 0, rawExchange(t, addr, "GET /readyz HTTP/1.1\r\nHost: api\r\nX-Slow: a"))
	})
	t.Run("oversized headers get 431", func(t *testing.T) {
		req := "GET /v1/connections HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer " + strings.Repeat("a", 100<<10) + "\r\n\r\n"
		require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, rawExchange(t, addr, req))
	})
	t.Run("normal requests are served", func(t *testing.T) {
		status, _ := e.send("GET", "http://"+addr+"/v1/connections", creds{bearer: e.APIKey}, nil)
		require.Equal(t, http.StatusOK, status)
	})

	t.Run("sandbox admin webhooks reach only the API", func(t *testing.T) {
		api, err := sandboxshopify.ParseWebhookTargets(e.API.URL)
		require.NoError(t, err)
		sb := sandbox.New(sandbox.Config{API: api})
		sbAddr := serveHardened(t, sb)
		orders, err := sb.Shopify.Orders(sb.Shopify.Today())
		require.NoError(t, err)
		require.NotEmpty(t, orders)
		admin := func(url string) (int, map[string]any) {
			body := `{"url":"` + url + `","topic":"orders/create","order_id":"` + orders[0].ID + `"}`
			resp, err := http.Post("http://"+sbAddr+"/shopify/_sandbox/webhooks", "application/json", strings.NewReader(body))
			require.NoError(t, err)
			defer resp.Body.Close()
			out := map[string]any{}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
			return resp.StatusCode, out
		}
		// Another server on this machine (the provider sandbox) is not the API.
		code, out := admin(e.SandboxTS.URL + "/meta/_sandbox/faults")
		require.Equal(t, http.StatusForbidden, code, "%v", out)
		code, out = admin(e.API.URL + "/webhooks/shopify")
		require.Equal(t, http.StatusOK, code, "%v", out)
		require.NotZero(t, out["status"], "the API answered the delivery: %v", out)
		require.Len(t, sb.Shopify.Webhooks(), 1)
	})
}
