package safehttp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	strict, open := Policy{}, Policy{AllowPrivate: true}
	cases := []struct {
		name   string
		url    string
		p      Policy
		refuse string // substring of the refusal; "" means accepted
	}{
		{"public https ip", "https://93.184.216.34/hook", strict, ""},
		{"loopback", "https://127.0.0.1/hook", strict, `webhook host "127.0.0.1" is a loopback address; webhooks must reach the public internet`},
		{"loopback v6", "https://[::1]:8443/hook", strict, "loopback"},
		{"private 10/8", "https://10.1.2.3/hook", strict, "a private address"},
		{"private 192.168", "https://192.168.0.10/hook", strict, "a private address"},
		{"private fc00::/7", "https://[fd00::1]/hook", strict, "a private address"},
		{"metadata", "https://169.254.169.254/latest/meta-data", strict, "link-local"},
		{"link-local v6", "https://[fe80::1]/hook", strict, "link-local"},
		{"unspecified", "https://0.0.0.0/hook", strict, "unspecified"},
		{"multicast", "https://224.0.0.1/hook", strict, "multicast"},
		{"cgnat", "https://100.64.1.1/hook", strict, "carrier-grade NAT"},
		{"mapped loopback", "https://[::ffff:127.0.0.1]/hook", strict, "loopback"},
		{"nat64 private", "https://[64:ff9b::a00:1]/hook", strict, "a private address"},
		{"localhost name", "https://localhost/hook", strict, "resolves to"},
		{"plain http", "http://93.184.216.34/hook", strict, "must use https"},
		{"ftp", "ftp://93.184.216.34/hook", strict, "must use https, not ftp"},
		{"relative", "/hook", strict, "absolute"},
		{"userinfo", "https://user:pw@93.184.216.34/hook", strict, "user name or password"},
		{"userinfo not echoed", "https://user:secretpw@93.184.216.34/hook", strict, "xxxxx"},
		{"unresolvable", "https://no-such-host.invalid/hook", strict, "does not resolve"},
		{"loopback allowed", "http://127.0.0.1:8080/hook", open, ""},
		{"localhost allowed", "http://localhost:8080/hook", open, ""},
		{"userinfo even when allowed", "http://u:p@127.0.0.1/hook", open, "user name or password"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckURL(ctx, c.url, c.p)
			if c.refuse == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.ErrorIs(t, err, ErrRefused)
			require.Contains(t, err.Error(), c.refuse)
			require.NotContains(t, err.Error(), "secretpw")
		})
	}
}

func TestNonPublicKeepsPublicAddresses(t *testing.T) {
	for _, s := range []string{"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "100.128.0.1", "172.32.0.1"} {
		require.Empty(t, nonPublic(netip.MustParseAddr(s)), s)
	}
}

// receiver records the deliveries it gets.
type receiver struct {
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
}

func (rc *receiver) handler(status int, extra http.Header) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, b)
		rc.headers = append(rc.headers, r.Header.Clone())
		rc.mu.Unlock()
		for k, v := range extra {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(strings.Repeat("x", 10000)))
	}
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.bodies)
}

func TestPosterRefusesLoopbackUnlessAllowed(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc.handler(http.StatusOK, nil))
	defer srv.Close()
	ctx := context.Background()

	// The form check passes (plain http is allowed for this test's policy), but the dialer
	// refuses the loopback address the strict client would connect to.
	strict := &Poster{Client: NewClient(Policy{}, 5*time.Second), Policy: Policy{AllowPrivate: true}}
	status, _, err := strict.Post(ctx, srv.URL+"/hook", []byte("k"), []byte(`{}`))
	require.ErrorIs(t, err, ErrRefused)
	require.Contains(t, err.Error(), "is a loopback address")
	require.Zero(t, status)
	require.Zero(t, rc.count(), "nothing reached the receiver")

	// A strict poster refuses plain http before dialing.
	_, _, err = (&Poster{Client: NewClient(Policy{}, 5*time.Second)}).Post(ctx, srv.URL, []byte("k"), []byte(`{}`))
	require.ErrorIs(t, err, ErrRefused)
	require.Contains(t, err.Error(), "must use https")

	open := &Poster{Client: NewClient(Policy{AllowPrivate: true}, 5*time.Second), Policy: Policy{AllowPrivate: true}, UserAgent: "OmniTrackIQ-Test"}
	status, _, err = open.Post(ctx, srv.URL+"/hook", []byte("k"), []byte(`{"a":1}`))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 1, rc.count())
	require.Equal(t, "application/json", rc.headers[0].Get("Content-Type"))
	require.Equal(t, "OmniTrackIQ-Test", rc.headers[0].Get("User-Agent"))
}

func TestPosterDoesNotFollowRedirects(t *testing.T) {
	rc := &receiver{}
	target := httptest.NewServer(rc.handler(http.StatusOK, nil))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL+"/internal", http.StatusTemporaryRedirect))
	defer redirect.Close()
	p := &Poster{Client: NewClient(Policy{AllowPrivate: true}, 5*time.Second), Policy: Policy{AllowPrivate: true}}
	status, _, err := p.Post(context.Background(), redirect.URL, []byte("k"), []byte(`{}`))
	require.Equal(t, http.StatusTemporaryRedirect, status)
	var se *StatusError
	require.ErrorAs(t, err, &se)
	require.Contains(t, se.Body, "not followed")
	require.Zero(t, rc.count(), "the redirect target was never called")
}

func TestPosterSignsAndReportsFailures(t *testing.T) {
	secret := []byte("whsec-report-1")
	now := time.Unix(1_800_000_000, 0)
	cases := []struct {
		name       string
		status     int
		header     http.Header
		retryAfter time.Duration
	}{
		{"ok", http.StatusNoContent, nil, 0},
		{"unavailable with seconds", http.StatusServiceUnavailable, http.Header{"Retry-After": {"120"}}, 2 * time.Minute},
		{"throttled with date", http.StatusTooManyRequests, http.Header{"Retry-After": {now.Add(90 * time.Second).UTC().Format(http.TimeFormat)}}, 90 * time.Second},
		{"bad request", http.StatusBadRequest, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := &receiver{}
			srv := httptest.NewServer(rc.handler(c.status, c.header))
			defer srv.Close()
			p := &Poster{Client: NewClient(Policy{AllowPrivate: true}, 5*time.Second), Policy: Policy{AllowPrivate: true},
				Now: func() time.Time { return now }}
			body := []byte(`{"event":"report.completed"}`)
			status, ra, err := p.Post(context.Background(), srv.URL, secret, body)
			require.Equal(t, c.status, status)
			require.Equal(t, c.retryAfter, ra)
			if c.status < 300 {
				require.NoError(t, err)
			} else {
				var se *StatusError
				require.ErrorAs(t, err, &se)
				require.Equal(t, c.status, se.Status)
				require.LessOrEqual(t, len(se.Body), 210, "the answer's body is bounded")
			}
			h := rc.headers[0]
			require.NoError(t, Verify(secret, h.Get(SignatureHeader), h.Get(TimestampHeader), rc.bodies[0], now, 5*time.Minute))
			require.Error(t, Verify(secret, h.Get(SignatureHeader), h.Get(TimestampHeader), []byte(`{"event":"report.completeD"}`), now, 5*time.Minute))
		})
	}
}

func TestSignAndVerify(t *testing.T) {
	secret := []byte("s3cret")
	body := []byte(`{"run_id":"r1"}`)
	now := time.Unix(1_700_000_000, 0)
	ts := now.Unix()
	sig := SignatureValue(Sign(secret, ts, body))
	// Known answer: HMAC-SHA256("s3cret", "1700000000.{\"run_id\":\"r1\"}").
	require.Equal(t, "v1=62d475f514e14d27a73d96b10ffedbdeef0c3e775e52900e6958d7ba92dd848e", sig)
	tsh := "1700000000"
	cases := []struct {
		name    string
		secret  []byte
		header  string
		ts      string
		body    []byte
		now     time.Time
		wantErr string
	}{
		{"valid", secret, sig, tsh, body, now, ""},
		{"rotated secrets, second matches", secret, "v1=00ff, " + sig, tsh, body, now, ""},
		{"tampered body", secret, sig, tsh, []byte(`{"run_id":"r2"}`), now, "does not match"},
		{"wrong secret", []byte("other"), sig, tsh, body, now, "does not match"},
		{"tampered timestamp", secret, sig, "1700000001", body, now, "does not match"},
		{"old", secret, sig, tsh, body, now.Add(10 * time.Minute), "outside"},
		{"bad timestamp", secret, sig, "yesterday", body, now, "Unix seconds"},
		{"no v1", secret, "v0=abc", tsh, body, now, "no v1 signature"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Verify(c.secret, c.header, c.ts, c.body, c.now, 5*time.Minute)
			if c.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, c.wantErr)
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	require.Equal(t, 30*time.Second, parseRetryAfter("30", now))
	require.Equal(t, time.Duration(0), parseRetryAfter("-5", now))
	require.Equal(t, time.Duration(0), parseRetryAfter("soon", now))
	require.Equal(t, time.Duration(0), parseRetryAfter(now.Add(-time.Hour).Format(http.TimeFormat), now))
	require.Equal(t, time.Hour, parseRetryAfter(now.Add(time.Hour).Format(http.TimeFormat), now))
}
