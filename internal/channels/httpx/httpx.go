// Package httpx is the HTTP plumbing the provider connectors share: it keeps credentials
// out of error messages, turns client-side failures into classified errors without the
// request URL (which may carry a token in its query) and reads bounded response bodies.
// Everything about what a provider's answer means stays in the connectors.
package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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

// Do sends req and reads at most limit bytes of the response body, which it closes; the
// response's status and header stay usable. A failure to read the body is wrapped as
// "read body: ...". Errors are raw: pass them to TransportError.
func Do(hc *http.Client, req *http.Request, limit int64) (*http.Response, []byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, nil, fmt.Errorf("read body: %w", err)
	}
	return resp, data, nil
}

// TransportError turns a client-side failure of the call what ("GET /path", never the
// query) into a KindTransient error of channel ch with the secrets scrubbed. The URL that
// *url.Error prints is dropped: it may carry a token in its query. A cancelled or expired
// context is returned as such, prefixed with name ("google ads"), so that callers can tell
// it apart from a provider failure.
func TransportError(ctx context.Context, ch channels.Channel, name, what string, err error, secrets ...string) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s %s: %w", name, what, ctxErr)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &channels.Error{Channel: ch, Kind: channels.KindTransient,
		Message: Scrub(fmt.Sprintf("%s: %v", what, err), secrets...)}
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
