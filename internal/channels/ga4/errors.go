package ga4

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/omnitrackiq/omnitrackiq/internal/channels"
	"github.com/omnitrackiq/omnitrackiq/internal/channels/httpx"
)

// Google RPC status names the connector looks at.
const (
	statusInvalidArgument   = "INVALID_ARGUMENT"
	statusUnauthenticated   = "UNAUTHENTICATED"
	statusPermissionDenied  = "PERMISSION_DENIED"
	statusResourceExhausted = "RESOURCE_EXHAUSTED"
)

// rpcError is the "error" object of Google's RPC error envelope.
type rpcError struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Status  string            `json:"status"`
	Details []json.RawMessage `json:"details"`
}

// classify turns a non-2xx Data API response into a classified error:
//   - 429 (or RESOURCE_EXHAUSTED under any status): KindRateLimited, RetryAfter by the
//     quota the message names (see QuotaForMessage), else RetryInfo, else
//     DefaultRateLimitBackoff;
//   - 401 UNAUTHENTICATED: KindAuth (the caller refreshes and retries once first);
//   - 403 PERMISSION_DENIED: KindAuth — the user lost access to the property or revoked
//     the grant, or the API is disabled for the OAuth project; only a person can fix it;
//   - 5xx: KindTransient;
//   - anything else (400 INVALID_ARGUMENT, 404 ...): KindBadRequest with Google's message.
func (c *Client) classify(status int, h http.Header, body []byte) *channels.Error {
	e := &channels.Error{Channel: channels.GA4, HTTPStatus: status}
	var env struct {
		Error *rpcError `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil {
		env.Error = nil
	}
	g := env.Error
	if g == nil {
		g = &rpcError{Message: fmt.Sprintf("HTTP %d without a Google error: %s", status, httpx.Snippet(body))}
	} else if g.Message == "" {
		g.Message = "no message"
	}
	e.Message = g.Message
	if g.Status != "" {
		e.Message = g.Status + ": " + g.Message
	}
	switch {
	case status == http.StatusTooManyRequests || g.Status == statusResourceExhausted:
		e.Kind = channels.KindRateLimited
		e.RetryAfter = c.rateLimitBackoff(g, h)
	case status == http.StatusUnauthorized || g.Status == statusUnauthenticated:
		e.Kind = channels.KindAuth
	case status == http.StatusForbidden || g.Status == statusPermissionDenied:
		e.Kind = channels.KindAuth
	case status >= 500:
		e.Kind = channels.KindTransient
	default:
		e.Kind = channels.KindBadRequest
	}
	return e
}

// rateLimitBackoff is the backoff of the quota the message names, else Google's
// RetryInfo, else the Retry-After header, else DefaultRateLimitBackoff.
func (c *Client) rateLimitBackoff(g *rpcError, h http.Header) time.Duration {
	if q := QuotaForMessage(g.Message); q != "" {
		return c.quotaBackoff(q)
	}
	if d := retryInfo(g.Details); d > 0 {
		return d
	}
	if d := httpx.RetryAfter(h); d > 0 {
		return d
	}
	return c.o.DefaultRateLimitBackoff
}

// retryInfo reads a google.rpc.RetryInfo detail ({"retryDelay":"30s"}).
func retryInfo(details []json.RawMessage) time.Duration {
	for _, raw := range details {
		var d struct {
			Type       string `json:"@type"`
			RetryDelay string `json:"retryDelay"`
		}
		if json.Unmarshal(raw, &d) != nil || !strings.HasSuffix(d.Type, "google.rpc.RetryInfo") {
			continue
		}
		if v, err := time.ParseDuration(d.RetryDelay); err == nil && v > 0 {
			return v
		}
	}
	return 0
}
