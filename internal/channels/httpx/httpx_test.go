package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/ga4"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/googleads"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/meta"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/shopify"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/tiktok"
)

const (
	secretToken    = "EAAB-secret-access-token"
	secretRefresh  = "1//secret-refresh-token"
	secretDevToken = "secret-developer-token"
)

// thief is a second host that a provider's redirect points at. It counts every request it
// gets: a provider call that follows the redirect would arrive here with its credentials.
type thief struct {
	srv  *httptest.Server
	hits atomic.Int64
}

func newThief(t *testing.T) *thief {
	th := &thief{}
	th.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		th.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(th.srv.Close)
	return th
}

// redirector answers every request with a redirect of the given status to target, with a
// query that echoes a credential, as a hijacked or misconfigured endpoint might.
func redirector(t *testing.T, status int, target string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+"/steal?token="+secretToken, status)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestProviderCallsRefuseRedirects drives every connector, and the Google token endpoint,
// against a provider that redirects to a second server: the second server gets nothing, and
// the call fails as a non-retryable error naming the redirect's target without its query.
func TestProviderCallsRefuseRedirects(t *testing.T) {
	type call func(ctx context.Context, base string) error
	calls := []struct {
		name string
		ch   channels.Channel
		run  call
	}{
		{"meta", channels.Meta, func(ctx context.Context, base string) error {
			_, err := meta.New(meta.Options{BaseURL: base}).AccountInfo(ctx, channels.Account{ID: "1234", Token: secretToken})
			return err
		}},
		{"tiktok", channels.TikTok, func(ctx context.Context, base string) error {
			_, err := tiktok.New(tiktok.Options{BaseURL: base}).AccountInfo(ctx, channels.Account{ID: "7001", Token: secretToken})
			return err
		}},
		{"shopify", channels.Shopify, func(ctx context.Context, base string) error {
			_, err := shopify.New(shopify.Options{BaseURL: base}).AccountInfo(ctx, channels.Account{ID: "demo.myshopify.com", Token: secretToken})
			return err
		}},
		{"google ads API", channels.GoogleAds, func(ctx context.Context, base string) error {
			c := googleads.New(googleads.Options{BaseURL: base, DeveloperToken: secretDevToken})
			_, err := c.AccountInfo(ctx, channels.Account{ID: "1234567890", Token: secretToken})
			return err
		}},
		{"google ads token endpoint", channels.GoogleAds, func(ctx context.Context, base string) error {
			c := googleads.New(googleads.Options{BaseURL: "http://127.0.0.1:1", TokenURL: base + "/token",
				ClientID: "id", ClientSecret: "client-secret", DeveloperToken: secretDevToken})
			_, err := c.AccountInfo(ctx, channels.Account{ID: "1234567890", RefreshToken: secretRefresh})
			return err
		}},
		{"ga4 API", channels.GA4, func(ctx context.Context, base string) error {
			_, err := ga4.New(ga4.Options{BaseURL: base}).AccountInfo(ctx, channels.Account{ID: "123456", Token: secretToken})
			return err
		}},
		{"ga4 token endpoint", channels.GA4, func(ctx context.Context, base string) error {
			c := ga4.New(ga4.Options{BaseURL: "http://127.0.0.1:1", TokenURL: base + "/token", ClientID: "id", ClientSecret: "client-secret"})
			_, err := c.AccountInfo(ctx, channels.Account{ID: "123456", RefreshToken: secretRefresh})
			return err
		}},
	}
	// 302 turns a POST into a GET without its body; 307 and 308 resend the body (a refresh
	// token, a client secret) as well as the headers.
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for _, tc := range calls {
			t.Run(tc.name+"/"+http.StatusText(status), func(t *testing.T) {
				th := newThief(t)
				prov := redirector(t, status, th.srv.URL)
				err := tc.run(context.Background(), prov.URL)
				if n := th.hits.Load(); n != 0 {
					t.Fatalf("the second server got %d request(s): the redirect was followed", n)
				}
				pe, ok := channels.AsError(err)
				if !ok {
					t.Fatalf("got %v (%T), want a *channels.Error", err, err)
				}
				if pe.Channel != tc.ch || pe.Kind != channels.KindBadRequest || pe.HTTPStatus != status {
					t.Errorf("got channel %s kind %s status %d, want %s bad_request %d: %v", pe.Channel, pe.Kind, pe.HTTPStatus, tc.ch, status, err)
				}
				want := fmt.Sprintf("refused to follow a redirect (HTTP %d) to %s/steal", status, th.srv.URL)
				if !strings.Contains(pe.Message, want) {
					t.Errorf("message %q does not say %q", pe.Message, want)
				}
				for _, secret := range []string{secretToken, secretRefresh, secretDevToken, "token="} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q contains %q", err, secret)
					}
				}
			})
		}
	}
}

// TestNoRedirectsLeavesTheCallerClient checks that the policy is applied to a copy.
func TestNoRedirectsLeavesTheCallerClient(t *testing.T) {
	own := &http.Client{}
	c := httpx.NoRedirects(own)
	if own.CheckRedirect != nil || c.CheckRedirect == nil || c == own {
		t.Fatalf("NoRedirects changed the caller's client or returned it")
	}
	if httpx.NoRedirects(nil).CheckRedirect == nil {
		t.Fatal("NoRedirects(nil) follows redirects")
	}
}

// dialer is a transport whose every dial fails with err, as a dial through our own network
// (a proxy, a resolver, a NAT address) would.
func dialer(err error) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) { return nil, err },
	}}
}

func opError(err error) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 3, 7), Port: 443}, Err: err}
}

// TestTransportErrorHidesOurAddresses checks the exact text a tenant sees for each kind of
// network failure: the provider's host and a generic cause, never the address we dialled,
// our resolver, the query or the token.
func TestTransportErrorHidesOurAddresses(t *testing.T) {
	const host = "graph.facebook.test"
	cases := []struct {
		name string
		hc   func(t *testing.T) *http.Client
		want string
	}{
		{"connection refused", func(*testing.T) *http.Client {
			return dialer(opError(&os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}))
		}, "could not reach " + host + ": connection refused"},
		{"connection reset", func(*testing.T) *http.Client {
			return dialer(opError(&os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}))
		}, "could not reach " + host + ": connection reset"},
		{"unreachable", func(*testing.T) *http.Client {
			return dialer(opError(&os.SyscallError{Syscall: "connect", Err: syscall.EHOSTUNREACH}))
		}, "could not reach " + host + ": network unreachable"},
		{"dial timeout", func(*testing.T) *http.Client {
			return dialer(opError(os.ErrDeadlineExceeded))
		}, "could not reach " + host + ": timed out"},
		{"no such host", func(*testing.T) *http.Client {
			return dialer(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: host, Server: "10.0.0.2:53", IsNotFound: true}})
		}, "could not reach " + host + ": host not found"},
		{"resolver down", func(*testing.T) *http.Client {
			return dialer(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "server misbehaving", Name: host, Server: "10.0.0.2:53"}})
		}, "could not reach " + host + ": name lookup failed"},
		{"untrusted certificate", func(t *testing.T) *http.Client {
			srv := httptest.NewTLSServer(http.NotFoundHandler())
			t.Cleanup(srv.Close)
			addr := srv.Listener.Addr().String()
			return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}}}
		}, "could not reach " + host + ": TLS certificate not trusted"},
		{"body cut short", func(t *testing.T) *http.Client {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "1000")
				_, _ = w.Write([]byte(`{"data":[`))
				if f, ok := w.(http.Flusher); ok {
					f.Flush()
				}
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					_ = conn.Close()
				}
			}))
			t.Cleanup(srv.Close)
			addr := srv.Listener.Addr().String()
			return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}}}
		}, "lost the connection to " + host + " while reading the response: connection closed before the answer was complete"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			scheme := "http"
			if tc.name == "untrusted certificate" {
				scheme = "https"
			}
			ctx := context.Background()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+host+"/v21.0/act_1?access_token="+secretToken, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = httpx.Do(tc.hc(t), req, 1<<20)
			if err == nil {
				t.Fatal("the call succeeded")
			}
			got := httpx.TransportError(ctx, channels.Meta, "meta", "GET /v21.0/act_1", err, secretToken)
			pe, ok := channels.AsError(got)
			if !ok || pe.Kind != channels.KindTransient {
				t.Fatalf("got %v, want a transient *channels.Error", got)
			}
			if want := "GET /v21.0/act_1: " + tc.want; pe.Message != want {
				t.Errorf("message %q, want %q (raw error: %v)", pe.Message, want, err)
			}
			for _, leak := range []string{"10.0.", "127.0.0.1", secretToken, "access_token"} {
				if strings.Contains(got.Error(), leak) {
					t.Errorf("error %q shows %q", got, leak)
				}
			}
		})
	}
}

func TestTransportErrorKeepsContextErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := httpx.TransportError(ctx, channels.Meta, "meta", "GET /x", errors.New("whatever"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if _, ok := channels.AsError(err); ok {
		t.Fatalf("a cancelled call became a provider error: %v", err)
	}
}
