// Package httpx is the HTTP plumbing the provider connectors share: it keeps credentials
// out of error messages, refuses redirects (which would carry a token to whatever host they
// name), turns client-side failures into classified errors that name the provider's host
// and a generic cause instead of the request URL or the addresses we dialled, and reads
// bounded response bodies. Everything about what a provider's answer means stays in the
// connectors.
package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
)

// Redacted replaces a secret in a message.
const Redacted = "[REDACTED]"

// Scrub replaces every non-empty secret in msg, raw and query-escaped (as it appears in
// an echoed form or URL), by Redacted.
func Scrub(msg string, secrets ...string) string {
	for _, s := range secrets {
		if s == "" {
			continue
		}
		msg = strings.ReplaceAll(msg, s, Redacted)
		if esc := url.QueryEscape(s); esc != s {
			msg = strings.ReplaceAll(msg, esc, Redacted)
		}
	}
	return msg
}

// Snippet shortens a response body for an error message: whitespace collapsed, at most 200
// runes, "(empty body)" for nothing.
func Snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "..."
	}
	if s == "" {
		s = "(empty body)"
	}
	return s
}

// RedirectError is a provider answer that asked to be followed elsewhere. Provider calls
// never follow one: the Authorization header is dropped on a cross-host redirect, but the
// custom credential headers (developer-token, Access-Token, X-Shopify-Access-Token) and a
// token in the query are not, so following would hand them to whatever host Location names.
type RedirectError struct {
	// Status is the redirect's HTTP status (301, 302, 303, 307, 308).
	Status int
	// Target is where the redirect pointed, without user info, query or fragment.
	Target string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("refused to follow a redirect (HTTP %d) to %s", e.Status, e.Target)
}

// RefuseRedirect is an http.Client CheckRedirect policy that follows no redirect: the
// client returns a *url.Error wrapping a *RedirectError, and sends nothing to the target.
func RefuseRedirect(req *http.Request, via []*http.Request) error {
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	return &RedirectError{Status: status, Target: redirectTarget(req.URL)}
}

// redirectTarget names a redirect's scheme, host and path: never user info or the query,
// which may echo a credential.
func redirectTarget(u *url.URL) string {
	if u == nil {
		return "(no Location)"
	}
	t := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return t.String()
}

// NoRedirects returns a copy of hc (a zero client when nil) whose CheckRedirect is
// RefuseRedirect. The copy shares hc's transport, so connections are still pooled.
func NoRedirects(hc *http.Client) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	}
	c.CheckRedirect = RefuseRedirect
	return &c
}

// Do sends req without following redirects, whatever hc's own policy, and reads at most
// limit bytes of the response body, which it closes; the response's status and header stay
// usable. Errors are raw: pass them to TransportError, which tells a refused redirect, a
// network failure and an interrupted body apart.
func Do(hc *http.Client, req *http.Request, limit int64) (*http.Response, []byte, error) {
	resp, err := NoRedirects(hc).Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, nil, &bodyError{host: req.URL.Hostname(), err: err}
	}
	return resp, data, nil
}

// bodyError is a response body that could not be read to its end.
type bodyError struct {
	host string
	err  error
}

func (e *bodyError) Error() string {
	return fmt.Sprintf("lost the connection to %s while reading the response: %s", e.host, NetworkCause(e.err))
}

func (e *bodyError) Unwrap() error { return e.err }

// TransportError turns a client-side failure of the call what ("GET /path", never the
// query) into a classified error of channel ch with the secrets scrubbed:
//   - a refused redirect is KindBadRequest with the redirect's status, naming its target:
//     retrying cannot help, and it is the provider (or something posing as it) that sent it;
//   - any other failure is KindTransient, described as Describe does: the provider's host
//     and a generic cause. Neither the URL that *url.Error prints (it may carry a token in
//     its query) nor the addresses we dialled (an internal proxy or resolver, "dial tcp
//     10.0.3.7:443") reach the message, which tenants see in a connection's status.
//
// A cancelled or expired context is returned as such, prefixed with name ("google ads"), so
// that callers can tell it apart from a provider failure.
func TransportError(ctx context.Context, ch channels.Channel, name, what string, err error, secrets ...string) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s %s: %w", name, what, ctxErr)
	}
	var re *RedirectError
	if errors.As(err, &re) {
		return &channels.Error{Channel: ch, Kind: channels.KindBadRequest, HTTPStatus: re.Status,
			Message: Scrub(fmt.Sprintf("%s: %v", what, re), secrets...)}
	}
	return &channels.Error{Channel: ch, Kind: channels.KindTransient,
		Message: Scrub(fmt.Sprintf("%s: %s", what, Describe(err)), secrets...)}
}

// Describe says what went wrong with a call that got no usable answer, in words fit for a
// tenant: "could not reach graph.facebook.com: connection refused", "refused to follow a
// redirect (HTTP 302) to https://other.example/login". It names the host of the URL we
// called (from the *url.Error inside err), never an address we dialled nor the query.
func Describe(err error) string {
	var re *RedirectError
	if errors.As(err, &re) {
		return re.Error()
	}
	var be *bodyError
	if errors.As(err, &be) {
		return be.Error()
	}
	host := "the provider"
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
	}
	return fmt.Sprintf("could not reach %s: %s", host, NetworkCause(err))
}

// NetworkCause names the kind of a network failure in a few words ("connection refused",
// "timed out", "TLS handshake failed"), leaving out the addresses, ports and resolver that
// the error's own text would show.
func NetworkCause(err error) string {
	var (
		dnsErr   *net.DNSError
		netErr   net.Error
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		header   tls.RecordHeaderError
		alert    tls.AlertError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "host not found"
		}
		return "name lookup failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "network unreachable"
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &hostname),
		errors.As(err, &invalid):
		return "TLS certificate not trusted"
	case errors.As(err, &header), errors.As(err, &alert):
		return "TLS handshake failed"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the answer was complete"
	}
	return "network error"
}

// BadResponse is a 2xx answer of the call what that cannot be understood (corrupt or
// truncated JSON, a proxy's page): KindTransient, since a retry usually gets a whole one.
func BadResponse(ch channels.Channel, what string, err error, secrets ...string) error {
	return &channels.Error{Channel: ch, Kind: channels.KindTransient,
		Message: Scrub(fmt.Sprintf("unexpected %s response: %v", what, err), secrets...)}
}

// ParseBaseURL parses an API base URL option named what ("base URL"): http or https with a
// host. A trailing slash, the query and the fragment are dropped; paths are joined onto
// what is left.
func ParseBaseURL(what, s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(s, "/"))
	switch {
	case err != nil:
		return nil, fmt.Errorf("invalid %s: %v", what, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("invalid %s %q: scheme must be http or https", what, s)
	case u.Host == "":
		return nil, fmt.Errorf("invalid %s %q: no host", what, s)
	}
	u.RawQuery, u.Fragment, u.RawPath = "", "", ""
	return u, nil
}

// RetryAfter reads a Retry-After header given in whole seconds; 0 when it is absent, not a
// positive integer or an HTTP date.
func RetryAfter(h http.Header) time.Duration {
	secs, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || secs <= 0 {
		return 0
	}
	return time.Duration(secs) * time.Second
}
